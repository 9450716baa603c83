"""mcp 2.x notifications, both directions.

- ``ClientSession.send_notification`` and ``ServerSession._notify`` / ``report_progress`` open CLIENT spans.
- ``JSONRPCDispatcher.notify`` (and the single-exchange HTTP context's ``notify``) sees every notification
  either side sends: it injects the trace context into ``_meta`` (the SDK does so only for requests) and
  opens the CLIENT span of those no typed hook saw (progress reported through the dispatch context, the
  SDK's own courtesy ``notifications/cancelled``).
- ``ServerRunner._on_notify`` and ``ClientSession._on_notify`` open SERVER spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel import listeners
from mcp_otel.hooks.common import optional_field, server_side_context, server_side_key
from mcp_otel.hooks.factory import Args, Kwargs, Seam
from mcp_otel.hooks.v2.channels import Channels
from mcp_otel.hooks.v2.server import request_args
from mcp_otel.hooks.v2.sessions import SessionState, client_side_transport
from mcp_otel.model import NOTIFICATIONS_PROGRESS, LogMessage, Message, Session, Transport
from mcp_otel.semconv.attributes import McpMethodNameValues, McpOtelNotificationDirectionValues
from mcp_otel.telemetry import active_operation, active_request, inject
from mcp_otel.transport import transport_of

TO_SERVER = McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
TO_CLIENT = McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
NOTIFICATIONS_MESSAGE = McpMethodNameValues.NOTIFICATIONS_MESSAGE.value


def log_params(method: str, params: Any) -> LogMessage | None:
    """The params of a ``notifications/message`` (raw ``params`` or the typed params), else ``None``."""
    if method != NOTIFICATIONS_MESSAGE or params is None:
        return None
    if isinstance(params, Mapping):
        level, data, logger = params.get("level"), params.get("data"), params.get("logger")
    else:
        level, data, logger = (getattr(params, name, None) for name in ("level", "data", "logger"))
    return LogMessage(str(level), data, logger if isinstance(logger, str) else None)


def notification_message(
    method: str,
    params: Any,
    session: Session,
    transport: Transport,
    direction: str,
    key: Any,
    received: bool = False,
) -> Message:
    """The message of a notification; a ``_meta`` that is not an object is bad peer input: no carrier.

    ``received``: a notification the client received (a ``notifications/message`` carries its log params; the
    server's sent ones are described by the typed hook, :func:`_typed`, once).
    """
    carrier = uri = None
    if isinstance(params, Mapping):
        meta = params.get("_meta")
        carrier = meta if isinstance(meta, Mapping) else None
        value = params.get("uri")
        uri = value if isinstance(value, str) else None
    return Message(
        method=method,
        request_id=None,
        name=None,
        uri=uri,
        carrier=carrier,
        session=session,
        transport=transport,
        direction=direction,
        session_key=key,
        log=log_params(method, params) if received else None,
        params=params,
    )


def _notify_args(method: str, params: Any = None, *_: Any, **__: Any) -> tuple[str, Any]:
    return method, params


def with_meta(args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """``notify(method, params, ...)`` arguments with the current trace context in a copy of ``params``.

    One injection per notification; keys the sender put in ``_meta`` are kept. A ``_meta`` that is not an
    object is left as it is (sent without context).
    """
    carrier: dict[str, Any] = {}
    inject(carrier)
    if not carrier:
        return args, kwargs
    params = args[1] if len(args) >= 2 else kwargs.get("params")
    new = dict(params) if isinstance(params, Mapping) else {}
    meta = new.get("_meta")
    if meta is not None and not isinstance(meta, Mapping):
        return args, kwargs
    merged = dict(meta) if meta else {}
    for key, value in carrier.items():  # keeps any key the sender set
        merged.setdefault(key, value)
    new["_meta"] = merged
    if len(args) >= 2:
        return (args[0], new, *args[2:]), kwargs
    if "params" in kwargs:
        return args, {**kwargs, "params": new}
    return (*args, new), kwargs


class Notifications:
    """Describes the notifications an mcp 2.x process sends and receives."""

    def __init__(self, state: SessionState, channels: Channels) -> None:
        self.state = state
        self.channels = channels

    def describe_dispatched(self, dispatcher: Any, args: Args, kwargs: Kwargs) -> Message | None:
        """``notify(method, params)`` of a dispatcher: ``None`` when a typed hook already opened the span."""
        method, params = _notify_args(*args, **kwargs)
        active = active_operation()
        if active is not None and active.kind is SpanKind.CLIENT and active.method == method:
            return None
        client = self.state.client_of_dispatcher(dispatcher)
        if client is not None:
            return notification_message(
                method,
                params,
                self.state.client_session_for(client),
                client_side_transport(client),
                TO_SERVER,
                client,
            )
        session, transport = server_side_context()
        return notification_message(method, params, session, transport, TO_CLIENT, server_side_key())

    def describe_server_received(self, runner: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerRunner._on_notify(dctx, method, params)``."""
        dctx, method, params = request_args(*args, **kwargs)
        metadata = getattr(dctx, "message_metadata", None)
        transport = transport_of(getattr(metadata, "request_context", None))
        session = self.state.session_for(runner, transport)
        return notification_message(method, params, session, transport, TO_SERVER, runner.connection)

    def describe_client_received(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession._on_notify(dctx, method, params)``."""
        _, method, params = request_args(*args, **kwargs)
        session = self.state.client_session_for(client)
        transport = client_side_transport(client)
        return notification_message(method, params, session, transport, TO_CLIENT, client, received=True)

    def describe_client_sent(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession.send_notification(notification)``."""
        session, transport = self.state.client_session_for(client), client_side_transport(client)
        return _typed(args, kwargs, session, transport, TO_SERVER, client)

    def describe_server_sent(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerSession._notify(notification)``."""
        session, transport = server_side_context()
        message = _typed(args, kwargs, session, transport, TO_CLIENT, server_side_key())
        self.channels.server_sent(message.method)
        return message

    def describe_progress(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerSession.report_progress(progress, total)``: an ``mcp_otel.progress`` event on the request
        being handled, and the notification's CLIENT span (the dispatcher hooks open no second one)."""
        progress, total = _progress_args(*args, **kwargs)
        request = active_request()
        if request is not None:
            request.record_progress(progress, total)
        session, transport = server_side_context()
        message = notification_message(
            NOTIFICATIONS_PROGRESS, None, session, transport, TO_CLIENT, server_side_key()
        )
        if listeners.fact_receivers:
            message.params = _progress_params(request, *args, **kwargs)
        return message

    def seams(self) -> list[Seam]:
        """The notification seams."""
        client, server, runner = "mcp.client.session", "mcp.server.session", "mcp.server.runner"

        def dispatched(module: str, qualname: str) -> Seam:
            return Seam(module, qualname, SpanKind.CLIENT, self.describe_dispatched, prepare=with_meta)

        return [
            dispatched("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify"),
            dispatched("mcp.server._streamable_http_modern", "_SingleExchangeDispatchContext.notify"),
            Seam(runner, "ServerRunner._on_notify", SpanKind.SERVER, self.describe_server_received),
            Seam(client, "ClientSession._on_notify", SpanKind.SERVER, self.describe_client_received),
            Seam(client, "ClientSession.send_notification", SpanKind.CLIENT, self.describe_client_sent),
            Seam(server, "ServerSession._notify", SpanKind.CLIENT, self.describe_server_sent),
            Seam(server, "ServerSession.report_progress", SpanKind.CLIENT, self.describe_progress),
        ]


def _typed(
    args: Args, kwargs: Kwargs, session: Session, transport: Transport, direction: str, key: Any
) -> Message:
    # A CLIENT span needs no carrier: only the URI is read from the typed params (no model dump).
    notification = args[0] if args else kwargs["notification"]
    params = getattr(notification, "params", None)
    uri = optional_field(params, "uri")
    return Message(
        method=notification.method,
        request_id=None,
        name=None,
        uri=str(uri) if uri is not None else None,
        carrier=None,
        session=session,
        transport=transport,
        direction=direction,
        session_key=key,
        log=log_params(notification.method, params) if direction == TO_CLIENT else None,
        params=params,
    )


def _progress_params(
    request: Any, progress: float, total: float | None = None, message: str | None = None, *_: Any, **__: Any
) -> dict[str, Any]:
    """The params ``report_progress`` sends: the numbers, the message and the request's progress token."""
    carrier = request.message.carrier if request is not None else None
    token = carrier.get("progressToken") if carrier is not None else None
    return {"progressToken": token, "progress": progress, "total": total, "message": message}


def _progress_args(
    progress: float, total: float | None = None, *_: Any, **__: Any
) -> tuple[float, float | None]:
    return progress, total
