"""Content capture: what mcp-otel records of arguments and results when the user opted in.

Every value goes through :func:`capture` (JSON, then the user's redactor, then truncation). Spans get the
GenAI keys only (``gen_ai.tool.call.arguments`` / ``.result`` as JSON objects,
``gen_ai.prompt.variable.<name>``); what the conventions have no key for (an ``isError`` result's text, a
prompt result's description and messages) goes to listeners as facts (:mod:`mcp_otel.facts`). The helpers
here are called only when content capture is on (or, for the result-shape facts, when a listener is
registered); none of them runs on the default hot path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span

from mcp_otel._guard import log_failure_once
from mcp_otel.config import McpOtelConfig
from mcp_otel.facts import ContentItem, PromptMessage, PromptResult, ToolResult
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL
from mcp_otel.semconv import attributes as attr


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


RESULT_WRAPPER = "content"
"""Key under which a tool result that is not a JSON object (its content items) is recorded as
``gen_ai.tool.call.result``: ``{"content": [...]}``, the shape of the ``CallToolResult`` it came from."""

ARGUMENTS_WRAPPER = "value"
"""Key under which tool arguments that are not a JSON object are recorded as ``gen_ai.tool.call.arguments``:
``{"value": ...}`` (MCP requires an object; a malformed request may send anything)."""

# Redactor keys of content that only listeners get (mcp_otel.facts): ``<fact>.<field>``.
TOOL_RESULT_CONTENT_KEY = "tool_result.content"
PROMPT_DESCRIPTION_KEY = "prompt_result.description"
PROMPT_MESSAGE_CONTENT_KEY = "prompt_result.message_content"


def as_object(value: Any, wrapper: str) -> Any:
    """``value`` as the JSON object the GenAI conventions' schema wants for tool arguments and results.

    A mapping stays as it is; a string holding a JSON object is parsed (the conventions ask for a best-effort
    deserialisation); anything else becomes ``{wrapper: value}``.
    """
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {wrapper: value}


def capture_arguments(config: McpOtelConfig, span: Span, method: str, args: Any) -> None:
    """Record a request's arguments on ``span``: ``gen_ai.tool.call.arguments`` of a ``tools/call`` (a JSON
    object, see :func:`as_object`), one ``gen_ai.prompt.variable.<name>`` per variable of a
    ``prompts/get``."""
    if args is None:
        return
    # A raw 2.x request may carry arguments of any JSON type: an object is recorded as sent, the rest wrapped.
    is_mapping = isinstance(args, Mapping)
    if method == TOOLS_CALL:
        arguments = dict(args) if is_mapping else as_object(args, ARGUMENTS_WRAPPER)
        value = capture(config, attr.GEN_AI_TOOL_CALL_ARGUMENTS, arguments)
        if value is not None:
            span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, value)
    elif method == PROMPTS_GET and is_mapping:
        for key, raw in args.items():
            full_key = f"{attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE}.{key}"
            value = capture(config, full_key, raw)
            if value is not None:
                span.set_attribute(full_key, value)


def capture_tool_result(config: McpOtelConfig, span: Span, value: Any, as_sent: bool) -> str | None:
    """Record a successful tool result's JSON ``value`` on ``span`` as ``gen_ai.tool.call.result`` (a JSON
    object, see :func:`as_object`). With ``as_sent`` (a listener wants the fact), also return ``value``'s own
    captured text, as listeners get it (:class:`mcp_otel.facts.ToolResult`); else ``None``."""
    wrapped = as_object(value, RESULT_WRAPPER)
    recorded = capture(config, attr.GEN_AI_TOOL_CALL_RESULT, wrapped)
    if recorded is not None:
        span.set_attribute(attr.GEN_AI_TOOL_CALL_RESULT, recorded)
    if not as_sent:
        return None
    return recorded if wrapped is value else capture(config, attr.GEN_AI_TOOL_CALL_RESULT, value)


def tool_result_fact(
    config: McpOtelConfig,
    is_tool_error: bool,
    content_count: int | None,
    value: Any,
    text: str | None,
    items: tuple[ContentItem, ...] = (),
) -> ToolResult:
    """The :data:`mcp_otel.facts.TOOL_RESULT` fact of a result (``value`` is ``None`` unless captured;
    ``text`` is a success's captured text; ``items`` its content items,
    :func:`~mcp_otel.telemetry.fact_fields.content_items`)."""
    content_type = items[0].type if len(items) == 1 else None
    if value is None:
        return ToolResult(is_tool_error, content_count, content_type, None, items)
    if is_tool_error:
        text = capture(config, TOOL_RESULT_CONTENT_KEY, value)
    return ToolResult(is_tool_error, content_count, content_type, text, items)


def prompt_result_fact(
    config: McpOtelConfig,
    message_count: int | None,
    description: Any,
    messages: Any,
    all_messages: tuple[PromptMessage, ...] = (),
) -> PromptResult:
    """The :data:`mcp_otel.facts.PROMPT_RESULT` fact: the count, and with content capture on (``description``
    and ``messages`` are then the result's, else ``None``) the description and a single message's role and
    content, captured (JSON, redactor, truncation); ``all_messages``: those of a result with several
    (:func:`~mcp_otel.telemetry.fact_fields.prompt_messages`)."""
    text = None
    if isinstance(description, str) and description:
        text = capture(config, PROMPT_DESCRIPTION_KEY, description)
    role = content_text = None
    if isinstance(messages, (list, tuple)) and len(messages) == 1:  # Sentry's keys describe one message
        found = field(messages[0], "role")
        role = found if isinstance(found, str) else None
        content = field(messages[0], "content")
        inner = field(content, "text")
        content_text = capture(
            config, PROMPT_MESSAGE_CONTENT_KEY, inner if isinstance(inner, str) else _json(content)
        )
    return PromptResult(message_count, text, role, content_text, all_messages)


def field(value: Any, name: str) -> Any:
    """``value[name]`` of a JSON dict, or the field ``name`` (its wire name, ``mimeType``) of an SDK
    (pydantic) object — mcp 1.x names the attribute as on the wire, mcp 2.x in snake case (``mime_type``);
    ``None`` if absent."""
    if type(value) is dict:  # the wire form (mcp 2.x servers): skip the ABC check below
        return value.get(name)
    if value is None:
        return None
    cls = type(value)
    names = _ATTRIBUTE_NAMES.get((cls, name))
    if names is None:
        names = _attribute_name(cls, name)
    if names is _MAPPING:
        return value.get(name)
    return getattr(value, names, None) if names else None


# (class, wire name) → the attribute holding it ("" for none, _MAPPING: read it as a key); a few SDK classes ×
# the few names read here
_ATTRIBUTE_NAMES: dict[tuple[type, str], str] = {}
_MAPPING = "<mapping>"


def _attribute_name(cls: type, name: str) -> str:
    """The attribute of ``cls`` holding the wire field ``name``: the name itself (mcp 1.x, plain objects) or
    its snake-case form (mcp 2.x pydantic models); found once per class, so that reading a field never goes
    through pydantic's failing ``__getattr__``."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict):
        found = name if name in fields else snake if snake in fields else ""
    elif issubclass(cls, Mapping):
        found = _MAPPING
    else:  # a plain object: a class attribute of either name, else an instance attribute named as on the wire
        found = name if hasattr(cls, name) else snake if hasattr(cls, snake) else name
    if len(_ATTRIBUTE_NAMES) < 1024:
        _ATTRIBUTE_NAMES[(cls, name)] = found
    return found


def _json(value: Any) -> Any:
    """A JSON-compatible form of an SDK (pydantic) object, for :func:`capture`."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if callable(dump) else value
