"""mcp 1.x sessions: who the peers are, per ``ServerSession`` / ``ClientSession``, and how long sessions last.

A session's :class:`~mcp_otel.model.Session` is described once it is initialized and reused for every
message of that session.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import NO_SESSION, NO_TRANSPORT, IdentityMap, SessionClock
from mcp_otel.hooks.factory import Args, Kwargs, after, on_exit
from mcp_otel.hooks.patching import Patch
from mcp_otel.model import Peer, Session, Transport
from mcp_otel.telemetry import Operation, Telemetry
from mcp_otel.transport import transport_of

_PROTOCOL_VERSION_HEADER = "mcp-protocol-version"


def peer(info: Any) -> Peer | None:
    """An ``Implementation`` model as a :class:`Peer`."""
    if info is None:
        return None
    return Peer(name=info.name, title=getattr(info, "title", None), version=info.version)


def server_peer(server_session: Any) -> Peer | None:
    """The server identity a ``ServerSession`` was started with."""
    options = getattr(server_session, "_init_options", None)
    if options is None:
        return None
    return Peer(
        name=options.server_name,
        title=getattr(options, "title", None),
        version=options.server_version or None,
    )


class SessionState:
    """The per-session state of one instrumentation: built by the hook set, dropped by ``uninstrument()``."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.sessions: IdentityMap[Session] = IdentityMap()  # ServerSession → Session
        self.client_sessions: IdentityMap[Session] = IdentityMap()  # ClientSession → Session
        self.in_flight: IdentityMap[Operation] = IdentityMap()  # RequestResponder → its request's operation
        self.clock = SessionClock()

    def clear(self) -> None:
        """Forget every session (uninstrument)."""
        self.sessions.clear()
        self.client_sessions.clear()
        self.in_flight.clear()
        self.clock.clear()

    def sizes(self) -> dict[str, int]:
        """How many entries each per-session map holds (for leak tests and the bench)."""
        return {
            "_sessions": len(self.sessions),
            "_client_sessions": len(self.client_sessions),
            "_in_flight": len(self.in_flight),
            "_clock._started": len(self.clock._started),
        }

    def session_for(self, server_session: Any, transport: Transport, http_request: Any = None) -> Session:
        """The server side of ``server_session``."""
        session = self.sessions.get(server_session)
        if session is None:
            params = server_session.client_params
            version = params.protocolVersion if params is not None else None
            if version is None and http_request is not None:
                # Stateless HTTP: a fresh ServerSession per POST never saw initialize; the client sends the
                # negotiated version with every request.
                version = http_request.headers.get(_PROTOCOL_VERSION_HEADER)
            session = Session(
                client=peer(params.clientInfo) if params is not None else None,
                server=server_peer(server_session),
                protocol_version=version,
                session_id=transport.session_id,
            )
            if params is not None:  # cache once initialized
                self.sessions.set(server_session, session)
        return session

    def client_session(self, client_session: Any) -> Session:
        """The client side of ``client_session`` (nothing known before ``initialize``)."""
        return self.client_sessions.get(client_session, NO_SESSION) or NO_SESSION

    # --- session lifetime

    def _opened(self, kind: SpanKind) -> Any:
        def observe(instance: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
            self.clock.start(instance, transport_of(None, NO_TRANSPORT), kind)

        return observe

    def _closed(self, kind: SpanKind, sessions: IdentityMap[Session]) -> Any:
        def observe(instance: Any, args: Args, kwargs: Kwargs, error: Any) -> None:
            error = args[1] if len(args) > 1 else kwargs.get("exc_val")
            session = sessions.pop(instance, NO_SESSION) or NO_SESSION
            self.clock.stop(self.telemetry, instance, kind, session, error)

        return observe

    def patches(self) -> list[Patch]:
        """The session-lifetime seams (``__aenter__`` / ``__aexit__`` each side inherits from BaseSession)."""
        client, server = "mcp.client.session", "mcp.server.session"
        return [
            after(client, "ClientSession.__aenter__", self._opened(SpanKind.CLIENT)),
            on_exit(client, "ClientSession.__aexit__", self._closed(SpanKind.CLIENT, self.client_sessions)),
            after(server, "ServerSession.__aenter__", self._opened(SpanKind.SERVER)),
            on_exit(server, "ServerSession.__aexit__", self._closed(SpanKind.SERVER, self.sessions)),
        ]
