"""Content capture: what mcp-otel records of arguments and results when the user opted in.

Every value goes through :func:`capture` (JSON, then the user's redactor, then truncation). The helpers here
are called only when content capture is on and the span records; none of them runs on the default hot path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span

from mcp_otel._guard import log_failure_once
from mcp_otel.config import McpOtelConfig
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry


def capture(config: McpOtelConfig, key: str, value: Any) -> str | None:
    """Serialise one content value for attribute ``key``: JSON, then the redactor, then truncation.

    Returns ``None`` when the redactor dropped it — or failed, or the value could not be serialised: a
    value the user's redactor did not see is never recorded. Only called when content capture is on.

    Args:
        config: the configuration holding ``content_redactor`` and ``max_content_length`` (characters).
        key: the attribute the value is for (passed to the redactor).
        value: a string (kept as is) or a JSON-serialisable value.
    """
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        redactor = config.content_redactor
        if redactor is not None:
            redacted = redactor(key, text)
            if redacted is None:
                return None
            text = str(redacted)
    except Exception:
        log_failure_once("content capture (serialiser or content_redactor)")
        return None
    return text[: config.max_content_length]


def capture_arguments(config: McpOtelConfig, span: Span, method: str, args: Any) -> None:
    """Record a request's arguments on ``span``: ``gen_ai.tool.call.arguments`` of a ``tools/call``, one
    ``gen_ai.prompt.variable.template.<name>`` per variable of a ``prompts/get``."""
    if args is None:
        return
    # A raw 2.x request may carry arguments of any JSON type: record as sent, iterate a mapping only.
    is_mapping = isinstance(args, Mapping)
    if method == TOOLS_CALL:
        value = capture(config, attr.GEN_AI_TOOL_CALL_ARGUMENTS, dict(args) if is_mapping else args)
        if value is not None:
            span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, value)
    elif method == PROMPTS_GET and is_mapping:
        for key, raw in args.items():
            full_key = f"{attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE}.{key}"
            value = capture(config, full_key, raw)
            if value is not None:
                span.set_attribute(full_key, value)


def capture_tool_result(config: McpOtelConfig, span: Span, is_tool_error: bool, value: Any) -> None:
    """Record a tool result's JSON ``value`` on ``span``: ``gen_ai.tool.call.result`` (a success) or
    ``mcp.tool.result.content`` (an ``isError`` result), and ``mcp.tool.result.content_type`` of a
    single-item result (Sentry's keys)."""
    key = sentry.SENTRY_MCP_TOOL_RESULT_CONTENT if is_tool_error else attr.GEN_AI_TOOL_CALL_RESULT
    text = capture(config, key, value)
    if text is not None:
        span.set_attribute(key, text)
    content_type = _single_item_type(value)
    if content_type is not None:
        span.set_attribute(sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE, content_type)


def capture_prompt_description(config: McpOtelConfig, span: Span, text: Any) -> None:
    """Record a prompt result's description (``mcp.prompt.result.description``): a non-empty string only."""
    if isinstance(text, str) and text:
        value = capture(config, sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION, text)
        if value is not None:
            span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION, value)


def capture_single_message(config: McpOtelConfig, span: Span, messages: Any) -> None:
    """Record ``mcp.prompt.result.message_role`` and ``.message_content`` of a single-message prompt result
    (``messages``: ``PromptMessage`` objects or their JSON dicts); several messages record nothing."""
    if not isinstance(messages, (list, tuple)) or len(messages) != 1:
        return  # Sentry's keys describe a single-message result
    role = _field(messages[0], "role")
    if isinstance(role, str):
        span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE, role)
    content = _field(messages[0], "content")
    text = _field(content, "text")
    value = capture(
        config,
        sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT,
        text if isinstance(text, str) else _json(content),
    )
    if value is not None:
        span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT, value)


def _field(value: Any, name: str) -> Any:
    """``value[name]`` of a JSON dict, or ``value.name`` of an SDK (pydantic) object."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _json(value: Any) -> Any:
    """A JSON-compatible form of an SDK (pydantic) object, for :func:`capture`."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if callable(dump) else value


def _single_item_type(value: Any) -> str | None:
    """The ``type`` of the only content block of a result's blocks (``None``: structured or several)."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        kind = _field(value[0], "type")
        return kind if isinstance(kind, str) else None
    return None
