"""The one OTel → Sentry mapping of MCP spans, shared by the transaction path and the OTLP path.

:func:`map_span` turns a finished (or running) mcp-otel span into a :class:`SentrySpan`: Sentry op, name,
origin, status and the attribute set Sentry's MCP Insights reads (the OTel keys are kept, the Sentry keys are
added next to them, content and user data are kept or removed per :class:`MappingOptions`). Both
:class:`~mcp_otel.sentry.processor.SentrySpanProcessor` (Sentry transactions and spans) and
:mod:`mcp_otel.sentry.otlp` (``sentry.op`` and Sentry attributes on OTLP spans) call it, so both paths send
the same data.

The rules (see ``docs/sentry.md`` for the table):

- op: notifications (``mcp_otel.notification.direction``) → ``mcp.notification.client_to_server`` /
  ``mcp.notification.server_to_client``; SERVER spans → ``mcp.server``; CLIENT spans → ``mcp.client``.
- name: ``{method} {tool}`` / ``{method} {prompt}``; ``resources/read|subscribe|unsubscribe {uri}`` when
  ``resource_uri_in_name`` (Sentry JS 11.17: on for transactions, off for streamed spans); else ``{method}``;
  fallbacks ``MCP server operation`` / ``MCP notification`` / ``MCP client operation`` (Sentry's name
  templates). The source is ``route`` for every name, as Sentry JS 11.17 sends it.
- status: ``internal_error`` for OTel ERROR spans (tool errors included), ``ok`` otherwise.
- attributes: every attribute of the span, the Sentry keys the core's facts gave for it
  (:mod:`mcp_otel.sentry.facts`: ``mcp.transport``, ``mcp.tool.result.is_error`` / ``.content_count`` /
  ``.content_type`` / ``.content``, ``mcp.prompt.result.*``), plus ``mcp.tool.name``,
  ``mcp.prompt.name``, ``mcp.request.id`` (string), ``mcp.transport``, ``network.transport``,
  ``mcp.tool.result.is_error`` (from ``error.type`` when the span lacks it), ``mcp.resource.protocol``,
  ``mcp.lifecycle.phase`` / ``mcp.protocol.ready`` on ``notifications/initialized``;
  ``mcp.request.argument.<key>`` (``.uri`` of ``resources/read``), ``mcp.tool.result.content`` and
  ``mcp.prompt.result.description`` / ``.message_role`` / ``.message_content`` only with ``record_inputs``
  / ``record_outputs`` (the OTel content keys are removed otherwise);
  ``client.address``, ``client.port`` and ``mcp.resource.uri`` only with ``send_user_info`` (as Sentry's
  JavaScript SDK gates them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from mcp_otel.instrumentor import SCOPE_NAME
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.span_data import DEFAULT_OPTIONS, MappingOptions, sentry_attributes

__all__ = [
    "DEFAULT_OPTIONS",
    "DEFAULT_SCOPES",
    "NAME_CLIENT_FALLBACK",
    "NAME_NOTIFICATION_FALLBACK",
    "NAME_SERVER_FALLBACK",
    "OP_MCP_CLIENT",
    "ORIGIN",
    "RESOURCE_METHODS",
    "SDK_SCOPE",
    "SOURCE_CUSTOM",
    "SOURCE_ROUTE",
    "STATUS_INTERNAL_ERROR",
    "STATUS_OK",
    "MappingOptions",
    "SentrySpan",
    "is_mcp_span",
    "map_span",
    "sentry_attributes",
    "sentry_name",
    "sentry_op",
]

SDK_SCOPE = "mcp-python-sdk"
"""Instrumentation scope of mcp 2.x's own spans (kept and enriched with ``sdk_spans="enrich"``)."""

DEFAULT_SCOPES = (SCOPE_NAME, SDK_SCOPE)
"""Instrumentation scopes whose MCP spans the Sentry span processors map by default."""

ORIGIN = sentry.SENTRY_ORIGIN_AUTO_AI_MCP_OTEL
"""``sentry.origin`` of the spans and error events mcp-otel sends (``auto.ai.mcp.otel``)."""

OP_MCP_CLIENT = sentry.SENTRY_OP_MCP_CLIENT
"""Sentry op of a request this process sent as an MCP client (``mcp.client``; Sentry defines no client op;
MCP Insights selects ``mcp.server``, so client spans never count as server traffic)."""

STATUS_OK = "ok"
"""Sentry span status of a span that did not fail."""
STATUS_INTERNAL_ERROR = "internal_error"
"""Sentry span status of a failed span (OTel status ERROR: exceptions, JSON-RPC errors, tool errors)."""

SOURCE_ROUTE = "route"
"""Transaction / segment name source of every MCP span (Sentry JS 11.17 sends ``route`` for all of them)."""
SOURCE_CUSTOM = "custom"
"""sentry-python's source for MCP transactions; mcp-otel no longer sends it (kept for importers)."""

NAME_SERVER_FALLBACK = "MCP server operation"
"""Sentry's name for an ``mcp.server`` span without a method."""
NAME_NOTIFICATION_FALLBACK = "MCP notification"
"""Sentry's name for a notification span without a method."""
NAME_CLIENT_FALLBACK = "MCP client operation"
"""Name of a client span without a method."""

RESOURCE_METHODS = frozenset(
    {
        attr.McpMethodNameValues.RESOURCES_READ.value,
        attr.McpMethodNameValues.RESOURCES_SUBSCRIBE.value,
        attr.McpMethodNameValues.RESOURCES_UNSUBSCRIBE.value,
    }
)
"""Methods whose Sentry name carries the resource URI (``resources/read file:///docs/api.md``)."""

_TO_SERVER = attr.McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
_TO_CLIENT = attr.McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value


@dataclass(frozen=True)
class SentrySpan:
    """A span as Sentry sees it: what :func:`map_span` returns.

    Attributes:
        op: the Sentry op (``mcp.server`` …).
        name: the transaction name / span description.
        source: the transaction / segment name source (``route``).
        origin: :data:`ORIGIN`.
        status: ``ok`` or ``internal_error``.
        data: the span data / attributes (JSON-compatible values).
        trace_id: the OTel trace id, 32 hex digits.
        span_id: the OTel span id, 16 hex digits.
        parent_span_id: the parent's span id (local or remote), or ``None`` for a root span.
        parent_is_remote: the parent came from another process (``_meta`` / HTTP header).
        parent_sampled: the remote parent's sampled flag (``None`` without a remote parent).
        start: the start time (UTC), ``None`` if unknown.
        end: the end time (UTC), ``None`` while the span runs.
    """

    op: str
    name: str
    source: str
    origin: str
    status: str
    data: dict[str, Any]
    trace_id: str
    span_id: str
    parent_span_id: str | None
    parent_is_remote: bool
    parent_sampled: bool | None
    start: datetime | None
    end: datetime | None


def is_mcp_span(span: ReadableSpan) -> bool:
    """Whether ``span`` describes an MCP message (it has ``mcp.method.name``)."""
    attributes = span.attributes
    return attributes is not None and isinstance(attributes.get(attr.MCP_METHOD_NAME), str)


def map_span(
    span: ReadableSpan, options: MappingOptions = DEFAULT_OPTIONS, facts: Mapping[str, Any] | None = None
) -> SentrySpan:
    """Map one MCP span to Sentry: op, name, status, ids, times and attributes.

    Args:
        span: a finished span, or a running one (its attributes so far).
        options: what content and user data may be sent.
        facts: the Sentry attributes the core's facts gave for this span (:mod:`mcp_otel.sentry.facts`),
            mapped (and gated) as if the span carried them.

    Returns:
        The Sentry view of ``span``; :func:`is_mcp_span` tells whether it is an MCP span at all.
    """
    attributes: Mapping[str, Any] = span.attributes or {}
    if facts:
        attributes = {**attributes, **facts}
    kind = span.kind
    failed = span.status.status_code is StatusCode.ERROR
    op = sentry_op(kind, attributes)
    name, source = sentry_name(op, attributes, options)
    context = span.get_span_context()
    parent = span.parent
    if context is not None and context.is_valid:
        trace_id, span_id = format_trace_id(context.trace_id), format_span_id(context.span_id)
    else:  # a span without a context cannot be sent; keep the shape
        trace_id, span_id = "0" * 32, "0" * 16
    return SentrySpan(
        op=op,
        name=name,
        source=source,
        origin=ORIGIN,
        status=STATUS_INTERNAL_ERROR if failed else STATUS_OK,
        data=sentry_attributes(attributes, failed, options, ended=span.end_time is not None),
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=format_span_id(parent.span_id) if parent is not None and parent.is_valid else None,
        parent_is_remote=bool(parent is not None and parent.is_remote),
        parent_sampled=parent.trace_flags.sampled if parent is not None and parent.is_remote else None,
        start=_time(span.start_time),
        end=_time(span.end_time),
    )


def sentry_op(kind: SpanKind, attributes: Mapping[str, Any]) -> str:
    """The Sentry op of an MCP span of ``kind`` with ``attributes``."""
    direction = attributes.get(attr.MCP_OTEL_NOTIFICATION_DIRECTION)
    if direction == _TO_SERVER:
        return sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER
    if direction == _TO_CLIENT:
        return sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT
    method = attributes.get(attr.MCP_METHOD_NAME)
    if isinstance(method, str) and method.startswith("notifications/"):
        # a notification span of another instrumentation: received → client→server (the server's view)
        if kind in (SpanKind.SERVER, SpanKind.CONSUMER):
            return sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER
        return sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT
    if kind is SpanKind.CLIENT or kind is SpanKind.PRODUCER:
        return OP_MCP_CLIENT
    return sentry.SENTRY_OP_MCP_SERVER


def sentry_name(
    op: str, attributes: Mapping[str, Any], options: MappingOptions = DEFAULT_OPTIONS
) -> tuple[str, str]:
    """The Sentry name of an MCP span and its transaction source (``route``)."""
    method = attributes.get(attr.MCP_METHOD_NAME)
    method = method if isinstance(method, str) and method else None
    if op in (sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER, sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT):
        return (method or NAME_NOTIFICATION_FALLBACK), SOURCE_ROUTE
    if method is None:
        return (NAME_CLIENT_FALLBACK if op == OP_MCP_CLIENT else NAME_SERVER_FALLBACK), SOURCE_ROUTE
    target = _string(attributes, attr.GEN_AI_TOOL_NAME, sentry.SENTRY_MCP_TOOL_NAME)
    if target is None:
        target = _string(attributes, attr.GEN_AI_PROMPT_NAME, sentry.SENTRY_MCP_PROMPT_NAME)
    if target is not None:
        return f"{method} {target}", SOURCE_ROUTE
    uri = attributes.get(attr.MCP_RESOURCE_URI)
    if options.resource_uri_in_name and method in RESOURCE_METHODS and isinstance(uri, str) and uri:
        return f"{method} {uri}", SOURCE_ROUTE
    return method, SOURCE_ROUTE


def _string(attributes: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _time(nanoseconds: int | None) -> datetime | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, timezone.utc)
