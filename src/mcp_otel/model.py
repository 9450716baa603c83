"""The version-neutral request/session model the SDK hooks fill and the telemetry core reads.

Each mcp SDK generation has its own hooks module (``mcp_otel.hooks.v1`` / ``.v2``); they translate what the
SDK exposes into these small objects so the telemetry core never asks which mcp version is running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.util.types import AttributeValue

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import (
    METHOD_SERVER_DISCOVER,
    METHOD_SUBSCRIPTIONS_LISTEN,
    SESSIONLESS_PROTOCOL_VERSION,
)

Attributes = dict[str, AttributeValue]

# Method names the hooks, the telemetry core and the Sentry mapping compare with (generated semconv values;
# the 2026-07-28 ones are mcp-otel's decision, semconv/model/decisions.yaml).
TOOLS_CALL = attr.McpMethodNameValues.TOOLS_CALL.value
PROMPTS_GET = attr.McpMethodNameValues.PROMPTS_GET.value
INITIALIZE = attr.McpMethodNameValues.INITIALIZE.value
SERVER_DISCOVER = METHOD_SERVER_DISCOVER
NOTIFICATIONS_CANCELLED = attr.McpMethodNameValues.NOTIFICATIONS_CANCELLED.value
NOTIFICATIONS_PROGRESS = attr.McpMethodNameValues.NOTIFICATIONS_PROGRESS.value
SUBSCRIPTIONS_LISTEN = METHOD_SUBSCRIPTIONS_LISTEN
RESOURCES_READ = attr.McpMethodNameValues.RESOURCES_READ.value
#: The methods whose result may be an ``InputRequiredResult`` (multi-round-trip requests, 2026-07-28).
INPUT_REQUIRED_METHODS = frozenset({TOOLS_CALL, PROMPTS_GET, RESOURCES_READ})


@dataclass(frozen=True, slots=True)
class Peer:
    """An MCP ``Implementation`` (``clientInfo`` / ``serverInfo``): name, optional title and version."""

    name: str | None
    title: str | None = None
    version: str | None = None


class SessionIdSource:
    """Where a client learns its HTTP session id: the SDK's HTTP client transport, once it exists.

    The transport hook creates the source before the SDK builds its HTTP transport object; a hook on that
    object's constructor fills :attr:`transport`; the id is read when the session is described.
    """

    __slots__ = ("transport",)

    def __init__(self) -> None:
        self.transport: Any = None

    @property
    def session_id(self) -> str | None:
        """The session id the server assigned (``Mcp-Session-Id``), or ``None`` before that / without one."""
        value = getattr(self.transport, "session_id", None)
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Transport:
    """The transport of one message, seen from this process (server or client side).

    Attributes:
        kind: ``stdio``, ``http`` (streamable HTTP), ``sse`` or ``memory`` (in-process); ``None``: unknown.
        client_address: peer IP of an HTTP request (server side); ``client_port`` its TCP port.
        server_address: host of the server URL (client side over HTTP); ``server_port`` its port.
        http_version: the HTTP version of the request (``"1.1"``, ``"2"``).
        session_id: a session id the transport knows (``Mcp-Session-Id`` header, SSE ``session_id``).
        session_source: on the client side of streamable HTTP, where the session id will come from.
    """

    kind: str | None = None
    client_address: str | None = None
    client_port: int | None = None
    server_address: str | None = None
    server_port: int | None = None
    http_version: str | None = None
    session_id: str | None = None
    session_source: SessionIdSource | None = None
    _attributes: Attributes | None = field(default=None, init=False, repr=False, compare=False)

    def current_session_id(self) -> str | None:
        """The session id known now: :attr:`session_id`, else what :attr:`session_source` learned."""
        if self.session_id is not None:
            return self.session_id
        return self.session_source.session_id if self.session_source is not None else None

    def attributes(self) -> Attributes:
        """The transport attributes of a span: ``network.*``, ``client.*`` and ``server.*``.

        Follows the conventions' transport table (stdio → ``pipe``; HTTP/SSE → ``tcp`` + ``http``); in-memory
        transports have no network attributes. :attr:`kind` itself is no attribute (no convention names
        transports): listeners get it as the :data:`mcp_otel.facts.TRANSPORT` fact. Cached: the dict is
        shared, callers must not change it.
        """
        cached = self._attributes
        if cached is not None:
            return cached
        out = self._build_attributes()
        object.__setattr__(self, "_attributes", out)  # frozen: the cache is the only late-set field
        return out

    def _build_attributes(self) -> Attributes:
        out: Attributes = {}
        if self.kind is None:
            return out
        if self.kind == "stdio":
            out[attr.NETWORK_TRANSPORT] = attr.NetworkTransportValues.PIPE.value
        elif self.kind in ("http", "sse"):
            out[attr.NETWORK_TRANSPORT] = attr.NetworkTransportValues.TCP.value
            out[attr.NETWORK_PROTOCOL_NAME] = "http"
            if self.http_version:
                out[attr.NETWORK_PROTOCOL_VERSION] = self.http_version
            if self.client_address:
                out[attr.CLIENT_ADDRESS] = self.client_address
                if self.client_port is not None:
                    out[attr.CLIENT_PORT] = self.client_port
            if self.server_address:
                out[attr.SERVER_ADDRESS] = self.server_address
                if self.server_port is not None:
                    out[attr.SERVER_PORT] = self.server_port
        return out


MEMORY = Transport(kind="memory")
STDIO = Transport(kind="stdio")
UNKNOWN = Transport()


@dataclass(slots=True)
class Session:
    """What one MCP session has told us: the peers, the negotiated protocol version and the session id.

    Built by the hooks once per session (again when something changes); :meth:`attributes` is cached.
    """

    client: Peer | None = None
    server: Peer | None = None
    protocol_version: str | None = None
    session_id: str | None = None
    _attributes: Attributes | None = field(default=None, repr=False)
    #: The client name as metric points carry it (capped), set once by the telemetry core when it is on.
    metric_client_name: str | None = field(default=None, repr=False, compare=False)

    def attributes(self) -> Attributes:
        """The session attributes of a span (cached): protocol version, session id, client and server info.

        ``mcp.session.id`` is omitted for protocol revisions without sessions (2026-07-28 and later), as the
        conventions require.
        """
        if self._attributes is None:
            out: Attributes = {}
            if self.protocol_version:
                out[attr.MCP_PROTOCOL_VERSION] = self.protocol_version
            if self.session_id and not is_sessionless(self.protocol_version):
                out[attr.MCP_SESSION_ID] = self.session_id
            # mcp.client.* / mcp.server.*: mcp-otel's documented decision (semconv/model/decisions.yaml)
            _peer(out, self.client, attr.MCP_CLIENT_NAME, attr.MCP_CLIENT_TITLE, attr.MCP_CLIENT_VERSION)
            _peer(out, self.server, attr.MCP_SERVER_NAME, attr.MCP_SERVER_TITLE, attr.MCP_SERVER_VERSION)
            self._attributes = out
        return self._attributes


def _peer(out: Attributes, peer: Peer | None, name: str, title: str, version: str) -> None:
    if peer is None:
        return
    if peer.name:
        out[name] = peer.name
    if peer.title:
        out[title] = peer.title
    if peer.version:
        out[version] = peer.version


def is_sessionless(protocol_version: str | None) -> bool:
    """True for protocol revisions without protocol sessions (ISO dates compare as strings)."""
    return protocol_version is not None and protocol_version >= SESSIONLESS_PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class LogMessage:
    """The params of an MCP log notification (``notifications/message``).

    Attributes:
        level: the RFC 5424 level as sent (``debug`` … ``emergency``; any string a peer sends).
        data: the logged value (any JSON value; usually a string).
        logger: the optional logger name.
    """

    level: str
    data: Any
    logger: str | None = None


@dataclass(slots=True)
class Message:
    """One request this process received or sends, as the telemetry core needs it.

    Attributes:
        method: the JSON-RPC method (``tools/call``).
        request_id: the JSON-RPC id (``None`` when unknown yet or the transport has none).
        name: the tool name (``tools/call``) or prompt name (``prompts/get``), else ``None``.
        uri: the resource URI of ``resources/*`` requests, else ``None``.
        carrier: inbound ``params._meta`` (a mapping holding ``traceparent`` …) or ``None``.
        session: the session the request belongs to.
        transport: how the request arrived.
        arguments: a callable returning the tool or prompt arguments as sent (normally a mapping, but a raw
            request may carry any JSON value), or ``None``; called only when content capture is on.
        direction: for notifications, ``client_to_server`` or ``server_to_client``; ``None`` for requests.
        http_headers: the headers of the HTTP request that carried the message (server side), if any.
        session_key: the SDK object of the session the message belongs to (for listeners), if known.
        log: the params of a ``notifications/message`` (the telemetry core makes a log record of it).
        round: the round of a multi-round-trip request (``tools/call``, ``prompts/get``,
            ``resources/read`` answered with ``input_required`` and sent again) this request is, from 1;
            ``0`` for a retried round whose number is unknown (a server whose client sent none); ``None`` for
            an ordinary request.
        params: a notification's params (the SDK's typed params or the raw dict), for the
            :data:`mcp_otel.facts.NOTIFICATION` fact; ``None`` for requests.
        access_token: the access token the server's OAuth auth verified for this request (the SDK's
            ``AccessToken``; :data:`mcp_otel.facts.ACCESS_TOKEN`), read by the hooks only when a fact listener
            is registered; ``None`` otherwise and without auth.
    """

    method: str
    request_id: str | int | None
    name: str | None
    uri: str | None
    carrier: Mapping[str, Any] | None
    session: Session
    transport: Transport
    arguments: Callable[[], Any] | None = None
    direction: str | None = None
    http_headers: Mapping[str, str] | None = None
    session_key: Any = None
    log: LogMessage | None = None
    round: int | None = None
    params: Any = None
    access_token: Any = None
