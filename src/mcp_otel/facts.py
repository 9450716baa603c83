"""Facts: what the telemetry core knows about an operation but does not put on its vendor-neutral span.

The OpenTelemetry MCP conventions have no key for the transport's name (``stdio``, ``sse``…), a tool result's
shape or a prompt result's messages, and mcp-otel keeps its spans to the conventions. Exporters that need more
— the Sentry mapping (:mod:`mcp_otel.sentry`) rebuilds Sentry's MCP keys from them — register a listener
(:class:`mcp_otel.listeners.McpListener`) and receive each fact through its one method ``on_fact(operation,
fact, value)``, in the task where it happens, while the operation's span is still running.

Facts cost nothing when no listener is registered: the core checks :data:`mcp_otel.listeners.fact_receivers`
before it builds one. Content (result text, prompt messages) is in a fact only when content capture is on,
after the user's redactor and truncation, exactly as it would be on a span.

Adding a fact:

1. name it here (a ``Final`` string) and, when its value has several fields, add a ``NamedTuple`` for it
   (immutable, and the cheapest record to build on the request path);
2. hand it from the core where it becomes known, building the value only when someone listens:
   ``if listeners.fact_receivers: operation.hand_fact(NAME, value)`` (content only through ``capture()``, only
   with content capture on);
3. map it where it is consumed: for Sentry, one branch in :func:`mcp_otel.sentry.facts.sentry_fact_data`;
4. test it in ``tests/test_facts.py`` and in the Sentry payload comparison
   (``tests/test_sentry_payloads.py``).
"""

from __future__ import annotations

from typing import Final, NamedTuple

TRANSPORT: Final = "transport"
"""The transport's kind (``str``): ``stdio``, ``http`` (streamable HTTP), ``sse`` or ``memory``; handed when
the operation's span starts (never for an unknown transport)."""

TOOL_RESULT: Final = "tool_result"
"""A ``tools/call`` result arrived (:class:`ToolResult`)."""

PROMPT_RESULT: Final = "prompt_result"
"""A ``prompts/get`` result arrived (:class:`PromptResult`)."""

PROGRESS: Final = "progress"
"""A progress notification about the operation (:class:`Progress`); the span also gets an
``mcp_otel.progress`` event."""

CANCELLED: Final = "cancelled"
"""The peer cancelled the operation (the reason, ``str | None``); the span also gets an ``mcp_otel.cancelled``
event."""

NOTIFICATION: Final = "notification"
"""The fields of a ``notifications/message``, ``notifications/progress`` or ``notifications/cancelled`` the
operation's span describes (:class:`Notification`); handed when the span starts."""

ACCESS_TOKEN: Final = "access_token"
"""The access token the server's OAuth auth verified for the request (the SDK's
``mcp.server.auth.provider.AccessToken``: ``client_id``, ``scopes`` … — what
``mcp.server.auth.middleware.auth_context.get_access_token()`` returns); handed when a SERVER request span
starts on an OAuth-protected HTTP server. Never put on a span: listeners read what they need of it."""


class ContentItem(NamedTuple):
    """One content item of a ``tools/call`` result.

    Attributes:
        type: the item's ``type`` (``text``, ``image``, ``resource`` …), when it is a string.
        mime_type: its ``mimeType``; with content capture on only.
        uri: its ``uri`` (a ``resource_link``), redacted and truncated; with content capture on only.
        name: its ``name`` (a ``resource_link``), redacted and truncated; with content capture on only.
        text: its ``text``, redacted and truncated; with content capture on, and only when the result has
            several items (a single item's text is the result's ``content``).
        data_size: the length of its ``data`` string (base64 characters); with content capture on only.
        resource_uri: the ``uri`` of its embedded ``resource``, redacted and truncated; with capture on only.
        resource_mime_type: the ``mimeType`` of its embedded ``resource``; with content capture on only.
    """

    type: str | None
    mime_type: str | None = None
    uri: str | None = None
    name: str | None = None
    text: str | None = None
    data_size: int | None = None
    resource_uri: str | None = None
    resource_mime_type: str | None = None


class PromptMessage(NamedTuple):
    """One message of a ``prompts/get`` result (with content capture on only).

    Attributes:
        role: the message's ``role``, when it is a string.
        text: the ``text`` of its content, redacted and truncated (``None`` for non-text content).
    """

    role: str | None
    text: str | None


class ToolResult(NamedTuple):
    """The shape (and, with content capture on, the content) of a ``tools/call`` result.

    Attributes:
        is_error: the result has ``isError`` set (the span also has ``error.type`` ``tool_error``).
        content_count: the number of content items, when the result has a list of them.
        content_type: the ``type`` of a single content item (``text``, ``image`` …), with or without
            content capture (``None`` for several items or none).
        content: the result as text — an ``isError`` result's error text, else the captured result (its
            ``structuredContent``, else its content items, serialised as JSON) before any wrapping into an
            object — redacted and truncated; only with content capture on.
        items: the content items (:class:`ContentItem`: their types always, their details with content
            capture on); empty when the result has no list of items.
    """

    is_error: bool
    content_count: int | None = None
    content_type: str | None = None
    content: str | None = None
    items: tuple[ContentItem, ...] = ()


class PromptResult(NamedTuple):
    """The shape (and, with content capture on, the content) of a ``prompts/get`` result.

    Attributes:
        message_count: the number of messages, when the result has a list of them.
        description: the result's description, redacted and truncated; only with content capture on.
        message_role: the role of a single-message result; only with content capture on.
        message_content: the text (else the JSON) of a single-message result, redacted and truncated; only
            with content capture on.
        messages: every message of a result with several (:class:`PromptMessage`); only with content
            capture on.
    """

    message_count: int | None = None
    description: str | None = None
    message_role: str | None = None
    message_content: str | None = None
    messages: tuple[PromptMessage, ...] = ()


class Progress(NamedTuple):
    """One progress notification about the operation: the numbers as the peer sent them."""

    current: float
    total: float | None = None


class Notification(NamedTuple):
    """The fields of a notification, as its sender wrote them (each ``None`` when absent).

    Attributes:
        request_id: ``notifications/cancelled``: the cancelled request's id, as a string.
        reason: ``notifications/cancelled``: the reason given.
        level: ``notifications/message``: the log level.
        logger: ``notifications/message``: the logger name.
        data_type: ``notifications/message``: the type of ``data`` as JavaScript's ``typeof`` names it
            (``string``, ``number``, ``boolean``, ``object``), as Sentry JS records it.
        data: ``notifications/message``: ``data`` as text (a string as is, else JSON), redacted and truncated;
            only with content capture on.
        progress_token: ``notifications/progress``: the progress token, as a string.
        progress: ``notifications/progress``: the progress so far.
        total: ``notifications/progress``: the total, when given.
        message: ``notifications/progress``: the message, when given.
    """

    request_id: str | None = None
    reason: str | None = None
    level: str | None = None
    logger: str | None = None
    data_type: str | None = None
    data: str | None = None
    progress_token: str | None = None
    progress: float | None = None
    total: float | None = None
    message: str | None = None
