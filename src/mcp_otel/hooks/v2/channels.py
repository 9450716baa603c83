"""mcp 2.x ``subscriptions/listen`` channels (SEP-2575): one operation per channel, for the channel's life.

- Server side, the channel is the ``subscriptions/listen`` request itself (``ServerRunner._on_request``: its
  handler runs until the stream ends); :meth:`Channels.server_sent` counts the events it sends (each is also a
  notification span under it), and the request's outcome says how it ended (:mod:`mcp_otel.hooks.v2.server`).
- Client side, the SDK's ``listen()`` context manager (and ``mcp.client.client``'s alias of it) is a
  ``context_manager`` seam: a CLIENT operation from entering (the request is sent with its context) to
  leaving. The SDK routes each event frame of the channel to its ``ListenRoute`` in receive order
  (``ListenRoute.deliver``): that is where the client counts them.

Only counts are kept: an open channel holds its operation and an integer, whatever it delivers.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import IdentityMap
from mcp_otel.hooks.factory import Args, Kwargs, Seam, before
from mcp_otel.hooks.patching import Patch
from mcp_otel.hooks.v2.client import failed
from mcp_otel.hooks.v2.sessions import SessionState, client_side_transport
from mcp_otel.model import SUBSCRIPTIONS_LISTEN, Message
from mcp_otel.semconv.attributes import McpMethodNameValues, McpOtelSubscriptionEndValues
from mcp_otel.telemetry import Operation, active_request

_ACKNOWLEDGED = McpMethodNameValues.NOTIFICATIONS_SUBSCRIPTIONS_ACKNOWLEDGED.value
_GRACEFUL = McpOtelSubscriptionEndValues.GRACEFUL.value
_CLIENT_CLOSED = McpOtelSubscriptionEndValues.CLIENT_CLOSED.value
_LOST = McpOtelSubscriptionEndValues.LOST.value


def _listen_args(session: Any, *_: Any, **__: Any) -> Any:
    return session


class Channels:
    """The listen channels of one instrumentation: the client seam and the event counts of both sides."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        # the SDK's ListenRoute of each open channel → the event frames it received (one int per channel)
        self.received: IdentityMap[list[int]] = IdentityMap()

    # --- server side

    @staticmethod
    def server_sent(method: str) -> None:
        """A notification the server sends: an event of the channel being served here, if any."""
        if method == _ACKNOWLEDGED:
            return
        request = active_request()
        if request is not None and request.method == SUBSCRIPTIONS_LISTEN:
            request.count_delivered()

    # --- client side

    def describe_listen(self, instance: Any, args: Args, kwargs: Kwargs) -> Message:
        """``listen(session, ...)``: the channel's request."""
        session = _listen_args(*args, **kwargs)
        return Message(
            method=SUBSCRIPTIONS_LISTEN,
            request_id=None,  # minted by listen(); see SilentTracer
            name=None,
            uri=None,
            carrier=None,
            session=self.state.client_session_for(session),
            transport=client_side_transport(session),
            session_key=session,
        )

    def delivered(self, route: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
        """``ListenRoute.deliver(event)``: an event frame arrived for a channel."""
        count = self.received.get(route)
        if count is None:
            self.received.set(route, [1])
        else:
            count[0] += 1

    def ended(self, op: Operation, instance: Any, args: Args, kwargs: Kwargs, value: Any) -> None:
        """Leaving the channel: how it ended, from the SDK's subscription state (first reason wins)."""
        subscription, exc = value
        route = getattr(subscription, "_route", None)
        count = self.received.pop(route) if route is not None else None
        if count is not None:
            op.count_delivered(count[0])
        end = getattr(route, "end", None)
        if end == _GRACEFUL:
            op.end_channel(_GRACEFUL)
        elif end == _LOST or type(exc).__name__ == "SubscriptionLost":
            error = getattr(route, "error", None)
            code = getattr(error, "code", None)
            error_type = str(code) if isinstance(code, int) else "SubscriptionLost"
            op.end_channel(_LOST, error_type, str(error) if error is not None else str(exc or "") or None)
        else:
            op.end_channel(_CLIENT_CLOSED)

    def seams(self) -> list[Seam]:
        """``listen()`` by both of its names."""

        def listen(module: str, qualname: str) -> Seam:
            return Seam(
                module,
                qualname,
                SpanKind.CLIENT,
                self.describe_listen,
                outcome=self.ended,
                failure=failed,
                context_manager=True,
            )

        return [listen("mcp.client.subscriptions", "listen"), listen("mcp.client.client", "_listen")]

    def patches(self) -> list[Patch]:
        """The client's event count."""
        return [before("mcp.client.subscriptions", "ListenRoute.deliver", self.delivered)]

    def clear(self) -> None:
        """Forget every channel (uninstrument)."""
        self.received.clear()
