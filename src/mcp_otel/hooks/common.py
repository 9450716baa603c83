"""Helpers shared by the SDK hook modules."""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from opentelemetry.trace import SpanKind

from mcp_otel import listeners
from mcp_otel._guard import log_failure_once
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL, Session, Transport
from mcp_otel.telemetry import Operation, Telemetry, active_request
from mcp_otel.transport import transport_hint

_SDK_MODULES = ("mcp.", "fastmcp.")
NAMED_METHODS = frozenset({TOOLS_CALL, PROMPTS_GET})
NO_SESSION = Session()
NO_TRANSPORT = Transport()
V = TypeVar("V")


class IdentityMap(Generic[V]):
    """Per-SDK-object state, keyed by identity and held weakly: an entry goes when its key object goes.

    Unlike a ``WeakKeyDictionary`` it needs no hashable key (mcp 2.3's ``_SingleExchangeDispatchContext`` is
    an unhashable dataclass) and allocates nothing per lookup. A key that cannot be weakly referenced is not
    stored (:meth:`get` then returns the default): state is an optimisation, never a condition for a span.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref[Any], V]] = {}

    def get(self, key: Any, default: V | None = None) -> V | None:
        """The value stored for ``key`` (the very object), else ``default``."""
        entry = self._items.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return default

    def set(self, key: Any, value: V) -> None:
        """Store ``value`` for ``key`` until ``key`` is garbage-collected (or popped)."""
        items = self._items
        ident = id(key)

        def forget(ref: weakref.ref[Any]) -> None:
            entry = items.get(ident)
            if entry is not None and entry[0] is ref:
                del items[ident]

        try:
            ref = weakref.ref(key, forget)
        except TypeError:
            return
        items[ident] = (ref, value)

    def pop(self, key: Any, default: V | None = None) -> V | None:
        """Remove and return the value stored for ``key``, else ``default``."""
        entry = self._items.get(id(key))
        if entry is None or entry[0]() is not key:
            return default
        del self._items[id(key)]
        return entry[1]

    def clear(self) -> None:
        """Forget every entry."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def original_exception(exc: BaseException) -> BaseException:
    """Unwrap the SDKs' wrapper exceptions (``ToolError(...) from e``) to the exception the user code raised.

    Only exceptions defined in ``mcp`` / ``fastmcp`` modules are unwrapped, so a user's own ``raise X from Y``
    keeps ``X``.
    """
    seen = 0
    while exc.__cause__ is not None and type(exc).__module__.startswith(_SDK_MODULES) and seen < 8:
        exc = exc.__cause__
        seen += 1
    return exc


def guarded(where: str, func: Callable[..., Any], *args: Any) -> None:
    """Call ``func(*args)``; log (once) and swallow any exception it raises."""
    try:
        func(*args)
    except Exception:
        log_failure_once(where)


def access_token_of(http_request: Any) -> Any:
    """The access token the SDK's OAuth auth verified for ``http_request`` (a Starlette request), for the
    :data:`mcp_otel.facts.ACCESS_TOKEN` fact; ``None`` without auth or when no fact listener is registered.

    Read from the request scope's ``user`` (the SDK's ``AuthenticatedUser``, set by its
    ``BearerAuthBackend``): the object ``mcp.server.auth.middleware.auth_context.get_access_token()`` returns
    in the request's own task, reachable here on every mcp version whatever task handles the message.
    """
    if http_request is None or not listeners.fact_receivers:
        return None
    scope = getattr(http_request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return getattr(user, "access_token", None)


def server_side_context() -> tuple[Session, Transport]:
    """Session and transport of a server→client request: those of the request being handled, if any."""
    active = active_request()
    if active is not None:
        return active.message.session, active.message.transport
    return NO_SESSION, transport_hint.get() or NO_TRANSPORT


def server_side_key() -> Any:
    """The session key of the request being handled (for server→client messages), if any."""
    active = active_request()
    return active.message.session_key if active is not None else None


# (model class, name) → whether the class declares the name (a pydantic field or a class attribute)
_declared: dict[tuple[type, str], bool] = {}


def optional_field(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)``, without the exception pydantic raises for a name its model lacks.

    A pydantic model answers an undeclared name from a Python ``__getattr__`` that formats and raises an
    ``AttributeError`` (about 5 µs: a ``uri`` read on every ``tools/call`` request's params). Whether the
    model class declares the name is looked up once per class; an undeclared name is then read from the
    model's extra fields only (where pydantic's ``__getattr__`` would find it). Any other object: ``getattr``.
    """
    cls = type(obj)
    key = (cls, name)
    declared = _declared.get(key)
    if declared is None:
        fields = getattr(cls, "__pydantic_fields__", None)
        declared = _declared[key] = not isinstance(fields, dict) or name in fields or hasattr(cls, name)
    if declared:
        return getattr(obj, name, None)
    extra = getattr(obj, "__pydantic_extra__", None)
    return extra.get(name) if isinstance(extra, dict) else None


def client_transport(default: Transport | None = None) -> Transport:
    """The transport a client session uses, as the client transport hooks recorded it."""
    return transport_hint.get() or default or NO_TRANSPORT


def record_send_failure(op: Operation, exc: BaseException, protocol_error: type[BaseException]) -> None:
    """A request this process sent ended in ``exc``: a JSON-RPC error response (``protocol_error``, the SDK's
    ``McpError`` / ``MCPError``) or a failure (any other ``Exception``; cancellation is neither)."""
    if isinstance(exc, protocol_error):
        error = exc.error  # type: ignore[attr-defined]
        op.set_error_response(error.code, error.message)
    elif isinstance(exc, Exception):
        fail_with_exception(op, exc)


def fail_with_exception(op: Operation, exc: BaseException) -> None:
    """Record an exception that ends an operation (not a JSON-RPC error): event, ``error.type``, ERROR."""
    op.set_exception(exc)
    op.set_error(type(exc).__qualname__, str(exc))


class SessionClock:
    """Measures MCP session lifetimes for the ``mcp.{server,client}.session.duration`` histograms.

    Keyed weakly by the SDK's session object, so a session that is never closed leaves nothing behind.
    """

    def __init__(self) -> None:
        self._started: IdentityMap[tuple[float, Transport]] = IdentityMap()

    def start(self, key: Any, transport: Transport, kind: SpanKind) -> None:
        """Remember that the session ``key`` (the ``kind`` side of it) started now, over ``transport``."""
        self._started.set(key, (time.perf_counter(), transport))
        if listeners.listeners():
            listeners.notify("on_session_start", key, kind, transport)

    def refine(self, key: Any, transport: Transport) -> None:
        """Add the HTTP version of a request of session ``key`` to the transport it started with.

        A session starts before any HTTP request of it is read; its operations learn the version from their
        requests, and its duration point gets it from the first request that tells it.
        """
        entry = self._started.get(key)
        if entry is None or entry[1].http_version or not transport.http_version:
            return
        started, known = entry
        self._started.set(key, (started, dataclasses.replace(known, http_version=transport.http_version)))

    def stop(
        self, telemetry: Telemetry, key: Any, kind: SpanKind, session: Session, error: BaseException | None
    ) -> None:
        """Record the duration of session ``key`` (if it was started); ``error`` ended it, if any.

        Cancellation and other ``BaseException`` shutdowns are a normal end, not an error.
        """
        entry = self._started.pop(key, None)
        if entry is None:
            return
        started, transport = entry
        failure = error if isinstance(error, Exception) else None
        telemetry.record_session(kind, started, session, transport, failure)
        if listeners.listeners():  # listeners see how it really ended (cancellation, SystemExit …)
            listeners.notify("on_session_end", key, kind, session, error)

    def clear(self) -> None:
        """Forget every running session (uninstrument)."""
        self._started.clear()
