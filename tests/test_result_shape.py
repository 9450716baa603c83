"""What the telemetry core records of tool and prompt results (Sentry's result keys), with and without content
capture: the content type of a single-block result, the error content of an ``isError`` result, the role and
content of a single-message prompt result."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_otel.config import McpOtelConfig
from mcp_otel.model import PROMPTS_GET, STDIO, TOOLS_CALL, Message, Session
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.telemetry import Telemetry

TEXT_BLOCK = {"type": "text", "text": "out of range"}


def _span(method: str, name: str, capture: bool, record: Any) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(
        provider.get_tracer("mcp_otel"),
        get_meter("mcp_otel"),
        McpOtelConfig.from_kwargs({"capture_content": capture, "metrics": False}),
    )
    message = Message(method, 1, name, None, None, Session(), STDIO)
    operation = telemetry.start_server_request(message)
    assert operation is not None
    record(operation)
    operation.end()
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


@pytest.mark.parametrize("capture", [False, True])
def test_error_result_content_and_content_type(capture: bool) -> None:
    attributes = _span(TOOLS_CALL, "divide", capture, lambda op: op.set_result(True, lambda: [TEXT_BLOCK], 1))
    assert attributes[sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR] is True
    assert attributes[attr.ERROR_TYPE] == "tool_error"
    assert attr.GEN_AI_TOOL_CALL_RESULT not in attributes  # OTel records results on success only
    if capture:
        assert (
            attributes[sentry.SENTRY_MCP_TOOL_RESULT_CONTENT] == '[{"type": "text", "text": "out of range"}]'
        )
        assert attributes[sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE] == "text"
    else:
        assert sentry.SENTRY_MCP_TOOL_RESULT_CONTENT not in attributes
        assert sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE not in attributes


def test_content_type_only_for_a_single_block() -> None:
    two = _span(TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: [TEXT_BLOCK, TEXT_BLOCK], 2))
    structured = _span(TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: {"result": 5}, 1))
    one = _span(TOOLS_CALL, "t", True, lambda op: op.set_result(False, lambda: [TEXT_BLOCK], 1))
    assert sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE not in two
    assert sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE not in structured
    assert one[sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE] == "text"
    assert one[attr.GEN_AI_TOOL_CALL_RESULT] == '[{"type": "text", "text": "out of range"}]'
    assert sentry.SENTRY_MCP_TOOL_RESULT_CONTENT not in one


class _Message:
    """A ``PromptMessage``-like object (attributes, not a dict)."""

    def __init__(self, role: str, text: str) -> None:
        self.role = role
        self.content = {"type": "text", "text": text}


@pytest.mark.parametrize("message", [{"role": "user", "content": {"type": "text", "text": "Hi Ada"}}, None])
@pytest.mark.parametrize("capture", [False, True])
def test_single_prompt_message(capture: bool, message: dict[str, Any] | None) -> None:
    value = message if message is not None else _Message("user", "Hi Ada")
    attributes = _span(
        PROMPTS_GET, "greet", capture, lambda op: op.set_prompt_result(1, None, lambda: [value])
    )
    assert attributes[sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT] == 1
    if capture:
        assert attributes[sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE] == "user"
        assert attributes[sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT] == "Hi Ada"
    else:
        assert sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE not in attributes
        assert sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT not in attributes


def test_several_prompt_messages_record_no_role() -> None:
    two = [{"role": "user", "content": {"type": "text", "text": "a"}}] * 2
    attributes = _span(PROMPTS_GET, "greet", True, lambda op: op.set_prompt_result(2, None, lambda: two))
    assert sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE not in attributes
    assert sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT not in attributes
