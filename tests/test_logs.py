"""Log records (docs/logs.md): a tool's Python ``logging`` records and MCP log notifications, on both sides.

One exchange per transport (in-memory, stdio subprocess, streamable HTTP) with the log server's ``chatty``
tool, instrumented with a redactor and a cap, serves every assertion about it: the exact records of each side
(severity, body, scope), their trace and span ids, their attributes, no duplicates, redaction and the cap.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from mcp_otel import McpInstrumentor
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import attributes as identity
from mcp_otel.semconv.signals import LOG_RECORD_ATTRIBUTES
from mcp_otel.spanfile import log_record_to_dict, read_log_records
from mcp_otel.telemetry.scrubbing import REDACTED
from support import log_server
from support.compat import IS_MCP1
from support.harness import SRC_DIR, STEP_TIMEOUT, Conn, ServerSpec, open_client
from support.spans import Span, find, only

pytestmark = pytest.mark.anyio

SCRIPT = Path(log_server.__file__)
SUPPORT_DIR = SCRIPT.parent
TRANSPORTS = ("memory", "stdio", "http")
CITY = "Paris"
OUR_SCOPE = "mcp_otel"
#: The session's identity attributes a record carries besides LOG_RECORD_ATTRIBUTES.
IDENTITY = {
    identity.MCP_CLIENT_NAME,
    identity.MCP_CLIENT_TITLE,
    identity.MCP_CLIENT_VERSION,
    identity.MCP_SERVER_NAME,
    identity.MCP_SERVER_TITLE,
    identity.MCP_SERVER_VERSION,
}
Record = dict[str, Any]

#: The ``error`` notification's data as recorded: its ``"token": …`` is scrubbed (bodies follow the
#: ``exception_text`` setting, ``scrubbed`` by default) before the redactor sees it.
ERROR_DATA = json.dumps({"city": CITY, "token": REDACTED}, ensure_ascii=False)
#: (scope, severity number, severity text, body) of the server's records of one ``chatty`` call, in order.
SERVER_RECORDS = [
    (log_server.LOGGER_NAME, 9, "INFO", f"looking up {CITY}"),
    (log_server.LOGGER_NAME, 9, "INFO", f"forecast ready for {CITY}"),  # and ctx.info: one record
    (OUR_SCOPE, 17, "error", ERROR_DATA),
    (
        log_server.LOGGER_NAME,
        17,
        "ERROR",
        f"token {log_server.REDACTED} rejected: {log_server.LONG}"[: log_server.MAX_CONTENT_LENGTH],
    ),
]
#: The client's records: the two MCP log notifications it receives.
CLIENT_RECORDS = [(OUR_SCOPE, 9, "info", f"forecast ready for {CITY}"), (OUR_SCOPE, 17, "error", ERROR_DATA)]


class Exchange:
    """One ``chatty`` call over a transport: its spans and every log record of both sides."""

    def __init__(self, conn: Conn, spans: list[Span], records: list[Record]) -> None:
        self.conn = conn
        self.spans = spans
        self.records = sorted(records, key=lambda r: r["timestamp_ns"])
        self.tool = only(spans, "tools/call chatty", "SERVER")
        # the client's spans of the notifications it received (the server's are CLIENT spans)
        self.received = [s for s in find(spans, "notifications/message", "SERVER") if s["scope"] == OUR_SCOPE]

    def of_span(self, span: Span) -> list[Record]:
        return [r for r in self.records if r["span_id"] == span["span_id"]]

    @property
    def sdk_records(self) -> list[tuple[str, int, str, str]]:
        """The SDK's own records in the tool's span: mcp 1.x ``FastMCP.run()`` configures INFO logging (the
        stdio subprocess), and its lowlevel server logs each request it processes."""
        if IS_MCP1 and self.conn.transport == "stdio":
            return [("mcp.server.lowlevel.server", 9, "INFO", "Processing request of type CallToolRequest")]
        return []


def _shape(record: Record) -> tuple[str, int, str, str]:
    return (record["scope"], record["severity_number"], record["severity_text"], record["body"])


def _expected_attributes(span: Span) -> dict[str, Any]:
    """What a record made in ``span``'s operation carries: its log keys and the session's identity."""
    attrs = span["attributes"]
    return {k: v for k, v in attrs.items() if k in LOG_RECORD_ATTRIBUTES or k in IDENTITY}


def _mcp_part(record: Record) -> dict[str, Any]:
    """The record's attributes less what OpenTelemetry's logging handler adds (``code.*``) and the logger."""
    return {
        k: v
        for k, v in record["attributes"].items()
        if not k.startswith("code.") and k != attr.MCP_OTEL_LOG_LOGGER
    }


@pytest.fixture(scope="module")
def log_exporter() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    provider = LoggerProvider()
    exporter = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _received(record: Any) -> bool:
    """Whether an in-process record is the client's (of a notification it received)."""
    return bool(record.log_record.attributes.get(attr.MCP_METHOD_NAME) == "notifications/message")


async def _wait(condition: Any) -> None:
    with anyio.fail_after(STEP_TIMEOUT):
        while not condition():
            await anyio.sleep(0.05)


@pytest.fixture(scope="module", params=TRANSPORTS)
async def exchange(
    request: pytest.FixtureRequest,
    tracer_provider: TracerProvider,
    log_exporter: tuple[LoggerProvider, InMemoryLogRecordExporter],
    tmp_path_factory: pytest.TempPathFactory,
) -> Exchange:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from conftest import _ROUTER

    transport: str = request.param
    provider, logs = log_exporter
    logs.clear()
    spans = InMemorySpanExporter()
    previous, _ROUTER.target = _ROUTER.target, SimpleSpanProcessor(spans)
    workdir = tmp_path_factory.mktemp(f"logs-{transport}")
    env = {
        "PYTHONPATH": os.pathsep.join([str(SRC_DIR), str(SUPPORT_DIR)]),
        "OTEL_INSTRUMENTATION_MCP_CONTENT_REDACTOR": "log_server:redact",
        "OTEL_INSTRUMENTATION_MCP_MAX_CONTENT_LENGTH": str(log_server.MAX_CONTENT_LENGTH),
    }
    instrumentor = McpInstrumentor()
    try:
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            logger_provider=provider,
            content_redactor=log_server.redact,
            max_content_length=log_server.MAX_CONTENT_LENGTH,
        )
        spec = ServerSpec(log_server.build_server, SCRIPT, name=log_server.SERVER_NAME)
        async with open_client(transport, spec, exporter=spans, tmp_path=workdir, env=env) as conn:
            await conn.call_tool("chatty", {"city": CITY})
            # the client's records of the notifications (1.x HTTP: on the standalone stream, maybe later)
            await _wait(
                lambda: len([r for r in logs.get_finished_logs() if _received(r)]) >= len(CLIENT_RECORDS)
            )
        all_spans = conn.spans()
    finally:
        instrumentor.uninstrument()
        _ROUTER.target = previous
    records = [log_record_to_dict(r) for r in logs.get_finished_logs()]
    if transport == "stdio":
        spans_file = workdir / "server-spans.jsonl"
        await _wait(lambda: len(list(read_log_records(spans_file))) >= len(SERVER_RECORDS))
        records += list(read_log_records(spans_file))
    return Exchange(conn, all_spans, records)


async def test_server_records_of_a_tool_call(exchange: Exchange) -> None:
    """The tool's records, in the context of its SERVER span: Python logging (scope = the logger) and the
    MCP notification it sent (scope mcp_otel); the event logged both ways is one record; the redactor and
    the cap apply to every body."""
    server = exchange.of_span(exchange.tool)
    assert [_shape(r) for r in server] == exchange.sdk_records + SERVER_RECORDS
    assert {r["trace_id"] for r in server} == {exchange.tool["trace_id"]}


async def test_server_record_attributes(exchange: Exchange) -> None:
    """Each server record carries the request's low-cardinality attributes and the session's (those of
    the tool's span); the notification's record its MCP logger name."""
    expected = _expected_attributes(exchange.tool)
    assert expected[attr.MCP_METHOD_NAME] == "tools/call"
    assert expected[attr.GEN_AI_TOOL_NAME] == "chatty"
    assert expected[identity.MCP_SERVER_NAME] == log_server.SERVER_NAME
    for record in exchange.of_span(exchange.tool):
        assert _mcp_part(record) == expected, record
        logger = record["attributes"].get(attr.MCP_OTEL_LOG_LOGGER)
        assert logger == (log_server.MCP_LOGGER if record["scope"] == OUR_SCOPE else None), record


async def test_client_records_in_the_servers_trace(exchange: Exchange) -> None:
    """The client makes one record per notification it receives, in the span of its receipt, which is in the
    tool call's trace (the server's, from the notification's ``_meta``), with the server's identity."""
    received = exchange.received
    assert len(received) == 2, received
    client = [r for s in received for r in exchange.of_span(s)]
    assert sorted(_shape(r) for r in client) == sorted(CLIENT_RECORDS)
    for record in client:
        (span,) = [s for s in received if s["span_id"] == record["span_id"]]
        assert span["trace_id"] == record["trace_id"] == exchange.tool["trace_id"]
        expected = _expected_attributes(span)
        assert expected[identity.MCP_SERVER_NAME] == log_server.SERVER_NAME
        assert expected[attr.MCP_METHOD_NAME] == "notifications/message"
        assert _mcp_part(record) == expected, record


async def test_no_other_records(exchange: Exchange) -> None:
    """Every record of the exchange is one of the above: nothing twice, nothing outside the spans (but for
    the SDK's own INFO records of other requests when mcp 1.x ``FastMCP.run()`` configured logging)."""
    sdk = {record[0] for record in exchange.sdk_records}
    records = [r for r in exchange.records if r["scope"] not in sdk]
    ids = {exchange.tool["span_id"], *(s["span_id"] for s in exchange.received)}
    assert [(r["scope"], r["body"]) for r in records if r["span_id"] not in ids] == []
    assert len(records) == len(SERVER_RECORDS) + len(CLIENT_RECORDS), records


@pytest.fixture
def memory_logs(
    instrument: Any,
) -> Iterator[tuple[Any, InMemoryLogRecordExporter]]:
    """``instrument`` with an in-memory log exporter; yields (instrument options → instrumentor, exporter)."""
    provider = LoggerProvider()
    exporter = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))

    def _instrument(**options: Any) -> Any:
        return instrument(logger_provider=provider, **options)

    yield _instrument, exporter
    provider.shutdown()


async def _call(tool: str, arguments: dict[str, Any] | None = None) -> None:
    spec = ServerSpec(log_server.build_server, SCRIPT, name=log_server.SERVER_NAME)
    async with open_client("memory", spec) as conn:
        await conn.call_tool(tool, arguments or {})


async def test_severity_of_each_rfc5424_level(memory_logs: Any) -> None:
    """debug … emergency → DEBUG, INFO, INFO2, WARN, ERROR, ERROR2, ERROR3, FATAL; the level is the text."""
    instrument, exporter = memory_logs
    instrument()
    await _call("levels")
    server = [
        r.log_record
        for r in exporter.get_finished_logs()
        if r.log_record.attributes.get(attr.MCP_METHOD_NAME) == "tools/call"
    ]
    assert [(r.severity_text, r.severity_number.value, r.body) for r in server] == [
        (level, number, level)
        for level, number in zip(log_server.LEVELS, (5, 9, 10, 13, 17, 18, 19, 21), strict=True)
    ]


async def test_switched_off(memory_logs: Any) -> None:
    """``logs=False``: no record, from either source or side."""
    instrument, exporter = memory_logs
    instrument(logs=False)
    await _call("chatty", {"city": CITY})
    assert exporter.get_finished_logs() == ()


async def test_a_record_an_otel_handler_records_already_is_not_recorded_twice(memory_logs: Any) -> None:
    """With OpenTelemetry's ``LoggingHandler`` on the root logger (what
    ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED`` installs), the Python records are that handler's,
    correlated with the tool's span; mcp-otel records only the MCP notifications."""
    import warnings

    from opentelemetry.sdk._logs import LoggingHandler

    instrument, exporter = memory_logs
    theirs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(theirs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    try:
        instrument()
        await _call("chatty", {"city": CITY})
    finally:
        logging.getLogger().removeHandler(handler)
    data = json.dumps({"city": CITY, "token": REDACTED})  # scrubbed (no redactor here)
    ours = sorted(
        (r.log_record.attributes[attr.MCP_METHOD_NAME], r.log_record.body)
        for r in exporter.get_finished_logs()
    )
    assert ours == [
        ("notifications/message", f"forecast ready for {CITY}"),  # the client's two
        ("notifications/message", data),
        ("tools/call", data),  # the server's: its ctx.info repeats the Python record their handler has
    ]
    python = [
        r.log_record
        for r in theirs.get_finished_logs()
        if r.instrumentation_scope.name == log_server.LOGGER_NAME
    ]
    assert [r.body for r in python] == [
        f"looking up {CITY}",
        f"forecast ready for {CITY}",
        f"token {log_server.SECRET} rejected: {log_server.LONG}",  # their handler: no redaction, no cap
    ]
    assert len({r.span_id for r in python}) == 1 and python[0].span_id != 0


async def test_excluded_notifications_still_make_log_records(memory_logs: Any, span_exporter: Any) -> None:
    """``excluded_methods=["notifications/message"]``: no notification spans, but one record per notification
    on each side still (the server's in the tool's span, the client's in its trace), none twice."""
    instrument, exporter = memory_logs
    instrument(excluded_methods=["notifications/message"])
    await _call("chatty", {"city": CITY})
    spans = span_exporter.get_finished_spans()
    assert not [s for s in spans if s.name == "notifications/message"]
    (tool,) = [s for s in spans if s.name == "tools/call chatty" and s.kind.name == "SERVER"]
    records = [r.log_record for r in exporter.get_finished_logs()]
    notifications = [r for r in records if r.severity_text in ("info", "error")]
    assert len(records) == len(SERVER_RECORDS) + len(CLIENT_RECORDS)
    assert len(notifications) == 3  # the server's error; the client's info and error
    assert {r.trace_id for r in records} == {tool.context.trace_id}
