"""Zero-code: ``opentelemetry-instrument`` loads mcp-otel from its entry point, on an unmodified server.

The example server runs as a real stdio subprocess under ``opentelemetry-instrument`` with only standard
``OTEL_*`` variables, exporting over OTLP/HTTP to a receiver on 127.0.0.1 that decodes the protobuf payloads.
Its server spans must equal, in name, kind, status and attributes (ids and ports aside), the spans of the same
exchange with the server run through ``McpInstrumentor().instrument()`` (``mcp_otel.bootstrap``).
"""

from __future__ import annotations

import http.server
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from support.harness import REPO_ROOT, subprocess_env
from support.spans import load_file

DEMO = REPO_ROOT / "examples" / "demo_server.py"
# Values that differ between two runs of the same exchange.
VOLATILE = {"jsonrpc.request.id"}


class _OtlpHandler(http.server.BaseHTTPRequestHandler):
    server: _OtlpServer

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.requests.append((self.path, request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _OtlpServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, ExportTraceServiceRequest]] = []

    def spans(self) -> list[dict[str, Any]]:
        out = []
        with self.lock:
            for _, request in self.requests:
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            out.append(
                                {
                                    "name": span.name,
                                    "kind": _KINDS[span.kind],
                                    "scope": scope_spans.scope.name,
                                    "status": _STATUSES[span.status.code],
                                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                                    "events": [e.name for e in span.events],
                                }
                            )
        return out


_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def otlp_receiver() -> Iterator[_OtlpServer]:
    server = _OtlpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def _drive(command: str, args: list[str], env: dict[str, str]) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(REPO_ROOT))
    with anyio.fail_after(60):
        async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            await session.list_tools()
            await session.call_tool("add", {"a": 2, "b": 3})
            await session.call_tool("fail", {"reason": "zero-code"})
            await session.get_prompt("greet", {"name": "Ada"})
            await session.read_resource("demo://info")  # type: ignore[arg-type]


def _shape(spans: list[dict[str, Any]]) -> list[tuple[str, str, str, dict[str, Any], list[str]]]:
    shaped = []
    for span in spans:
        if span.get("scope") != "mcp_otel" or span["kind"] != "SERVER":
            continue
        attrs = {k: v for k, v in span["attributes"].items() if k not in VOLATILE}
        events = [e if isinstance(e, str) else e["name"] for e in span["events"]]
        shaped.append((span["name"], span["kind"], span["status"], attrs, events))
    return sorted(shaped, key=lambda s: (s[0], sorted(s[3].items())))


def _instrument_command() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("opentelemetry-instrument is not installed next to the test interpreter")
    return found


@pytest.mark.anyio
async def test_opentelemetry_instrument_yields_the_same_server_spans(
    otlp_receiver: _OtlpServer, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{otlp_receiver.server_address[1]}/v1/traces"
    zero_code_env = subprocess_env(
        {
            "OTEL_SERVICE_NAME": "demo-weather",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
    )
    await _drive(_instrument_command(), [sys.executable, str(DEMO)], zero_code_env)

    spans_file = tmp_path / "manual.jsonl"
    manual_args = ["-m", "mcp_otel.bootstrap", "--spans-file", str(spans_file), "--", str(DEMO)]
    await _drive(sys.executable, manual_args, subprocess_env())

    zero_code = _shape(otlp_receiver.spans())
    manual = _shape(load_file(spans_file))
    names = [s[0] for s in zero_code]
    assert names == sorted(
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
    assert zero_code == manual
    failing = next(s for s in zero_code if s[0] == "tools/call fail")
    assert failing[2] == "ERROR"
    assert failing[3]["error.type"] == "tool_error"
    assert failing[3]["mcp.transport"] == "stdio"
    assert failing[3]["network.transport"] == "pipe"
    assert failing[4] == ["exception"]


@pytest.mark.anyio
async def test_disabled_instrumentations_turns_it_off(otlp_receiver: _OtlpServer) -> None:
    endpoint = f"http://127.0.0.1:{otlp_receiver.server_address[1]}/v1/traces"
    env = subprocess_env(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "mcp",
        }
    )
    await _drive(_instrument_command(), [sys.executable, str(DEMO)], env)
    assert [s for s in otlp_receiver.spans() if s["scope"] == "mcp_otel"] == []
