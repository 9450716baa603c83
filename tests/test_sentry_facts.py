"""The Sentry end of the fact channel (:mod:`mcp_otel.sentry.facts`), without a network.

A real telemetry core hands facts to the Sentry listeners: the side table keeps Sentry's keys per span context
until the span is mapped (bounded, consumed once), the live writer puts them on the running span for
sentry-sdk's own OTLP exporter, and the OTLP exporter maps at export time, in batches, with the events under
their Sentry names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

from opentelemetry.metrics import get_meter  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from mcp_otel import facts, listeners  # noqa: E402
from mcp_otel.config import McpOtelConfig  # noqa: E402
from mcp_otel.model import MEMORY, PROMPTS_GET, TOOLS_CALL, Message, Session  # noqa: E402
from mcp_otel.semconv import attributes as attr  # noqa: E402
from mcp_otel.semconv import sentry_compat as sc  # noqa: E402
from mcp_otel.sentry.facts import LiveSpanFacts, SpanFacts, sentry_fact_data, sentry_fact_event  # noqa: E402
from mcp_otel.sentry.mapping import MappingOptions, map_span, sentry_attributes  # noqa: E402
from mcp_otel.sentry.otlp import SentryOtlpSpanExporter, SentryOtlpSpanProcessor  # noqa: E402
from mcp_otel.telemetry import OperationView, Telemetry  # noqa: E402

BLOCK = {"type": "text", "text": "7 degrees"}
OUTPUTS = MappingOptions(record_outputs=True)


def _telemetry(provider: TracerProvider, capture: bool = True) -> Telemetry:
    config = McpOtelConfig.from_kwargs({"capture_content": capture, "metrics": False}, environ={})
    return Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)


def _tool_call(telemetry: Telemetry, name: str = "weather") -> None:
    operation = telemetry.start_server_request(Message(TOOLS_CALL, 1, name, None, None, Session(), MEMORY))
    assert operation is not None
    operation.record_progress(1, 2)
    operation.set_result(False, lambda: [BLOCK], 1, [BLOCK])
    operation.end()


def test_fact_data_is_sentrys_keys() -> None:
    assert sentry_fact_data(facts.TRANSPORT, "sse") == {sc.SENTRY_MCP_TRANSPORT: "sse"}
    assert sentry_fact_data(facts.TOOL_RESULT, facts.ToolResult(True, 2, None, "err")) == {
        sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: True,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 2,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT: "err",
    }
    assert sentry_fact_data(facts.PROMPT_RESULT, facts.PromptResult(1, "d", "user", "hi")) == {
        sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 1,
        sc.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION: "d",
        sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE: "user",
        sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT: "hi",
    }
    assert sentry_fact_data(facts.PROGRESS, facts.Progress(1, 2)) == {}
    assert sentry_fact_event(facts.PROGRESS, facts.Progress(1, None)) == (
        "mcp.progress",
        {sc.SENTRY_MCP_PROGRESS_CURRENT: 1},
    )
    assert sentry_fact_event(facts.CANCELLED, "why") == (
        "mcp.cancelled",
        {sc.SENTRY_MCP_CANCELLED_REASON: "why"},
    )
    assert sentry_fact_event(facts.CANCELLED, None) == ("mcp.cancelled", {})


def test_side_table_feeds_the_mapping_once() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    table = SpanFacts()
    table.install()
    try:
        _tool_call(_telemetry(provider))
    finally:
        table.uninstall()
    (span,) = exporter.get_finished_spans()
    assert not [k for k in span.attributes or {} if k.startswith(("mcp.tool.", "mcp.transport"))]
    assert len(table) == 0 and table.pop(span) is None  # uninstall() forgot everything

    table = SpanFacts()
    table.install()
    try:
        _tool_call(_telemetry(provider))
    finally:
        listeners.remove_listener(table)
    span = exporter.get_finished_spans()[-1]
    kept = table.pop(span)
    assert kept == {
        sc.SENTRY_MCP_TRANSPORT: "memory",
        sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 1,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE: "text",
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT: json.dumps([BLOCK]),
    }
    assert table.pop(span) is None  # consumed
    mapped = map_span(span, OUTPUTS, kept)
    assert mapped.data[sc.SENTRY_MCP_TOOL_RESULT_CONTENT] == json.dumps([BLOCK])  # as before, not wrapped
    assert json.loads(mapped.data[attr.GEN_AI_TOOL_CALL_RESULT]) == {"content": [BLOCK]}
    default = map_span(span, MappingOptions(), kept)
    assert sc.SENTRY_MCP_TOOL_RESULT_CONTENT not in default.data  # facts are gated like attributes
    assert default.data[sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT] == 1


class _View:
    """An operation view whose span is given (for the table's own rules)."""

    def __init__(self, span: Any) -> None:
        self.span = span


def test_side_table_is_bounded_and_ignores_spans_that_do_not_record() -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    table = SpanFacts(max_spans=3)
    spans = [tracer.start_span(f"s{i}") for i in range(5)]
    for span in spans:
        table.on_fact(_View(span), facts.TRANSPORT, "stdio")  # type: ignore[arg-type]
    assert len(table) == 3
    assert table.pop(spans[0]) is None and table.pop(spans[1]) is None  # the oldest went first
    assert table.pop(spans[4]) == {sc.SENTRY_MCP_TRANSPORT: "stdio"}
    from opentelemetry.trace import INVALID_SPAN

    table.on_fact(_View(INVALID_SPAN), facts.TRANSPORT, "stdio")  # type: ignore[arg-type]
    assert len(table) == 2
    for span in spans:
        span.end()


def test_otlp_exporter_maps_at_export_time_in_batches() -> None:
    collected = InMemorySpanExporter()
    exporter = SentryOtlpSpanExporter(collected)
    provider = TracerProvider()
    batch = BatchSpanProcessor(exporter, schedule_delay_millis=60_000, max_export_batch_size=64)
    provider.add_span_processor(batch)
    telemetry = _telemetry(provider)
    for name in ("a", "b", "c"):
        _tool_call(telemetry, name)
    operation = telemetry.start_server_request(
        Message(PROMPTS_GET, 2, "greet", None, None, Session(), MEMORY)
    )
    assert operation is not None
    operation.set_prompt_result(
        1, lambda: "A greeting", lambda: [{"role": "user", "content": {"text": "Hi"}}]
    )
    operation.record_cancelled("stop")
    operation.end()
    assert collected.get_finished_spans() == ()  # nothing exported yet: the facts wait in the table
    provider.force_flush()
    spans: dict[str, ReadableSpan] = {s.name: s for s in collected.get_finished_spans()}
    for name in ("a", "b", "c"):
        attributes = spans[f"tools/call {name}"].attributes or {}
        assert attributes[sc.SENTRY_MCP_TRANSPORT] == "memory"
        assert attributes[sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR] is False
        assert attributes[sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT] == 1
        (event,) = spans[f"tools/call {name}"].events
        assert (event.name, dict(event.attributes or {})) == (
            "mcp.progress",
            {sc.SENTRY_MCP_PROGRESS_CURRENT: 1, sc.SENTRY_MCP_PROGRESS_TOTAL: 2},
        )
    prompt = spans["prompts/get greet"]
    assert (prompt.attributes or {})[sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT] == 1
    assert [(e.name, dict(e.attributes or {})) for e in prompt.events] == [
        ("mcp.cancelled", {sc.SENTRY_MCP_CANCELLED_REASON: "stop"})
    ]
    assert len(exporter.facts) == 0  # every entry consumed
    provider.shutdown()
    assert exporter.facts not in listeners.registered  # shutdown() stops the listener


def test_live_writer_puts_sentrys_keys_on_the_running_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = SentryOtlpSpanProcessor()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        _tool_call(_telemetry(provider, capture=False))
    finally:
        processor.shutdown()
    assert isinstance(processor.facts, LiveSpanFacts) and processor.facts not in listeners.registered
    (span,) = exporter.get_finished_spans()
    attributes = span.attributes or {}
    assert attributes[sc.SENTRY_OP] == "mcp.server" and attributes[sc.SENTRY_MCP_TOOL_NAME] == "weather"
    assert attributes[sc.SENTRY_MCP_TRANSPORT] == "memory"
    assert attributes[sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR] is False
    assert attributes[sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT] == 1
    assert [e.name for e in span.events] == ["mcp_otel.progress", "mcp.progress"]


def test_fact_listener_of_a_view_without_span_context() -> None:
    class Spanless:
        def get_span_context(self) -> None:
            return None

        def is_recording(self) -> bool:
            return True

    table = SpanFacts()
    view: OperationView = _View(Spanless())  # type: ignore[assignment]
    table.on_fact(view, facts.TRANSPORT, "stdio")
    assert len(table) == 0


ITEMS = (
    facts.ContentItem("text", text="hello"),
    facts.ContentItem("image", mime_type="image/png", data_size=4),
    facts.ContentItem("resource", resource_uri="file:///e.md", resource_mime_type="text/markdown"),
)


def test_several_items_and_messages_get_sentry_js_indexed_keys() -> None:
    """``@sentry/core`` 11.17.0 ``buildAllContentItemAttributes`` / ``extractPromptResultAttributes``."""
    data = sentry_fact_data(facts.TOOL_RESULT, facts.ToolResult(False, 3, None, "[...]", ITEMS))
    assert data == {
        sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 3,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT: "[...]",
        "mcp.tool.result.0.content_type": "text",
        "mcp.tool.result.0.content": "hello",
        "mcp.tool.result.1.content_type": "image",
        "mcp.tool.result.1.mime_type": "image/png",
        "mcp.tool.result.1.data_size": 4,
        "mcp.tool.result.2.content_type": "resource",
        "mcp.tool.result.2.resource_uri": "file:///e.md",
        "mcp.tool.result.2.resource_mime_type": "text/markdown",
    }
    single = sentry_fact_data(facts.TOOL_RESULT, facts.ToolResult(False, 1, "image", None, (ITEMS[1],)))
    assert single == {
        sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 1,
        sc.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE: "image",
        sc.SENTRY_MCP_TOOL_RESULT_MIME_TYPE: "image/png",
        sc.SENTRY_MCP_TOOL_RESULT_DATA_SIZE: 4,
    }
    messages = (facts.PromptMessage("user", "a"), facts.PromptMessage("assistant", None))
    assert sentry_fact_data(facts.PROMPT_RESULT, facts.PromptResult(2, messages=messages)) == {
        sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 2,
        "mcp.prompt.result.0.role": "user",
        "mcp.prompt.result.0.content": "a",
        "mcp.prompt.result.1.role": "assistant",
    }


def test_item_details_are_outputs_types_are_not() -> None:
    data = sentry_fact_data(facts.TOOL_RESULT, facts.ToolResult(False, 3, None, None, ITEMS))
    messages = (facts.PromptMessage("user", "a"), facts.PromptMessage("user", "b"))
    data.update(sentry_fact_data(facts.PROMPT_RESULT, facts.PromptResult(2, messages=messages)))
    attributes = {attr.MCP_METHOD_NAME: TOOLS_CALL, **data}
    kept = sentry_attributes(attributes, False, MappingOptions())
    assert sorted(k for k in kept if k.startswith(("mcp.tool.result.", "mcp.prompt.result."))) == [
        "mcp.prompt.result.message_count",
        "mcp.tool.result.0.content_type",
        "mcp.tool.result.1.content_type",
        "mcp.tool.result.2.content_type",
        "mcp.tool.result.content_count",
        "mcp.tool.result.is_error",
    ]
    assert sentry_attributes(attributes, False, OUTPUTS).keys() >= data.keys()


def test_notification_fields_get_sentry_js_keys() -> None:
    """``@sentry/core`` 11.17.0 ``getNotificationAttributes``; the log message is an input."""
    progress = facts.Notification(progress_token="7", progress=1, total=4, message="step")
    assert sentry_fact_data(facts.NOTIFICATION, progress) == {
        sc.SENTRY_MCP_PROGRESS_TOKEN: "7",
        sc.SENTRY_MCP_PROGRESS_CURRENT: 1,
        sc.SENTRY_MCP_PROGRESS_TOTAL: 4,
        sc.SENTRY_MCP_PROGRESS_PERCENTAGE: 25.0,
        sc.SENTRY_MCP_PROGRESS_MESSAGE: "step",
    }
    assert sentry_fact_data(facts.NOTIFICATION, facts.Notification(progress=1, total=0)) == {
        sc.SENTRY_MCP_PROGRESS_CURRENT: 1,
        sc.SENTRY_MCP_PROGRESS_TOTAL: 0,
    }
    assert sentry_fact_data(facts.NOTIFICATION, facts.Notification(request_id="3", reason="r")) == {
        sc.SENTRY_MCP_CANCELLED_REQUEST_ID: "3",
        sc.SENTRY_MCP_CANCELLED_REASON: "r",
    }
    log = facts.Notification(level="info", logger="db", data_type="string", data="hi")
    data = sentry_fact_data(facts.NOTIFICATION, log)
    assert data == {
        sc.SENTRY_MCP_LOGGING_LEVEL: "info",
        sc.SENTRY_MCP_LOGGING_LOGGER: "db",
        sc.SENTRY_MCP_LOGGING_DATA_TYPE: "string",
        sc.SENTRY_MCP_LOGGING_MESSAGE: "hi",
    }
    attributes = {attr.MCP_METHOD_NAME: "notifications/message", **data}
    assert sc.SENTRY_MCP_LOGGING_MESSAGE not in sentry_attributes(attributes, False, OUTPUTS)
    inputs = MappingOptions(record_inputs=True)
    assert sentry_attributes(attributes, False, inputs)[sc.SENTRY_MCP_LOGGING_MESSAGE] == "hi"


class _Token:
    client_id = "client-42"


def test_auth_client_name_from_token_or_resolver(caplog: pytest.LogCaptureFixture) -> None:
    assert sentry_fact_data(facts.ACCESS_TOKEN, _Token()) == {sc.SENTRY_MCP_AUTH_CLIENT_NAME: "client-42"}
    named = sentry_fact_data(facts.ACCESS_TOKEN, _Token(), lambda token: f"App {token.client_id}")
    assert named == {sc.SENTRY_MCP_AUTH_CLIENT_NAME: "App client-42"}
    assert sentry_fact_data(facts.ACCESS_TOKEN, _Token(), lambda token: None) == {}

    def broken(token: object) -> str:
        raise RuntimeError("resolver bug")

    assert sentry_fact_data(facts.ACCESS_TOKEN, _Token(), broken) == {}
