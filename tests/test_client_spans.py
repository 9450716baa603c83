"""CLIENT spans of mcp-otel on every transport: names, kind, attributes, request ids, session and transport
attributes, and the client's status rules (every JSON-RPC error code, ``isError`` → ``tool_error``).

The server is ``support.feature_server.build_server()``; the stdio server runs in a subprocess instrumented by
itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_otel import facts
from mcp_otel.semconv.signals import SERVER_NON_ERROR_CODES, SERVER_NON_ERROR_CODES_2026_07_28
from support import feature_client, feature_server
from support.compat import IS_MCP1, OTEL_SCOPE, SDK_SCOPE
from support.facts import recording
from support.spans import Span, children, describe, only, request_spans

pytestmark = pytest.mark.anyio

#: JSON-RPC error codes the completion handler answers with; every one is an error on the client. The server
#: skips the conventions' list and mcp-otel's decision for the codes of the 2026-07-28 revision.
ERROR_CODES = (-32700, -32600, -32601, -32602, -32002, -32603, -32000, -32001, -32020, -32021, -32022)
NOT_THE_SERVERS_FAULT = SERVER_NON_ERROR_CODES | SERVER_NON_ERROR_CODES_2026_07_28


def _client_side(spans: list[Span]) -> list[Span]:
    """CLIENT request spans, in start order (the server sends no requests in these exchanges)."""
    return request_spans(spans, "CLIENT")


async def test_one_client_span_per_request(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """Name ``{method} {target}``, kind CLIENT, scope mcp_otel, per-operation attributes and statuses."""
    async with feature_client.connect(transport, tmp_path) as conn:
        sent = await feature_client.standard_exchange(conn)
    spans = feature_client.collect(span_exporter, conn)
    client = _client_side(spans)
    assert [c["name"] for c in client] == feature_client.handshake_names(conn) + sent, describe(spans)
    for span in client:
        attrs = span["attributes"]
        method, _, target = span["name"].partition(" ")
        assert span["kind"] == "CLIENT" and span["scope"] == OTEL_SCOPE, span
        assert attrs[feature_client.METHOD] == method, span
        if method == "tools/call":
            assert attrs[feature_client.TOOL_NAME] == target, span
            assert attrs[feature_client.OPERATION_NAME] == "execute_tool", span
        else:
            assert feature_client.TOOL_NAME not in attrs and feature_client.OPERATION_NAME not in attrs, span
        if method == "prompts/get":
            assert attrs[feature_client.PROMPT_NAME] == target == "greet", span
        else:
            assert feature_client.PROMPT_NAME not in attrs, span
        if method == "resources/read":
            assert attrs[feature_client.RESOURCE_URI_KEY] == feature_server.RESOURCE_URI, span
        else:
            assert feature_client.RESOURCE_URI_KEY not in attrs, span
        if span["name"] == "tools/call fail":
            assert attrs[feature_client.ERROR_TYPE] == "tool_error", span
            assert span["status"] == "ERROR", span
            assert feature_client.STATUS_CODE not in attrs, span
        else:
            assert span["status"] == "UNSET", span
            assert feature_client.ERROR_TYPE not in attrs and feature_client.STATUS_CODE not in attrs, span
    sdk = [x for x in spans if x["scope"] == SDK_SCOPE]
    assert sdk == [], f"spans of the mcp SDK's own tracer while instrumented: {describe(sdk)}"


async def test_result_shape_on_both_sides(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``tools/call`` and ``prompts/get`` results, CLIENT and SERVER side: their shape (the item types; no
    content without capture) goes to listeners as facts; the spans carry none of Sentry's result keys
    (``error.type`` marks a tool error)."""
    with recording() as recorder:
        async with feature_client.connect(transport, tmp_path) as conn:
            await feature_client.standard_exchange(conn)
    spans = feature_client.collect(span_exporter, conn)
    sides = ("CLIENT",) if transport == "stdio" else ("CLIENT", "SERVER")  # the stdio server: another process
    for kind in sides:
        assert recorder.of(facts.TOOL_RESULT, kind) == [
            facts.ToolResult(False, 1, "text", items=(facts.ContentItem("text"),)),  # tools/call add
            facts.ToolResult(True, 1, "text", items=(facts.ContentItem("text"),)),  # tools/call fail
        ], kind
        assert recorder.of(facts.PROMPT_RESULT, kind) == [facts.PromptResult(message_count=1)], kind
    assert all(f.recording for f in recorder.facts)
    for kind in ("CLIENT", "SERVER"):
        for name in ("tools/call add", "tools/call fail", "prompts/get greet", "tools/list"):
            attrs = only(spans, name, kind)["attributes"]
            assert not [k for k in attrs if k.startswith(("mcp.tool.result.", "mcp.prompt.result."))], (
                name,
                kind,
            )
        assert only(spans, "tools/call fail", kind)["attributes"]["error.type"] == "tool_error"


async def test_request_ids_match_the_server(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``jsonrpc.request.id`` of each CLIENT span equals the id the server saw (its SERVER child's)."""
    if transport == "direct":
        pytest.skip(
            "mcp 2.x direct dispatch (Client(server), DirectDispatcher) sends no JSON-RPC message: no id"
        )
    async with feature_client.connect(transport, tmp_path) as conn:
        await feature_client.standard_exchange(conn)
    spans = feature_client.collect(span_exporter, conn)
    client = _client_side(spans)
    ids = [c["attributes"].get(feature_client.REQUEST_ID) for c in client]
    assert all(isinstance(i, str) for i in ids), f"client spans without jsonrpc.request.id: {ids}"
    assert len(set(ids)) == len(ids), f"request ids repeat: {ids}"
    for span in client:
        servers = children(spans, span, span["name"], "SERVER")
        assert len(servers) == 1, f"{span['name']}: SERVER children {describe(servers)}"
        assert (
            servers[0]["attributes"][feature_client.REQUEST_ID]
            == span["attributes"][feature_client.REQUEST_ID]
        ), span["name"]


async def test_session_and_transport_attributes(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """After the handshake: protocol version, server identity, ``network.transport``, ``server.*`` over HTTP,
    and ``mcp.session.id`` on stateful streamable HTTP only (equal to the server's and to the header)."""
    async with feature_client.connect(transport, tmp_path) as conn:
        await feature_client.standard_exchange(conn)
    spans = feature_client.collect(span_exporter, conn)
    client = _client_side(spans)[len(feature_client.handshake_names(conn)) :]
    assert client, describe(spans)
    expected_transport = feature_client.client_transport_attributes(conn)
    server_side_ids = {x["attributes"].get(feature_client.SESSION_ID) for x in request_spans(spans, "SERVER")}
    for span in client:
        attrs = span["attributes"]
        where = f"{span['name']} over {transport}: {attrs}"
        assert attrs.get(feature_client.PROTOCOL_VERSION) == conn.protocol_version, where
        assert attrs.get(feature_client.SERVER_NAME_KEY) == feature_server.SERVER_NAME, where
        assert attrs.get(feature_client.SERVER_VERSION_KEY) == feature_server.SERVER_VERSION, where
        for key in (
            feature_client.NETWORK_TRANSPORT,
            feature_client.SERVER_ADDRESS,
            feature_client.SERVER_PORT,
        ):
            assert attrs.get(key) == expected_transport.get(key), f"{key}: {where}"
        if transport == "http":
            assert conn.http_session_ids, "the client saw no mcp-session-id header"
            assert attrs.get(feature_client.SESSION_ID) == conn.http_session_ids[0], where
            assert server_side_ids == {conn.http_session_ids[0]}, server_side_ids
        elif transport == "sse":
            if feature_client.SESSION_ID in attrs:  # optional on the SSE client; if set, it is the server's
                assert server_side_ids == {attrs[feature_client.SESSION_ID]}, where
        else:
            assert feature_client.SESSION_ID not in attrs, where


async def test_handshake_span_records_what_the_server_said(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """The ``initialize`` / ``server/discover`` CLIENT span carries the negotiated protocol version and the
    server's name and version from its result."""
    async with feature_client.connect(transport, tmp_path) as conn:
        pass
    spans = feature_client.collect(span_exporter, conn)
    name = feature_client.handshake_names(conn)[-1]
    span = only(spans, name, "CLIENT")
    attrs = span["attributes"]
    assert attrs.get(feature_client.METHOD) == name
    assert attrs.get(feature_client.PROTOCOL_VERSION) == conn.protocol_version, attrs
    assert attrs.get(feature_client.SERVER_NAME_KEY) == feature_server.SERVER_NAME, attrs
    assert attrs.get(feature_client.SERVER_VERSION_KEY) == feature_server.SERVER_VERSION, attrs
    assert span["status"] == "UNSET", span


async def test_every_jsonrpc_error_code_is_a_client_error(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """A JSON-RPC error response: ``error.type`` = ``rpc.response.status_code`` = the code and ERROR with the
    error message on the CLIENT span, for every code — while the server skips the caller's mistakes."""
    async with feature_client.connect(transport, tmp_path) as conn:
        got = [await conn.complete_error(code) for code in ERROR_CODES]
    assert got == list(ERROR_CODES)
    spans = feature_client.collect(span_exporter, conn)
    client = [c for c in _client_side(spans) if c["name"] == "completion/complete"]
    assert len(client) == len(ERROR_CODES), describe(spans)
    for code, span in zip(ERROR_CODES, client, strict=True):
        attrs = span["attributes"]
        assert attrs.get(feature_client.STATUS_CODE) == str(code), attrs
        assert attrs.get(feature_client.ERROR_TYPE) == str(code), attrs
        assert span["status"] == "ERROR", span
        assert span["status_description"] == f"completion asked for {code}", span
        (server,) = children(spans, span, "completion/complete", "SERVER")
        assert server["attributes"].get(feature_client.STATUS_CODE) == str(code), server
        if code in NOT_THE_SERVERS_FAULT:
            assert server["status"] == "UNSET" and feature_client.ERROR_TYPE not in server["attributes"], (
                server
            )
        else:
            assert server["status"] == "ERROR" and server["attributes"].get(feature_client.ERROR_TYPE) == str(
                code
            ), server


async def test_unknown_method_is_a_client_error(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """A request for a method the server does not have (sent with ``ClientSession.send_request``): one CLIENT
    span named by the method, ``error.type`` = the code the server answered (-32601; mcp 1.x servers answer
    -32602), ERROR."""
    async with feature_client.connect(transport, tmp_path) as conn:
        code = await conn.raw_request_error("custom/no-such-method", {})
    assert code == (-32602 if IS_MCP1 else -32601)
    spans = feature_client.collect(span_exporter, conn)
    span = only(spans, "custom/no-such-method", "CLIENT")
    attrs = span["attributes"]
    assert attrs.get(feature_client.METHOD) == "custom/no-such-method", attrs
    assert attrs.get(feature_client.ERROR_TYPE) == str(code), attrs
    assert attrs.get(feature_client.STATUS_CODE) == str(code), attrs
    assert span["status"] == "ERROR", span
