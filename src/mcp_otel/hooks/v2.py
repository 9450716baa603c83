"""Hooks for mcp 2.x (2.0 … 2.3): ``ServerRunner._on_request`` and the SDK's built-in OpenTelemetry.

- ``ServerRunner._on_request`` sees every inbound request of every transport and protocol era
  (``initialize``, ``server/discover``, custom methods …) outside the SDK's middleware chain: it opens the
  SERVER span, runs the chain with it current, and reads the wire result or the exception the dispatcher
  turns into an error.
- ``MCPServer.call_tool`` sees the exception a tool raised before ``MCPServer`` turns it into ``isError``.
- ``mcp.shared._otel._tracer`` is replaced with a tracer that creates and attaches nothing, so the SDK's own
  spans never stack on ours while its ``_meta`` injection keeps working (it injects the current span: ours).
- Transport hooks set :data:`mcp_otel.transport.transport_hint` (stdio vs in-memory look alike otherwise).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mcp.shared.exceptions import MCPError
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span
from pydantic import ValidationError

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.common import guarded, original_exception, run_operation
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.model import MEMORY, STDIO, Message, Peer, Session, Transport, is_sessionless
from mcp_otel.telemetry import Operation, Telemetry, active_request
from mcp_otel.transport import TransportScope, transport_of

_NAMED = frozenset({"tools/call", "prompts/get"})
_INTERNAL_ERROR = -32603
_INVALID_PARAMS = -32602
# Connection → (client_params, protocol_version, session_id, Session): rebuilt when any of the three changes.
_sessions: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any, Session]] = weakref.WeakKeyDictionary()


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
        """Yield the invalid span without attaching anything to the context."""
        yield INVALID_SPAN


def patches(telemetry: Telemetry) -> list[Patch | Replace]:
    """The wrappers mcp-otel installs on mcp 2.x, bound to ``telemetry``."""
    hint_stdio = _hint_wrapper(lambda instance: STDIO)
    hint_memory = _hint_wrapper(lambda instance: MEMORY)
    return [
        Patch("mcp.server.runner", "ServerRunner._on_request", _on_request(telemetry)),
        Patch("mcp.server.mcpserver.server", "MCPServer.call_tool", _call_tool),
        Replace("mcp.shared._otel", "_tracer", lambda original: SilentTracer()),
        Patch("mcp.server.stdio", "stdio_server", hint_stdio),
        Patch("mcp", "stdio_server", hint_stdio),
        Patch("mcp.server.mcpserver.server", "stdio_server", hint_stdio),
        Patch("mcp.shared.memory", "create_client_server_memory_streams", hint_memory),
        Patch("mcp.client._memory", "create_client_server_memory_streams", hint_memory),
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
    """Forget per-session state."""
    _sessions.clear()


def _hint_wrapper(hint: Callable[[Any], Transport]) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            return TransportScope(manager, lambda: hint(instance))
        except Exception:
            log_failure_once("v2.transport_hint")
            return manager

    return wrapper


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
        if method in _NAMED:
            value = params.get("name")
            name = value if isinstance(value, str) else None
        value = params.get("uri")
        uri = value if isinstance(value, str) else None
        meta = params.get("_meta")
        carrier = meta if isinstance(meta, Mapping) else None
    if method == "initialize" and params:
        session = Session(
            client=_peer(params.get("clientInfo")),
            server=_server_peer(runner.server),
            protocol_version=params.get("protocolVersion"),
            session_id=runner.connection.session_id or transport.session_id,
        )
    else:
        session = _session_for(runner, transport)
    return Message(
        method=method,
        request_id=dctx.request_id,
        name=name,
        uri=uri,
        carrier=carrier,
        session=session,
        transport=transport,
        arguments=(lambda: params.get("arguments")) if params else None,
    )


# --- wrappers


def _on_request(telemetry: Telemetry) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: Operation | None = None
        try:
            dctx, method, params = _request_args(*args, **kwargs)
            described = _describe(instance, dctx, method, params)
            request = telemetry.start_server_request(described)
        except Exception:
            log_failure_once("v2.on_request")
        if request is None:
            return await wrapped(*args, **kwargs)
        return await run_operation(
            request,
            lambda: _observe(request, instance, dctx, described, wrapped(*args, **kwargs)),
            "v2.on_request",
        )

    return wrapper


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
    if described.method == "tools/call":
        request.set_result(result.get("isError") is True, lambda: _tool_result_content(result))
    elif described.method == "initialize":  # the SDK committed the negotiated session state after the chain
        request.update_session(_session_for(runner, described.transport).attributes())


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


__all__ = ["SilentTracer", "patches", "uninstall"]
