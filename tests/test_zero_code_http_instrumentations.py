"""Zero-code next to the HTTP instrumentations: ``opentelemetry-instrument`` with
``opentelemetry-instrumentation-starlette`` and ``-asgi`` installed (what ``opentelemetry-bootstrap -a
install`` adds), over streamable HTTP, in both entry-point orders.

mcp-otel must not take the HTTP server spans away: when its entry point loads first it must not import
``mcp`` or ``starlette`` (which would bind the plain ``Starlette`` class before the Starlette instrumentor
replaces it). The server (``examples/demo_server.py streamable-http``) runs in a virtualenv of its own,
built with ``uv`` from this checkout, the installed mcp version and the two instrumentations, so the
test environment keeps no HTTP instrumentation. The entry-point order is set by a distribution on
``PYTHONPATH`` (found before site-packages) that registers ``mcp`` or ``starlette`` first; the real entry
point that comes later is then a no-op (an instrumentor is instrumented once).

Checked: one HTTP SERVER span per POST the client sent, the child of the client's mcp-otel CLIENT span of the
message it carried (the W3C headers mcp-otel adds to the POST; mcp 2.x posts with ``httpx2``, which no
instrumentation covers); each mcp-otel SERVER span is the child of the client span whose context it got in
``params._meta``, and links an HTTP POST server span. Over SSE too; and on mcp 1.x, a client under
``opentelemetry-instrument`` with ``opentelemetry-instrumentation-httpx`` (in the same virtualenv): the httpx
CLIENT span of each POST nests under the MCP CLIENT span, though the SDK posts from a writer task of its own.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.compat import IS_MCP1
from support.harness import REPO_ROOT, STEP_TIMEOUT, connect_http
from support.otlp_receiver import running_receiver
from support.server_package import uv_or_skip

pytestmark = [pytest.mark.per_major, pytest.mark.xdist_group("zero-code-http")]

pytest.importorskip("uvicorn", reason="needs uvicorn")

DEMO = REPO_ROOT / "examples" / "demo_server.py"
HTTP_INSTRUMENTATIONS = (
    "opentelemetry-instrumentation-starlette",
    "opentelemetry-instrumentation-asgi",
    "opentelemetry-instrumentation-httpx",  # for the client under opentelemetry-instrument (mcp 1.x: httpx)
)
HTTPX_CLIENT = Path(__file__).resolve().parent / "support" / "httpx_client.py"
FIRST = {
    "mcp first": "mcp = mcp_otel:McpInstrumentor",
    "starlette first": "starlette = opentelemetry.instrumentation.starlette:StarletteInstrumentor",
}


@pytest.fixture(scope="module")
def server_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = uv_or_skip()
    venv = tmp_path_factory.mktemp("http-instrumented") / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("mcp", "pydantic", "uvicorn")]
    packages = ["opentelemetry-distro", "opentelemetry-exporter-otlp-proto-http", *HTTP_INSTRUMENTATIONS]
    install = [uv, "pip", "install", "-q", "--python", str(python), "-e", str(REPO_ROOT), *packages, *pins]
    proc = subprocess.run(install, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"could not install the HTTP instrumentations: {proc.stderr}")
    return python


def _entry_point_first(directory: Path, line: str) -> Path:
    """A distribution whose ``opentelemetry_instrumentor`` entry point is found before site-packages'."""
    dist = directory / "aaa_entry_point_order-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aaa-entry-point-order\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[opentelemetry_instrumentor]\n{line}\n")
    return directory


def _instrument_command(python: Path) -> str:
    return str(python.parent / "opentelemetry-instrument")


def _method(span: dict[str, Any]) -> Any:
    attributes = span["attributes"]
    return attributes.get("http.request.method", attributes.get("http.method"))


def _server_env(receiver: Any, first: Path, server_python: Path) -> dict[str, str]:
    return {
        "PATH": str(server_python.parent) + ":/usr/bin:/bin",
        "PYTHONPATH": str(first),
        "OTEL_SERVICE_NAME": "demo-weather",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.traces_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }


@contextlib.contextmanager
def _instrumented_server(
    server_python: Path, tmp_path: Path, receiver: Any, order: str, transport: str
) -> Iterator[str]:
    """The demo server under ``opentelemetry-instrument`` (HTTP instrumentations on); yields its endpoint URL
    and stops it (SIGINT: uvicorn shuts down, the exit flushes) afterwards."""
    from test_zero_code import _free_port, _wait_listening

    port = _free_port()
    first = _entry_point_first(tmp_path / "order", FIRST[order])
    argv = [_instrument_command(server_python), str(server_python), str(DEMO), transport, "--port", str(port)]
    stderr_file = tmp_path / "server.stderr"
    with stderr_file.open("wb") as stderr:
        proc = subprocess.Popen(
            argv,
            env=_server_env(receiver, first, server_python),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        _wait_listening(proc, port, stderr_file)
        yield f"http://127.0.0.1:{port}/" + ("sse" if transport == "sse" else "mcp")
        proc.send_signal(2)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _http_posts(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The HTTP server spans of the POSTs (the ASGI / Starlette instrumentations')."""
    return [s for s in spans if s["kind"] == "SERVER" and s["scope"] != "mcp_otel" and _method(s) == "POST"]


def _assert_posts_under_client_spans(posts: list[dict[str, Any]], client: list[Any]) -> None:
    """One POST per client message, each the child of that message's mcp-otel CLIENT span."""
    ids = {(format(s.context.trace_id, "032x"), format(s.context.span_id, "016x")): s.name for s in client}
    parents = [ids.get((post["trace_id"], post["parent_span_id"])) for post in posts]
    assert None not in parents, (parents, [p["name"] for p in posts])
    assert sorted(parents) == sorted(s.name for s in client)


@pytest.mark.anyio
@pytest.mark.parametrize("order", sorted(FIRST))
async def test_http_server_spans_stay_and_mcp_spans_link_them(
    instrument: Callable[..., Any],
    span_exporter: InMemorySpanExporter,
    server_python: Path,
    tmp_path: Path,
    order: str,
) -> None:
    from test_zero_code import _demo_exchange

    instrument()  # the client, in this process
    with running_receiver() as receiver:
        with _instrumented_server(server_python, tmp_path, receiver, order, "streamable-http") as url:
            async with connect_http("http", url) as conn:
                with anyio.fail_after(STEP_TIMEOUT):
                    await _demo_exchange(conn.session)
        spans = receiver.spans()

    client = [s for s in span_exporter.get_finished_spans() if s.instrumentation_scope.name == "mcp_otel"]
    client = [s for s in client if s.kind.name == "CLIENT"]
    http_posts = _http_posts(spans)
    # one HTTP server span per POST: every client message (request or notification) is one POST, and the
    # POST carries the W3C headers of that message's CLIENT span
    assert len(http_posts) == len(client), [s["name"] for s in spans]
    _assert_posts_under_client_spans(http_posts, client)
    post_ids = {s["span_id"] for s in http_posts}
    client_by_name = {s.name: s for s in client}
    mcp_server = [s for s in spans if s["scope"] == "mcp_otel" and s["kind"] == "SERVER"]
    assert len(mcp_server) == len(client)
    for span in mcp_server:
        parent = client_by_name[span["name"]]
        assert span["parent_span_id"] == format(parent.context.span_id, "016x"), span["name"]
        assert [link["span_id"] for link in span["links"] if link["span_id"] in post_ids], span["name"]


@pytest.mark.anyio
async def test_sse_posts_carry_the_client_span(
    instrument: Callable[..., Any], span_exporter: InMemorySpanExporter, server_python: Path, tmp_path: Path
) -> None:
    """HTTP+SSE: each message's POST carries its CLIENT span's context (the GET stream belongs to none)."""
    from test_zero_code import _demo_exchange

    if not _sse_writer_posts_through_helper():
        pytest.skip("this mcp's SSE client posts with client.post: no seam for the headers")
    instrument()
    with running_receiver() as receiver:
        with _instrumented_server(server_python, tmp_path, receiver, "mcp first", "sse") as url:
            async with connect_http("sse", url) as conn:
                with anyio.fail_after(STEP_TIMEOUT):
                    await _demo_exchange(conn.session)
        spans = receiver.spans()
    client = [
        s
        for s in span_exporter.get_finished_spans()
        if s.instrumentation_scope.name == "mcp_otel" and s.kind.name == "CLIENT"
    ]
    posts = _http_posts(spans)
    assert len(posts) == len(client), [s["name"] for s in spans]
    _assert_posts_under_client_spans(posts, client)


def _sse_writer_posts_through_helper() -> bool:
    import mcp.client.sse as sse

    return hasattr(sse, "request_within_origin")


@pytest.mark.anyio
async def test_httpx_client_spans_nest_under_mcp_client_spans(server_python: Path, tmp_path: Path) -> None:
    """mcp 1.x client under ``opentelemetry-instrument`` with the httpx instrumentation: the httpx CLIENT span
    of each POST is a child of the MCP CLIENT span of its message (the SDK posts from its writer task), and
    the server's HTTP span a child of the httpx span."""
    if not IS_MCP1:
        pytest.skip("mcp 2.x posts with httpx2, which no instrumentation covers")
    with running_receiver() as receiver:
        with _instrumented_server(server_python, tmp_path, receiver, "mcp first", "streamable-http") as url:
            env = {**_server_env(receiver, tmp_path, server_python), "OTEL_SERVICE_NAME": "client"}
            argv = [_instrument_command(server_python), str(server_python), str(HTTPX_CLIENT), url]
            proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr[-3000:]
        spans = receiver.spans()
    by_id = {s["span_id"]: s for s in spans}
    mcp_client = {s["span_id"]: s for s in spans if s["service"] == "client" and s["scope"] == "mcp_otel"}
    httpx = [s for s in spans if s["scope"] == "opentelemetry.instrumentation.httpx" and _method(s) == "POST"]
    assert len(httpx) == len(mcp_client) >= 3, [(s["scope"], s["name"]) for s in spans]
    for span in httpx:
        parent = mcp_client.get(span["parent_span_id"])
        assert parent is not None and parent["trace_id"] == span["trace_id"], (
            span,
            by_id.get(span["parent_span_id"]),
        )
    posts = _http_posts([s for s in spans if s["service"] == "demo-weather"])
    httpx_ids = {s["span_id"] for s in httpx}
    assert len(posts) == len(httpx) and all(p["parent_span_id"] in httpx_ids for p in posts)
