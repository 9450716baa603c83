"""Exact output of :func:`mcp_otel.tree.render_tree` for hand-made span sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from mcp_otel.spanfile import JsonLinesSpanExporter, read_spans
from mcp_otel.tree import render_tree

T1 = "0af7651916cd43dd8448eb211c80319c"
T2 = "4bf92f3577b34da6a3ce929d0e0e4736"
SESSION = "5e1f0c2a9b7d4c31a2f0e6d8c4b2a190"
MS = 1_000_000
BASE = 1_700_000_000_000_000_000


def span(
    name: str,
    span_id: str,
    *,
    trace_id: str = T1,
    parent: str | None = None,
    remote: bool = False,
    kind: str = "SERVER",
    start_ms: float = 0.0,
    duration_ms: float = 1.0,
    status: str = "UNSET",
    description: str | None = None,
    attributes: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a span dict in the shape of ``spanfile.span_to_dict``."""
    start = BASE + int(start_ms * MS)
    return {
        "name": name,
        "kind": kind,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "parent_is_remote": remote,
        "start_ns": start,
        "end_ns": start + int(duration_ms * MS),
        "status": status,
        "status_description": description,
        "attributes": attributes or {},
        "events": events or [],
        "links": [],
        "scope": "mcp_otel",
        "resource": {"service.name": "test"},
    }


SERVER_ATTRS = {
    "mcp.session.id": SESSION,
    "mcp.client.name": "demo-client",
    "mcp.client.version": "1.2.3",
    "mcp.transport": "stdio",
    "network.transport": "pipe",
    "mcp.protocol.version": "2025-06-18",
}


def spans_fixture() -> list[dict[str, Any]]:
    """Two traces: a client root with a local child and a remote server child, a failing tool call with an
    exception event, an orphan whose local parent is missing, and a server span under a remote parent."""
    return [
        # Deliberately out of order: the renderer sorts by start time.
        span(
            "tools/call fail",
            "00000000000000b2",
            parent="00000000000000b1",
            remote=True,
            start_ms=30.5,
            duration_ms=2.04,
            status="ERROR",
            description="tool_error",
            attributes={
                **SERVER_ATTRS,
                "mcp.method.name": "tools/call",
                "gen_ai.tool.name": "fail",
                "jsonrpc.request.id": 3,
                "error.type": "tool_error",
            },
            events=[
                {
                    "name": "exception",
                    "attributes": {
                        "exception.type": "ValueError",
                        "exception.message": "forecast backend unavailable: demo\nsecond line",
                        "exception.stacktrace": "Traceback ...",
                    },
                },
                {"name": "log", "attributes": {"message": "ignored"}},
            ],
        ),
        span("mcp-otel demo", "00000000000000a1", kind="INTERNAL", start_ms=0.0, duration_ms=41.2),
        span(
            "initialize",
            "00000000000000a2",
            parent="00000000000000a1",
            kind="CLIENT",
            start_ms=1.0,
            duration_ms=12.345,
            status="OK",
            attributes={"mcp.method.name": "initialize", "jsonrpc.request.id": 0, "mcp.transport": "stdio"},
        ),
        span(
            "tools/call fail",
            "00000000000000b1",
            parent="00000000000000a1",
            kind="CLIENT",
            start_ms=30.0,
            duration_ms=3.0,
            status="ERROR",
            description="tool_error",
            attributes={"jsonrpc.request.id": 3, "error.type": "tool_error"},
        ),
        span(
            "initialize",
            "00000000000000a3",
            parent="00000000000000a2",
            remote=True,
            start_ms=2.0,
            duration_ms=0.5,
            attributes={**SERVER_ATTRS, "jsonrpc.request.id": 0},
        ),
        # Trace 2 starts later; its spans' parents are not in the set.
        span(
            "resources/read",
            "00000000000000c1",
            trace_id=T2,
            parent="ffffffffffffff01",
            remote=True,
            start_ms=100.0,
            duration_ms=0.25,
            status="OK",
            attributes={
                "mcp.session.id": "abc",
                "mcp.resource.uri": "demo://info",
                "jsonrpc.request.id": "r-7",
            },
        ),
        span(
            "worker",
            "00000000000000c2",
            trace_id=T2,
            parent="ffffffffffffff02",
            kind="INTERNAL",
            start_ms=99.0,
            duration_ms=1.0,
            status="ERROR",
            attributes={"rpc.response.status_code": "-32603"},
            events=[{"name": "exception", "attributes": {"exception.type": "RuntimeError"}}],
        ),
    ]


EXPECTED = """\
trace 0af7651916cd43dd8448eb211c80319c (5 spans)
- mcp-otel demo  INTERNAL  41.20 ms  UNSET
  - initialize  CLIENT  12.35 ms  OK
      transport=stdio request.id=0
    - initialize  SERVER  0.50 ms  UNSET  [remote parent]
        session=5e1f0c2a client=demo-client/1.2.3 transport=stdio network.transport=pipe \
protocol=2025-06-18 request.id=0
  - tools/call fail  CLIENT  3.00 ms  ERROR: tool_error
      request.id=3 error.type=tool_error
    - tools/call fail  SERVER  2.04 ms  ERROR: tool_error  [remote parent]
        session=5e1f0c2a client=demo-client/1.2.3 transport=stdio network.transport=pipe \
protocol=2025-06-18 request.id=3 error.type=tool_error
        ! exception: ValueError: forecast backend unavailable: demo

trace 4bf92f3577b34da6a3ce929d0e0e4736 (2 spans)
- worker  INTERNAL  1.00 ms  ERROR  [missing parent ffffffffffffff02]
    rpc.response.status_code=-32603
    ! exception: RuntimeError
- resources/read  SERVER  0.25 ms  OK  [remote parent ffffffffffffff01]
    session=abc request.id=r-7 resource=demo://info
"""


def test_render_tree_exact() -> None:
    assert render_tree(spans_fixture()) == EXPECTED


def test_render_tree_ignores_input_order_and_duplicates() -> None:
    spans = spans_fixture()
    assert render_tree(list(reversed(spans)) + spans[:3]) == EXPECTED


def test_render_tree_empty() -> None:
    assert render_tree([]) == ""


def test_render_tree_unfinished_span_and_parent_cycle() -> None:
    spans = [
        {**span("a", "0000000000000001", parent="0000000000000002", start_ms=1.0), "end_ns": None},
        span("b", "0000000000000002", parent="0000000000000001", start_ms=2.0),
    ]
    assert render_tree(spans) == (
        "trace 0af7651916cd43dd8448eb211c80319c (2 spans)\n"
        "- a  SERVER  ? ms  UNSET\n"
        "  - b  SERVER  1.00 ms  UNSET\n"
    )


def test_render_tree_from_sdk_spans_via_spans_file(tmp_path: Path) -> None:
    """Spans recorded by the SDK, written by JsonLinesSpanExporter and read back render as a tree."""
    path = tmp_path / "spans.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    attributes = {"jsonrpc.request.id": 1, "mcp.transport": "memory"}
    with (
        tracer.start_as_current_span("parent", kind=SpanKind.CLIENT),
        tracer.start_as_current_span("tools/call add", kind=SpanKind.SERVER, attributes=attributes) as child,
    ):
        child.set_status(Status(StatusCode.ERROR, "boom"))
        child.record_exception(KeyError("k"))
    provider.shutdown()

    spans = list(read_spans(path))
    assert len(spans) == 2
    lines = render_tree(spans).splitlines()
    trace_id = spans[0]["trace_id"]
    assert lines[0] == f"trace {trace_id} (2 spans)"
    assert lines[1].startswith("- parent  CLIENT  ") and lines[1].endswith(" ms  UNSET")
    assert lines[2].startswith("  - tools/call add  SERVER  ") and lines[2].endswith(" ms  ERROR: boom")
    assert lines[3:] == ["      transport=memory request.id=1", "      ! exception: KeyError: 'k'"]
    json.dumps(spans)  # the file round-trips as plain JSON


def record(
    span_id: str | None,
    body: str,
    *,
    trace_id: str | None = T1,
    at_ms: float = 0.0,
    severity: str = "INFO",
    scope: str = "weather",
    logger: str | None = None,
) -> dict[str, Any]:
    """A log record dict in the shape of ``spanfile.log_record_to_dict``."""
    return {
        "signal": "log",
        "trace_id": trace_id,
        "span_id": span_id,
        "timestamp_ns": BASE + int(at_ms * MS),
        "severity_number": 9,
        "severity_text": severity,
        "body": body,
        "attributes": {"mcp_otel.log.logger": logger} if logger else {},
        "scope": scope,
        "resource": {},
    }


def test_render_tree_with_log_records() -> None:
    """Records under their span (by time, after the attribute and exception lines), an MCP notification's
    with its logger, one of a span not in the set at the end of its trace, and one outside any trace last."""
    logs = [
        record(
            "00000000000000b2", "second", at_ms=31.5, severity="error", scope="mcp_otel", logger="backend"
        ),
        record("00000000000000b2", "first line\nmore", at_ms=30.6),
        record("00000000000000a3", "hello", at_ms=2.1, severity="info", scope="mcp_otel"),
        record("0000000000000fff", "elsewhere", at_ms=50.0),
        record(None, "no trace", trace_id=None, severity="WARN", scope="startup"),
    ]
    lines = render_tree(spans_fixture(), logs).splitlines()
    assert lines[0] == "trace 0af7651916cd43dd8448eb211c80319c (5 spans, 4 log records)"
    assert lines[4:12] == [
        "    - initialize  SERVER  0.50 ms  UNSET  [remote parent]",
        "        session=5e1f0c2a client=demo-client/1.2.3 transport=stdio network.transport=pipe "
        "protocol=2025-06-18 request.id=0",
        "        ~ log info notifications/message: hello",
        "  - tools/call fail  CLIENT  3.00 ms  ERROR: tool_error",
        "      request.id=3 error.type=tool_error",
        "    - tools/call fail  SERVER  2.04 ms  ERROR: tool_error  [remote parent]",
        "        session=5e1f0c2a client=demo-client/1.2.3 transport=stdio network.transport=pipe "
        "protocol=2025-06-18 request.id=3 error.type=tool_error",
        "        ! exception: ValueError: forecast backend unavailable: demo",
    ]
    assert lines[12:16] == [
        "        ~ log INFO weather: first line",
        "        ~ log error notifications/message (backend): second",
        "~ log INFO weather: elsewhere  [span 0000000000000fff not shown]",
        "",
    ]
    assert lines[-3:] == ["", "log records outside the spans shown (1)", "  ~ log WARN startup: no trace"]
    assert render_tree(spans_fixture(), []) == EXPECTED
