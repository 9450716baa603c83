"""Zero-code: ``opentelemetry-instrument`` loads mcp-otel from its entry point, on unmodified servers.

The servers run as real subprocesses under ``opentelemetry-instrument`` with only standard ``OTEL_*``
variables, exporting over OTLP/HTTP to a receiver on 127.0.0.1 (:mod:`support.otlp_receiver`). None of them
imports mcp-otel:

- stdio: ``examples/demo_server.py`` (``FastMCP`` on mcp 1.x, ``MCPServer`` on 2.x) and the lowlevel
  ``Server`` of ``tests/support/lowlevel_stdio.py``. Their server spans must equal, in name, kind, status,
  attributes (request ids aside) and events, the spans of the same exchange with the server run through
  ``McpInstrumentor().instrument()`` (``mcp_otel.bootstrap``).
- streamable HTTP: ``examples/demo_server.py streamable-http --port N`` (the SDK's uvicorn runner), called by
  a client instrumented in this process. The server spans carry the session, peer and transport attributes,
  are children of the client's spans (``traceparent`` in ``params._meta``), and equal those of
  ``examples/http_server.py``, the same server instrumented in code (ids, ports and services aside).

``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=mcp`` gives no mcp-otel span over either transport.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from support.compat import mcp_error_type
from support.harness import LOWLEVEL_SCRIPT, REPO_ROOT, STEP_TIMEOUT, connect_http, subprocess_env
from support.otlp_receiver import OtlpReceiver, running_receiver
from support.spans import load_file

pytestmark = [pytest.mark.per_major]

pytest.importorskip("uvicorn", reason="needs uvicorn")

DEMO = REPO_ROOT / "examples" / "demo_server.py"
HTTP_EXAMPLE = REPO_ROOT / "examples" / "http_server.py"
#: Values that differ between two runs of the same exchange.
VOLATILE = {"jsonrpc.request.id", "session.id"}  # session.id: a random id per stdio session
#: ... and between two HTTP servers (session ids, the client's ephemeral port, the server's port).
HTTP_VOLATILE = VOLATILE | {"mcp.session.id", "session.id", "client.port", "network.peer.port", "server.port"}
#: How long a server may take to start, and to flush and exit after SIGINT.
PROCESS_TIMEOUT = 60.0

Shape = tuple[str, str, str, dict[str, Any], list[str]]


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    with running_receiver() as receiver:
        yield receiver


def _zero_code_env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    """Standard ``OTEL_*`` variables only: OTLP/HTTP traces to ``receiver``, no metrics or logs."""
    return subprocess_env(
        {
            "OTEL_SERVICE_NAME": "demo-weather",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.traces_url,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            **extra,
        }
    )


def _instrument_command() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("opentelemetry-instrument is not installed next to the test interpreter")
    if not entry_points(group="opentelemetry_configurator"):
        pytest.fail(
            "no SDK configurator (opentelemetry-distro): opentelemetry-instrument would export nothing"
        )
    return found


def _mcp_otel_server_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if s["scope"] == "mcp_otel" and s["kind"] == "SERVER"]


def _shape(spans: list[dict[str, Any]], volatile: set[str] = VOLATILE) -> list[Shape]:
    shaped = []
    for span in _mcp_otel_server_spans(spans):
        attrs = {k: v for k, v in span["attributes"].items() if k not in volatile}
        events = [e if isinstance(e, str) else e["name"] for e in span["events"]]
        shaped.append((span["name"], span["kind"], span["status"], attrs, events))
    return sorted(shaped, key=lambda s: (s[0], sorted(s[3].items())))


# --------------------------------------------------------------------------------------------------------
# The exchanges (on a 1.x or 2.x ClientSession) and the server spans they must produce.


async def _demo_exchange(session: Any) -> None:
    await session.list_tools()
    await session.call_tool("add", {"a": 2, "b": 3})
    await session.call_tool("fail", {"reason": "zero-code"})
    await session.get_prompt("greet", {"name": "Ada"})
    await session.read_resource("demo://info")


DEMO_SPANS = sorted(
    [
        "initialize",
        "notifications/initialized",
        "prompts/get greet",
        "resources/read",
        "tools/call add",
        "tools/call fail",
        "tools/list",
    ]
)


async def _lowlevel_exchange(session: Any) -> None:
    await session.list_tools()
    await session.call_tool("work", {})
    await session.list_prompts()
    await session.get_prompt("hello")
    with pytest.raises(mcp_error_type()):
        await session.get_prompt("mcp-error")


LOWLEVEL_SPANS = sorted(
    [
        "initialize",
        "notifications/initialized",
        "prompts/get hello",
        "prompts/get mcp-error",
        "prompts/list",
        "tools/call work",
        "tools/list",
    ]
)

STDIO_SERVERS: dict[str, tuple[Path, Callable[[Any], Awaitable[None]], list[str]]] = {
    "demo": (DEMO, _demo_exchange, DEMO_SPANS),
    "lowlevel": (LOWLEVEL_SCRIPT, _lowlevel_exchange, LOWLEVEL_SPANS),
}


# --------------------------------------------------------------------------------------------------------
# stdio


async def _drive_stdio(
    command: str, args: list[str], env: dict[str, str], exchange: Callable[[Any], Awaitable[None]]
) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(REPO_ROOT))
    with anyio.fail_after(PROCESS_TIMEOUT):
        async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            await exchange(session)


@pytest.mark.anyio
@pytest.mark.parametrize("server", sorted(STDIO_SERVERS))
async def test_stdio_server_spans_equal_the_instrumented_ones(
    otlp_receiver: OtlpReceiver, tmp_path: Path, server: str
) -> None:
    script, exchange, expected_names = STDIO_SERVERS[server]
    env = _zero_code_env(otlp_receiver)
    # The stdio server exits when the client closes its stdin; its exit flushes the batch processor.
    await _drive_stdio(_instrument_command(), [sys.executable, str(script)], env, exchange)

    spans_file = tmp_path / "manual.jsonl"
    manual_args = ["-m", "mcp_otel.bootstrap", "--spans-file", str(spans_file), "--", str(script)]
    await _drive_stdio(sys.executable, manual_args, subprocess_env(), exchange)

    zero_code_spans = otlp_receiver.wait_for_spans(lambda s: len(_mcp_otel_server_spans(s)) >= 7)
    manual_spans = load_file(spans_file)
    # one stdio session each: every span of a run carries the same session.id, the two runs differ
    session_ids = [
        {s["attributes"].get("session.id") for s in _mcp_otel_server_spans(run)}
        for run in (zero_code_spans, manual_spans)
    ]
    assert all(len(ids) == 1 and None not in ids for ids in session_ids), session_ids
    assert session_ids[0] != session_ids[1]
    zero_code = _shape(zero_code_spans)
    manual = _shape(manual_spans)
    assert [s[0] for s in zero_code] == expected_names
    assert zero_code == manual
    for _, _, _, attrs, _ in zero_code:
        assert (attrs["mcp.transport"], attrs["network.transport"]) == ("stdio", "pipe")
    if server == "demo":
        failing = next(s for s in zero_code if s[0] == "tools/call fail")
        assert failing[2] == "ERROR"
        assert failing[3]["error.type"] == "tool_error"
        assert failing[4] == ["exception"]
    else:
        failing = next(s for s in zero_code if s[0] == "prompts/get mcp-error")
        assert failing[2] == "ERROR"
        assert failing[3]["error.type"] == "-32603"


@pytest.mark.anyio
async def test_disabled_instrumentations_turns_it_off_on_stdio(otlp_receiver: OtlpReceiver) -> None:
    env = _zero_code_env(otlp_receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="mcp")
    await _drive_stdio(_instrument_command(), [sys.executable, str(DEMO)], env, _demo_exchange)
    # The server process has exited (and flushed) when the client's stdio context is left.
    assert [s for s in otlp_receiver.spans() if s["scope"] == "mcp_otel"] == []


# --------------------------------------------------------------------------------------------------------
# streamable HTTP


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, stderr: Path) -> None:
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}: {stderr.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}: {stderr.read_text()}")


async def _serve_and_drive_http(argv: list[str], port: int, env: dict[str, str], tmp_path: Path) -> str:
    """Start the HTTP server ``argv``, run the demo exchange as one MCP session, stop the server with SIGINT
    (uvicorn shuts down gracefully, the interpreter's exit flushes the spans); return the session id."""
    stderr_file = tmp_path / f"server-{port}.stderr"
    with stderr_file.open("wb") as stderr:
        proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _wait_listening(proc, port, stderr_file)
        with anyio.fail_after(PROCESS_TIMEOUT):
            async with connect_http("http", f"http://127.0.0.1:{port}/mcp") as conn:
                with anyio.fail_after(STEP_TIMEOUT):
                    await _demo_exchange(conn.session)
        session_id = conn.session_id
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=PROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # 0, or killed by the SIGINT uvicorn re-raises after its graceful shutdown (atexit handlers ran).
    assert returncode in (0, -signal.SIGINT), stderr_file.read_text()
    assert session_id, "the server gave no mcp-session-id"
    return session_id


@pytest.mark.anyio
async def test_streamable_http_server_spans(
    instrument: Callable[..., Any], span_exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    instrument()  # the client, in this process: its spans' context travels in params._meta
    port = _free_port()
    with running_receiver() as receiver:
        argv = [_instrument_command(), sys.executable, str(DEMO), "streamable-http", "--port", str(port)]
        session_id = await _serve_and_drive_http(argv, port, _zero_code_env(receiver), tmp_path)
        spans = receiver.spans()
    server_spans = _mcp_otel_server_spans(spans)
    assert sorted(s["name"] for s in server_spans) == DEMO_SPANS
    assert {s["service"] for s in server_spans} == {"demo-weather"}

    client_spans = {
        span.name: span
        for span in span_exporter.get_finished_spans()
        if span.kind is SpanKind.CLIENT and span.instrumentation_scope.name == "mcp_otel"
    }
    for span in server_spans:
        attrs = span["attributes"]
        assert attrs["mcp.session.id"] == attrs["session.id"] == session_id, span["name"]
        assert (attrs["mcp.transport"], attrs["network.transport"]) == ("http", "tcp"), span["name"]
        assert attrs["mcp.method.name"] == span["name"].split(" ")[0]
        if span["name"] == "notifications/initialized":
            continue  # mcp 1.15 hands notifications to the server without the HTTP request (no peer)
        assert attrs["client.address"] == "127.0.0.1", span["name"]
        client = client_spans[span["name"]]
        assert span["trace_id"] == format(client.context.trace_id, "032x"), span["name"]
        assert span["parent_span_id"] == format(client.context.span_id, "016x"), span["name"]
    add = next(s for s in server_spans if s["name"] == "tools/call add")
    assert add["status"] == "UNSET"
    assert add["attributes"]["gen_ai.tool.name"] == "add"
    fail = next(s for s in server_spans if s["name"] == "tools/call fail")
    assert (fail["status"], fail["attributes"]["error.type"], fail["events"]) == (
        "ERROR",
        "tool_error",
        ["exception"],
    )

    # The same server instrumented in code (examples/http_server.py): the same spans.
    manual_port = _free_port()
    with running_receiver() as manual_receiver:
        argv = [sys.executable, str(HTTP_EXAMPLE), "--port", str(manual_port)]
        env = subprocess_env({"OTEL_EXPORTER_OTLP_ENDPOINT": manual_receiver.url})
        await _serve_and_drive_http(argv, manual_port, env, tmp_path)
        manual = manual_receiver.spans()
    assert _shape(spans, HTTP_VOLATILE) == _shape(manual, HTTP_VOLATILE)


@pytest.mark.anyio
async def test_disabled_instrumentations_turns_it_off_over_http(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    port = _free_port()
    argv = [_instrument_command(), sys.executable, str(DEMO), "streamable-http", "--port", str(port)]
    env = _zero_code_env(otlp_receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="mcp")
    await _serve_and_drive_http(argv, port, env, tmp_path)
    # The server process has exited (and flushed) when _serve_and_drive_http returns.
    assert [s for s in otlp_receiver.spans() if s["scope"] == "mcp_otel"] == []
