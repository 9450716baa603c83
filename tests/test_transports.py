"""What a SERVER span records about the transport, the session and the two peers, on every transport.

| transport       | transport fact | network.transport | network.protocol.*, client.* | mcp.session.id       |
|-----------------|----------------|-------------------|------------------------------|----------------------|
| memory, direct  | memory         | —                 | —                            | —                    |
| stdio           | stdio          | pipe              | —                            | —                    |
| http (stateful) | http           | tcp               | http 1.1, 127.0.0.1:port     | ``mcp-session-id``   |
| http-stateless  | http           | tcp               | http 1.1, 127.0.0.1:port     | —                    |
| sse             | sse            | tcp               | http 1.1, 127.0.0.1:port     | ``session_id`` query |

The transport's kind is no span attribute (no convention names it): listeners get it as the
``mcp_otel.facts.TRANSPORT`` fact (the Sentry mapping's ``mcp.transport``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from mcp_otel import facts
from support.compat import (
    CLIENT_NAME,
    CLIENT_VERSION,
    IS_MCP1,
    MODERN_PROTOCOL_VERSION,
    SERVER_NAME,
    implementation,
)
from support.facts import recording
from support.harness import (
    HTTP_TRANSPORTS,
    TRANSPORTS,
    connect_http,
    has_session_id,
    mcp_transport_value,
    serve_http,
)
from support.scenario import Run, client_info_after_initialize
from support.servers import build_demo
from support.spans import Span, describe, server_request_spans, to_dicts

pytestmark = pytest.mark.anyio

NETWORK_TRANSPORT = {"stdio": "pipe", "http": "tcp", "http-stateless": "tcp", "sse": "tcp"}


def _demo_server_spans(run: Run) -> tuple[Any, list[Span]]:
    """The shared instrumented demo exchange (``demo_run``): the client and its SERVER spans."""
    conn = run.conn
    spans = server_request_spans(run.spans)
    # Exactly-one-per-request is test_server_spans' job; here every request just needs its span.
    missing = sorted(set(conn.sent) - {s["name"] for s in spans})
    assert not missing, f"no SERVER span for {missing}: {describe(conn.spans())}"
    assert spans[0]["name"] == conn.sent[0], describe(conn.spans())
    return conn, spans


async def test_transport_attributes(demo_run: Run) -> None:
    transport = demo_run.transport
    _, spans = _demo_server_spans(demo_run)
    for s in spans:
        attrs = s["attributes"]
        where = f"{s['name']} over {transport}"
        assert "mcp.transport" not in attrs, where
        assert attrs.get("network.transport") == NETWORK_TRANSPORT.get(transport), where
        if transport in HTTP_TRANSPORTS:
            assert attrs.get("network.protocol.name") == "http", where
            assert attrs.get("network.protocol.version") == "1.1", where
            assert attrs.get("client.address") == "127.0.0.1", where
            port = attrs.get("client.port")
            assert isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536, (where, port)
        else:
            for key in ("network.protocol.name", "network.protocol.version", "client.address", "client.port"):
                assert key not in attrs, f"{where}: {key}={attrs[key]!r}"


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if t != "stdio"])
async def test_transport_fact(transport: str, instrumented: Any, connect: Callable[..., Any]) -> None:
    """Listeners learn the transport's kind on both sides (the server's view over every in-process one)."""
    with recording() as recorder:
        async with connect(transport) as conn:
            await conn.list_tools()
    assert set(recorder.of(facts.TRANSPORT, "SERVER")) == {mcp_transport_value(transport)}, recorder.facts


async def test_session_id(demo_run: Run) -> None:
    """``mcp.session.id`` is the id the client saw, on every span incl. ``initialize``; else absent."""
    transport = demo_run.transport
    conn, spans = _demo_server_spans(demo_run)
    if has_session_id(transport):
        assert conn.session_id, f"harness: the client saw no session id over {transport}"
        for s in spans:
            assert s["attributes"].get("mcp.session.id") == conn.session_id, f"{s['name']}: {s['attributes']}"
    else:
        assert conn.session_id is None or transport == "http-stateless"
        for s in spans:
            assert "mcp.session.id" not in s["attributes"], f"{s['name']} over {transport}: {s['attributes']}"


async def test_protocol_version(demo_run: Run) -> None:
    """``mcp.protocol.version`` is the negotiated version (the 2.x sessionless modes: 2026-07-28)."""
    transport = demo_run.transport
    conn, spans = _demo_server_spans(demo_run)
    assert conn.protocol_version
    if not IS_MCP1 and transport in ("direct", "http-stateless"):
        assert conn.protocol_version == MODERN_PROTOCOL_VERSION
    for s in spans:
        assert s["attributes"].get("mcp.protocol.version") == conn.protocol_version, (
            f"{s['name']}: {s['attributes']}"
        )


async def test_client_and_server_identity(demo_run: Run) -> None:
    transport = demo_run.transport
    _, spans = _demo_server_spans(demo_run)
    handshake = spans[0]
    for s in spans:
        attrs = s["attributes"]
        assert attrs.get("mcp.server.name") == SERVER_NAME, f"{s['name']}: {attrs}"
        if s is handshake or client_info_after_initialize(transport):
            assert attrs.get("mcp.client.name") == CLIENT_NAME, f"{s['name']}: {attrs}"
            assert attrs.get("mcp.client.version") == CLIENT_VERSION, f"{s['name']}: {attrs}"
        else:  # unknowable (see client_info_after_initialize), but never wrong
            assert attrs.get("mcp.client.name", CLIENT_NAME) == CLIENT_NAME
            assert attrs.get("mcp.client.version", CLIENT_VERSION) == CLIENT_VERSION


TWO_SESSION_TRANSPORTS = [t for t in TRANSPORTS if t in HTTP_TRANSPORTS and client_info_after_initialize(t)]


@pytest.mark.parametrize("http_transport", TWO_SESSION_TRANSPORTS)
async def test_two_sessions_never_mix(
    instrument: Callable[..., Any], span_exporter: Any, http_transport: str
) -> None:
    """Two concurrent clients of one server: each span carries its own client's identity and session id.

    Content capture is on so that each ``tools/call`` span can be traced back to its client by its arguments
    (client A adds ``a=1``, client B ``a=2``) — the only way on the sessionless 2026-07-28 protocol.
    """
    instrument(capture_content=True)
    identities = {1: ("client-a", "1.0.0"), 2: ("client-b", "2.0.0")}
    server = build_demo()
    with anyio.fail_after(60):
        async with (
            serve_http(http_transport, server) as url,
            connect_http(http_transport, url, implementation(*identities[1])) as a,
            connect_http(http_transport, url, implementation(*identities[2])) as b,
        ):
            for conn in (a, b):
                await conn.list_tools()

            async def calls(conn: Any, a_value: int) -> None:
                for i in range(5):
                    await conn.call_tool("add", {"a": a_value, "b": i})
                    await anyio.sleep(0)

            async with anyio.create_task_group() as tg:
                tg.start_soon(calls, a, 1)
                tg.start_soon(calls, b, 2)
    spans = server_request_spans(to_dicts(span_exporter.get_finished_spans()))
    session_ids = {1: a.session_id, 2: b.session_id}
    if http_transport in ("http", "sse"):
        assert session_ids[1] and session_ids[2] and session_ids[1] != session_ids[2], session_ids
    import json

    calls_seen = {1: 0, 2: 0}
    for s in spans:
        attrs = s["attributes"]
        if s["name"] == "tools/call add":
            who = json.loads(attrs["gen_ai.tool.call.arguments"])["a"]
            calls_seen[who] += 1
            assert (attrs.get("mcp.client.name"), attrs.get("mcp.client.version")) == identities[who], attrs
            if http_transport in ("http", "sse"):
                assert attrs.get("mcp.session.id") == session_ids[who], attrs
        elif http_transport in ("http", "sse"):
            # every other span: its session id decides the client, and the client info must match it
            sid = attrs.get("mcp.session.id")
            owners = [k for k, v in session_ids.items() if v == sid]
            assert len(owners) == 1, f"{s['name']}: session id {sid!r} is neither client's ({session_ids})"
            expected = identities[owners[0]]
            assert (attrs.get("mcp.client.name"), attrs.get("mcp.client.version")) == expected, attrs
        else:
            assert (attrs.get("mcp.client.name"), attrs.get("mcp.client.version")) in identities.values(), (
                attrs
            )
    assert calls_seen == {1: 5, 2: 5}, calls_seen
