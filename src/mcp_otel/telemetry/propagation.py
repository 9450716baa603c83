"""W3C trace-context propagation through an MCP message's ``params._meta``.

Extraction (the parent of a SERVER span) and injection (what a CLIENT send carries), both with the global
propagators (``opentelemetry.propagate``), so whatever ``OTEL_PROPAGATORS`` configures travels in ``_meta``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

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
        return None
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
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    for key, value in carrier.items():
        if key not in meta:
            meta[key] = value


def _carried_context(op: Operation) -> otel_context.Context | None:
    """The context a message of ``op`` carries when it is more than the current one: plus the session id
    baggage (a session this process opened, see :mod:`mcp_otel.session_ids`) and the round baggage (a later
    round of a multi-round-trip call, see :mod:`mcp_otel.telemetry.rounds`). ``None``: the current context."""
    carried = op.carried_session_id
    ctx = with_session_id(carried) if carried is not None else None
    if op.owner is not None and op.message.round:
        ctx = with_round(op.message.round, ctx)
    return ctx
