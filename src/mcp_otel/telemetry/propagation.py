"""W3C trace-context propagation through an MCP message's ``params._meta``.

Extraction (the parent of a SERVER span) and injection (what a CLIENT send carries), both with the global
propagators (``opentelemetry.propagate``), so whatever ``OTEL_PROPAGATORS`` configures travels in ``_meta``.

Extra ``_meta`` propagators (:func:`add_meta_propagator`, e.g. Sentry's ``sentry-trace`` + ``baggage`` from
``mcp_otel.sentry``) apply to MCP messages only, never to the global propagators: a carrier's trace context is
extracted with them only when the global propagators found none in it, and they inject next to the global
propagators' keys, unless the caller put its own trace context in ``_meta``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator

from mcp_otel.session_ids import with_session_id, without_session_id
from mcp_otel.telemetry.active import active_client_request
from mcp_otel.telemetry.rounds import with_round

if TYPE_CHECKING:
    from mcp_otel.telemetry.operation import Operation


def parent_context(carrier: Mapping[str, Any] | None) -> otel_context.Context | None:
    """The context extracted from a ``_meta`` carrier with the global propagators, or ``None``.

    ``None`` (use the ambient context) when the carrier is missing or holds no valid span context.
    """
    if not carrier:
        return None
    try:
        ctx = propagate.extract(carrier)
    except (TypeError, ValueError, AttributeError):
        return None
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        fallback = _extract_with_meta_propagators(carrier, ctx) if _meta_propagators else None
        if fallback is None:
            return None
        ctx = fallback
    return without_session_id(ctx)  # the peer's session id grouped this session; it travels no further


def inject(meta: MutableMapping[str, Any]) -> None:
    """Inject the current context into a ``_meta`` dict with the global propagators, keeping existing keys.

    A ``traceparent`` (or any other key) the caller already put there is never overwritten. When the message
    being sent belongs to a session this process opened and mcp-otel gave an id (stdio, 2026-07-28), the
    injected baggage carries that id too, and a later round of a multi-round-trip call its round: only in this
    message, the caller's context is left as it is.
    """
    op = active_client_request()
    ctx = _carried_context(op) if op is not None else None
    if ctx is None and not meta:  # nothing to keep: inject in place
        propagate.inject(meta)
        if _meta_propagators:
            _inject_with_meta_propagators(meta)
        return
    callers = not _TRACE_KEYS.isdisjoint(meta)  # the caller's own trace context: no Sentry keys next to it
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    for key, value in carrier.items():
        if key not in meta:
            meta[key] = value
    if _meta_propagators and not callers:
        _inject_with_meta_propagators(meta)


_TRACE_KEYS = frozenset({"traceparent", "sentry-trace"})
_BAGGAGE = "baggage"
_meta_propagators: tuple[TextMapPropagator, ...] = ()


def add_meta_propagator(propagator: TextMapPropagator) -> None:
    """Also propagate ``_meta`` trace context with ``propagator`` (after the global ones; idempotent)."""
    global _meta_propagators
    if propagator not in _meta_propagators:
        _meta_propagators = (*_meta_propagators, propagator)


def remove_meta_propagator(propagator: TextMapPropagator) -> None:
    """Undo :func:`add_meta_propagator` (no error when it was not added)."""
    global _meta_propagators
    _meta_propagators = tuple(p for p in _meta_propagators if p is not propagator)


def _extract_with_meta_propagators(
    carrier: Mapping[str, Any], ctx: otel_context.Context
) -> otel_context.Context | None:
    """The first valid span context the extra propagators find in ``carrier`` (on top of ``ctx``)."""
    for propagator in _meta_propagators:
        try:
            found = propagator.extract(carrier, context=ctx)
        except (TypeError, ValueError, AttributeError):
            continue
        if trace.get_current_span(found).get_span_context().is_valid:
            return found
    return None


def _inject_with_meta_propagators(meta: MutableMapping[str, Any]) -> None:
    """Add the extra propagators' keys to ``meta``: new keys as they are, ``baggage`` merged (W3C list)."""
    for propagator in _meta_propagators:
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
        for key, value in carrier.items():
            existing = meta.get(key)
            if existing is None:
                meta[key] = value
            elif key == _BAGGAGE and isinstance(existing, str):
                meta[key] = merge_baggage(existing, value)


def merge_baggage(existing: str, added: str) -> str:
    """A W3C ``baggage`` value with the members of ``added`` whose keys ``existing`` lacks appended."""
    keys = {member.split("=", 1)[0].strip() for member in existing.split(",") if "=" in member}
    extra = [m.strip() for m in added.split(",") if "=" in m and m.split("=", 1)[0].strip() not in keys]
    if not extra:
        return existing
    return ",".join([existing, *extra]) if existing.strip() else ",".join(extra)


def _carried_context(op: Operation) -> otel_context.Context | None:
    """The context a message of ``op`` carries when it is more than the current one: plus the session id
    baggage (a session this process opened, see :mod:`mcp_otel.session_ids`) and the round baggage (a later
    round of a multi-round-trip call, see :mod:`mcp_otel.telemetry.rounds`). ``None``: the current context."""
    carried = op.carried_session_id
    ctx = with_session_id(carried) if carried is not None else None
    if op.owner is not None and op.message.round:
        ctx = with_round(op.message.round, ctx)
    return ctx
