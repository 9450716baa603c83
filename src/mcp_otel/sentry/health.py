"""Release health: each MCP server session becomes one Sentry session; sessionless servers report requests.

:class:`ReleaseHealth` is an mcp-otel listener. A server-side MCP session (stdio, in-memory, stateful
streamable HTTP, SSE) is one Sentry *application-mode* session, started when the MCP session starts and sent
once when it ends, with the release and environment of the Sentry client. Its outcome:

==============  =========================================================================================
``exited``      the session closed normally and no request failed
``errored``     it closed normally but a tool error or a handler exception happened (sent as ``exited`` with
                ``errors`` > 0, which is how Sentry's release health counts an errored session)
``crashed``     an exception (not a transport error) ended the session
``abnormal``    the transport dropped without a close: the session ended with a connection error, its SDK
                object was discarded without a close, or the process exited while it was open
==============  =========================================================================================

Stateless streamable HTTP servers and the 2026-07-28 protocol have no protocol sessions: each request they
handle is one *request-mode* session, aggregated per minute by sentry-sdk (``exited`` / ``errored``).

No PII: the distinct id (``did``) and the IP address are sent only when user data is allowed
(``send_default_pii`` / ``data_collection.user_info`` / ``send_user_info=True``), and then they are the HTTP
client's address. The MCP client's ``name/version`` is sent as user agent. Sessions are sent only while
sentry-sdk's ``auto_session_tracking`` is on (its default) and a ``release`` is set (Sentry drops sessions
without one).
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sentry_sdk
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sentry_sdk.session import Session as SentrySession

from mcp_otel._guard import log_failure_once
from mcp_otel.listeners import McpListener, add_listener, remove_listener
from mcp_otel.model import Session, Transport, is_sessionless
from mcp_otel.sentry.options import SentryMcpOptions, client_options_of
from mcp_otel.sentry.session_outcome import (
    ABNORMAL,
    ERRORED,
    EXITED,
    close_session,
    is_transport_error,
    outcome,
    request_failed,
    utc_now,
)
from mcp_otel.sentry.tracked_session import TrackedSession, key_holder, user_agent

if TYPE_CHECKING:
    from mcp_otel.telemetry import OperationView as Operation  # listeners get a read-only view

# outcome / is_transport_error live in session_outcome; re-exported as they were defined here
__all__ = ["MAX_SESSIONS", "ReleaseHealth", "is_transport_error", "outcome"]

MAX_SESSIONS = 100_000
"""At most this many open sessions are tracked (beyond that, new ones are not reported)."""


class ReleaseHealth(McpListener):
    """Listener that reports MCP sessions as Sentry release-health sessions (see the module docs).

    Args:
        options: whether user data may be sent (default: follow the Sentry client).
        client_sessions: also report the sessions this process opens as an MCP *client* (off: an agent
            talking to several MCP servers would report one Sentry session per server connection).
    """

    def __init__(self, options: SentryMcpOptions | None = None, *, client_sessions: bool = False) -> None:
        self.options = options or SentryMcpOptions()
        self.client_sessions = client_sessions
        self._lock = threading.Lock()
        self._sessions: dict[int, TrackedSession] = {}
        # Sessions whose SDK object was garbage-collected: the finalizer only queues them (it may run in
        # the middle of any code of this thread, even while it holds the lock or sentry-sdk's own locks);
        # the next callback reports them.
        self._abandoned_sessions: deque[tuple[int, TrackedSession]] = deque()
        self._installed = False

    def install(self) -> None:
        """Start listening (and end the sessions still open at interpreter exit as ``abnormal``)."""
        add_listener(self)
        if not self._installed:
            self._installed = True
            atexit.register(self._at_exit)

    def uninstall(self) -> None:
        """Stop listening and forget open sessions (they are not reported)."""
        remove_listener(self)
        if self._installed:
            self._installed = False
            atexit.unregister(self._at_exit)
        with self._lock:
            tracked = list(self._sessions.values())
            self._sessions.clear()
            self._abandoned_sessions.clear()
        for item in tracked:
            item.done = True
            if item.finalizer is not None:
                item.finalizer.detach()

    def open_sessions(self) -> int:
        """How many reported sessions are open now."""
        self._report_abandoned()
        with self._lock:
            return sum(1 for t in self._sessions.values() if self._reported(t))

    # -- listener callbacks --------------------------------------------------------------------------------

    def on_session_start(self, key: Any, kind: SpanKind, transport: Transport) -> None:
        """Track the session ``key``; on mcp 1.x a stateless HTTP request has its own (sessionless) one."""
        try:
            self._report_abandoned()
            ident = id(key)
            # mcp 1.x stateless streamable HTTP runs one ServerSession per request, without a session id
            sessionless = transport.kind == "http" and transport.session_id is None
            tracked = TrackedSession(kind, utc_now(), transport, sessionless, key_holder(key))
            with self._lock:
                if len(self._sessions) >= MAX_SESSIONS:
                    return
                displaced = self._sessions.get(ident)
                if displaced is not None and displaced.key() is not key:
                    # the id of a collected key whose finalizer has not run yet: report that session too
                    self._abandoned_sessions.append((ident, displaced))
                self._sessions[ident] = tracked
            try:
                tracked.finalizer = weakref.finalize(key, self._abandoned, ident, tracked)
                tracked.finalizer.atexit = False  # the exit hook reports open sessions itself
            except TypeError:  # a key without weak references: no abandonment detection
                pass
        except Exception:
            log_failure_once("sentry.health.on_session_start")

    def on_operation_end(self, operation: Operation) -> None:
        """Count a failed request against its session, or report a sessionless request."""
        try:
            self._operation_end(operation)
        except Exception:
            log_failure_once("sentry.health.on_operation_end")

    def on_session_end(self, key: Any, kind: SpanKind, session: Session, error: BaseException | None) -> None:
        """Report the session ``key``: ``exited``, ``errored``, ``crashed`` or ``abnormal``."""
        try:
            with self._lock:
                tracked = self._lookup(key)
                if tracked is not None:
                    del self._sessions[id(key)]
                    tracked.done = True
            self._report_abandoned()
            if tracked is None:
                return
            if tracked.finalizer is not None:
                tracked.finalizer.detach()
            tracked.session = session
            if self._reported(tracked):
                self._send(tracked, outcome(error, tracked.errors))
        except Exception:
            log_failure_once("sentry.health.on_session_end")

    # -- internals -----------------------------------------------------------------------------------------

    def _lookup(self, key: Any) -> TrackedSession | None:
        """The tracked session of ``key`` (the caller holds the lock); never another object's of equal id."""
        tracked = self._sessions.get(id(key))
        return tracked if tracked is not None and tracked.key() is key else None

    def _reported(self, tracked: TrackedSession) -> bool:
        if tracked.sessionless:
            return False
        if tracked.kind is SpanKind.CLIENT and not self.client_sessions:
            return False
        session = tracked.session
        return not (session is not None and is_sessionless(session.protocol_version))

    def _operation_end(self, operation: Operation) -> None:
        if self._abandoned_sessions:
            self._report_abandoned()
        message = operation.message
        key = message.session_key
        with self._lock:
            tracked = self._lookup(key) if key is not None else None
        failed = request_failed(operation)
        sessionless_protocol = is_sessionless(message.session.protocol_version)
        if tracked is not None:
            if message.session.protocol_version is not None:
                tracked.session = message.session
            if tracked.address is None:  # HTTP: the peer is known per request, not at session start
                tracked.address = message.transport.client_address or tracked.transport.client_address
            if not tracked.sessionless and not sessionless_protocol:
                if failed:
                    with self._lock:
                        tracked.errors += 1
                return
            if tracked.kind is not SpanKind.SERVER:
                return
        if operation.kind is not SpanKind.SERVER or message.direction is not None:
            return  # only requests this process handled as a server count as request sessions
        self._send_request(operation, failed)

    def _abandoned(self, ident: int, tracked: TrackedSession) -> None:
        """The SDK dropped a session object that was never closed: queue it (no lock: see __init__)."""
        self._abandoned_sessions.append((ident, tracked))

    def _report_abandoned(self) -> None:
        """Report the queued sessions whose SDK object was dropped without a close as ``abnormal``."""
        while self._abandoned_sessions:
            try:
                ident, tracked = self._abandoned_sessions.popleft()
            except IndexError:  # another thread took the last one
                return
            try:
                with self._lock:
                    if self._sessions.get(ident) is tracked:
                        del self._sessions[ident]
                    if tracked.done:
                        continue
                    tracked.done = True
                if self._reported(tracked):
                    self._send(tracked, ABNORMAL)
            except Exception:
                log_failure_once("sentry.health.abandoned")

    def _at_exit(self) -> None:
        try:
            self._report_abandoned()
            with self._lock:
                tracked = list(self._sessions.values())
                self._sessions.clear()
            sent = False
            for item in tracked:
                if item.done:
                    continue
                item.done = True
                if item.finalizer is not None:
                    item.finalizer.detach()
                if self._reported(item):
                    self._send(item, ABNORMAL)
                    sent = True
            client = sentry_sdk.get_client()
            if sent and client.is_active():
                client.flush(timeout=2.0)
                if getattr(client, "transport", None) is None:
                    # DSN-less Spotlight mode: sentry-sdk's flush() skips the session flusher
                    flusher = getattr(client, "session_flusher", None)
                    if flusher is not None:
                        flusher.flush()
        except Exception:
            log_failure_once("sentry.health.at_exit")

    def _send(self, tracked: TrackedSession, result: str) -> None:
        client = sentry_sdk.get_client()
        base = self._base(client)
        if base is None:
            return
        mapping = self.options.resolve(client)
        address = tracked.address or tracked.transport.client_address
        agent = user_agent(tracked.session)
        session = SentrySession(
            started=tracked.started,
            did=address if mapping.send_user_info and address else None,
            ip_address=address if mapping.send_user_info and address else None,
            user_agent=agent,
            **base,
        )
        close_session(session, result, tracked.errors)
        client.capture_session(session)

    def _send_request(self, operation: Operation, failed: bool) -> None:
        client = sentry_sdk.get_client()
        base = self._base(client)
        if base is None:
            return
        span = operation.span
        started = None
        if isinstance(span, ReadableSpan) and span.start_time is not None:
            started = datetime.fromtimestamp(span.start_time / 1e9, timezone.utc)
        session = SentrySession(started=started, session_mode="request", **base)
        close_session(session, ERRORED if failed else EXITED, 1 if failed else 0)
        client.capture_session(session)

    def _base(self, client: Any) -> dict[str, Any] | None:
        options = client_options_of(client)
        if not options or options.get("auto_session_tracking") is False:
            return None
        release = options.get("release")
        if not release:
            return None
        return {"release": str(release), "environment": options.get("environment")}
