"""Sentry JS 11.17's keys for the per-item, per-message, notification and OAuth facts.

Each function names and fills its keys exactly as ``@sentry/core`` 11.17.0 does
(``packages/core/src/integrations/mcp-server/``):

- :func:`content_item_data` — ``resultExtraction.ts`` ``buildAllContentItemAttributes``: a single item's
  ``mcp.tool.result.content_type`` / ``.mime_type`` / ``.uri`` / ``.name`` / ``.data_size`` /
  ``.resource_uri`` / ``.resource_mime_type``; for several items the same fields (and ``.content``, the item's
  text) under ``mcp.tool.result.<i>.*``. The types are sent always, the rest only as outputs.
  Deliberate difference: a single item's ``mcp.tool.result.content`` stays the whole captured result
  (sentry-python's value, which mcp-otel always sent), not the item's text.
- :func:`prompt_message_data` — ``extractPromptResultAttributes``: ``mcp.prompt.result.<i>.role`` /
  ``.content`` (the message content's text) of a result with several messages (outputs).
- :func:`notification_data` — ``attributeExtraction.ts`` ``getNotificationAttributes``:
  ``mcp.cancelled.*``, ``mcp.logging.*`` (``.message`` only as input), ``mcp.progress.*`` with
  ``.percentage`` = ``progress / total * 100``.
- :func:`auth_client_name` — ``transport.ts`` ``resolveOAuthClientName``: ``mcp.auth.client.name`` from a
  resolver given the verified token. mcp-otel falls back to the token's ``client_id`` (Sentry JS sets the key
  only with its ``getOAuthClientName`` callback).

Which of these keys may leave the process is decided later, with every other key, by
:func:`~mcp_otel.sentry.span_data.sentry_attributes` (outputs with ``record_outputs``, the log message with
``record_inputs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_otel import facts
from mcp_otel._guard import log_failure_once
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv import signals

AuthClientName = Callable[[Any], "str | None"]
"""``(access_token) -> display name``: the Sentry ``mcp.auth.client.name`` of the OAuth client a request's
access token (the SDK's ``mcp.server.auth.provider.AccessToken``) belongs to; ``None`` or ``""``: no name."""

_KEY = signals.SENTRY_MCP_RESULT_KEY_PLACEHOLDER
# (single-item key, indexed key template) per ContentItem field, in ContentItem order after ``type``
_ITEM_KEYS = (
    (sentry.SENTRY_MCP_TOOL_RESULT_MIME_TYPE, signals.SENTRY_MCP_TOOL_RESULT_KEY_MIME_TYPE),
    (sentry.SENTRY_MCP_TOOL_RESULT_URI, signals.SENTRY_MCP_TOOL_RESULT_KEY_URI),
    (sentry.SENTRY_MCP_TOOL_RESULT_NAME, signals.SENTRY_MCP_TOOL_RESULT_KEY_NAME),
    (None, signals.SENTRY_MCP_TOOL_RESULT_KEY_CONTENT),  # a single item: the whole result's content instead
    (sentry.SENTRY_MCP_TOOL_RESULT_DATA_SIZE, signals.SENTRY_MCP_TOOL_RESULT_KEY_DATA_SIZE),
    (sentry.SENTRY_MCP_TOOL_RESULT_RESOURCE_URI, signals.SENTRY_MCP_TOOL_RESULT_KEY_RESOURCE_URI),
    (sentry.SENTRY_MCP_TOOL_RESULT_RESOURCE_MIME_TYPE, signals.SENTRY_MCP_TOOL_RESULT_KEY_RESOURCE_MIME_TYPE),
)


def content_item_data(items: tuple[facts.ContentItem, ...], data: dict[str, Any]) -> None:
    """Add the keys of a tool result's content items to ``data``."""
    single = len(items) == 1
    for i, item in enumerate(items):
        index = str(i)
        if item.type is not None and not single:  # a single item's type is the fact's content_type
            data[signals.SENTRY_MCP_TOOL_RESULT_KEY_CONTENT_TYPE.replace(_KEY, index)] = item.type
        for (single_key, template), value in zip(_ITEM_KEYS, item[1:], strict=True):
            if value is None:
                continue
            if not single:
                data[template.replace(_KEY, index)] = value
            elif single_key is not None:
                data[single_key] = value


def prompt_message_data(messages: tuple[facts.PromptMessage, ...], data: dict[str, Any]) -> None:
    """Add ``mcp.prompt.result.<i>.role`` / ``.content`` of a result with several messages to ``data``."""
    for i, message in enumerate(messages):
        index = str(i)
        if message.role is not None:
            data[signals.SENTRY_MCP_PROMPT_RESULT_KEY_ROLE.replace(_KEY, index)] = message.role
        if message.text is not None:
            data[signals.SENTRY_MCP_PROMPT_RESULT_KEY_CONTENT.replace(_KEY, index)] = message.text


def notification_data(fields: facts.Notification) -> dict[str, Any]:
    """The ``mcp.cancelled.*`` / ``mcp.logging.*`` / ``mcp.progress.*`` keys of a notification."""
    pairs = (
        (sentry.SENTRY_MCP_CANCELLED_REQUEST_ID, fields.request_id),
        (sentry.SENTRY_MCP_CANCELLED_REASON, fields.reason),
        (sentry.SENTRY_MCP_LOGGING_LEVEL, fields.level),
        (sentry.SENTRY_MCP_LOGGING_LOGGER, fields.logger),
        (sentry.SENTRY_MCP_LOGGING_DATA_TYPE, fields.data_type),
        (sentry.SENTRY_MCP_LOGGING_MESSAGE, fields.data),
        (sentry.SENTRY_MCP_PROGRESS_TOKEN, fields.progress_token),
        (sentry.SENTRY_MCP_PROGRESS_CURRENT, fields.progress),
        (sentry.SENTRY_MCP_PROGRESS_TOTAL, fields.total),
        (sentry.SENTRY_MCP_PROGRESS_MESSAGE, fields.message),
    )
    data = {key: value for key, value in pairs if value is not None}
    if fields.progress is not None and fields.total:  # JS divides by any total; 0 gives no finite number
        data[sentry.SENTRY_MCP_PROGRESS_PERCENTAGE] = fields.progress / fields.total * 100
    return data


def auth_client_name(token: Any, resolver: AuthClientName | None) -> str | None:
    """``mcp.auth.client.name`` of a verified access token: ``resolver(token)`` when given (a failing
    resolver is logged once and gives no name, as Sentry JS's ``safeCallback``), else the token's
    ``client_id``."""
    if resolver is None:
        name = getattr(token, "client_id", None)
    else:
        try:
            name = resolver(token)
        except Exception:
            log_failure_once("the Sentry auth_client_name resolver")
            return None
    return name if isinstance(name, str) and name else None
