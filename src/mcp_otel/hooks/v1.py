"""Hooks for mcp 1.x (1.15 … 1.30): ``Server``, ``ServerSession``, ``ClientSession`` and ``BaseSession``.

Server side:
- ``Server._handle_request`` opens the SERVER span of every request but ``initialize`` and runs the handler
  with it current; ``ServerSession._received_request`` does the same for ``initialize`` (answered inline).
- ``RequestResponder.respond`` sees the result or ``ErrorData`` that goes on the wire (both sides).
- The original exception of a tool is visible in ``Server._make_error_result`` (called in the decorator's
  ``except`` block); other handler exceptions are seen by wrapping the handler in ``request_handlers`` once.

Client side (and server→client requests):
- ``BaseSession.send_request`` opens the CLIENT span and injects the trace context into ``params._meta``
  (mcp 1.x injects nothing itself); ``ClientSession._received_request`` opens the SERVER span of a request the
  server sent (sampling, elicitation, roots, ping).

Notifications: ``BaseSession.send_notification`` opens a CLIENT span and injects ``_meta``;
``ServerSession._received_notification`` / ``ClientSession._received_notification`` open SERVER spans.
``RequestResponder.cancel`` marks the cancelled request's span; outbound progress is an event on the request
being handled.

Transport hooks set :data:`mcp_otel.transport.transport_hint`.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from typing import Any

import mcp.shared.exceptions as _mcp_exceptions
import mcp.types as _mcp_types
from mcp.client.session import ClientSession
from opentelemetry.trace import SpanKind

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.common import (
    NAMED_METHODS,
    NO_SESSION,
    NO_TRANSPORT,
    SessionClock,
    client_transport,
    fail_with_exception,
    guarded,
    original_exception,
    running,
    server_side_context,
)
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.model import MEMORY, NOTIFICATIONS_CANCELLED, STDIO, Message, Peer, Session, Transport
from mcp_otel.semconv.attributes import McpOtelNotificationDirectionValues
from mcp_otel.telemetry import Operation, Telemetry, active_operation, active_request, inject
from mcp_otel.transport import (
    constant_hint,
    register_http_client_transport,
    server_http_hint,
    transport_of,
    url_hint,
)

# mcp 1.x names (camelCase, ``McpError``); kept dynamic because mypy sees whichever mcp is installed.
types: Any = _mcp_types
McpError: Any = getattr(_mcp_exceptions, "McpError")  # noqa: B009

_sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()  # ServerSession → Session
_client_sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()  # ClientSession →
_wrapped_handlers: weakref.WeakKeyDictionary[Any, dict[type, tuple[Any, Any]]] = weakref.WeakKeyDictionary()
_in_flight: weakref.WeakKeyDictionary[Any, Operation] = weakref.WeakKeyDictionary()  # RequestResponder → op
_clock = SessionClock()
_TO_SERVER = McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
_TO_CLIENT = McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
_HANDLER_MARK = "_mcp_otel_instrumented"
_PROTOCOL_VERSION_HEADER = "mcp-protocol-version"


def patches(telemetry: Telemetry) -> list[Patch | Replace]:
    """The wrappers mcp-otel installs on mcp 1.x, bound to ``telemetry``."""
    stdio = constant_hint(STDIO)
    memory = constant_hint(MEMORY)
    return [
        Patch("mcp.server.lowlevel.server", "Server._handle_request", _handle_request(telemetry)),
        Patch("mcp.server.lowlevel.server", "Server._make_error_result", _make_error_result),
        Patch("mcp.server.session", "ServerSession._received_request", _server_received_request(telemetry)),
        Patch("mcp.shared.session", "RequestResponder.respond", _respond),
        Patch("mcp.shared.session", "BaseSession.send_request", _send_request(telemetry)),
        Patch("mcp.client.session", "ClientSession._received_request", _client_received_request(telemetry)),
        Patch("mcp.shared.session", "RequestResponder.cancel", _cancel(telemetry)),
        Patch("mcp.shared.session", "BaseSession.__aenter__", _session_enter),
        Patch("mcp.shared.session", "BaseSession.__aexit__", _session_exit(telemetry)),
        Patch("mcp.shared.session", "BaseSession.send_notification", _send_notification(telemetry)),
        Patch(
            "mcp.server.session", "ServerSession._received_notification", _received_notification(telemetry)
        ),
        Patch(
            "mcp.client.session", "ClientSession._received_notification", _received_notification(telemetry)
        ),
        # transports: server side
        Patch("mcp.server.stdio", "stdio_server", stdio),
        Patch("mcp", "stdio_server", stdio),
        Patch("mcp.server.fastmcp.server", "stdio_server", stdio),
        Patch("mcp.shared.memory", "create_client_server_memory_streams", memory),
        Patch("mcp.server.streamable_http", "StreamableHTTPServerTransport.connect", server_http_hint()),
        Patch("mcp.server.sse", "SseServerTransport.connect_sse", constant_hint(Transport(kind="sse"))),
        # transports: client side
        Patch("mcp.client.stdio", "stdio_client", stdio),
        Patch("mcp", "stdio_client", stdio),
        Patch("mcp.client.sse", "sse_client", url_hint("sse")),
        Patch("mcp.client.streamable_http", "streamablehttp_client", url_hint("http")),
        Patch("mcp.client.streamable_http", "streamable_http_client", url_hint("http")),
        Patch(
            "mcp.client.streamable_http", "StreamableHTTPTransport.__init__", register_http_client_transport
        ),
    ]


def uninstall() -> None:
    """Restore the handlers wrapped in servers' ``request_handlers`` and forget per-session state."""
    for server, entries in list(_wrapped_handlers.items()):
        for req_type, (original, wrapper) in entries.items():
            if server.request_handlers.get(req_type) is wrapper:
                server.request_handlers[req_type] = original
    _wrapped_handlers.clear()
    _sessions.clear()
    _client_sessions.clear()
    _in_flight.clear()
    _clock.clear()


# --- the request model


def _peer(info: Any) -> Peer | None:
    if info is None:
        return None
    return Peer(name=info.name, title=getattr(info, "title", None), version=info.version)


def _server_peer(server_session: Any) -> Peer | None:
    options = getattr(server_session, "_init_options", None)
    if options is None:
        return None
    return Peer(
        name=options.server_name,
        title=getattr(options, "title", None),
        version=options.server_version or None,
    )


def _session_for(server_session: Any, transport: Transport, http_request: Any = None) -> Session:
    session = _sessions.get(server_session)
    if session is None:
        params = server_session.client_params
        version = params.protocolVersion if params is not None else None
        if version is None and http_request is not None:
            # Stateless HTTP: a fresh ServerSession per POST never saw initialize; the client sends the
            # negotiated version with every request.
            version = http_request.headers.get(_PROTOCOL_VERSION_HEADER)
        session = Session(
            client=_peer(params.clientInfo) if params is not None else None,
            server=_server_peer(server_session),
            protocol_version=version,
            session_id=transport.session_id,
        )
        if params is not None:  # cache once initialized
            _sessions[server_session] = session
    return session


def _http_request(responder: Any) -> Any:
    metadata = responder.message_metadata
    return getattr(metadata, "request_context", None) if metadata is not None else None


def _message(
    req: Any,
    request_id: Any,
    session: Session,
    transport: Transport,
    carrier: Any = None,
    session_key: Any = None,
) -> Message:
    method: str = req.method
    params = getattr(req, "params", None)
    name = getattr(params, "name", None) if method in NAMED_METHODS else None
    uri = getattr(params, "uri", None)
    return Message(
        method=method,
        request_id=request_id,
        name=name,
        uri=str(uri) if uri is not None else None,
        carrier=carrier,
        session=session,
        transport=transport,
        arguments=(lambda: getattr(params, "arguments", None)) if params is not None else None,
        session_key=session_key,
    )


def _inbound(responder: Any, req: Any, session: Session, transport: Transport, key: Any) -> Message:
    meta = responder.request_meta
    carrier = meta.model_extra if meta else None
    message = _message(req, responder.request_id, session, transport, carrier, key)
    http_request = _http_request(responder)
    if http_request is not None:
        message.http_headers = getattr(http_request, "headers", None)
    return message


# --- server side: requests the server receives


def _handle_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            message, req, server_session = _request_args(*args, **kwargs)
            http_request = _http_request(message)
            transport = transport_of(http_request)
            session = _session_for(server_session, transport, http_request)
            op = telemetry.start_server_request(_inbound(message, req, session, transport, server_session))
            if op is not None:
                op.key = message
                _in_flight[message] = op
                _wrap_handler(instance, type(req))
        except Exception:
            log_failure_once("v1.handle_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        try:
            with running(op, "v1.handle_request"):
                return await wrapped(*args, **kwargs)
        finally:
            _in_flight.pop(message, None)

    return wrapper


def _request_args(message: Any, req: Any, session: Any, *_: Any, **__: Any) -> tuple[Any, Any, Any]:
    return message, req, session


def _server_received_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            responder = args[0] if args else kwargs["responder"]
            root = responder.request.root
            if isinstance(root, types.InitializeRequest):
                params = root.params
                transport = transport_of(_http_request(responder))
                session = Session(
                    client=_peer(params.clientInfo),
                    server=_server_peer(instance),
                    protocol_version=params.protocolVersion,
                    session_id=transport.session_id,
                )
                op = telemetry.start_server_request(_inbound(responder, root, session, transport, instance))
                if op is not None:
                    op.key = responder
        except Exception:
            log_failure_once("v1.server_received_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v1.initialize"):
            return await wrapped(*args, **kwargs)

    return wrapper


async def _respond(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    op = active_operation()
    if op is not None and op.key is instance:
        try:
            _record_response(op, instance, args[0] if args else kwargs["response"])
        except Exception:
            log_failure_once("v1.respond")
    return await wrapped(*args, **kwargs)


def _record_response(op: Operation, responder: Any, response: Any) -> None:
    if isinstance(response, types.ErrorData):
        op.set_error_response(response.code, response.message)
        return
    result = getattr(response, "root", response)
    if isinstance(result, types.CallToolResult):
        op.set_result(bool(result.isError), lambda: _tool_result_content(result), len(result.content))
    elif isinstance(result, types.GetPromptResult):
        op.set_prompt_result(len(result.messages), lambda: result.description)
    elif isinstance(result, types.InitializeResult):
        server_session = responder._session
        params = server_session.client_params
        session = Session(
            client=_peer(params.clientInfo) if params is not None else None,
            server=_peer(result.serverInfo),
            protocol_version=result.protocolVersion,
            session_id=op.message.transport.session_id,
        )
        _sessions[server_session] = session
        op.update_session(session.attributes())


def _tool_result_content(result: Any) -> Any:
    if result.structuredContent is not None:
        return result.structuredContent
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]


def _make_error_result(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # Runs inside the lowlevel call_tool decorator's ``except`` block: the exception handled is the tool's.
    op = active_request()
    if op is not None:
        exc = sys.exc_info()[1]
        if exc is not None:
            guarded("v1.tool_exception", op.record_exception, original_exception(exc))
    return wrapped(*args, **kwargs)


def _wrap_handler(server: Any, req_type: type) -> None:
    """Wrap ``server.request_handlers[req_type]`` once, to see the exceptions ``_handle_request`` swallows."""
    handlers = server.request_handlers
    handler = handlers.get(req_type)
    if handler is None or getattr(handler, _HANDLER_MARK, False):
        return

    async def instrumented(req: Any) -> Any:
        try:
            return await handler(req)
        except McpError:
            raise
        except Exception as exc:
            op = active_request()
            if op is not None:
                guarded("v1.handler_exception", op.set_exception, original_exception(exc))
            raise

    setattr(instrumented, _HANDLER_MARK, True)
    instrumented.__wrapped__ = handler  # type: ignore[attr-defined]
    handlers[req_type] = instrumented
    _wrapped_handlers.setdefault(server, {})[req_type] = (handler, instrumented)


# --- requests this process sends (client → server, and server → client)


def _send_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            request = args[0] if args else kwargs["request"]
            if isinstance(instance, ClientSession):
                session, transport = _client_sessions.get(instance, NO_SESSION), client_transport()
            else:
                session, transport = server_side_context()
            root = getattr(request, "root", request)  # a bare request model is accepted too
            message = _message(root, instance._request_id, session, transport, session_key=instance)
            op = telemetry.start_client_request(message)
        except Exception:
            log_failure_once("v1.send_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v1.send_request"):
            return await _send(op, instance, wrapped, args, kwargs)

    return wrapper


async def _send(
    op: Operation, session: Any, wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        args, kwargs = _with_trace_context(args, kwargs)
    except Exception:
        log_failure_once("v1.inject")
    try:
        result = await wrapped(*args, **kwargs)
    except McpError as exc:
        guarded("v1.client_error", op.set_error_response, exc.error.code, exc.error.message)
        raise
    except Exception as exc:
        guarded("v1.client_exception", fail_with_exception, op, exc)
        raise
    try:
        if isinstance(result, types.CallToolResult):
            op.set_result(bool(result.isError), lambda: _tool_result_content(result), len(result.content))
        elif isinstance(result, types.GetPromptResult):
            op.set_prompt_result(len(result.messages), lambda: result.description)
        elif isinstance(result, types.InitializeResult) and isinstance(session, ClientSession):
            new = Session(
                server=_peer(result.serverInfo),
                protocol_version=result.protocolVersion,
                session_id=op.message.transport.current_session_id(),
            )
            _client_sessions[session] = new
            op.update_session(new.attributes())
    except Exception:
        log_failure_once("v1.client_result")
    return result


def _with_trace_context(
    args: tuple[Any, ...], kwargs: dict[str, Any], name: str = "request"
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return the call's arguments with the current trace context in the message's ``params._meta``."""
    request = args[0] if args else kwargs[name]
    carrier: dict[str, Any] = {}
    inject(carrier)
    if not carrier:
        return args, kwargs
    data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    params = data.setdefault("params", {})
    meta = params.setdefault("_meta", {}) if isinstance(params, dict) else None
    if not isinstance(meta, dict):  # a hand-made request whose params or _meta is not an object
        return args, kwargs
    inject(meta)  # keeps any key the caller set
    new_request = type(request).model_validate(data)
    if args:
        return (new_request, *args[1:]), kwargs
    return args, {**kwargs, name: new_request}


# --- client side: requests the server sends to the client


def _client_received_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            responder = args[0] if args else kwargs["responder"]
            session = _client_sessions.get(instance, NO_SESSION)
            message = _inbound(responder, responder.request.root, session, client_transport(), instance)
            op = telemetry.start_server_request(message)
            if op is not None:
                op.key = responder
        except Exception:
            log_failure_once("v1.client_received_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v1.client_received_request"):
            return await wrapped(*args, **kwargs)

    return wrapper


# --- session lifetime


async def _session_enter(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = await wrapped(*args, **kwargs)
    kind = SpanKind.CLIENT if isinstance(instance, ClientSession) else SpanKind.SERVER
    guarded("v1.session_enter", _clock.start, instance, transport_of(None, NO_TRANSPORT), kind)
    return result


def _session_exit(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            try:
                error = args[1] if len(args) > 1 else kwargs.get("exc_val")
                if isinstance(instance, ClientSession):
                    session = _client_sessions.pop(instance, NO_SESSION)
                    _clock.stop(telemetry, instance, SpanKind.CLIENT, session, error)
                else:
                    session = _sessions.pop(instance, NO_SESSION)
                    _clock.stop(telemetry, instance, SpanKind.SERVER, session, error)
            except Exception:
                log_failure_once("v1.session_exit")

    return wrapper


# --- notifications and cancellation


def _cancel(telemetry: Telemetry) -> Callable[..., Any]:
    """``RequestResponder.cancel``: mcp 1.x consumes ``notifications/cancelled`` in its receive loop and calls
    this, so the notification's SERVER span is opened here and the cancelled request's span marked."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        notify_op: Operation | None = None
        try:
            request_op = _in_flight.pop(instance, None)
            if request_op is not None:
                request_op.record_cancelled(None)
                notification = _receive_loop_notification(sys._getframe(1))
                params = getattr(getattr(notification, "root", None), "params", None)
                meta = getattr(params, "meta", None)
                received = request_op.message
                message = Message(
                    method=NOTIFICATIONS_CANCELLED,
                    request_id=None,
                    name=None,
                    uri=None,
                    carrier=meta.model_extra if meta is not None else None,
                    session=received.session,
                    transport=received.transport,
                    direction=_TO_SERVER,
                    session_key=received.session_key,
                )
                notify_op = telemetry.start_server_request(message)
        except Exception:
            log_failure_once("v1.cancel")
        if notify_op is None:
            return await wrapped(*args, **kwargs)
        with running(notify_op, "v1.cancel"):
            return await wrapped(*args, **kwargs)

    return wrapper


def _receive_loop_notification(frame: Any) -> Any:
    """The ``notifications/cancelled`` being processed by ``BaseSession._receive_loop`` (its local
    ``notification``), for its ``_meta``; ``None`` when the SDK's code differs."""
    while frame is not None and frame.f_code.co_name != "_receive_loop":
        frame = frame.f_back
    return frame.f_locals.get("notification") if frame is not None else None


def _send_notification(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            notification = args[0] if args else kwargs["notification"]
            root = notification.root
            if isinstance(instance, ClientSession):
                session, transport = _client_sessions.get(instance, NO_SESSION), client_transport()
                direction = _TO_SERVER
            else:
                session, transport = server_side_context()
                direction = _TO_CLIENT
                if isinstance(root, types.ProgressNotification):
                    _progress_event(root.params)
            message = _message(root, None, session, transport, session_key=instance)
            message.direction = direction
            op = telemetry.start_client_request(message)
        except Exception:
            log_failure_once("v1.send_notification")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v1.send_notification"):
            return await _notify(wrapped, args, kwargs)

    return wrapper


def _progress_event(params: Any) -> None:
    op = active_request()
    if op is not None:
        op.record_progress(params.progress, params.total)


async def _notify(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        args, kwargs = _with_trace_context(args, kwargs, "notification")
    except Exception:
        log_failure_once("v1.inject_notification")
    return await wrapped(*args, **kwargs)


def _received_notification(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            root = (args[0] if args else kwargs["notification"]).root
            params = getattr(root, "params", None)
            meta = getattr(params, "meta", None)
            carrier = meta.model_extra if meta is not None else None
            if isinstance(instance, ClientSession):
                session, transport = _client_sessions.get(instance, NO_SESSION), client_transport()
                direction = _TO_CLIENT
            else:
                transport = transport_of(None)
                session, direction = _session_for(instance, transport), _TO_SERVER
            message = _message(root, None, session, transport, carrier, instance)
            message.direction = direction
            op = telemetry.start_server_request(message)
        except Exception:
            log_failure_once("v1.received_notification")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v1.received_notification"):
            return await wrapped(*args, **kwargs)

    return wrapper


__all__ = ["patches", "uninstall"]
