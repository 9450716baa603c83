"""The four MCP duration histograms on every transport (``InMemoryMetricReader``; the stdio server
process dumps its own reader at exit): instrument kind, unit, buckets, point counts, exact attribute sets.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import metrics as m
from support import feature_client
from support.compat import IS_MCP1, OTEL_SCOPE
from support.metrics import metric_points

pytestmark = pytest.mark.anyio

ALLOWED = {
    m.MCP_CLIENT_OPERATION_DURATION: m.MCP_CLIENT_OPERATION_DURATION_ATTRIBUTES,
    m.MCP_SERVER_OPERATION_DURATION: m.MCP_SERVER_OPERATION_DURATION_ATTRIBUTES,
    m.MCP_CLIENT_SESSION_DURATION: m.MCP_CLIENT_SESSION_DURATION_ATTRIBUTES,
    m.MCP_SERVER_SESSION_DURATION: m.MCP_SERVER_SESSION_DURATION_ATTRIBUTES,
}
#: Never on a metric point: high-cardinality or sensitive.
FORBIDDEN = {
    attr.JSONRPC_REQUEST_ID,
    attr.MCP_SESSION_ID,
    attr.MCP_RESOURCE_URI,
    attr.GEN_AI_TOOL_CALL_ARGUMENTS,
    attr.GEN_AI_TOOL_CALL_RESULT,
    attr.CLIENT_ADDRESS,
    attr.CLIENT_PORT,
}
HANDSHAKE = ("initialize", "server/discover")
Points = list[dict[str, Any]]


async def _exchange(
    transport: str, tmp_path: Path, metric_reader: Any
) -> tuple[feature_client.Conn, Points, Points]:
    """The standard exchange plus two completions answered -32603 and -32602; close the session.

    Returns the client process's points and the server process's points.
    """
    async with feature_client.connect(transport, tmp_path) as conn:
        await feature_client.standard_exchange(conn)
        await conn.complete_error(-32603)
        await conn.complete_error(-32602)
    local = metric_points(metric_reader)
    remote = conn.server_metric_points()
    if remote is None:  # in-process server: one reader holds both sides
        return conn, local, local
    return conn, local, remote


def _named(points: Points, name: str) -> Points:
    return [p for p in points if p["name"] == name]


def _counts(points: Points, skip_methods: tuple[str, ...] = ()) -> Counter[frozenset[tuple[str, Any]]]:
    """Point count per exact attribute set."""
    out: Counter[frozenset[tuple[str, Any]]] = Counter()
    for p in points:
        if p["attributes"].get(attr.MCP_METHOD_NAME) in skip_methods:
            continue
        out[frozenset(p["attributes"].items())] += p["count"]
    return out


def _server_protocol_version(conn: feature_client.Conn) -> str | None:
    # mcp 1.x stateless HTTP serves each POST with a fresh ServerSession that never saw initialize: the
    # version comes from the client's mcp-protocol-version header.
    return conn.protocol_version


def _expected_operations(conn: feature_client.Conn, side: str) -> Counter[frozenset[tuple[str, Any]]]:
    """Exact attribute sets (and counts) of the operation points after the handshake, per side."""
    if side == "client":
        base: dict[str, Any] = {
            attr.MCP_PROTOCOL_VERSION: conn.protocol_version,
            **feature_client.client_transport_attributes(conn),
        }
    else:
        base = dict(feature_client.server_transport_attributes(conn.transport))
        if _server_protocol_version(conn) is not None:
            base[attr.MCP_PROTOCOL_VERSION] = _server_protocol_version(conn)
    tool = {attr.MCP_METHOD_NAME: "tools/call", attr.GEN_AI_OPERATION_NAME: "execute_tool"}
    completion = {attr.MCP_METHOD_NAME: "completion/complete"}
    sets = [
        {attr.MCP_METHOD_NAME: "tools/list"},
        {**tool, attr.GEN_AI_TOOL_NAME: "add"},
        {**tool, attr.GEN_AI_TOOL_NAME: "fail", attr.ERROR_TYPE: "tool_error"},
        {attr.MCP_METHOD_NAME: "prompts/get", attr.GEN_AI_PROMPT_NAME: "greet"},
        {attr.MCP_METHOD_NAME: "resources/read"},
        {**completion, attr.ERROR_TYPE: "-32603", attr.RPC_RESPONSE_STATUS_CODE: "-32603"},
        # -32602 is the caller's mistake: an error on the client only
        {**completion, attr.RPC_RESPONSE_STATUS_CODE: "-32602"}
        | ({attr.ERROR_TYPE: "-32602"} if side == "client" else {}),
    ]
    out = Counter(frozenset({**base, **extra}.items()) for extra in sets)
    if not conn.modern:
        initialized = {**base, attr.MCP_METHOD_NAME: "notifications/initialized"}
        if side == "server" and IS_MCP1:
            # mcp 1.x hands an inbound notification to the session without its HTTP request: only the
            # session's transport is known, not the request's HTTP version.
            initialized.pop(attr.NETWORK_PROTOCOL_VERSION, None)
            if conn.transport == "http-stateless":  # ... nor the version header (fresh ServerSession)
                initialized.pop(attr.MCP_PROTOCOL_VERSION, None)
        out[frozenset(initialized.items())] += 1
    return out


async def test_four_histograms_with_the_semconv_buckets(
    instrumented: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    """Histograms in seconds with the conventions' explicit bucket boundaries; only allowed attribute keys."""
    conn, client, server = await _exchange(transport, tmp_path, metric_reader)
    names = {p["name"] for p in client} | {p["name"] for p in server}
    expected = set(ALLOWED)
    if conn.modern:  # 2026-07-28 has no protocol sessions: nothing to time on the server
        expected.discard(m.MCP_SERVER_SESSION_DURATION)
    assert names == expected
    for point in client + server:
        where = f"{point['name']} {point['attributes']}"
        assert point["kind"] == "histogram", where
        assert point["unit"] == "s", where
        assert point["scope"] == OTEL_SCOPE, where
        assert point["bounds"] == [float(b) for b in m.DURATION_BUCKETS], where
        keys = set(point["attributes"])
        assert keys <= ALLOWED[point["name"]], f"{where}: not allowed {keys - ALLOWED[point['name']]}"
        assert not keys & FORBIDDEN, f"{where}: forbidden {keys & FORBIDDEN}"
        assert point["count"] >= 1 and point["sum"] >= 0, where


async def test_operation_points(
    instrumented: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    """One ``mcp.{client,server}.operation.duration`` count per request and notification, with exactly the
    attributes the conventions allow for it (method, tool/prompt name, operation name, protocol version,
    ``error.type`` / status code by each side's rules, transport; ``server.*`` on the client only)."""
    conn, client, server = await _exchange(transport, tmp_path, metric_reader)
    for side, points, name in (
        ("client", client, m.MCP_CLIENT_OPERATION_DURATION),
        ("server", server, m.MCP_SERVER_OPERATION_DURATION),
    ):
        got = _counts(_named(points, name), skip_methods=HANDSHAKE)
        expected = _expected_operations(conn, side)
        assert got == expected, (
            f"{name} over {transport}\n  unexpected: {_show(got - expected)}"
            f"\n  missing: {_show(expected - got)}"
        )


def _show(counter: Counter[frozenset[tuple[str, Any]]]) -> list[tuple[dict[str, Any], int]]:
    return [(dict(k), v) for k, v in counter.items()]


async def test_handshake_points(
    instrumented: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    """The handshake request (``initialize`` / ``server/discover``) counts once per side with the negotiated
    protocol version."""
    conn, client, server = await _exchange(transport, tmp_path, metric_reader)
    method = feature_client.handshake_names(conn)[-1]
    client_expected = {
        attr.MCP_METHOD_NAME: method,
        attr.MCP_PROTOCOL_VERSION: conn.protocol_version,
        **feature_client.client_transport_attributes(conn),
    }
    server_expected = {
        attr.MCP_METHOD_NAME: method,
        attr.MCP_PROTOCOL_VERSION: conn.protocol_version,
        **feature_client.server_transport_attributes(transport),
    }
    for points, name, expected in (
        (client, m.MCP_CLIENT_OPERATION_DURATION, client_expected),
        (server, m.MCP_SERVER_OPERATION_DURATION, server_expected),
    ):
        got = [p for p in _named(points, name) if p["attributes"].get(attr.MCP_METHOD_NAME) == method]
        assert [(p["attributes"], p["count"]) for p in got] == [(expected, 1)], f"{name} over {transport}"


async def test_session_duration_points(
    instrumented: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    """One session point per side when the session closes: protocol version and transport attributes
    (``server.*`` on the client), no ``error.type`` for a normal close."""
    conn, client, server = await _exchange(transport, tmp_path, metric_reader)
    client_points = _named(client, m.MCP_CLIENT_SESSION_DURATION)
    expected = {
        attr.MCP_PROTOCOL_VERSION: conn.protocol_version,
        **feature_client.client_transport_attributes(conn),
    }
    assert [(p["attributes"], p["count"]) for p in client_points] == [(expected, 1)]
    server_points = _named(server, m.MCP_SERVER_SESSION_DURATION)
    if conn.modern:
        assert server_points == [], "a 2026-07-28 server has no protocol session to time"
        return
    if IS_MCP1 and transport == "http-stateless":
        pytest.skip(
            "mcp 1.x stateless streamable HTTP opens and closes a ServerSession per POST: no one session"
        )
    expected = {
        attr.MCP_PROTOCOL_VERSION: conn.protocol_version,
        **feature_client.server_transport_attributes(transport),
    }
    assert [(p["attributes"], p["count"]) for p in server_points] == [(expected, 1)]
