"""What mcp-otel puts on an error event: the MCP span's trace context, and no request arguments.

:func:`trace_context` builds the ``contexts.trace`` of mcp-otel's own error events (trace id, span id, op,
origin and the span data as :func:`~mcp_otel.sentry.mapping.map_span` gates it); :func:`link_to_mcp_span`
gives the error events of user code the MCP span's trace; :func:`scrub_arguments` replaces frame variables
that hold a request argument with :data:`FILTERED` when inputs are not recorded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span, format_span_id, format_trace_id

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.mapping import (
    NAME_SERVER_FALLBACK,
    ORIGIN,
    STATUS_INTERNAL_ERROR,
    MappingOptions,
    map_span,
    sentry_op,
)

if TYPE_CHECKING:
    from sentry_sdk._types import Event

    from mcp_otel.telemetry import OperationView as Operation  # listeners get a read-only view

HINT_KEY = "mcp_otel"
"""Key mcp-otel sets in the hint of its own error events (``before_send`` can read it)."""
FILTERED = "[Filtered]"
"""What a frame variable holding a request argument becomes when inputs are not recorded."""

_SHORT_ARGUMENT = 4  # shorter argument strings are scrubbed only where a variable equals them


def trace_context(operation: Operation, options: MappingOptions) -> tuple[dict[str, Any] | None, str]:
    """The ``contexts.trace`` of an error raised while ``operation`` ran, and its span's Sentry name.

    ``None`` as trace context when the operation has no valid span context (Sentry then uses the scope's).
    """
    span = operation.span
    if isinstance(span, ReadableSpan) and span.attributes:
        mapped = map_span(span, options)
        op, name, data, parent = mapped.op, mapped.name, mapped.data, mapped.parent_span_id
    else:  # not recorded by OTel: still linked by ids
        method = operation.method
        op = sentry_op(operation.kind, {attr.MCP_METHOD_NAME: method})
        target = operation.message.name
        name = f"{method} {target}" if target else (method or NAME_SERVER_FALLBACK)
        data, parent = None, None
    context = span.get_span_context()
    if not context.is_valid:
        return None, name
    trace_id = format_trace_id(context.trace_id)
    trace: dict[str, Any] = {
        "trace_id": trace_id,
        "span_id": format_span_id(context.span_id),
        "op": op,
        "origin": ORIGIN,
        "status": STATUS_INTERNAL_ERROR,
    }
    if parent is not None:
        trace["parent_span_id"] = parent
    if data is not None:
        trace["data"] = data
    dsc = dynamic_sampling_context(trace_id)
    if dsc:
        trace["dynamic_sampling_context"] = dsc
    return trace, name


def dynamic_sampling_context(trace_id: str) -> dict[str, str]:
    """A dynamic sampling context (envelope ``trace`` header) for an event in trace ``trace_id``."""
    client = sentry_sdk.get_client()
    options = client.options
    dsc = {"trace_id": trace_id}
    parsed = getattr(client, "parsed_dsn", None)
    public_key = getattr(parsed, "public_key", None)
    if public_key:
        dsc["public_key"] = str(public_key)
    for key in ("release", "environment"):
        value = options.get(key)
        if value:
            dsc[key] = str(value)
    return dsc


def scrub_arguments(event: Event, operation: Operation) -> None:
    """Replace frame variables that hold a request argument with ``[Filtered]`` (inputs not recorded)."""
    arguments = operation.message.arguments
    values = _argument_strings(arguments() if arguments is not None else None)
    if not values:
        return
    long_values = [v for v in values if len(v) >= _SHORT_ARGUMENT]
    exact = values | {repr(v) for v in values}  # serialized frame variables are reprs: "'abc'"
    for frame in _frames(event):
        variables = frame.get("vars")
        if not isinstance(variables, dict):
            continue
        for key, value in list(variables.items()):
            text = value if isinstance(value, str) else repr(value)
            if text in exact or any(v in text for v in long_values):
                variables[key] = FILTERED


def _argument_strings(arguments: Any) -> set[str]:
    found: set[str] = set()
    stack = [arguments]
    while stack and len(found) < 256:
        value = stack.pop()
        if isinstance(value, str):
            if value:
                found.add(value)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def _frames(event: Event) -> Iterator[dict[str, Any]]:
    values = (event.get("exception") or {}).get("values") or []
    for value in values:
        frames = ((value or {}).get("stacktrace") or {}).get("frames") or []
        for frame in frames:
            if isinstance(frame, dict):
                yield frame
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in ((thread or {}).get("stacktrace") or {}).get("frames") or []:
            if isinstance(frame, dict):
                yield frame


def link_to_mcp_span(event: Event, operation: Operation, replace_sentry_mcp: bool) -> None:
    """Give an error captured inside an MCP handler the MCP span's trace context.

    Only when no Sentry span is active — or the active one is sentry-sdk ``MCPIntegration``'s, whose spans
    are dropped (``replace_sentry_mcp``).
    """
    if _has_external_propagation_context():
        return
    current = sentry_sdk.get_current_span()
    if current is not None and not (
        replace_sentry_mcp and getattr(current, "origin", None) == sentry.SENTRY_ORIGIN_AUTO_AI_MCP
    ):
        return
    if current is None and _streamed_span_active():
        return
    span: Span = operation.span
    context = span.get_span_context()
    if not context.is_valid:
        return
    contexts = cast("dict[str, Any]", event.setdefault("contexts", {}))
    trace = dict(contexts.get("trace") or {})
    trace_id = format_trace_id(context.trace_id)
    for key in ("parent_span_id", "op", "description", "origin", "data", "status"):
        trace.pop(key, None)
    trace.update(trace_id=trace_id, span_id=format_span_id(context.span_id))
    trace["dynamic_sampling_context"] = dynamic_sampling_context(trace_id)
    contexts["trace"] = trace


def _streamed_span_active() -> bool:
    """Span streaming mode: a sampled streamed span of the user's is active (ignored and unsampled spans —
    sentry-sdk ``MCPIntegration``'s among them with ``drop_sentry_mcp_events`` — are no-op spans)."""
    span = getattr(sentry_sdk.get_current_scope(), "streamed_span", None)
    return span is not None and getattr(span, "sampled", None) is True


def _has_external_propagation_context() -> bool:
    try:
        from sentry_sdk.scope import has_external_propagation_context
    except ImportError:  # sentry-sdk before OTLPIntegration
        return False
    return bool(has_external_propagation_context())
