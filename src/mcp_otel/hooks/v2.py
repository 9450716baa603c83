"""Hooks for mcp 2.x (2.0 … 2.3): ``ServerRunner._on_request`` and the SDK's built-in OpenTelemetry.

- ``ServerRunner._on_request`` sees every inbound request of every transport and protocol era
  (``initialize``, ``server/discover``, custom methods …) outside the SDK's middleware chain: it opens the
  SERVER span, runs the chain with it current, and reads the wire result or the exception the dispatcher
  turns into an error.
- ``MCPServer.call_tool`` sees the exception a tool raised before ``MCPServer`` turns it into ``isError``.
- ``mcp.shared._otel._tracer`` is replaced with a tracer that creates and attaches nothing, so the SDK's own
  spans never stack on ours while its ``_meta`` injection keeps working (it injects the current span: ours);
  the SDK's server ``OpenTelemetryMiddleware`` passes straight to the next handler (its span would be silent).
- ``ClientSession.send_request`` / ``send_discover`` (client) and ``ServerSession.send_request``
  (server→client) open CLIENT spans; the SDK's dispatcher injects ``_meta`` with our span current and hands
  the request id to the silent tracer. ``ClientSession._on_request`` opens the SERVER span of a request the
  server sent to the client.
- Notifications: ``ClientSession.send_notification`` and ``ServerSession._notify`` /
  ``ServerSession.report_progress`` open CLIENT spans (injecting ``_meta``, which the SDK does only for
  requests); ``ServerRunner._on_notify`` and ``ClientSession._on_notify`` open SERVER spans. A request the
  client cancelled ends with ``error.type=cancelled``.
- Transport hooks set :data:`mcp_otel.transport.transport_hint` (stdio vs in-memory look alike otherwise).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind
from pydantic import ValidationError

from mcp_otel._guard import log_failure_once
from mcp_otel.config import SDK_SPANS_ENRICH
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
    server_side_key,
)
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.model import (
    INITIALIZE,
    MEMORY,
    NOTIFICATIONS_PROGRESS,
    PROMPTS_GET,
    SERVER_DISCOVER,
    STDIO,
    TOOLS_CALL,
    Message,
    Peer,
    Session,
    Transport,
    is_sessionless,
)
from mcp_otel.semconv.attributes import JSONRPC_REQUEST_ID, McpOtelNotificationDirectionValues
from mcp_otel.telemetry import (
    Operation,
    Telemetry,
    active_client_request,
    active_operation,
    active_request,
    inject,
)
from mcp_otel.transport import (
    constant_hint,
    register_http_client_transport,
    server_http_hint,
    transport_of,
    url_hint,
)

_TO_SERVER = McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
_TO_CLIENT = McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
_INTERNAL_ERROR = -32603
_SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
_INVALID_PARAMS = -32602
# Connection → (client_params, protocol_version, session_id, Session): rebuilt when any of the three changes.
_sessions: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any, Session]] = weakref.WeakKeyDictionary()
# ClientSession → (server_info, protocol_version, Session).
_client_sessions: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Session]] = weakref.WeakKeyDictionary()
_clock = SessionClock()
# JSONRPCDispatcher of a ClientSession → that session (notifications it sends travel client → server).
_client_dispatchers: weakref.WeakKeyDictionary[Any, weakref.ref[Any]] = weakref.WeakKeyDictionary()


class SilentTracer(trace.Tracer):
    """A tracer whose spans are the invalid span and which never changes the current context.

    Put in place of the mcp SDK's module tracer so its middleware and dispatcher spans disappear while our
    span stays current (a ``NoOpTracer`` would attach a non-recording span carrying the remote parent).
    """

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        """Return the invalid span (records nothing)."""
        return INVALID_SPAN

    @contextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        """Yield the invalid span without attaching anything to the context.

        The dispatcher's CLIENT span is opened once the request id is allocated: that id is handed to the
        CLIENT span of ours that is current.
        """
        if kwargs.get("kind") is SpanKind.CLIENT:
            request_id = (kwargs.get("attributes") or {}).get(JSONRPC_REQUEST_ID)
            op = active_client_request()
            if request_id is not None and op is not None:
                guarded("v2.request_id", op.set_request_id, request_id)
        yield INVALID_SPAN


class EnrichingTracer(trace.Tracer):
    """``enrich`` mode: the SDK's own tracer, whose spans the current mcp-otel operation adopts.

    The SDK keeps creating (and naming, parenting, ending) its spans; the mcp-otel operation that is waiting
    for one of the same kind adds its attributes to it.
    """

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        """Delegate to the SDK's tracer."""
        return self._tracer.start_span(name, *args, **kwargs)

    @contextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        """Delegate to the SDK's tracer and let the waiting mcp-otel operation adopt the span."""
        with self._tracer.start_as_current_span(name, *args, **kwargs) as span:
            op = active_operation()
            if op is not None and op.pending_adoption and op.kind is kwargs.get("kind"):
                guarded("v2.adopt", op.adopt_span, span)
            yield span


def patches(telemetry: Telemetry) -> list[Patch | Replace]:
    """The wrappers mcp-otel installs on mcp 2.x, bound to ``telemetry``.

    In ``enrich`` mode the SDK's tracer stays (wrapped so mcp-otel's operations adopt its spans); in the
    default ``own`` mode it is replaced by a :class:`SilentTracer`.
    """
    enrich = telemetry.config.sdk_spans == SDK_SPANS_ENRICH
    telemetry.adopt_sdk_spans = enrich
    stdio = constant_hint(STDIO)
    memory = constant_hint(MEMORY)
    http = url_hint("http")
    # own mode: the SDK's server middleware would only extract _meta again for a span that is never recorded
    skip_middleware = Patch("mcp.server._otel", "OpenTelemetryMiddleware.__call__", _skip_sdk_middleware)
    own: list[Patch | Replace] = [] if enrich else [skip_middleware]
    return [
        *own,
        Patch("mcp.server.runner", "ServerRunner._on_request", _on_request(telemetry)),
        Patch("mcp.server.mcpserver.server", "MCPServer.call_tool", _call_tool),
        # mcp 2.0.x lists the tools itself (through the request path) to validate a stateless tools/call
        Patch("mcp.server._streamable_http_modern", "_tool_input_schema", _sdk_internal),
        Replace(
            "mcp.shared._otel",
            "_tracer",
            (lambda original: EnrichingTracer(original)) if enrich else (lambda original: SilentTracer()),
        ),
        # the SDK's injection overwrites a traceparent the caller put in _meta: ours keeps existing keys
        Replace("mcp.shared.jsonrpc_dispatcher", "inject_trace_context", lambda original: inject),
        Patch("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", _dispatcher_notify(telemetry)),
        Patch(
            "mcp.server._streamable_http_modern",
            "_SingleExchangeDispatchContext.notify",
            _dispatcher_notify(telemetry),
        ),
        Patch("mcp.client.session", "ClientSession.send_request", _client_send_request(telemetry)),
        Patch("mcp.client.session", "ClientSession.send_discover", _client_send_discover(telemetry)),
        Patch("mcp.server.session", "ServerSession.send_request", _server_send_request(telemetry)),
        Patch("mcp.client.session", "ClientSession._on_request", _client_on_request(telemetry)),
        Patch("mcp.server.runner", "ServerRunner._on_notify", _server_on_notify(telemetry)),
        Patch("mcp.client.session", "ClientSession._on_notify", _client_on_notify(telemetry)),
        Patch("mcp.client.session", "ClientSession.send_notification", _client_send_notification(telemetry)),
        Patch("mcp.server.session", "ServerSession._notify", _server_notify(telemetry)),
        Patch("mcp.server.session", "ServerSession.report_progress", _report_progress(telemetry)),
        # session lifetime
        Patch("mcp.server.connection", "Connection.for_loop", _connection_for_loop),
        Patch("mcp.server.runner", "aclose_shielded", _connection_close(telemetry)),
        Patch("mcp.client.session", "ClientSession.__aenter__", _client_enter),
        Patch("mcp.client.session", "ClientSession.__aexit__", _client_exit(telemetry)),
        # transports: server side
        Patch("mcp.server.stdio", "stdio_server", stdio),
        Patch("mcp", "stdio_server", stdio),
        Patch("mcp.server.mcpserver.server", "stdio_server", stdio),
        Patch("mcp.shared.memory", "create_client_server_memory_streams", memory),
        Patch("mcp.client._memory", "create_client_server_memory_streams", memory),
        Patch("mcp.server.streamable_http", "StreamableHTTPServerTransport.connect", server_http_hint()),
        Patch("mcp.server.sse", "SseServerTransport.connect_sse", constant_hint(Transport(kind="sse"))),
        # transports: client side
        Patch("mcp.client.stdio", "stdio_client", stdio),
        Patch("mcp", "stdio_client", stdio),
        Patch("mcp.client.client", "stdio_client", stdio),
        Patch("mcp.client.sse", "sse_client", url_hint("sse")),
        Patch("mcp.client.streamable_http", "streamable_http_client", http),
        Patch("mcp.client.client", "streamable_http_client", http),
        Patch(
            "mcp.client.streamable_http", "StreamableHTTPTransport.__init__", register_http_client_transport
        ),
    ]


def uninstall() -> None:
    """Forget per-session state."""
    _sessions.clear()
    _client_sessions.clear()
    _client_dispatchers.clear()
    _clock.clear()


# --- the request model


def _peer(info: Any) -> Peer | None:
    if info is None:
        return None
    if isinstance(info, Mapping):
        return Peer(name=info.get("name"), title=info.get("title"), version=info.get("version"))
    return Peer(name=info.name, title=getattr(info, "title", None), version=getattr(info, "version", None))


def _server_peer(server: Any) -> Peer:
    return Peer(name=server.name, title=getattr(server, "title", None), version=server.version or None)


def _session_for(runner: Any, transport: Transport) -> Session:
    connection = runner.connection
    params = connection.client_params
    version = connection.protocol_version
    session_id = connection.session_id or transport.session_id
    cached = _sessions.get(connection)
    if cached is not None and cached[0] is params and cached[1] == version and cached[2] == session_id:
        return cached[3]
    session = Session(
        client=_peer(getattr(params, "client_info", None)) if params is not None else None,
        server=_server_peer(runner.server),
        protocol_version=version,
        session_id=session_id,
    )
    if not is_sessionless(version):  # sessionless connections live for one request: nothing to reuse
        _sessions[connection] = (params, version, session_id, session)
    return session


def _describe(runner: Any, dctx: Any, method: str, params: Mapping[str, Any] | None) -> Message:
    transport_context = dctx.transport
    default = MEMORY if getattr(transport_context, "kind", None) == "direct" else None
    metadata = getattr(dctx, "message_metadata", None)
    transport = transport_of(getattr(metadata, "request_context", None), default)
    name = uri = carrier = None
    if params:
        if method in NAMED_METHODS:
            value = params.get("name")
            name = value if isinstance(value, str) else None
        value = params.get("uri")
        uri = value if isinstance(value, str) else None
        meta = params.get("_meta")
        carrier = meta if isinstance(meta, Mapping) else None
    if method == INITIALIZE and params:
        session = Session(
            client=_peer(params.get("clientInfo")),
            server=_server_peer(runner.server),
            protocol_version=params.get("protocolVersion"),
            session_id=runner.connection.session_id or transport.session_id,
        )
    else:
        session = _session_for(runner, transport)
    http_request = getattr(metadata, "request_context", None)
    return Message(
        method=method,
        request_id=dctx.request_id,
        name=name,
        uri=uri,
        carrier=carrier,
        session=session,
        transport=transport,
        arguments=(lambda: params.get("arguments")) if params else None,
        http_headers=getattr(http_request, "headers", None) if http_request is not None else None,
        session_key=runner.connection,
    )


# --- wrappers


def _on_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: Operation | None = None
        if _internal.get():
            return await wrapped(*args, **kwargs)
        try:
            dctx, method, params = _request_args(*args, **kwargs)
            described = _describe(instance, dctx, method, params)
            request = telemetry.start_server_request(described)
        except Exception:
            log_failure_once("v2.on_request")
        if request is None:
            return await wrapped(*args, **kwargs)
        with running(request, "v2.on_request"):
            return await _observe(request, instance, dctx, described, wrapped(*args, **kwargs))

    return wrapper


_internal: ContextVar[bool] = ContextVar("mcp_otel_sdk_internal", default=False)


async def _sdk_internal(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Requests the SDK makes to itself while this runs are not received requests: no span, no point."""
    token = _internal.set(True)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _internal.reset(token)


async def _skip_sdk_middleware(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``own`` mode: the SDK's OpenTelemetry middleware only makes spans, which are silenced; skip its work.

    It would extract ``_meta`` a second time and build attributes for a span that is never recorded. The
    chain continues exactly as the middleware would continue it.
    """
    try:
        ctx, call_next = _middleware_args(*args, **kwargs)
    except TypeError:
        return await wrapped(*args, **kwargs)
    return await call_next(ctx)


def _middleware_args(ctx: Any, call_next: Any) -> tuple[Any, Any]:
    return ctx, call_next


def _request_args(dctx: Any, method: str, params: Any = None, *_: Any, **__: Any) -> tuple[Any, str, Any]:
    return dctx, method, params


async def _observe(request: Operation, runner: Any, dctx: Any, described: Message, call: Any) -> Any:
    try:
        result = await call
    except MCPError as exc:
        guarded("v2.error", request.set_error_response, exc.error.code, exc.error.message)
        raise
    except ValidationError:
        guarded("v2.error", request.set_error_response, _INVALID_PARAMS, "Invalid request parameters")
        raise
    except anyio.get_cancelled_exc_class():
        # A notifications/cancelled, the caller's task going away (in-process), or a closed response stream
        # (stateless HTTP): the request did not complete.
        guarded("v2.cancelled", request.record_cancelled, None)
        raise
    except Exception as exc:
        # The dispatcher answers an unmapped exception with code 0 on JSON-RPC streams and -32603 elsewhere.
        code = 0 if getattr(dctx.transport, "kind", None) == "jsonrpc" else _INTERNAL_ERROR
        guarded("v2.exception", _record_exception, request, exc, code)
        raise
    try:
        _record_result(request, runner, described, result)
    except Exception:
        log_failure_once("v2.result")
    return result


def _record_exception(request: Operation, exc: Exception, code: int) -> None:
    request.set_exception(original_exception(exc))
    request.set_error_response(code, str(exc))


def _record_result(request: Operation, runner: Any, described: Message, result: Any) -> None:
    if not isinstance(result, Mapping):
        return
    if described.method == TOOLS_CALL:
        request.set_result(
            result.get("isError") is True, lambda: _tool_result_content(result), _count(result.get("content"))
        )
    elif described.method == PROMPTS_GET:
        request.set_prompt_result(_count(result.get("messages")), lambda: result.get("description"))
    elif described.method == INITIALIZE:  # the SDK committed the negotiated session state after the chain
        request.update_session(_session_for(runner, described.transport).attributes())


def _count(items: Any) -> int | None:
    """The number of items of a result's ``content`` / ``messages`` list (``None`` when it is not one)."""
    return len(items) if isinstance(items, (list, tuple)) else None


def _tool_result_content(result: Mapping[str, Any]) -> Any:
    structured = result.get("structuredContent")
    return structured if structured is not None else result.get("content")


async def _call_tool(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    except MCPError:
        raise
    except Exception as exc:
        request = active_request()
        if request is not None:
            guarded("v2.tool_exception", request.record_exception, original_exception(exc))
        raise


# --- requests this process sends (client → server, and server → client)


def _client_session_for(client_session: Any) -> Session:
    server_info = client_session.server_info
    version = client_session.protocol_version
    cached = _client_sessions.get(client_session)
    if cached is not None and cached[0] is server_info and cached[1] == version:
        return cached[2]
    session_id = _client_side_transport(client_session).current_session_id()
    session = Session(server=_peer(server_info), protocol_version=version, session_id=session_id)
    if server_info is not None:  # cache once initialized (the session id is known by then)
        _client_sessions[client_session] = (server_info, version, session)
    return session


def _client_side_transport(client_session: Any) -> Transport:
    direct = type(getattr(client_session, "_dispatcher", None)).__name__ == "DirectDispatcher"
    return client_transport(MEMORY if direct else None)


def _outbound(request: Any, session: Session, transport: Transport, key: Any) -> Message:
    method: str = request.method
    params = getattr(request, "params", None)
    name = getattr(params, "name", None) if method in NAMED_METHODS else None
    uri = getattr(params, "uri", None)
    return Message(
        method=method,
        request_id=None,  # allocated by the dispatcher; see SilentTracer
        name=name if isinstance(name, str) else None,
        uri=str(uri) if uri is not None else None,
        carrier=None,
        session=session,
        transport=transport,
        arguments=(lambda: getattr(params, "arguments", None)) if params is not None else None,
        session_key=key,
    )


def _client_send_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            request = args[0] if args else kwargs["request"]
            session = _client_session_for(instance)
            op = telemetry.start_client_request(
                _outbound(request, session, _client_side_transport(instance), instance)
            )
        except Exception:
            log_failure_once("v2.client_send_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.client_send_request"):
            return await _send(op, wrapped(*args, **kwargs), instance)

    return wrapper


def _client_send_discover(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            version = args[0] if args else kwargs.get("version")
            message = Message(
                method="server/discover",
                request_id=None,
                name=None,
                uri=None,
                carrier=None,
                session=Session(protocol_version=version if isinstance(version, str) else None),
                transport=_client_side_transport(instance),
                session_key=instance,
            )
            op = telemetry.start_client_request(message)
        except Exception:
            log_failure_once("v2.client_send_discover")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.client_send_discover"):
            return await _send(op, wrapped(*args, **kwargs), instance)

    return wrapper


def _server_send_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            request = args[0] if args else kwargs["request"]
            session, transport = server_side_context()
            op = telemetry.start_client_request(_outbound(request, session, transport, server_side_key()))
        except Exception:
            log_failure_once("v2.server_send_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.server_send_request"):
            return await _send(op, wrapped(*args, **kwargs))

    return wrapper


async def _send(op: Operation, call: Any, client_session: Any = None) -> Any:
    try:
        result = await call
    except MCPError as exc:
        guarded("v2.client_error", op.set_error_response, exc.error.code, exc.error.message)
        raise
    except Exception as exc:
        guarded("v2.client_exception", fail_with_exception, op, exc)
        raise
    if getattr(result, "is_error", None) is True:
        guarded("v2.client_result", op.set_result, True, None, _count(getattr(result, "content", None)))
    elif op.method == TOOLS_CALL:
        guarded(
            "v2.client_result",
            op.set_result,
            False,
            lambda: _typed_tool_result_content(result),
            _count(getattr(result, "content", None)),
        )
    elif op.method == PROMPTS_GET:
        guarded(
            "v2.client_result",
            op.set_prompt_result,
            _count(getattr(result, "messages", None)),
            lambda: getattr(result, "description", None),
        )
    elif op.method in (INITIALIZE, SERVER_DISCOVER) and client_session is not None:
        guarded("v2.client_init", _update_client_session, op, client_session, result)
    return result


def _update_client_session(op: Operation, client_session: Any, result: Any) -> None:
    # The SDK adopts the result only after send_request returns: describe the session from the result.
    server_info = getattr(result, "server_info", None)
    version = getattr(result, "protocol_version", None)
    if isinstance(result, Mapping):  # server/discover returns the raw result, server info in its _meta
        meta = result.get("_meta")
        server_info = meta.get(_SERVER_INFO_META) if isinstance(meta, Mapping) else None
        version = version or op.message.session.protocol_version
    session = Session(
        server=_peer(server_info),
        protocol_version=version,
        session_id=_client_side_transport(client_session).current_session_id(),
    )
    op.update_session(session.attributes())


def _typed_tool_result_content(result: Any) -> Any:
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        return structured
    content = getattr(result, "content", None)
    if content is None:  # not a CallToolResult (a raw tools/call sent with another result type)
        dump = getattr(result, "model_dump", None)
        return dump(mode="json", by_alias=True, exclude_none=True) if dump is not None else result
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in content]


# --- client side: requests the server sends to the client


def _client_on_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            dctx, method, params = _request_args(*args, **kwargs)
            meta = params.get("_meta") if params else None
            message = Message(
                method=method,
                request_id=dctx.request_id,
                name=None,
                uri=None,
                carrier=meta if isinstance(meta, Mapping) else None,
                session=_client_session_for(instance),
                transport=_client_side_transport(instance),
            )
            op = telemetry.start_server_request(message)
        except Exception:
            log_failure_once("v2.client_on_request")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.client_on_request"):
            return await _answer(op, wrapped(*args, **kwargs))

    return wrapper


async def _answer(op: Operation, call: Any) -> Any:
    try:
        return await call
    except MCPError as exc:
        guarded("v2.client_answer_error", op.set_error_response, exc.error.code, exc.error.message)
        raise
    except Exception as exc:
        guarded("v2.client_answer_exception", fail_with_exception, op, exc)
        raise


# --- session lifetime (server: a loop-mode Connection; client: a ClientSession)


def _connection_for_loop(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    connection = wrapped(*args, **kwargs)
    guarded("v2.session_start", _clock.start, connection, transport_of(None, NO_TRANSPORT), SpanKind.SERVER)
    return connection


def _connection_close(telemetry: Telemetry) -> Callable[..., Any]:
    """``aclose_shielded(connection)``: the server side of a loop-mode connection ends.

    Every mcp 2.x driver (``serve_connection``, the dual-era loop's legacy and modern streams, ``serve_one``)
    calls it from the ``finally`` around ``dispatcher.run``, so the exception being handled when it is called
    is the one that ended the connection — a handler exception re-raised under ``raise_exceptions=True``
    (an exception group), a cancellation, a broken transport — and ``None`` after a normal close.
    """

    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        error = sys.exc_info()[1]
        try:
            return await wrapped(*args, **kwargs)
        finally:
            try:
                connection = args[0] if args else kwargs["connection"]
                cached = _sessions.pop(connection, None)
                session = (
                    cached[3] if cached is not None else Session(protocol_version=connection.protocol_version)
                )
                _clock.stop(telemetry, connection, SpanKind.SERVER, session, error)
            except Exception:
                log_failure_once("v2.session_close")

    return wrapper


async def _client_enter(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = await wrapped(*args, **kwargs)
    dispatcher = getattr(instance, "_dispatcher", None)
    if dispatcher is not None:
        guarded("v2.client_dispatcher", _client_dispatchers.__setitem__, dispatcher, weakref.ref(instance))
    guarded(
        "v2.client_session_start", _clock.start, instance, _client_side_transport(instance), SpanKind.CLIENT
    )
    return result


def _client_exit(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            try:
                error = args[1] if len(args) > 1 else kwargs.get("exc_val")
                cached = _client_sessions.pop(instance, None)
                session = cached[2] if cached is not None else NO_SESSION
                _clock.stop(telemetry, instance, SpanKind.CLIENT, session, error)
            except Exception:
                log_failure_once("v2.client_session_close")

    return wrapper


# --- notifications


def _dispatcher_notify(telemetry: Telemetry) -> Callable[..., Any]:
    """Every JSON-RPC notification either side sends: inject the trace context into its ``_meta`` (the SDK
    does so only for requests) and, unless a typed hook already opened its span (same method), open one —
    progress reported through the dispatch context and the SDK's own courtesy ``notifications/cancelled``
    pass only here."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            method, params = _notify_args(*args, **kwargs)
            active = active_operation()
            if active is None or active.kind is not SpanKind.CLIENT or active.method != method:
                owner = _client_dispatchers.get(instance)
                client = owner() if owner is not None else None
                if client is not None:
                    session, transport = _client_session_for(client), _client_side_transport(client)
                    direction, key = _TO_SERVER, client
                else:
                    (session, transport), direction, key = (
                        server_side_context(),
                        _TO_CLIENT,
                        server_side_key(),
                    )
                message = _notification_message(method, params, session, transport, direction, key)
                op = telemetry.start_client_request(message)
        except Exception:
            log_failure_once("v2.dispatcher_notify")
        if op is None:
            return await wrapped(*_with_meta(args, kwargs), **kwargs)
        with running(op, "v2.notify"):
            return await wrapped(*_with_meta(args, kwargs), **kwargs)

    return wrapper


def _notify_args(method: str, params: Any = None, *_: Any, **__: Any) -> tuple[str, Any]:
    return method, params


def _with_meta(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """``args`` of ``notify(method, params, ...)`` with the current trace context in a copy of ``params``
    (``kwargs`` is updated in place when ``params`` was passed by keyword)."""
    try:
        carrier: dict[str, Any] = {}
        inject(carrier)
        if not carrier:
            return args
        params = args[1] if len(args) >= 2 else kwargs.get("params")
        new = dict(params) if isinstance(params, Mapping) else {}
        meta = dict(new.get("_meta") or {})
        inject(meta)  # keeps any key the sender set
        new["_meta"] = meta
        if len(args) >= 2:
            return (args[0], new, *args[2:])
        if "params" in kwargs:
            kwargs["params"] = new
            return args
        return (*args, new)
    except Exception:
        log_failure_once("v2.notify_inject")
        return args


def _notification_message(
    method: str, params: Any, session: Session, transport: Transport, direction: str, key: Any
) -> Message:
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
    )


def _server_on_notify(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            dctx, method, params = _request_args(*args, **kwargs)
            metadata = getattr(dctx, "message_metadata", None)
            transport = transport_of(getattr(metadata, "request_context", None))
            message = _notification_message(
                method, params, _session_for(instance, transport), transport, _TO_SERVER, instance.connection
            )
            op = telemetry.start_server_request(message)
        except Exception:
            log_failure_once("v2.server_on_notify")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.server_on_notify"):
            return await wrapped(*args, **kwargs)

    return wrapper


def _client_on_notify(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            dctx, method, params = _request_args(*args, **kwargs)
            message = _notification_message(
                method,
                params,
                _client_session_for(instance),
                _client_side_transport(instance),
                _TO_CLIENT,
                instance,
            )
            op = telemetry.start_server_request(message)
        except Exception:
            log_failure_once("v2.client_on_notify")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.client_on_notify"):
            return await wrapped(*args, **kwargs)

    return wrapper


def _send_notification(
    telemetry: Telemetry,
    context: Callable[[Any], tuple[Session, Transport]],
    key: Callable[[Any], Any],
    direction: str,
    where: str,
) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            notification = args[0] if args else kwargs["notification"]
            session, transport = context(instance)
            params = notification.model_dump(by_alias=True, mode="json", exclude_none=True).get("params")
            op = telemetry.start_client_request(
                _notification_message(
                    notification.method, params, session, transport, direction, key(instance)
                )
            )
        except Exception:
            log_failure_once(where)
        if op is None:
            return await wrapped(*args, **kwargs)

        # the dispatcher hook injects the trace context while this span is current
        with running(op, where):
            return await wrapped(*args, **kwargs)

    return wrapper


def _client_send_notification(telemetry: Telemetry) -> Callable[..., Any]:
    return _send_notification(
        telemetry,
        lambda client: (_client_session_for(client), _client_side_transport(client)),
        lambda client: client,
        _TO_SERVER,
        "v2.client_send_notification",
    )


def _server_notify(telemetry: Telemetry) -> Callable[..., Any]:
    return _send_notification(
        telemetry,
        lambda server: server_side_context(),
        lambda server: server_side_key(),
        _TO_CLIENT,
        "v2.server_notify",
    )


def _report_progress(telemetry: Telemetry) -> Callable[..., Any]:
    """An ``mcp.progress`` event on the request being handled and a CLIENT span for the notification (on
    every path: the dispatcher hooks inject its context but open no second span)."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op: Operation | None = None
        try:
            progress, total = _progress_args(*args, **kwargs)
            request = active_request()
            if request is not None:
                request.record_progress(progress, total)
            session, transport = server_side_context()
            message = _notification_message(
                NOTIFICATIONS_PROGRESS, None, session, transport, _TO_CLIENT, server_side_key()
            )
            op = telemetry.start_client_request(message)
        except Exception:
            log_failure_once("v2.report_progress")
        if op is None:
            return await wrapped(*args, **kwargs)
        with running(op, "v2.report_progress"):
            return await wrapped(*args, **kwargs)

    return wrapper


def _progress_args(
    progress: float, total: float | None = None, *_: Any, **__: Any
) -> tuple[float, float | None]:
    return progress, total


__all__ = ["EnrichingTracer", "SilentTracer", "patches", "uninstall"]
