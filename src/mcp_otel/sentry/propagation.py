"""Sentry's trace context in an MCP message's ``params._meta``: ``sentry-trace`` + ``baggage`` (JS 11.17).

Sentry JS 11.17's MCP server wrapper (``@sentry/core``, ``integrations/mcp-server/tracePropagation.ts``)
continues a trace from ``_meta["sentry-trace"]`` + ``_meta["baggage"]`` and writes them into what it sends; it
reads and writes ``traceparent`` only with its ``propagateTraceparent`` option. :class:`SentryMetaPropagator`
gives mcp-otel the same two keys, for MCP messages only (``mcp_otel.sentry.setup()`` registers it with
:func:`mcp_otel.telemetry.add_meta_propagator`; the global propagators, and so HTTP headers, are untouched):

- extraction: a message whose ``_meta`` has no ``traceparent`` (no valid W3C context) but a valid
  ``sentry-trace`` continues that trace. Its sampled flag is kept (``-0``: not sampled, as a W3C ``-00``; no
  flag: sampled, the decision is left to Sentry's sampling), the incoming ``baggage`` is frozen as the trace's
  dynamic sampling context, and, like Sentry's SDKs, a ``baggage`` of another Sentry organisation (or, with
  ``strict_trace_continuation``, a missing org id on one side) starts a new trace instead;
- injection: ``sentry-trace`` = ``{trace id}-{span id}-{1|0}`` of the current OTel span (the sampled flag is
  OTel's, as sentry-sdk's own ``SentryOTLPPropagator`` writes it) and ``baggage`` = the trace's incoming
  Sentry baggage when it was continued from one, else this client's dynamic sampling context (sentry-sdk's
  ``Baggage.populate_from_propagation_context``: ``trace_id``, ``public_key``, ``org_id``, ``environment``,
  ``release``, ``sample_rate``; sentry-sdk ≥ 2.66), merged into a ``baggage`` the W3C propagator wrote.
  Nothing is injected while no Sentry client is active.

sentry-sdk's own ``SentryPropagator`` cannot be used as it is: its ``inject`` needs sentry-sdk's legacy OTel
span processor and its ``extract`` marks every trace sampled. The parsing (``extract_sentrytrace_data``,
``Baggage``) is sentry-sdk's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sentry_sdk
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, format_span_id, format_trace_id
from sentry_sdk.tracing_utils import Baggage, PropagationContext, extract_sentrytrace_data

SENTRY_TRACE = "sentry-trace"
"""The ``_meta`` key of Sentry's trace header (``{trace id}-{span id}[-{sampled}]``)."""
BAGGAGE = "baggage"
"""The ``_meta`` key of the W3C baggage with Sentry's dynamic sampling context (``sentry-*`` members)."""

_INCOMING_BAGGAGE = otel_context.create_key("mcp_otel.sentry.baggage")


class SentryMetaPropagator(TextMapPropagator):
    """Extracts and injects ``sentry-trace`` + ``baggage`` (see the module docs for the rules)."""

    def extract(
        self,
        carrier: CarrierT,
        context: otel_context.Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> otel_context.Context:
        """The context of a valid ``sentry-trace`` in ``carrier`` (``context`` unchanged without one)."""
        if context is None:
            context = otel_context.get_current()
        header = _first(getter.get(carrier, SENTRY_TRACE))
        data = extract_sentrytrace_data(header) if header else None
        if not data or not data.get("trace_id") or not data.get("parent_span_id"):
            return context
        baggage = Baggage.from_incoming_header(_first(getter.get(carrier, BAGGAGE)))
        if not _should_continue(baggage):
            return context
        baggage.freeze()
        sampled = data.get("parent_sampled") is not False
        span_context = SpanContext(
            trace_id=int(str(data["trace_id"]), 16),
            span_id=int(str(data["parent_span_id"]), 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
        )
        if not span_context.is_valid:
            return context
        if baggage.sentry_items:
            context = otel_context.set_value(_INCOMING_BAGGAGE, baggage, context)
        return trace.set_span_in_context(NonRecordingSpan(span_context), context)

    def inject(
        self,
        carrier: CarrierT,
        context: otel_context.Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        """Write the current span's ``sentry-trace`` and ``baggage`` into ``carrier`` (Sentry client on)."""
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        client = sentry_sdk.get_client()
        if not client.is_active():
            return
        trace_id = format_trace_id(span_context.trace_id)
        sampled = "1" if span_context.trace_flags.sampled else "0"
        setter.set(carrier, SENTRY_TRACE, f"{trace_id}-{format_span_id(span_context.span_id)}-{sampled}")
        baggage = incoming_baggage(context)
        serialized = baggage.serialize() if baggage is not None else _head_baggage(client, trace_id)
        if serialized:
            setter.set(carrier, BAGGAGE, serialized)

    @property
    def fields(self) -> set[str]:
        """The carrier keys this propagator reads and writes."""
        return {SENTRY_TRACE, BAGGAGE}


def incoming_baggage(context: otel_context.Context | None = None) -> Baggage | None:
    """The frozen Sentry baggage the trace of ``context`` (default: the current one) was continued with."""
    value = otel_context.get_value(_INCOMING_BAGGAGE, context)
    return value if isinstance(value, Baggage) else None


def _first(values: Any) -> str | None:
    if isinstance(values, str):
        return values
    if values:
        first = values[0]
        return first if isinstance(first, str) else None
    return None


def _org_id(client: Any) -> str | None:
    dsn = getattr(client, "parsed_dsn", None)
    org_id = getattr(dsn, "org_id", None) if dsn is not None else None
    return str(org_id) if org_id else None


def _should_continue(baggage: Baggage) -> bool:
    """sentry-sdk's rule: no trace of another organisation; with ``strict_trace_continuation``, both known."""
    client = sentry_sdk.get_client()
    ours = _org_id(client) if client.is_active() else None
    theirs = baggage.sentry_items.get("org_id")
    if ours is not None and theirs is not None and ours != theirs:
        return False
    options: Mapping[str, Any] = client.options if client.is_active() else {}
    return not (options.get("strict_trace_continuation") and (ours is None) != (theirs is None))


_PLACEHOLDER_TRACE_ID = "0" * 32
_head_cache: dict[tuple[Any, ...], str] = {}


def _head_baggage(client: Any, trace_id: str) -> str:
    """This client's dynamic sampling context for a trace it starts (sentry-sdk's head-of-trace items).

    sentry-sdk's ``Baggage.populate_from_propagation_context`` builds it; only ``sentry-trace_id`` differs
    from one trace to the next, so the other items are serialised once per client and settings (``quote``
    per item was most of an injection's cost). Empty with a sentry-sdk older than 2.66, which has no public
    way to build it for a given trace id: then only ``sentry-trace`` is sent.
    """
    options: Mapping[str, Any] = client.options
    key = (id(client), options.get("release"), options.get("environment"), options.get("traces_sample_rate"))
    rest = _head_cache.get(key)
    if rest is None:
        populate = getattr(Baggage, "populate_from_propagation_context", None)
        if populate is None:
            return ""
        baggage: Baggage = populate(PropagationContext(trace_id=_PLACEHOLDER_TRACE_ID))
        items = {k: v for k, v in baggage.sentry_items.items() if k != "trace_id"}
        rest = Baggage(items, mutable=False).serialize()
        _head_cache.clear()  # one client at a time in practice: keep the current one only
        _head_cache[key] = rest
    return f"sentry-trace_id={trace_id},{rest}" if rest else f"sentry-trace_id={trace_id}"
