"""Multi-round-trip calls (SEP-2322, protocol 2026-07-28) as one logical operation.

A ``tools/call``, ``prompts/get`` or ``resources/read`` may be answered with an ``InputRequiredResult``: the
client fulfils the input requests it carries and sends the request again, until a final result. The SDK's
client drives those rounds itself (``Client.call_tool`` … ``run_input_required_driver``). mcp-otel
records the call as one CLIENT operation: the first request's operation, held open (:meth:`Operation.hold`)
when its result is ``input_required`` inside a driven call, and ended by the driver with the final outcome.
Every later round is an ordinary request operation whose ``owner`` the call is (:func:`round_owner`), and the
input requests the client fulfils are SERVER operations under the call's span.

Nothing here runs for an ordinary request: a driven call costs one context variable while it runs, a request
one context-variable read (:func:`round_owner`).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context

from mcp_otel._guard import log_failure_once
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import EVENT_MCP_OTEL_INPUT_REQUIRED, ROUND_BAGGAGE_KEY

if TYPE_CHECKING:
    from mcp_otel.model import Message
    from mcp_otel.telemetry.operation import Operation

__all__ = [
    "DrivenCall",
    "carried_round",
    "driven_call",
    "round_owner",
    "sending_round",
    "without_round",
]


class DrivenCall:
    """One high-level call the SDK's driver may take over several rounds.

    Attributes:
        owner: the call's operation (its first request's), once that request returned ``input_required``.
        first: that first ``InputRequiredResult`` (the driver is handed the very object).
        round: the round being sent (1 for the first request).
        refused: the client refused one of the input requests (its callback answered with an error).
    """

    __slots__ = ("first", "owner", "refused", "round")

    def __init__(self) -> None:
        self.owner: Operation | None = None
        self.first: Any = None
        self.round = 1
        self.refused = False

    def hold_first(self, op: Operation, result: Any, request_count: int) -> bool:
        """The call's first request ``op`` returned ``result`` (``input_required``): hold it open as the
        call's operation. ``False`` (the caller records an ordinary ``input_required`` result) for a later
        request."""
        if self.owner is not None or op.owner is not None:
            return False
        self.owner, self.first = op, result
        op.hold()
        input_required(op, 1, request_count)
        return True

    def finish(self) -> None:
        """End the call's operation if the driver did not (it never ran: the call failed in between)."""
        owner, self.owner, self.first = self.owner, None, None
        if owner is not None:
            owner.end_held()


_call: ContextVar[DrivenCall | None] = ContextVar("mcp_otel_driven_call", default=None)
# set while a later round of a driven call is sent: its request is a round of ``owner``
_round: ContextVar[DrivenCall | None] = ContextVar("mcp_otel_round", default=None)


def driven_call() -> DrivenCall | None:
    """The driven call running in this context, if any."""
    return _call.get()


def open_call() -> tuple[DrivenCall, Token[DrivenCall | None]]:
    """Start a driven call in this context (the SDK client's high-level call was entered)."""
    call = DrivenCall()
    return call, _call.set(call)


def close_call(call: DrivenCall, token: Token[DrivenCall | None]) -> None:
    """Undo :func:`open_call` (same context) and end what the driver left open; never raises."""
    try:
        _call.reset(token)
        if call.owner is not None:
            call.finish()
    except Exception:
        log_failure_once("rounds.close_call")


def sending_round(call: DrivenCall) -> Token[DrivenCall | None]:
    """The next round of ``call`` is being sent in this context (undo with :func:`sent_round`)."""
    call.round += 1
    return _round.set(call)


def sent_round(token: Token[DrivenCall | None]) -> None:
    """Undo :func:`sending_round`."""
    _round.reset(token)


def round_owner(message: Message) -> Operation | None:
    """The logical call ``message`` is a later round of (and its round set on it), else ``None``."""
    call = _round.get()
    if call is None:
        return None
    owner = call.owner
    if owner is None or owner.method != message.method:  # e.g. the tools/list that validates a result
        return None
    message.round = call.round
    return owner


def input_required(op: Operation, round_: int, request_count: int) -> None:
    """Add the ``mcp_otel.input_required`` event of one round to a logical call's span."""
    op.add_event(
        EVENT_MCP_OTEL_INPUT_REQUIRED,
        {attr.MCP_OTEL_REQUEST_ROUND: round_, attr.MCP_OTEL_INPUT_REQUEST_COUNT: request_count},
    )


def with_round(round_: int, ctx: otel_context.Context | None) -> otel_context.Context:
    """``ctx`` (or the current context) plus the round baggage entry, for injection only (never attached)."""
    return baggage.set_baggage(ROUND_BAGGAGE_KEY, str(round_), ctx)


def carried_round(carrier: Any) -> int:
    """The round a client put in the baggage of a retried request's ``_meta`` carrier (0: none there)."""
    if not carrier:
        return 0
    try:
        value = baggage.get_baggage(ROUND_BAGGAGE_KEY, propagate.extract(carrier))
    except (TypeError, ValueError, AttributeError):
        return 0
    if isinstance(value, str) and value.isdigit() and len(value) <= 6:
        return int(value)
    return 0


def without_round(ctx: otel_context.Context) -> otel_context.Context:
    """``ctx`` without the round baggage entry (the context a retried request's handler runs in)."""
    if baggage.get_baggage(ROUND_BAGGAGE_KEY, ctx) is None:
        return ctx
    return baggage.remove_baggage(ROUND_BAGGAGE_KEY, ctx)
