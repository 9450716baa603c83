"""The per-item and per-notification fields of the facts (:mod:`mcp_otel.facts`), read from the SDK's values.

Called only when a fact listener is registered (:data:`mcp_otel.listeners.fact_receivers`): none of this
runs without one. Shapes (types, counts, levels, progress numbers) are always read; content (text, URIs,
names, MIME types, log data) only with content capture on, each text value through
:func:`~mcp_otel.telemetry.capture.capture` (JSON, the user's redactor, truncation) under the redactor keys
below. What is read follows what Sentry JS 11.17 reads (``@sentry/core`` 11.17.0,
``integrations/mcp-server/resultExtraction.ts`` ``buildAllContentItemAttributes`` /
``extractPromptResultAttributes``, ``attributeExtraction.ts`` ``getNotificationAttributes``), so that the
Sentry mapping can name them as it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_otel.config import McpOtelConfig
from mcp_otel.facts import ContentItem, Notification, PromptMessage
from mcp_otel.semconv.attributes import McpMethodNameValues
from mcp_otel.telemetry.capture import capture, field

# Redactor keys of the content only listeners get (``<fact>.<field>``, as in mcp_otel.telemetry.capture).
TOOL_RESULT_ITEM_TEXT_KEY = "tool_result.item.text"
TOOL_RESULT_ITEM_URI_KEY = "tool_result.item.uri"
TOOL_RESULT_ITEM_NAME_KEY = "tool_result.item.name"
TOOL_RESULT_ITEM_RESOURCE_URI_KEY = "tool_result.item.resource_uri"
PROMPT_MESSAGE_TEXT_KEY = "prompt_result.message.text"
NOTIFICATION_DATA_KEY = "notification.data"

_CANCELLED = McpMethodNameValues.NOTIFICATIONS_CANCELLED.value
_MESSAGE = McpMethodNameValues.NOTIFICATIONS_MESSAGE.value
_PROGRESS = McpMethodNameValues.NOTIFICATIONS_PROGRESS.value
NOTIFICATION_METHODS = frozenset({_CANCELLED, _MESSAGE, _PROGRESS})
"""The notifications whose fields go to listeners (:data:`mcp_otel.facts.NOTIFICATION`)."""


def content_items(config: McpOtelConfig, content: Any) -> tuple[ContentItem, ...]:
    """The :class:`~mcp_otel.facts.ContentItem` of each item of a result's ``content`` (SDK objects or JSON
    dicts): the type always, the rest with content capture on. Not a list: no items."""
    if not isinstance(content, (list, tuple)):
        return ()
    detailed = config.capture_content
    several = len(content) > 1  # a single item's text is the result's own content (the fact's ``content``)
    items = []
    for item in content:
        kind = field(item, "type")
        kind = kind if isinstance(kind, str) else None
        if not detailed:
            items.append(ContentItem(kind))
            continue
        data = field(item, "data")
        resource = field(item, "resource")
        items.append(
            ContentItem(
                kind,
                _string(field(item, "mimeType")),
                _captured(config, TOOL_RESULT_ITEM_URI_KEY, field(item, "uri")),
                _captured(config, TOOL_RESULT_ITEM_NAME_KEY, field(item, "name")),
                _captured(config, TOOL_RESULT_ITEM_TEXT_KEY, field(item, "text")) if several else None,
                len(data) if isinstance(data, str) else None,
                _captured(config, TOOL_RESULT_ITEM_RESOURCE_URI_KEY, field(resource, "uri")),
                _string(field(resource, "mimeType")),
            )
        )
    return tuple(items)


def prompt_messages(config: McpOtelConfig, messages: Any) -> tuple[PromptMessage, ...]:
    """Each message of a result with several (content capture on): its role and its content's ``text``."""
    if not isinstance(messages, (list, tuple)) or len(messages) < 2:
        return ()
    out = []
    for message in messages:
        role = field(message, "role")
        text = field(field(message, "content"), "text")
        out.append(
            PromptMessage(
                role if isinstance(role, str) else None,
                capture(config, PROMPT_MESSAGE_TEXT_KEY, text) if isinstance(text, str) else None,
            )
        )
    return tuple(out)


def notification_fields(config: McpOtelConfig, method: str, params: Any) -> Notification | None:
    """The :class:`~mcp_otel.facts.Notification` of a ``notifications/cancelled`` / ``message`` /
    ``progress`` with ``params`` (typed SDK params or the raw dict); ``None`` for other methods.

    As Sentry JS 11.17 reads them: ids, tokens, reasons and messages only when truthy, numbers only when they
    are numbers, the log data's type always and its text with content capture on.
    """
    if method == _CANCELLED:
        return Notification(
            request_id=_text(field(params, "requestId")), reason=_text(field(params, "reason"))
        )
    if method == _MESSAGE:
        data = field(params, "data")
        absent = data is None and not _has(params, "data")
        text = capture(config, NOTIFICATION_DATA_KEY, data) if config.capture_content and not absent else None
        return Notification(
            level=_text(field(params, "level")),
            logger=_text(field(params, "logger")),
            data_type=None if absent else _typeof(data),
            data=text,
        )
    if method == _PROGRESS:
        progress, total = field(params, "progress"), field(params, "total")
        return Notification(
            progress_token=_text(field(params, "progressToken")),
            progress=progress if _is_number(progress) else None,
            total=total if _is_number(total) else None,
            message=_text(field(params, "message")),
        )
    return None


def _has(params: Any, name: str) -> bool:
    if isinstance(params, Mapping):
        return name in params
    return name in (getattr(params, "model_fields_set", None) or ())


def _typeof(value: Any) -> str:
    """JavaScript's ``typeof`` of a JSON value (``null``, arrays and objects are all ``object``)."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "object"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str | None:
    """``String(value)`` of a truthy value (a JSON id, token or reason), else ``None``."""
    if value is None or (isinstance(value, (str, int, float)) and not value):  # JavaScript's falsy values
        return None
    return str(value)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _captured(config: McpOtelConfig, key: str, value: Any) -> str | None:
    """A URI, name or text (a pydantic ``AnyUrl`` as its string) through the redactor, or ``None``."""
    if type(value) is str:
        return capture(config, key, value)
    if value is None or isinstance(value, (Mapping, list, tuple, bool)):
        return None
    return capture(config, key, str(value))
