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


class ToolResult(NamedTuple):
    """The shape (and, with content capture on, the content) of a ``tools/call`` result.

    Attributes:
        is_error: the result has ``isError`` set (the span also has ``error.type`` ``tool_error``).
        content_count: the number of content items, when the result has a list of them.
        content_type: the ``type`` of a single content item (``text``, ``image`` …); only with content capture
            on (``None`` for several items or a structured result).
        content: the result as text — an ``isError`` result's error text, else the captured result (its
            ``structuredContent``, else its content items, serialised as JSON) before any wrapping into an
            object — redacted and truncated; only with content capture on.
    """

    is_error: bool
    content_count: int | None = None
    content_type: str | None = None
    content: str | None = None


class PromptResult(NamedTuple):
    """The shape (and, with content capture on, the content) of a ``prompts/get`` result.

    Attributes:
        message_count: the number of messages, when the result has a list of them.
        description: the result's description, redacted and truncated; only with content capture on.
        message_role: the role of a single-message result; only with content capture on.
        message_content: the text (else the JSON) of a single-message result, redacted and truncated; only
            with content capture on.
    """

    message_count: int | None = None
    description: str | None = None
    message_role: str | None = None
    message_content: str | None = None


class Progress(NamedTuple):
    """One progress notification about the operation: the numbers as the peer sent them."""

    current: float
    total: float | None = None
