"""Hooks for mcp 1.x (1.15 … 1.30): the lowlevel ``Server``, ``ServerSession`` and ``RequestResponder``.

- ``Server._handle_request`` opens the SERVER span of every request but ``initialize`` and runs the handler
  with it current; ``ServerSession._received_request`` does the same for ``initialize`` (answered inline).
- ``RequestResponder.respond`` sees the result or ``ErrorData`` that goes on the wire.
- The original exception of a tool is visible in ``Server._make_error_result`` (called in the decorator's
  ``except`` block); other handler exceptions are seen by wrapping the handler in ``request_handlers`` once.
- Transport hooks set :data:`mcp_otel.transport.transport_hint`.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from typing import Any

import mcp.shared.exceptions as _mcp_exceptions
import mcp.types as _mcp_types

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.common import guarded, original_exception, run_server_request
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.model import MEMORY, STDIO, InboundRequest, Peer, Session, Transport
from mcp_otel.telemetry import ServerRequest, Telemetry, active_request
from mcp_otel.transport import TransportScope, transport_of

# mcp 1.x names (camelCase, ``McpError``); kept dynamic because mypy sees whichever mcp is installed.
types: Any = _mcp_types
McpError: Any = getattr(_mcp_exceptions, "McpError")  # noqa: B009

_sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
_wrapped_handlers: weakref.WeakKeyDictionary[Any, dict[type, tuple[Any, Any]]] = weakref.WeakKeyDictionary()
_HANDLER_MARK = "_mcp_otel_instrumented"
_NAMED = frozenset({"tools/call", "prompts/get"})


def patches(telemetry: Telemetry) -> list[Patch | Replace]:
    """The wrappers mcp-otel installs on mcp 1.x, bound to ``telemetry``."""
    hint_stdio = _hint_wrapper(lambda instance: STDIO)
    hint_memory = _hint_wrapper(lambda instance: MEMORY)
    return [
        Patch("mcp.server.lowlevel.server", "Server._handle_request", _handle_request(telemetry)),
        Patch("mcp.server.lowlevel.server", "Server._make_error_result", _make_error_result),
        Patch("mcp.server.session", "ServerSession._received_request", _received_request(telemetry)),
        Patch("mcp.shared.session", "RequestResponder.respond", _respond),
        Patch("mcp.server.stdio", "stdio_server", hint_stdio),
        Patch("mcp", "stdio_server", hint_stdio),
        Patch("mcp.server.fastmcp.server", "stdio_server", hint_stdio),
        Patch("mcp.shared.memory", "create_client_server_memory_streams", hint_memory),
        Patch(
            "mcp.server.streamable_http",
            "StreamableHTTPServerTransport.connect",
            _hint_wrapper(lambda instance: Transport(kind="http", session_id=instance.mcp_session_id)),
        ),
        Patch(
            "mcp.server.sse",
            "SseServerTransport.connect_sse",
            _hint_wrapper(lambda instance: Transport(kind="sse")),
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


def _hint_wrapper(hint: Callable[[Any], Transport]) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            return TransportScope(manager, lambda: hint(instance))
        except Exception:
            log_failure_once("v1.transport_hint")
            return manager

    return wrapper


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


def _session_for(server_session: Any, transport: Transport) -> Session:
    session = _sessions.get(server_session)
    if session is None:
        params = server_session.client_params
        session = Session(
            client=_peer(params.clientInfo) if params is not None else None,
            server=_server_peer(server_session),
            protocol_version=params.protocolVersion if params is not None else None,
            session_id=transport.session_id,
        )
        if params is not None:  # cache once initialized
            _sessions[server_session] = session
    return session


def _http_request(responder: Any) -> Any:
    metadata = responder.message_metadata
    return getattr(metadata, "request_context", None) if metadata is not None else None


def _describe(
    responder: Any, req: Any, server_session: Any, session: Session | None = None
) -> InboundRequest:
    method: str = req.method
    params = getattr(req, "params", None)
    name = getattr(params, "name", None) if method in _NAMED else None
    uri = getattr(params, "uri", None)
    meta = responder.request_meta
    carrier = meta.model_extra if meta is not None else None
    transport = transport_of(_http_request(responder))
    return InboundRequest(
        method=method,
        request_id=responder.request_id,
        name=name,
        uri=str(uri) if uri is not None else None,
        carrier=carrier,
        session=session or _session_for(server_session, transport),
        transport=transport,
        arguments=(lambda: getattr(params, "arguments", None)) if params is not None else None,
    )


# --- wrappers


def _handle_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: ServerRequest | None = None
        try:
            message, req, server_session = _request_args(*args, **kwargs)
            request = telemetry.start_server_request(_describe(message, req, server_session))
            if request is not None:
                request.key = message
                _wrap_handler(instance, type(req))
        except Exception:
            log_failure_once("v1.handle_request")
        if request is None:
            return await wrapped(*args, **kwargs)
        return await run_server_request(request, lambda: wrapped(*args, **kwargs), "v1.handle_request")

    return wrapper


def _request_args(message: Any, req: Any, session: Any, *_: Any, **__: Any) -> tuple[Any, Any, Any]:
    return message, req, session


def _received_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: ServerRequest | None = None
        try:
            responder = args[0] if args else kwargs["responder"]
            root = responder.request.root
            if isinstance(root, types.InitializeRequest):
                params = root.params
                session = Session(
                    client=_peer(params.clientInfo),
                    server=_server_peer(instance),
                    protocol_version=params.protocolVersion,
                    session_id=transport_of(_http_request(responder)).session_id,
                )
                request = telemetry.start_server_request(_describe(responder, root, instance, session))
                if request is not None:
                    request.key = responder
        except Exception:
            log_failure_once("v1.received_request")
        if request is None:
            return await wrapped(*args, **kwargs)
        return await run_server_request(request, lambda: wrapped(*args, **kwargs), "v1.initialize")

    return wrapper


async def _respond(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    request = active_request()
    if request is not None and request.key is instance:
        try:
            _record_response(request, instance, args[0] if args else kwargs["response"])
        except Exception:
            log_failure_once("v1.respond")
    return await wrapped(*args, **kwargs)


def _record_response(request: ServerRequest, responder: Any, response: Any) -> None:
    if isinstance(response, types.ErrorData):
        request.set_error_response(response.code, response.message)
        return
    result = getattr(response, "root", response)
    if isinstance(result, types.CallToolResult):
        request.set_result(bool(result.isError), lambda: _tool_result_content(result))
    elif isinstance(result, types.InitializeResult):
        server_session = responder._session
        params = server_session.client_params
        session = Session(
            client=_peer(params.clientInfo) if params is not None else None,
            server=_peer(result.serverInfo),
            protocol_version=result.protocolVersion,
            session_id=transport_of(_http_request(responder)).session_id,
        )
        _sessions[server_session] = session
        request.update_session(session.attributes())


def _tool_result_content(result: Any) -> Any:
    if result.structuredContent is not None:
        return result.structuredContent
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]


def _make_error_result(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # Runs inside the lowlevel call_tool decorator's ``except`` block: the exception handled is the tool's.
    request = active_request()
    if request is not None:
        exc = sys.exc_info()[1]
        if exc is not None:
            guarded("v1.tool_exception", request.record_exception, original_exception(exc))
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
            request = active_request()
            if request is not None:
                guarded("v1.handler_exception", request.set_exception, original_exception(exc))
            raise

    setattr(instrumented, _HANDLER_MARK, True)
    instrumented.__wrapped__ = handler  # type: ignore[attr-defined]
    handlers[req_type] = instrumented
    _wrapped_handlers.setdefault(server, {})[req_type] = (handler, instrumented)


__all__ = ["patches", "uninstall"]
