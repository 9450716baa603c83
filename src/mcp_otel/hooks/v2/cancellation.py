"""The ``reason`` of a ``notifications/cancelled`` an mcp 2.x server receives, for the cancelled request.

mcp 2.x applies ``notifications/cancelled`` in ``JSONRPCDispatcher._dispatch_notification`` (the receive
loop): it sets the request's ``cancel_requested`` event and cancels the handler's scope; the handler then
fails with the cancellation, where :class:`~mcp_otel.hooks.v2.server.ServerRequests` records it. The seam
here runs before the dispatcher applies the notification and keeps its ``reason`` for that request, keyed by
the request's ``cancel_requested`` event (the dispatch context's own, which the runner's wrappers of the
context return too), held weakly.

Only the JSON-RPC dispatcher (stdio, the handshake-era streamable HTTP and SSE, memory streams) delivers a
reason: an in-process ``Client(server)`` cancels the caller's task, and on the 2026-07-28 HTTP transport the
client ends the request's HTTP exchange instead of sending the notification. The reason is the peer's free
text: it follows the ``exception_text`` setting where it is recorded
(:meth:`~mcp_otel.telemetry.outcome.OperationOutcome.record_cancelled`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from mcp_otel.hooks.common import IdentityMap
from mcp_otel.hooks.factory import Args, Kwargs, before
from mcp_otel.hooks.patching import Patch
from mcp_otel.model import NOTIFICATIONS_CANCELLED

_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"


class CancelReasons:
    """The reasons of the cancellations an mcp 2.x server received, until their requests record them."""

    def __init__(self) -> None:
        self._reasons: IdentityMap[str] = IdentityMap()

    def clear(self) -> None:
        """Forget every reason (uninstrument)."""
        self._reasons.clear()

    def __len__(self) -> int:
        return len(self._reasons)

    def take(self, dctx: Any) -> str | None:
        """The reason the peer gave for cancelling the request of dispatch context ``dctx`` (``None``: none
        given, or the request was not cancelled by a notification), forgotten once taken."""
        event = getattr(dctx, "cancel_requested", None)
        return None if event is None else self._reasons.pop(event)

    def patches(self) -> list[Patch]:
        """The seam before ``JSONRPCDispatcher._dispatch_notification``."""
        return [before(_DISPATCHER, "JSONRPCDispatcher._dispatch_notification", self._remember)]

    def _remember(self, dispatcher: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
        notification = args[0] if args else kwargs["msg"]
        if notification.method != NOTIFICATIONS_CANCELLED:
            return
        params = notification.params
        reason = params.get("reason") if isinstance(params, Mapping) else None
        if not isinstance(reason, str) or not reason:
            return
        module = importlib.import_module(_DISPATCHER)  # imported already: it is calling us
        request_id = module.cancelled_request_id_from_params(params)
        in_flight = getattr(dispatcher, "_in_flight", None)
        if request_id is None or not isinstance(in_flight, Mapping):
            return
        entry = in_flight.get(module.coerce_request_id(request_id))
        event = getattr(getattr(entry, "dctx", None), "cancel_requested", None)
        if (
            event is not None and self._reasons.get(event) is None
        ):  # the first cancels; repeats change nothing
            self._reasons.set(event, reason)
