"""A real OTLP backend: spans exported over OTLP/HTTP to Arize Phoenix and read back through its REST API.

Phoenix (PyPI ``arize-phoenix``) has heavy dependencies, so it lives in a virtualenv of its own: set
``MCP_OTEL_PHOENIX_PYTHON`` to that virtualenv's ``python`` (``docs/phoenix.md``); without it the tests are
skipped. The fixture starts ``python -m phoenix.server.main serve`` on 127.0.0.1 with free HTTP and gRPC
ports, a temporary ``PHOENIX_WORKING_DIR`` (SQLite) and its telemetry off.

The exchange: ``examples/http_server.py`` (the demo server over stateful streamable HTTP, instrumented, in
its own process) called by an instrumented SDK client in the test process; both export to Phoenix under one
project. Read back from ``/v1/projects/<project>/spans``: the names, the parent links across the two
processes, the attributes (including ``session.id``, which Phoenix groups sessions by:
``/v1/sessions/<id>``) and the status survive. Phoenix keeps no OpenTelemetry span kind (CLIENT/SERVER):
its ``span_kind`` is the OpenInference kind, which it infers from the GenAI attributes: ``TOOL`` for
``tools/call`` spans.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

PHOENIX_PYTHON_ENV = "MCP_OTEL_PHOENIX_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[1]
HTTP_SERVER = REPO_ROOT / "examples" / "http_server.py"
PROJECT = "mcp-otel-tests"
STARTUP_TIMEOUT = 240.0  # Phoenix migrates its database at start: about a minute on 2 cores
READ_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(
    not os.environ.get(PHOENIX_PYTHON_ENV),
    reason=f"{PHOENIX_PYTHON_ENV} is not set (python of a venv with arize-phoenix, see docs/phoenix.md)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (127.0.0.1 only)
        return json.loads(response.read() or b"null")


class Phoenix:
    """A running Phoenix server."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def spans(self, project: str) -> list[dict[str, Any]]:
        """Every span of ``project`` (all pages)."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
            try:
                page = _get(f"{self.url}/v1/projects/{project}/spans?{query}")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the project appears with its first span
                    return []
                raise
            out.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    python = os.path.abspath(os.environ[PHOENIX_PYTHON_ENV])  # not resolve(): keep the venv's symlink
    assert Path(python).is_file(), f"{PHOENIX_PYTHON_ENV}={python} does not exist"
    workdir = tmp_path_factory.mktemp("phoenix")
    port, grpc_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_"))}
    env.update(
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_LOGGING_LEVEL="warning",
        PHOENIX_DB_LOGGING_LEVEL="warning",
    )
    log = workdir / "phoenix.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [python, "-m", "phoenix.server.main", "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    server = Phoenix(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Phoenix exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix did not start within {STARTUP_TIMEOUT:g} s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _client_provider(phoenix: Phoenix) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": "mcp-otel-test-client", "openinference.project.name": PROJECT}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{phoenix.url}/v1/traces")))
    return provider


def _start_server(phoenix: Phoenix, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = phoenix.url
    env["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={PROJECT}"
    env["OTEL_METRICS_EXPORTER"] = "none"
    return subprocess.Popen(
        [sys.executable, str(HTTP_SERVER), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )


async def _exchange(url: str, tracer: Any) -> tuple[str, str | None]:
    from support.compat import implementation
    from support.harness import connect_http

    with tracer.start_as_current_span("phoenix test") as root:
        async with connect_http("http", url, implementation()) as conn:
            await conn.list_tools()
            await conn.call_tool("add", {"a": 2, "b": 3})
            await conn.call_tool("fail", {"reason": "phoenix"})
            await conn.get_prompt("greet", {"name": "Ada"})
            await conn.read_resource("demo://info")
        return format(root.get_span_context().trace_id, "032x"), conn.session_id


def _wait_for_spans(phoenix: Phoenix, trace_id: str, names: set[str]) -> list[dict[str, Any]]:
    """The spans of ``trace_id``, once each of ``names`` arrived from both processes."""
    deadline = time.monotonic() + READ_TIMEOUT
    while True:
        spans = [s for s in phoenix.spans(PROJECT) if s["context"]["trace_id"] == trace_id]
        counts = {name: sum(s["name"] == name for s in spans) for name in names}
        if all(count >= 2 for count in counts.values()) or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def test_spans_survive_the_trip_to_phoenix(phoenix: Phoenix, instrument: Any) -> None:
    provider = _client_provider(phoenix)
    instrument(tracer_provider=provider)
    port = _free_port()
    server = _start_server(phoenix, port)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("serving MCP at ")
        _wait_listening(port)
        trace_id, session_id = anyio.run(_exchange, f"http://127.0.0.1:{port}/mcp", provider.get_tracer("t"))
        provider.force_flush()
        server.send_signal(signal.SIGTERM)  # the example flushes its spans on the way out
        _, stderr = server.communicate(timeout=60)
        assert server.returncode == 0, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
        provider.shutdown()

    requests = {"tools/list", "tools/call add", "tools/call fail", "prompts/get greet", "resources/read"}
    spans = _wait_for_spans(phoenix, trace_id, requests)
    by_id = {s["context"]["span_id"]: s for s in spans}
    root = [s for s in spans if s["name"] == "phoenix test"]
    assert len(root) == 1 and root[0]["parent_id"] is None, [s["name"] for s in spans]

    for name in requests:
        pair = [s for s in spans if s["name"] == name]
        assert len(pair) == 2, (name, [s["name"] for s in spans], phoenix.log_tail())
        # The client's span is a child of the root; the server's a child of the client's (across processes).
        client = next(s for s in pair if s["parent_id"] == root[0]["context"]["span_id"])
        server_span = next(s for s in pair if s is not client)
        assert by_id[server_span["parent_id"]] is client
        for span in pair:
            attributes = span["attributes"]
            assert attributes["mcp.method.name"] == name.split()[0]
            assert attributes["network.transport"] == "tcp"
            assert attributes["network.protocol.name"] == "http"
            assert attributes["mcp.session.id"] == attributes["session.id"] == session_id
            assert span["span_kind"] == ("TOOL" if name.startswith("tools/call") else "UNKNOWN")
        assert server_span["attributes"]["client.address"] == "127.0.0.1"
        assert server_span["attributes"]["mcp.server.name"] == "demo-weather"
        assert client["attributes"]["server.address"] == "127.0.0.1"

    add = [s for s in spans if s["name"] == "tools/call add"]
    assert {s["attributes"]["gen_ai.tool.name"] for s in add} == {"add"}
    assert {s["attributes"]["gen_ai.operation.name"] for s in add} == {"execute_tool"}
    assert {s["status_code"] for s in add} == {"UNSET"}
    failed = [s for s in spans if s["name"] == "tools/call fail"]
    assert {s["status_code"] for s in failed} == {"ERROR"}
    assert {s["attributes"]["error.type"] for s in failed} == {"tool_error"}
    server_fail = next(
        s for s in failed if s["parent_id"] in by_id and by_id[s["parent_id"]]["name"] == s["name"]
    )
    assert [e["attributes"]["exception.type"] for e in server_fail["events"]] == ["ValueError"]

    # session.id makes Phoenix group the trace under the MCP session
    session = _get(f"{phoenix.url}/v1/sessions/{session_id}")["data"]
    assert session["session_id"] == session_id
    assert trace_id in {t["trace_id"] for t in session["traces"]}


DEMO_SERVER = REPO_ROOT / "examples" / "demo_server.py"


async def _stdio_exchange(phoenix: Phoenix, tracer: Any) -> list[str]:
    """One stdio session (the demo server under ``mcp_otel.bootstrap --otlp``), two traces in it."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p)
    env["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={PROJECT}"
    env["OTEL_INSTRUMENTATION_MCP_METRICS"] = "false"  # Phoenix takes traces only
    args = ["-m", "mcp_otel.bootstrap", "--otlp", phoenix.url, "--", str(DEMO_SERVER)]
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(REPO_ROOT))
    trace_ids = []
    with anyio.fail_after(READ_TIMEOUT):
        async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            for name, call in (
                ("list", session.list_tools),
                ("add", lambda: session.call_tool("add", {"a": 1, "b": 2})),
            ):
                with tracer.start_as_current_span(f"phoenix stdio {name}") as root:
                    await call()
                trace_ids.append(format(root.get_span_context().trace_id, "032x"))
    return trace_ids


def test_stdio_session_is_one_phoenix_session(phoenix: Phoenix, instrument: Any) -> None:
    """stdio has no protocol session id: the client's ``session.id`` reaches the server through baggage, so
    Phoenix shows the client's and the server's spans of both traces as one session."""
    provider = _client_provider(phoenix)
    instrument(tracer_provider=provider)
    try:
        trace_ids = anyio.run(_stdio_exchange, phoenix, provider.get_tracer("t"))
        provider.force_flush()
    finally:
        provider.shutdown()

    deadline = time.monotonic() + READ_TIMEOUT
    expected = {trace_ids[0]: "tools/list", trace_ids[1]: "tools/call add"}
    while True:  # both sides of both calls (the server's spans arrive when its process exits)
        spans_by_trace = {
            t: [s for s in phoenix.spans(PROJECT) if s["context"]["trace_id"] == t] for t in trace_ids
        }
        if all(sum(s["name"] == expected[t] for s in spans) == 2 for t, spans in spans_by_trace.items()):
            break
        assert time.monotonic() < deadline, (spans_by_trace, phoenix.log_tail())
        time.sleep(0.5)

    mcp_spans = [s for spans in spans_by_trace.values() for s in spans if s["name"] in expected.values()]
    session_ids = {s["attributes"].get("session.id") for s in mcp_spans}
    assert len(session_ids) == 1 and None not in session_ids, mcp_spans
    session_id = session_ids.pop()
    assert all("mcp.session.id" not in s["attributes"] for s in mcp_spans)
    by_id = {s["context"]["span_id"]: s for spans in spans_by_trace.values() for s in spans}
    for trace_id, name in expected.items():
        pair = [s for s in spans_by_trace[trace_id] if s["name"] == name]
        # the server's span is the child of the client's, across the two processes
        server_span = next(
            s for s in pair if s["parent_id"] in by_id and by_id[s["parent_id"]]["name"] == name
        )
        client_span = by_id[server_span["parent_id"]]
        assert server_span["attributes"]["mcp.client.name"] == "mcp"  # what only the server knows
        assert "mcp.client.name" not in client_span["attributes"]
        assert {s["attributes"]["network.transport"] for s in pair} == {"pipe"}

    session = _get(f"{phoenix.url}/v1/sessions/{session_id}")["data"]
    assert session["session_id"] == session_id
    assert set(trace_ids) <= {t["trace_id"] for t in session["traces"]}


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_trace_a_pypi_server_to_phoenix(phoenix: Phoenix) -> None:
    """``mcp-otel trace --otlp`` on a console script installed from PyPI (``mcp-server-time``, installed by
    the phoenix nox session): the server's spans arrive as children of the client's."""
    scripts = Path(sys.executable).parent
    if not (scripts / "mcp-server-time").exists():
        pytest.skip("mcp-server-time (PyPI) is not installed: the nox phoenix session installs it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(scripts), env.get("PATH", "")])
    env["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={PROJECT}"
    argv = [str(scripts / "mcp-otel"), "trace", "--otlp", phoenix.url]
    argv += ["--call", "get_current_time", "--args", '{"timezone": "UTC"}', "--"]
    argv += ["mcp-server-time", "--local-timezone", "UTC"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # Phoenix takes traces only: the client's metrics are refused, which is a warning, not a failure
    assert re.fullmatch(
        r"mcp-otel trace: warning: exporting the metrics to \S+ failed \(the spans were exported\): .+\n",
        proc.stderr,
    ), proc.stderr
    printed = re.search(r"exported the spans of trace ([0-9a-f]{32}) to ", proc.stdout)
    assert printed, proc.stdout

    requests = {"initialize", "tools/list", "tools/call get_current_time"}
    spans = _wait_for_spans(phoenix, printed[1], requests)
    by_id = {s["context"]["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["name"] == "mcp-otel trace"]
    for name in requests:
        pair = [s for s in spans if s["name"] == name]
        assert len(pair) == 2, (name, [s["name"] for s in spans], phoenix.log_tail())
        client = next(s for s in pair if s["parent_id"] == root["context"]["span_id"])
        server_span = next(s for s in pair if s is not client)
        assert by_id[server_span["parent_id"]] is client  # client → server, across the two processes
        assert server_span["attributes"]["mcp.server.name"] == "mcp-time"
