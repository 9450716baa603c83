"""mcp 1.x notifications and cancellation.

``BaseSession.send_notification`` (patched on each side's class) opens a CLIENT span and puts the trace
context into ``_meta``; ``ServerSession._received_notification`` / ``ClientSession._received_notification``
open SERVER spans. mcp 1.x consumes ``notifications/cancelled`` in its receive loop and calls
``RequestResponder.cancel``: the notification's SERVER span is opened there and the cancelled request's span
marked (with the notification's ``reason``); its ``_meta`` and ``reason`` are read when the receive loop
dumps the notification (``JSONRPCNotification.model_dump``), in the receive loop's own context. Outbound
progress is an event on the request being handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import client_transport, server_side_context
from mcp_otel.hooks.factory import Args, Kwargs, Seam, before
from mcp_otel.hooks.patching import Patch
from mcp_otel.hooks.v1.client import trace_context
from mcp_otel.hooks.v1.server import message_of, types
from mcp_otel.hooks.v1.sessions import SessionState
from mcp_otel.model import NOTIFICATIONS_CANCELLED, LogMessage, Message, Session, Transport
from mcp_otel.semconv.attributes import McpOtelNotificationDirectionValues
from mcp_otel.telemetry import active_request
from mcp_otel.transport import transport_of

TO_SERVER = McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
TO_CLIENT = McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
# The params of the notifications/cancelled the receive loop is processing (set in the loop's context): its
# ``_meta``, the cancelled request's id and the reason.
_cancel_params: ContextVar[Mapping[str, Any] | None] = ContextVar("mcp_otel_cancel_params", default=None)


def _carrier(root: Any) -> Mapping[str, Any] | None:
    meta = getattr(getattr(root, "params", None), "meta", None)
    extra = getattr(meta, "model_extra", None)
    return extra if isinstance(extra, Mapping) else None


def _notification(
    root: Any, session: Session, transport: Transport, direction: str, key: Any, carrier: Any = None
) -> Message:
    message = message_of(root, None, session, transport, carrier, key)
    message.direction = direction
    message.params = getattr(root, "params", None)
    if direction == TO_CLIENT and isinstance(root, types.LoggingMessageNotification):
        params = root.params
        message.log = LogMessage(str(params.level), params.data, params.logger)
    return message


class Notifications:
    """Describes the notifications an mcp 1.x process sends and receives, and cancellations."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    def describe_client_sent(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession.send_notification(notification)``."""
        root = (args[0] if args else kwargs["notification"]).root
        return _notification(root, self.state.client_session(client), client_transport(), TO_SERVER, client)

    def describe_server_sent(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerSession.send_notification(notification)``; progress is also an event on the request."""
        root = (args[0] if args else kwargs["notification"]).root
        if isinstance(root, types.ProgressNotification):
            request = active_request()
            if request is not None:
                request.record_progress(root.params.progress, root.params.total)
        session, transport = server_side_context()
        return _notification(root, session, transport, TO_CLIENT, server_session)

    def describe_server_received(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerSession._received_notification(notification)``."""
        root = (args[0] if args else kwargs["notification"]).root
        transport = transport_of(None)
        session = self.state.session_for(server_session, transport)
        return _notification(root, session, transport, TO_SERVER, server_session, _carrier(root))

    def describe_client_received(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession._received_notification(notification)``."""
        root = (args[0] if args else kwargs["notification"]).root
        session = self.state.client_session(client)
        return _notification(root, session, client_transport(), TO_CLIENT, client, _carrier(root))

    def describe_cancel(self, responder: Any, args: Args, kwargs: Kwargs) -> Message | None:
        """``RequestResponder.cancel()``: mark the cancelled request; the notification's own message."""
        request = self.state.in_flight.pop(responder)
        if request is None:
            return None
        params = _cancel_params.get()
        _cancel_params.set(None)
        meta = params.get("_meta") if params is not None else None
        reason = params.get("reason") if params is not None else None
        request.record_cancelled(reason if isinstance(reason, str) else None)
        carrier = meta if isinstance(meta, Mapping) else None
        received = request.message
        return Message(
            method=NOTIFICATIONS_CANCELLED,
            request_id=None,
            name=None,
            uri=None,
            carrier=carrier,
            session=received.session,
            transport=received.transport,
            direction=TO_SERVER,
            session_key=received.session_key,
            params=params if params is not None else {"requestId": received.request_id},
        )

    def seams(self) -> list[Seam]:
        """The notification seams."""
        client, server, shared = "mcp.client.session", "mcp.server.session", "mcp.shared.session"
        inject = trace_context("notification")
        return [
            Seam(
                client,
                "ClientSession.send_notification",
                SpanKind.CLIENT,
                self.describe_client_sent,
                prepare=inject,
            ),
            Seam(
                server,
                "ServerSession.send_notification",
                SpanKind.CLIENT,
                self.describe_server_sent,
                prepare=inject,
            ),
            Seam(
                server, "ServerSession._received_notification", SpanKind.SERVER, self.describe_server_received
            ),
            Seam(
                client, "ClientSession._received_notification", SpanKind.SERVER, self.describe_client_received
            ),
            Seam(shared, "RequestResponder.cancel", SpanKind.SERVER, self.describe_cancel),
        ]

    def patches(self) -> list[Patch]:
        """The observer that keeps an inbound ``notifications/cancelled``'s params (``_meta``, id, reason)."""
        return [before("mcp.types", "JSONRPCNotification.model_dump", _remember_cancel_params)]


def _remember_cancel_params(notification: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
    if notification.method == NOTIFICATIONS_CANCELLED:
        params = notification.params
        _cancel_params.set(params if isinstance(params, Mapping) else None)
