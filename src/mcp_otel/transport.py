"""Which transport a message came over: a context variable set by the transport hooks, and HTTP requests.

stdio and in-memory messages look the same to the dispatch layer, so the hooks around ``stdio_server`` and the
memory-stream factories set :data:`transport_hint` before the server's tasks start (they inherit it). HTTP and
SSE requests carry the Starlette request, which tells the rest (peer address, HTTP version, session id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from mcp_otel.model import MEMORY, STDIO, UNKNOWN, SessionIdSource, Transport

transport_hint: ContextVar[Transport | None] = ContextVar("mcp_otel_transport", default=None)

_SESSION_HEADER = "mcp-session-id"
#: What the SDK's HTTP client transports speak: httpx, whose clients use HTTP/1.1 unless built with
#: ``http2=True`` (an optional extra); a caller's client that may speak HTTP/2 gets no version recorded.
_HTTPX_HTTP_VERSION = "1.1"


def _speaks_http2(client: Any) -> bool:
    """Whether an httpx client handed to the SDK may negotiate HTTP/2 (its connection pool's flag)."""
    if client is None:
        return False
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    return bool(getattr(pool, "_http2", False))


def transport_of(http_request: Any, default: Transport | None = None) -> Transport:
    """Describe the transport of one message.

    Args:
        http_request: the Starlette ``Request`` the SDK attached to the message (``None``: stdio/in-memory).
        default: what to assume when neither a request nor a hint says anything (``None`` → unknown).
    """
    hint = transport_hint.get()
    if http_request is None:
        return hint or default or UNKNOWN
    scope = getattr(http_request, "scope", None)
    if not isinstance(scope, dict) or scope.get("type") != "http":
        return hint or default or UNKNOWN
    query = scope.get("query_string", b"")
    sse_session = _query_param(query, b"session_id") if query else None
    client = scope.get("client")
    host, port = (client[0], client[1]) if client else (None, None)
    session_id: str | None
    if sse_session is not None:
        kind, session_id = "sse", sse_session
    else:
        kind = "http"
        session_id = _header(scope, _SESSION_HEADER.encode()) or (hint.session_id if hint else None)
    return Transport(
        kind=kind,
        client_address=host,
        client_port=port,
        http_version=scope.get("http_version"),
        session_id=session_id,
    )


def _query_param(query: bytes, name: bytes) -> str | None:
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key == name:
            return value.decode("latin-1")
    return None


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class TransportScope:
    """Wrap an async context manager (a transport) so :data:`transport_hint` is set while it is entered.

    Args:
        manager: the transport's async context manager (what ``stdio_server()`` returned).
        hint: the transport to record, or a callable computing it when entered.
    """

    def __init__(self, manager: Any, hint: Transport | Callable[[], Transport]) -> None:
        self._manager = manager
        self._hint = hint
        self._token: Any = None

    async def __aenter__(self) -> Any:
        try:
            hint = self._hint() if callable(self._hint) else self._hint
            self._token = transport_hint.set(hint)
        except Exception:  # never let the hint break the transport
            from mcp_otel._guard import log_failure_once

            log_failure_once("transport.hint")
        return await self._manager.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        try:
            result: bool | None = await self._manager.__aexit__(exc_type, exc, tb)
        finally:
            if self._token is not None:
                with contextlib.suppress(ValueError):  # exited in another context (exit stack across tasks)
                    transport_hint.reset(self._token)
                self._token = None
        return result


HintFactory = Callable[[Any, tuple[Any, ...], dict[str, Any]], Transport]
"""``factory(instance, args, kwargs) -> Transport``: the hint for one call of a wrapped transport function."""


def hint_wrapper(factory: HintFactory) -> Callable[..., Any]:
    """A wrapt wrapper for a transport's async-context-manager function that sets :data:`transport_hint`."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            return TransportScope(manager, lambda: factory(instance, args, kwargs))
        except Exception:
            from mcp_otel._guard import log_failure_once

            log_failure_once("transport.hint_wrapper")
            return manager

    return wrapper


def constant_hint(transport: Transport) -> Callable[..., Any]:
    """:func:`hint_wrapper` for a transport whose hint does not depend on the call."""
    return hint_wrapper(lambda instance, args, kwargs: transport)


def url_hint(kind: str) -> Callable[..., Any]:
    """:func:`hint_wrapper` for an HTTP client transport (``url`` first argument): ``server.address/port``.

    Streamable HTTP clients also get a :class:`~mcp_otel.model.SessionIdSource` that
    :func:`register_http_client_transport` connects to the SDK's transport object.
    """

    def factory(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Transport:
        url = args[0] if args else kwargs.get("url")
        parts = urlsplit(str(url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        source = SessionIdSource() if kind == "http" else None
        return Transport(
            kind=kind,
            server_address=parts.hostname,
            server_port=port,
            http_version=None if _speaks_http2(kwargs.get("http_client")) else _HTTPX_HTTP_VERSION,
            session_source=source,
        )

    return hint_wrapper(factory)


def register_http_client_transport(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of the SDK's ``StreamableHTTPTransport.__init__``: connect it to the current hint's source."""
    result = wrapped(*args, **kwargs)
    try:
        hint = transport_hint.get()
        if hint is not None and hint.session_source is not None and hint.session_source.transport is None:
            hint.session_source.transport = instance
    except Exception:
        from mcp_otel._guard import log_failure_once

        log_failure_once("transport.http_client")
    return result


def server_http_hint() -> Callable[..., Any]:
    """:func:`hint_wrapper` for ``StreamableHTTPServerTransport.connect``: ``http`` and its session id."""
    return hint_wrapper(
        lambda instance, args, kwargs: Transport(kind="http", session_id=instance.mcp_session_id)
    )


__all__ = [
    "MEMORY",
    "STDIO",
    "TransportScope",
    "constant_hint",
    "hint_wrapper",
    "register_http_client_transport",
    "server_http_hint",
    "transport_hint",
    "transport_of",
    "url_hint",
]
