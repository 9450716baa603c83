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

Checked: one HTTP SERVER span per POST the client sent; each mcp-otel SERVER span is the child of the client
span whose context it got in ``params._meta``, and links an HTTP POST server span.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.harness import REPO_ROOT, STEP_TIMEOUT, connect_http
from support.otlp_receiver import running_receiver
from support.server_package import uv_or_skip

pytestmark = [pytest.mark.per_major, pytest.mark.xdist_group("zero-code-http")]

pytest.importorskip("uvicorn", reason="needs uvicorn")

DEMO = REPO_ROOT / "examples" / "demo_server.py"
HTTP_INSTRUMENTATIONS = ("opentelemetry-instrumentation-starlette", "opentelemetry-instrumentation-asgi")
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


@pytest.mark.anyio
@pytest.mark.parametrize("order", sorted(FIRST))
async def test_http_server_spans_stay_and_mcp_spans_link_them(
    instrument: Callable[..., Any],
    span_exporter: InMemorySpanExporter,
    server_python: Path,
    tmp_path: Path,
    order: str,
) -> None:
    from test_zero_code import _demo_exchange, _free_port, _wait_listening

    instrument()  # the client, in this process
    port = _free_port()
    first = _entry_point_first(tmp_path / "order", FIRST[order])
    with running_receiver() as receiver:
        env = {
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
        argv = [_instrument_command(server_python), str(server_python), str(DEMO), "streamable-http"]
        stderr_file = tmp_path / "server.stderr"
        with stderr_file.open("wb") as stderr:
            proc = subprocess.Popen(
                [*argv, "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            _wait_listening(proc, port, stderr_file)
            async with connect_http("http", f"http://127.0.0.1:{port}/mcp") as conn:
                with anyio.fail_after(STEP_TIMEOUT):
                    await _demo_exchange(conn.session)
            proc.send_signal(2)  # SIGINT: uvicorn shuts down, the exit flushes
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        spans = receiver.spans()

    client = [s for s in span_exporter.get_finished_spans() if s.instrumentation_scope.name == "mcp_otel"]
    client = [s for s in client if s.kind.name == "CLIENT"]
    http_posts = [
        s for s in spans if s["kind"] == "SERVER" and s["scope"] != "mcp_otel" and _method(s) == "POST"
    ]
    # one HTTP server span per POST: every client message (request or notification) is one POST
    assert len(http_posts) == len(client), (stderr_file.read_text(), [s["name"] for s in spans])
    post_ids = {s["span_id"] for s in http_posts}
    client_by_name = {s.name: s for s in client}
    mcp_server = [s for s in spans if s["scope"] == "mcp_otel" and s["kind"] == "SERVER"]
    assert len(mcp_server) == len(client)
    for span in mcp_server:
        parent = client_by_name[span["name"]]
        assert span["parent_span_id"] == format(parent.context.span_id, "016x"), span["name"]
        assert [link["span_id"] for link in span["links"] if link["span_id"] in post_ids], span["name"]
