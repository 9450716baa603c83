"""Session ids where the protocol has none: stdio connections and 2026-07-28 (sessionless) sessions.

Backends such as Phoenix and Langfuse group traces by ``session.id``. Stateful HTTP and SSE have the
protocol's ``mcp.session.id``, which mcp-otel copies there; stdio and the sessionless protocol revision have
nothing to copy. mcp-otel then gives each SDK session object a random id, written as ``session.id`` only
(``mcp.session.id`` is the protocol's own id, which the conventions reserve).

Both sides of one connection share the id through W3C baggage: the side that opened the session (the client:
it sends the first message) puts
:data:`~mcp_otel.semconv.signals.SESSION_ID_BAGGAGE_KEY` into the baggage of the context it injects into the
message's ``params._meta`` (through the configured propagators) — never into the caller's own context — and
the receiver adopts it for the session when the first message carrying it arrives, and removes it from the
context its handler runs in, so the id does not travel on to other services. Without a baggage propagator
each side keeps the id it made. The id is random: it identifies a session, not a person.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context

from mcp_otel.model import Message, is_sessionless
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import SESSION_ID_BAGGAGE_KEY

# what a peer may send: an id, not a payload (UUIDs, ULIDs, other implementations' ids)
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def needs_own_id(message: Message, session_attributes: Mapping[str, Any]) -> bool:
    """Whether the message's session has no protocol session id of its own: stdio or a sessionless revision.

    Args:
        message: the message being recorded.
        session_attributes: the attributes of its session (``mcp.session.id`` when the protocol has one).
    """
    if attr.MCP_SESSION_ID in session_attributes or message.session_key is None:
        return False
    return message.transport.kind == "stdio" or is_sessionless(message.session.protocol_version)


def carried_session_id(carrier: Mapping[str, Any] | None) -> str | None:
    """The session id a peer put in the baggage of a ``_meta`` carrier, when it is a valid one."""
    if not carrier:
        return None
    try:
        value = baggage.get_baggage(SESSION_ID_BAGGAGE_KEY, propagate.extract(carrier))
    except (TypeError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and _VALID.fullmatch(value) else None


def without_session_id(ctx: otel_context.Context) -> otel_context.Context:
    """``ctx`` without the session id baggage entry (the context a received message's handler runs in)."""
    if baggage.get_baggage(SESSION_ID_BAGGAGE_KEY, ctx) is None:
        return ctx
    return baggage.remove_baggage(SESSION_ID_BAGGAGE_KEY, ctx)


def with_session_id(session_id: str) -> otel_context.Context:
    """The current context plus the session id baggage entry, for injection only (never attached)."""
    return baggage.set_baggage(SESSION_ID_BAGGAGE_KEY, session_id)


class SessionIds:
    """The id of each SDK session object (weakly keyed: a closed session leaves nothing behind), and whether
    this process opened the session (its first message was one this process sent)."""

    def __init__(self) -> None:
        self._ids: weakref.WeakKeyDictionary[Any, tuple[str, bool]] = weakref.WeakKeyDictionary()

    def for_message(
        self, message: Message, sending: bool, in_process_peer: str | None = None
    ) -> tuple[str, bool]:
        """``(id, opened_here)`` of the message's session.

        The id is the one the session already has, else the one the peer sent in the message's baggage
        (received messages), else ``in_process_peer`` (the id of the client request this received message is
        dispatched in, for in-process peers), else a new random one: the first message of a session decides,
        and ``opened_here`` is whether this process sent it (``sending``) — only that side carries the id.
        """
        key = message.session_key
        try:
            found = self._ids.get(key)
        except TypeError:  # an SDK object without weak references: one id per message is no grouping
            return _new_id(), sending
        if found is None:
            own = None if sending else carried_session_id(message.carrier) or in_process_peer
            found = (own or _new_id(), sending)
            self._ids[key] = found
        return found


def _new_id() -> str:
    return str(uuid.uuid4())
