"""The fact channel: what the telemetry core hands listeners instead of writing it on the vendor-neutral span.

Tool and prompt result shapes and content, the transport's kind, progress and cancellation: the span keeps the
OpenTelemetry keys only (``gen_ai.tool.call.result`` as a JSON object), a registered listener gets the facts
(:mod:`mcp_otel.facts`), and nothing is built when no listener is registered. The Sentry end
(:mod:`mcp_otel.sentry.facts`, ``tests/test_sentry_facts.py``) turns them into Sentry's keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_otel import facts, listeners
from mcp_otel.config import McpOtelConfig
from mcp_otel.model import MEMORY, PROMPTS_GET, STDIO, TOOLS_CALL, Message, Session, Transport
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import EVENT_CANCELLED, EVENT_PROGRESS
from mcp_otel.telemetry import OperationView, Telemetry
from mcp_otel.telemetry.capture import as_object
from support.facts import FactRecorder as Recorder
from support.facts import recording

TEXT_BLOCK = {"type": "text", "text": "out of range"}
BLOCKS_JSON = '[{"type": "text", "text": "out of range"}]'


@pytest.fixture
def recorder() -> Any:
    with recording() as rec:
        yield rec


def _run(
    method: str, name: str | None, capture: bool, record: Any, transport: Transport = STDIO, **kwargs: Any
) -> dict[str, Any]:
    """One SERVER operation through the core; returns the finished span's attributes and events."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = McpOtelConfig.from_kwargs({"capture_content": capture, "metrics": False, **kwargs}, environ={})
    telemetry = Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)
    operation = telemetry.start_server_request(Message(method, 1, name, None, None, Session(), transport))
    assert operation is not None
    record(operation)
    operation.end()
    (span,) = exporter.get_finished_spans()
    return {
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, dict(e.attributes or {})) for e in span.events],
    }


def _no_sentry_keys(attributes: dict[str, Any]) -> None:
    sentry_like = [k for k in attributes if k.startswith(("mcp.tool.", "mcp.prompt.", "mcp.transport"))]
    assert sentry_like == [], attributes


@pytest.mark.parametrize("capture", [False, True])
def test_tool_error_result(capture: bool, recorder: Recorder) -> None:
    span = _run(
        TOOLS_CALL, "divide", capture, lambda op: op.set_result(True, lambda: [TEXT_BLOCK], 1, [TEXT_BLOCK])
    )
    attributes = span["attributes"]
    assert attributes[attr.ERROR_TYPE] == "tool_error"
    assert attr.GEN_AI_TOOL_CALL_RESULT not in attributes  # OTel records results on success only
    _no_sentry_keys(attributes)
    # the item's type always (Sentry JS 11.17 sends content_type without recordOutputs), its text on capture
    item = facts.ContentItem("text")  # a single item's text is the result's content, not repeated
    expected = facts.ToolResult(True, 1, "text", BLOCKS_JSON if capture else None, (item,))
    assert recorder.of(facts.TOOL_RESULT) == [expected]
    assert recorder.of(facts.TRANSPORT) == ["stdio"]
    assert all(f.recording for f in recorder.facts)  # handed while the span runs


def test_tool_result_is_an_object_on_the_span_and_as_sent_in_the_fact(recorder: Recorder) -> None:
    blocks = [TEXT_BLOCK, TEXT_BLOCK]
    two = _run(TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: blocks, 2, blocks))
    structured = _run(
        TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: {"result": 5}, 1, [TEXT_BLOCK])
    )
    one = _run(TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: [TEXT_BLOCK], 1, [TEXT_BLOCK]))
    assert json.loads(one["attributes"][attr.GEN_AI_TOOL_CALL_RESULT]) == {"content": [TEXT_BLOCK]}
    assert json.loads(two["attributes"][attr.GEN_AI_TOOL_CALL_RESULT]) == {"content": [TEXT_BLOCK] * 2}
    assert structured["attributes"][attr.GEN_AI_TOOL_CALL_RESULT] == '{"result": 5}'
    for span in (one, two, structured):
        _no_sentry_keys(span["attributes"])
    item = facts.ContentItem("text", text="out of range")
    single = facts.ContentItem("text")
    assert recorder.of(facts.TOOL_RESULT) == [
        facts.ToolResult(False, 2, None, json.dumps([TEXT_BLOCK] * 2), (item, item)),
        # a structured result: the content items still give the type (Sentry JS reads ``content`` only)
        facts.ToolResult(False, 1, "text", '{"result": 5}', (single,)),
        facts.ToolResult(False, 1, "text", BLOCKS_JSON, (single,)),
    ]


@pytest.mark.parametrize(
    ("arguments", "recorded"),
    [
        ({"a": 1}, {"a": 1}),
        ('{"location": "Paris"}', {"location": "Paris"}),  # a JSON string holding an object is parsed
        ([1, 2], {"value": [1, 2]}),
        ("plain text", {"value": "plain text"}),
        (7, {"value": 7}),
    ],
)
def test_tool_arguments_are_an_object(arguments: Any, recorded: dict[str, Any]) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = McpOtelConfig.from_kwargs({"capture_content": True, "metrics": False}, environ={})
    telemetry = Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)
    message = Message(TOOLS_CALL, 1, "t", None, None, Session(), STDIO, arguments=lambda: arguments)
    operation = telemetry.start_server_request(message)
    assert operation is not None
    operation.end()
    (span,) = exporter.get_finished_spans()
    assert json.loads(str((span.attributes or {})[attr.GEN_AI_TOOL_CALL_ARGUMENTS])) == recorded


def test_as_object() -> None:
    assert as_object({"x": 1}, "content") == {"x": 1}
    assert as_object("[1]", "content") == {"content": "[1]"}  # a JSON string of a non-object stays a string
    assert as_object("not json", "value") == {"value": "not json"}


class _Message:
    """A ``PromptMessage``-like object (attributes, not a dict)."""

    def __init__(self, role: str, text: str) -> None:
        self.role = role
        self.content = {"type": "text", "text": text}


@pytest.mark.parametrize("message", [{"role": "user", "content": {"type": "text", "text": "Hi Ada"}}, None])
@pytest.mark.parametrize("capture", [False, True])
def test_single_prompt_message(capture: bool, message: dict[str, Any] | None, recorder: Recorder) -> None:
    value = message if message is not None else _Message("user", "Hi Ada")
    span = _run(
        PROMPTS_GET, "greet", capture, lambda op: op.set_prompt_result(1, lambda: "A", lambda: [value])
    )
    _no_sentry_keys(span["attributes"])
    expected = facts.PromptResult(1, "A", "user", "Hi Ada") if capture else facts.PromptResult(1)
    assert recorder.of(facts.PROMPT_RESULT) == [expected]


def test_several_prompt_messages_are_listed_not_single(recorder: Recorder) -> None:
    two = [
        {"role": "user", "content": {"type": "text", "text": "a"}},
        {"role": "assistant", "content": {"type": "image", "data": "AAAA", "mimeType": "image/png"}},
    ]
    _run(PROMPTS_GET, "greet", True, lambda op: op.set_prompt_result(2, None, lambda: two))
    _run(PROMPTS_GET, "greet", False, lambda op: op.set_prompt_result(2, None, lambda: two))
    # no single role/content; each message's role and text (none for an image: Sentry JS reads .text only)
    listed = (facts.PromptMessage("user", "a"), facts.PromptMessage("assistant", None))
    assert recorder.of(facts.PROMPT_RESULT) == [facts.PromptResult(2, messages=listed), facts.PromptResult(2)]


def test_content_items_types_always_details_on_capture(recorder: Recorder) -> None:
    blocks = [
        {"type": "text", "text": "hello"},
        {"type": "image", "data": "QUJD", "mimeType": "image/png"},
        {"type": "resource_link", "uri": "file:///r.txt", "name": "r.txt", "mimeType": "text/plain"},
        {"type": "resource", "resource": {"uri": "file:///e.md", "mimeType": "text/markdown", "text": "x"}},
    ]
    for capture in (True, False):
        _run(TOOLS_CALL, "t", capture, lambda op: op.set_result(False, lambda: blocks, 4, blocks))
    detailed, bare = recorder.of(facts.TOOL_RESULT)
    assert detailed.items == (
        facts.ContentItem("text", text="hello"),
        facts.ContentItem("image", mime_type="image/png", data_size=4),
        facts.ContentItem("resource_link", mime_type="text/plain", uri="file:///r.txt", name="r.txt"),
        facts.ContentItem("resource", resource_uri="file:///e.md", resource_mime_type="text/markdown"),
    )
    assert detailed.content_type is None  # several items: no single type
    assert bare.items == tuple(facts.ContentItem(b["type"]) for b in blocks)


@pytest.mark.parametrize(
    ("method", "params", "capture", "expected"),
    [
        (
            "notifications/message",
            {"level": "warning", "logger": "db", "data": {"rows": 3}},
            True,
            facts.Notification(level="warning", logger="db", data_type="object", data='{"rows": 3}'),
        ),
        (
            "notifications/message",
            {"level": "info", "data": "plain"},
            False,
            facts.Notification(level="info", data_type="string"),
        ),
        (
            "notifications/progress",
            {"progressToken": 7, "progress": 1, "total": 4, "message": "step 1"},
            False,
            facts.Notification(progress_token="7", progress=1, total=4, message="step 1"),
        ),
        (
            "notifications/cancelled",
            {"requestId": 3, "reason": "user aborted"},
            False,
            facts.Notification(request_id="3", reason="user aborted"),
        ),
        ("notifications/initialized", {}, False, None),
    ],
)
def test_notification_fields_are_a_fact(
    method: str, params: dict[str, Any], capture: bool, expected: Any, recorder: Recorder
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = McpOtelConfig.from_kwargs({"capture_content": capture, "metrics": False}, environ={})
    telemetry = Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)
    message = Message(method, None, None, None, None, Session(), STDIO, direction="client_to_server")
    message.params = params
    operation = telemetry.start_server_request(message)
    assert operation is not None
    operation.end()
    (span,) = exporter.get_finished_spans()
    sentry_like = ("mcp.logging", "mcp.progress", "mcp.cancel")
    assert not [k for k in (span.attributes or {}) if k.startswith(sentry_like)]
    assert recorder.of(facts.NOTIFICATION) == ([expected] if expected is not None else [])


def test_access_token_is_a_fact_never_an_attribute(recorder: Recorder) -> None:
    token = object()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = McpOtelConfig.from_kwargs({"metrics": False}, environ={})
    telemetry = Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)
    message = Message(TOOLS_CALL, 1, "t", None, None, Session(), STDIO, access_token=token)
    operation = telemetry.start_server_request(message)
    assert operation is not None
    operation.end()
    (span,) = exporter.get_finished_spans()
    assert not [k for k in (span.attributes or {}) if "auth" in k]
    assert recorder.of(facts.ACCESS_TOKEN) == [token]


def test_redactor_sees_fact_content(recorder: Recorder) -> None:
    seen: list[str] = []

    def redactor(key: str, value: str) -> str:
        seen.append(key)
        return "[R]"

    _run(
        TOOLS_CALL,
        "t",
        True,
        lambda op: op.set_result(True, lambda: [TEXT_BLOCK], 1, [TEXT_BLOCK]),
        content_redactor=redactor,
    )
    _run(
        PROMPTS_GET,
        "p",
        True,
        lambda op: op.set_prompt_result(1, lambda: "d", lambda: [_Message("user", "m")]),
        content_redactor=redactor,
    )
    assert seen == [
        "tool_result.content",
        "prompt_result.description",
        "prompt_result.message_content",
    ]
    item = facts.ContentItem("text")
    assert recorder.of(facts.TOOL_RESULT) == [facts.ToolResult(True, 1, "text", "[R]", (item,))]
    assert recorder.of(facts.PROMPT_RESULT) == [facts.PromptResult(1, "[R]", "user", "[R]")]


def test_progress_and_cancellation_are_project_events(recorder: Recorder) -> None:
    def record(op: Any) -> None:
        op.record_progress(1, 3)
        op.record_progress(2.5, None)
        op.record_cancelled("stop")

    span = _run(TOOLS_CALL, "t", False, record)
    assert span["events"] == [
        (EVENT_PROGRESS, {attr.MCP_OTEL_PROGRESS_CURRENT: 1, attr.MCP_OTEL_PROGRESS_TOTAL: 3}),
        (EVENT_PROGRESS, {attr.MCP_OTEL_PROGRESS_CURRENT: 2.5}),
        (EVENT_CANCELLED, {attr.MCP_OTEL_CANCELLED_REASON: "stop"}),
    ]
    assert EVENT_PROGRESS == "mcp_otel.progress" and EVENT_CANCELLED == "mcp_otel.cancelled"
    assert span["attributes"][attr.ERROR_TYPE] == "cancelled"
    assert recorder.of(facts.PROGRESS) == [facts.Progress(1, 3), facts.Progress(2.5, None)]
    assert recorder.of(facts.CANCELLED) == ["stop"]


def test_memory_transport_has_no_attribute_but_a_fact(recorder: Recorder) -> None:
    span = _run(TOOLS_CALL, "t", False, lambda op: None, transport=MEMORY)
    assert not [k for k in span["attributes"] if k.startswith(("network.", "mcp.transport"))]
    assert recorder.of(facts.TRANSPORT) == ["memory"]


def test_nothing_is_built_without_a_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    """No listener: no fact object, no prompt callable called, no fact helper run (the hot path's promise)."""
    monkeypatch.setattr(listeners, "registered", ())  # whatever other tests left registered
    monkeypatch.setattr(listeners, "fact_receivers", ())

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("built a fact with no listener registered")

    import mcp_otel.telemetry.outcome as outcome

    monkeypatch.setattr(outcome, "tool_result_fact", forbidden)
    monkeypatch.setattr(outcome, "prompt_result_fact", forbidden)
    monkeypatch.setattr(outcome, "content_items", forbidden)
    monkeypatch.setattr(outcome, "notification_fields", forbidden)
    monkeypatch.setattr(facts, "ToolResult", forbidden)
    monkeypatch.setattr(facts, "Progress", forbidden)
    monkeypatch.setattr(listeners, "notify_fact", forbidden)

    def record(op: Any) -> None:
        op.set_result(False, forbidden, 1, [TEXT_BLOCK])  # capture off: the result is never read
        op.set_prompt_result(1, forbidden, forbidden)
        op.record_progress(1, 2)
        op.record_cancelled(None)

    _run(TOOLS_CALL, "t", False, record)
    _run(PROMPTS_GET, "p", True, lambda op: op.set_prompt_result(1, forbidden, forbidden))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = McpOtelConfig.from_kwargs({"capture_content": True, "metrics": False}, environ={})
    telemetry = Telemetry(provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), config)
    message = Message("notifications/progress", None, None, None, None, Session(), STDIO, direction="x")
    message.params = {"progressToken": 1, "progress": 1}
    operation = telemetry.start_server_request(message)
    assert operation is not None
    operation.end()
    assert len(exporter.get_finished_spans()) == 1


def test_a_failing_listener_never_reaches_the_host() -> None:
    class Broken(listeners.McpListener):
        def on_fact(self, operation: OperationView, fact: str, value: Any) -> None:
            raise RuntimeError("listener bug")

    broken = Broken()
    listeners.add_listener(broken)
    try:
        span = _run(TOOLS_CALL, "t", False, lambda op: op.set_result(True, None, 1))
    finally:
        listeners.remove_listener(broken)
    assert span["attributes"][attr.ERROR_TYPE] == "tool_error"


class _TypedImage:
    """An mcp 2.x typed content item: snake-case attributes (``mime_type``), wire names only as aliases."""

    type = "image"
    data = "QUJD"
    mime_type = "image/png"


class _TypedProgress:
    progress_token = 9
    progress = 3
    total = 6
    message = None


def test_typed_sdk_objects_of_either_naming_are_read() -> None:
    from mcp_otel.telemetry.fact_fields import content_items, notification_fields

    config = McpOtelConfig.from_kwargs({"capture_content": True}, environ={})
    assert content_items(config, [_TypedImage()]) == (
        facts.ContentItem("image", mime_type="image/png", data_size=4),
    )
    assert notification_fields(config, "notifications/progress", _TypedProgress()) == facts.Notification(
        progress_token="9", progress=3, total=6
    )


def test_redactor_sees_item_content(recorder: Recorder) -> None:
    seen: list[tuple[str, str]] = []

    def redactor(key: str, value: str) -> str:
        seen.append((key, value))
        return "[R]"

    blocks = [TEXT_BLOCK, {"type": "resource_link", "uri": "file:///secret", "name": "s"}]
    _run(
        TOOLS_CALL,
        "t",
        True,
        lambda op: op.set_result(False, lambda: blocks, 2, blocks),
        content_redactor=redactor,
    )
    assert ("tool_result.item.text", "out of range") in seen
    assert ("tool_result.item.uri", "file:///secret") in seen and ("tool_result.item.name", "s") in seen
    (fact,) = recorder.of(facts.TOOL_RESULT)
    assert fact.items == (
        facts.ContentItem("text", text="[R]"),
        facts.ContentItem("resource_link", uri="[R]", name="[R]"),
    )
