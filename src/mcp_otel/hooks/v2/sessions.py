"""mcp 2.x sessions: who the peers are, per connection / ``ClientSession``, and how long sessions last.

The server side of a session is a ``mcp.server.connection.Connection``; the client side a
``mcp.client.session.ClientSession``. Their :class:`~mcp_otel.model.Session` is described once and reused
until what it describes changes (``initialize``).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import NO_SESSION, NO_TRANSPORT, IdentityMap, SessionClock, client_transport
from mcp_otel.hooks.factory import Args, Kwargs, after, on_exit
from mcp_otel.hooks.patching import Patch
from mcp_otel.hooks.v2.cancellation import CancelReasons
from mcp_otel.model import MEMORY, Peer, Session, Transport, is_sessionless
from mcp_otel.telemetry import Telemetry
from mcp_otel.transport import transport_of


def peer(info: Any) -> Peer | None:
    """An ``Implementation`` (model or raw mapping) as a :class:`Peer`."""
    if info is None:
        return None
    if isinstance(info, Mapping):
        return Peer(name=info.get("name"), title=info.get("title"), version=info.get("version"))
    return Peer(name=info.name, title=getattr(info, "title", None), version=getattr(info, "version", None))


def server_peer(server: Any) -> Peer:
    """The server identity of a lowlevel ``Server`` (version ``""`` means none)."""
    return Peer(name=server.name, title=getattr(server, "title", None), version=server.version or None)


def client_side_transport(client_session: Any) -> Transport:
    """The transport of a ``ClientSession`` (in-process ``Client(server)`` dispatches directly: memory)."""
    direct = type(getattr(client_session, "_dispatcher", None)).__name__ == "DirectDispatcher"
    return client_transport(MEMORY if direct else None)


class SessionState:
    """The per-session state of one instrumentation: built by the hook set, dropped by ``uninstrument()``."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        # Connection → (client_params, protocol_version, session_id, Session): rebuilt when one changes.
        self.sessions: IdentityMap[tuple[Any, Any, Any, Session]] = IdentityMap()
        # ClientSession → (server_info, protocol_version, Session).
        self.client_sessions: IdentityMap[tuple[Any, Any, Session]] = IdentityMap()
        # JSONRPCDispatcher of a ClientSession → that session (its notifications travel client → server).
        self.client_dispatchers: IdentityMap[weakref.ref[Any]] = IdentityMap()
        self.clock = SessionClock()
        # A cancelled request's dispatch context (its cancel_requested event) → the peer's reason.
        self.cancel_reasons = CancelReasons()

    def clear(self) -> None:
        """Forget every session (uninstrument)."""
        self.sessions.clear()
        self.client_sessions.clear()
        self.client_dispatchers.clear()
        self.clock.clear()
        self.cancel_reasons.clear()

    def sizes(self) -> dict[str, int]:
        """How many entries each per-session map holds (for leak tests and the bench)."""
        return {
            "_sessions": len(self.sessions),
            "_client_sessions": len(self.client_sessions),
            "_clock._started": len(self.clock._started),
            "_cancel_reasons": len(self.cancel_reasons),
        }

    # --- describing sessions

    def session_for(self, runner: Any, transport: Transport) -> Session:
        """The server-side session of ``runner``'s connection."""
        connection = runner.connection
        params = connection.client_params
        version = connection.protocol_version
        session_id = connection.session_id or transport.session_id
        cached = self.sessions.get(connection)
        if cached is not None and cached[0] is params and cached[1] == version and cached[2] == session_id:
            return cached[3]
        session = Session(
            client=peer(getattr(params, "client_info", None)) if params is not None else None,
            server=server_peer(runner.server),
            protocol_version=version,
            session_id=session_id,
        )
        if not is_sessionless(version):  # sessionless connections live for one request: nothing to reuse
            self.sessions.set(connection, (params, version, session_id, session))
            self.clock.refine(connection, transport)
        return session

    def client_session_for(self, client_session: Any) -> Session:
        """The client-side session of a ``ClientSession``."""
        server_info = client_session.server_info
        version = client_session.protocol_version
        cached = self.client_sessions.get(client_session)
        if cached is not None and cached[0] is server_info and cached[1] == version:
            return cached[2]
        session_id = client_side_transport(client_session).current_session_id()
        session = Session(server=peer(server_info), protocol_version=version, session_id=session_id)
        if server_info is not None:  # cache once initialized (the session id is known by then)
            self.client_sessions.set(client_session, (server_info, version, session))
        return session

    def client_of_dispatcher(self, dispatcher: Any) -> Any:
        """The ``ClientSession`` that owns ``dispatcher``, or ``None`` (a server-side dispatcher)."""
        owner = self.client_dispatchers.get(dispatcher)
        return owner() if owner is not None else None

    # --- session lifetime (server: a loop-mode Connection; client: a ClientSession)

    def _connection_opened(self, instance: Any, args: Args, kwargs: Kwargs, connection: Any) -> None:
        self.clock.start(connection, transport_of(None, NO_TRANSPORT), SpanKind.SERVER)

    def _connection_closed(self, instance: Any, args: Args, kwargs: Kwargs, error: Any) -> None:
        # Every driver calls aclose_shielded(connection) from the ``finally`` around ``dispatcher.run``: the
        # exception being handled then is the one that ended the connection (None after a normal close).
        connection = args[0] if args else kwargs["connection"]
        cached = self.sessions.pop(connection)
        session = cached[3] if cached is not None else Session(protocol_version=connection.protocol_version)
        self.clock.stop(self.telemetry, connection, SpanKind.SERVER, session, error)

    def _client_opened(self, instance: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
        dispatcher = getattr(instance, "_dispatcher", None)
        if dispatcher is not None:
            self.client_dispatchers.set(dispatcher, weakref.ref(instance))
        self.clock.start(instance, client_side_transport(instance), SpanKind.CLIENT)

    def _client_closed(self, instance: Any, args: Args, kwargs: Kwargs, error: Any) -> None:
        error = args[1] if len(args) > 1 else kwargs.get("exc_val")
        cached = self.client_sessions.pop(instance)
        session = cached[2] if cached is not None else NO_SESSION
        self.clock.stop(self.telemetry, instance, SpanKind.CLIENT, session, error)

    def patches(self) -> list[Patch]:
        """The session-lifetime seams (and the one that keeps the reasons of cancellations)."""
        return [
            after("mcp.server.connection", "Connection.for_loop", self._connection_opened),
            on_exit("mcp.server.runner", "aclose_shielded", self._connection_closed),
            after("mcp.client.session", "ClientSession.__aenter__", self._client_opened),
            on_exit("mcp.client.session", "ClientSession.__aexit__", self._client_closed),
            *self.cancel_reasons.patches(),
        ]
