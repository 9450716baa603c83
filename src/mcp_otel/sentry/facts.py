"""The Sentry end of the fact channel: Sentry's MCP keys rebuilt from the facts the telemetry core hands out.

The vendor-neutral spans carry the OpenTelemetry keys only; what Sentry's MCP Insights also reads and no
convention has a key for — ``mcp.transport``, ``mcp.tool.result.*``, ``mcp.prompt.result.*``, the
``mcp.progress`` / ``mcp.cancelled`` events of the OTLP path — reaches this module as facts
(:mod:`mcp_otel.facts`) through a listener (:mod:`mcp_otel.listeners`). Two listeners keep them until a span
is mapped:

- :class:`SpanFacts` — a bounded side table keyed by span context, filled while the span runs and consumed
  (popped) when the span is mapped: by :class:`~mcp_otel.sentry.processor.SentrySpanProcessor` when the span
  ends (transactions and span streaming), or by :class:`~mcp_otel.sentry.otlp.SentryOtlpSpanExporter` at
  export time, later and in batches. Entries of spans that are never mapped (dropped by a queue, another
  scope) are evicted oldest first beyond :data:`MAX_SPANS`.
- :class:`LiveSpanFacts` — for sentry-sdk's own OTLP exporter, which exports the spans as they are: writes
  the Sentry keys (and events) on the running span itself
  (:class:`~mcp_otel.sentry.otlp.SentryOtlpSpanProcessor`).

A new fact needs one branch in :func:`sentry_fact_data` (attributes) or :func:`sentry_fact_event` (events).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Span

from mcp_otel import facts, listeners
from mcp_otel.listeners import McpListener
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import (
    EVENT_CANCELLED,
    EVENT_PROGRESS,
    SENTRY_EVENT_MCP_CANCELLED,
    SENTRY_EVENT_MCP_PROGRESS,
)
from mcp_otel.sentry.fact_keys import (
    AuthClientName,
    auth_client_name,
    content_item_data,
    notification_data,
    prompt_message_data,
)
from mcp_otel.telemetry import OperationView

MAX_SPANS = 10_000
"""At most this many spans' facts wait in a :class:`SpanFacts` table; beyond that the oldest are dropped."""

# The vendor-neutral span events and their attributes → the names the OTLP path sent them under before.
_EVENT_NAMES = {EVENT_PROGRESS: SENTRY_EVENT_MCP_PROGRESS, EVENT_CANCELLED: SENTRY_EVENT_MCP_CANCELLED}
_EVENT_KEYS = {
    attr.MCP_OTEL_PROGRESS_CURRENT: sentry.SENTRY_MCP_PROGRESS_CURRENT,
    attr.MCP_OTEL_PROGRESS_TOTAL: sentry.SENTRY_MCP_PROGRESS_TOTAL,
    attr.MCP_OTEL_CANCELLED_REASON: sentry.SENTRY_MCP_CANCELLED_REASON,
}


def sentry_fact_data(
    fact: str, value: Any, auth_client_names: AuthClientName | None = None
) -> dict[str, Any]:
    """Sentry's span attributes for one fact (empty when the fact carries none). Content keys are gated later
    by the mapping (:class:`~mcp_otel.sentry.span_data.MappingOptions`), like any attribute.

    Args:
        fact: the fact's name (:mod:`mcp_otel.facts`).
        value: its value.
        auth_client_names: the resolver of ``mcp.auth.client.name`` (default: the token's ``client_id``).
    """
    if fact == facts.TRANSPORT:
        return {sentry.SENTRY_MCP_TRANSPORT: value}
    if isinstance(value, facts.ToolResult):
        data: dict[str, Any] = {sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR: value.is_error}
        _put(data, sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT, value.content_count)
        _put(data, sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE, value.content_type)
        _put(data, sentry.SENTRY_MCP_TOOL_RESULT_CONTENT, value.content)
        if value.items:
            content_item_data(value.items, data)
        return data
    if isinstance(value, facts.PromptResult):
        data = {}
        _put(data, sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT, value.message_count)
        _put(data, sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION, value.description)
        _put(data, sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE, value.message_role)
        _put(data, sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT, value.message_content)
        if value.messages:
            prompt_message_data(value.messages, data)
        return data
    if isinstance(value, facts.Notification):
        return notification_data(value)
    if fact == facts.ACCESS_TOKEN:
        name = auth_client_name(value, auth_client_names)
        return {sentry.SENTRY_MCP_AUTH_CLIENT_NAME: name} if name is not None else {}
    return {}


def sentry_fact_event(fact: str, value: Any) -> tuple[str, dict[str, Any]] | None:
    """The span event Sentry's OTLP path carries for one fact (progress, cancellation), or ``None``."""
    if isinstance(value, facts.Progress):
        event: dict[str, Any] = {sentry.SENTRY_MCP_PROGRESS_CURRENT: value.current}
        _put(event, sentry.SENTRY_MCP_PROGRESS_TOTAL, value.total)
        return SENTRY_EVENT_MCP_PROGRESS, event
    if fact == facts.CANCELLED:
        return SENTRY_EVENT_MCP_CANCELLED, ({sentry.SENTRY_MCP_CANCELLED_REASON: value} if value else {})
    return None


def sentry_events(events: Sequence[Event]) -> tuple[Event, ...]:
    """A finished span's events as the OTLP path sends them to Sentry: ``mcp_otel.progress`` /
    ``mcp_otel.cancelled`` under their Sentry names and keys, every other event unchanged."""
    if not any(event.name in _EVENT_NAMES for event in events):
        return tuple(events)
    out = []
    for event in events:
        name = _EVENT_NAMES.get(event.name)
        if name is None:
            out.append(event)
            continue
        attributes = {_EVENT_KEYS.get(k, k): v for k, v in (event.attributes or {}).items()}
        out.append(Event(name, attributes, event.timestamp))
    return tuple(out)


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        data[key] = value


def _key(span: Span | ReadableSpan) -> tuple[int, int] | None:
    context = span.get_span_context()
    return (context.trace_id, context.span_id) if context is not None and context.is_valid else None


class _FactListener(McpListener):
    """What both fact listeners share: a bound, a lock, per-span state, installing and uninstalling."""

    def __init__(self, max_spans: int = MAX_SPANS, auth_client_names: AuthClientName | None = None) -> None:
        self.max_spans = max_spans
        self.auth_client_names = auth_client_names
        self._lock = threading.Lock()
        self._state: dict[tuple[int, int], Any] = {}

    def install(self) -> None:
        """Start receiving facts (idempotent)."""
        listeners.add_listener(self)

    def uninstall(self) -> None:
        """Stop receiving facts and forget every span's state."""
        listeners.remove_listener(self)
        with self._lock:
            self._state.clear()

    def __len__(self) -> int:
        return len(self._state)


class SpanFacts(_FactListener):
    """A bounded side table of Sentry attributes per running span, filled from facts, consumed by :meth:`pop`.

    Args:
        max_spans: how many spans' entries are kept at most (oldest dropped first).
        auth_client_names: the resolver of ``mcp.auth.client.name`` (default: the token's ``client_id``).
    """

    def on_fact(self, operation: OperationView, fact: str, value: Any) -> None:
        """Keep the Sentry attributes of ``fact`` for the operation's span (a recording span only)."""
        span = operation.span
        data = sentry_fact_data(fact, value, self.auth_client_names)
        key = _key(span) if data and span.is_recording() else None
        if key is None:
            return
        with self._lock:
            entry = self._state.get(key)
            if entry is None:
                while len(self._state) >= self.max_spans:
                    del self._state[next(iter(self._state))]
                entry = self._state[key] = {}
            entry.update(data)

    def pop(self, span: ReadableSpan) -> dict[str, Any] | None:
        """The Sentry attributes kept for ``span`` (removed from the table), or ``None``."""
        key = _key(span)
        if key is None:
            return None
        with self._lock:
            popped: dict[str, Any] | None = self._state.pop(key, None)
        return popped


class LiveSpanFacts(_FactListener):
    """Writes the Sentry attributes and events of each fact on the running span itself (for exporters that
    send spans as they are, like sentry-sdk's ``OTLPIntegration``).

    Only the spans passed to :meth:`track` (by the span processor of the provider whose spans go to Sentry,
    when they start) are written: spans of other tracer providers stay vendor-neutral.

    Args:
        max_spans: how many running spans are tracked at most (beyond that, new spans get no fact keys).
        auth_client_names: the resolver of ``mcp.auth.client.name`` (default: the token's ``client_id``).
    """

    def track(self, span: Span | ReadableSpan) -> None:
        """Write the facts of ``span`` (a span that just started) on it."""
        key = _key(span)
        if key is not None:
            with self._lock:
                if len(self._state) < self.max_spans:
                    self._state[key] = True

    def untrack(self, span: Span | ReadableSpan) -> None:
        """``span`` ended: nothing more can be written on it."""
        key = _key(span)
        if key is not None:
            with self._lock:
                self._state.pop(key, None)

    def on_fact(self, operation: OperationView, fact: str, value: Any) -> None:
        """Set the fact's Sentry attributes (or add its Sentry event) on the operation's recording span."""
        span = operation.span
        if not span.is_recording() or _key(span) not in self._state:
            return
        data = sentry_fact_data(fact, value, self.auth_client_names)
        if data:
            span.set_attributes(data)
        event = sentry_fact_event(fact, value)
        if event is not None:
            span.add_event(*event)
