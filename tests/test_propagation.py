"""Trace context across the client/server boundary, on every transport: one trace per tool call, user spans
and sampling requests nested under the tool's SERVER span, caller-set ``traceparent`` kept, baggage carried;
and 50 concurrent calls over 10 stateful HTTP sessions with no attribute or parent mixed up.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry import baggage, context, trace

from mcp_otel.semconv import attributes as attr
from support import feature_client, feature_server
from support.compat import IS_MCP1, implementation
from support.harness import STEP_TIMEOUT, serve_http
from support.scenario import ADD_ARGS
from support.spans import Span, assert_child, describe, find, only

pytestmark = pytest.mark.anyio

ROOT_SPAN = "tests.root"
SESSIONS = 10
CALLS_PER_SESSION = 5


def _sampling_skip(transport: str) -> None:
    if feature_client.modern(transport):
        pytest.skip(
            f"mcp 2.x {transport}: 2026-07-28 connections have no back-channel for server-initiated requests "
            "(create_message raises NoBackChannelError)"
        )
    if IS_MCP1 and transport == "http-stateless":
        pytest.skip(
            "mcp 1.x stateless streamable HTTP: the client's answer to sampling/createMessage arrives in a "
            "new POST served by a fresh ServerSession, so create_message never gets it"
        )


async def test_one_trace_per_tool_call(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """Caller's span → CLIENT ``tools/call traced`` → SERVER ``tools/call traced`` → the tool's user span,
    each a direct child of the previous in one trace; another call gets its own trace."""
    tracer = trace.get_tracer(feature_server.USER_TRACER)
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        with tracer.start_as_current_span(ROOT_SPAN):
            await conn.call_tool("traced")
        await conn.call_tool("add", ADD_ARGS)
    spans = feature_client.collect(span_exporter, conn)
    root = next(x for x in spans if x["name"] == ROOT_SPAN)
    client = only(spans, "tools/call traced", "CLIENT")
    server = only(spans, "tools/call traced", "SERVER")
    (user,) = [x for x in spans if x["name"] == feature_server.USER_SPAN]
    assert_child(client, root)
    assert_child(server, client)
    assert_child(user, server)
    add_client = only(spans, "tools/call add", "CLIENT")
    add_server = only(spans, "tools/call add", "SERVER")
    assert_child(add_server, add_client)
    assert add_client["parent_span_id"] is None, "a call outside any span starts its own trace"
    assert add_client["trace_id"] != client["trace_id"]


async def test_sampling_request_nested_under_the_tool(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """A tool asking the client for a sampling message: server-side CLIENT ``sampling/createMessage`` child of
    the tool's SERVER span, client-side SERVER ``sampling/createMessage`` (the sampling callback) child of it,
    all in the tool call's trace."""
    _sampling_skip(transport)
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        result = await conn.call_tool("sample", {"prompt": "hello"})
    assert result.content[0].text == feature_server.SAMPLED_TEXT
    assert len(conn.inbox.samplings) == 1
    spans = feature_client.collect(span_exporter, conn)
    call = only(spans, "tools/call sample", "CLIENT")
    tool = only(spans, "tools/call sample", "SERVER")
    ask = only(spans, "sampling/createMessage", "CLIENT")
    answer = only(spans, "sampling/createMessage", "SERVER")
    assert_child(tool, call)
    assert_child(ask, tool)
    assert_child(answer, ask)
    for span in (ask, answer):
        attrs = span["attributes"]
        assert attrs[feature_client.METHOD] == "sampling/createMessage", span
        assert span["status"] == "UNSET", span
        assert feature_client.DIRECTION not in attrs, span
    assert ask["attributes"][feature_client.REQUEST_ID] == answer["attributes"][feature_client.REQUEST_ID]


async def test_caller_traceparent_is_not_overwritten(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """A ``traceparent`` the caller put in ``params._meta`` reaches the server unchanged: the SERVER span is
    its child."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{trace_id}-{span_id}-01"
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        result = await _call_with_meta(conn, "add", ADD_ARGS, {"traceparent": traceparent})
    assert _text(result) == "5"
    spans = feature_client.collect(span_exporter, conn)
    server = only(spans, "tools/call add", "SERVER")
    assert (server["trace_id"], server["parent_span_id"]) == (trace_id, span_id), (
        f"SERVER span parent {server['trace_id']}/{server['parent_span_id']}, the caller's traceparent was "
        f"{trace_id}/{span_id}"
    )


async def _call_with_meta(
    conn: feature_client.Conn, name: str, arguments: dict[str, Any], meta: dict[str, str]
) -> Any:
    with anyio.fail_after(STEP_TIMEOUT):
        if IS_MCP1:  # 1.15's call_tool takes no meta: build the request with _meta ourselves
            import mcp.types as types

            request = types.ClientRequest(
                types.CallToolRequest.model_validate(
                    {"method": "tools/call", "params": {"name": name, "arguments": arguments, "_meta": meta}}
                )
            )
            return await conn.session.send_request(request, types.CallToolResult)
        return await conn.session.call_tool(name, arguments, meta=meta)


def _text(result: Any) -> str:
    return str(result.content[0].text)


async def test_baggage_reaches_the_handler(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """Baggage set in the client's context is visible to the tool through ``opentelemetry.baggage``."""
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        token = context.attach(baggage.set_baggage(feature_server.BAGGAGE_KEY, "acme-corp"))
        try:
            seen = _text(await conn.call_tool("traced"))
        finally:
            context.detach(token)
        seen_without = _text(await conn.call_tool("traced"))
    assert seen == "acme-corp"
    assert seen_without == ""


async def test_concurrent_calls_over_sessions_stay_apart(
    instrument: Any, span_exporter: Any, tmp_path: Path
) -> None:
    """50 concurrent ``tools/call`` over 10 stateful streamable HTTP sessions (own clientInfo each), all in
    the server at once: each SERVER span carries its own session's ``mcp.session.id`` and ``mcp.client.name``
    and is the child of its own CLIENT span."""
    instrument(capture_content=True)  # the call's own tag in gen_ai.tool.call.arguments identifies each span
    feature_server.BARRIER.reset(SESSIONS * CALLS_PER_SESSION)
    server = feature_server.build_server()
    session_ids: dict[int, str] = {}
    results: dict[str, str] = {}

    async def one_session(index: int, url: str) -> None:
        info = implementation(f"{feature_client.CLIENT_NAME}-{index}", feature_client.CLIENT_VERSION)
        async with feature_client.connect("http", tmp_path, url=url, client_info=info) as conn:
            await conn.list_tools()
            async with anyio.create_task_group() as calls:
                for call in range(CALLS_PER_SESSION):
                    calls.start_soon(one_call, conn, f"{index}-{call}")
            session_ids[index] = conn.http_session_ids[0]

    async def one_call(conn: feature_client.Conn, tag: str) -> None:
        results[tag] = _text(await conn.call_tool("rendezvous", {"tag": tag}))

    with anyio.fail_after(feature_server.SESSION_TIMEOUT):
        async with serve_http("http", server) as url, anyio.create_task_group() as sessions:
            for index in range(SESSIONS):
                sessions.start_soon(one_session, index, url)
    tags = [f"{i}-{c}" for i in range(SESSIONS) for c in range(CALLS_PER_SESSION)]
    assert results == {tag: tag for tag in tags}
    assert feature_server.BARRIER.arrived == len(tags), (
        "the calls did not all wait in the server at the same time"
    )
    assert len(set(session_ids.values())) == SESSIONS, session_ids

    spans = feature_client.collect(span_exporter)
    clients = _by_tag(find(spans, "tools/call rendezvous", "CLIENT"))
    servers = _by_tag(find(spans, "tools/call rendezvous", "SERVER"))
    assert sorted(clients) == sorted(tags) and sorted(servers) == sorted(tags), describe(spans)
    for tag in tags:
        index = int(tag.split("-")[0])
        client, server = clients[tag], servers[tag]
        assert_child(server, client)
        assert client["attributes"].get(feature_client.SESSION_ID) == session_ids[index], (
            tag,
            client["attributes"],
        )
        assert server["attributes"].get(feature_client.SESSION_ID) == session_ids[index], (
            tag,
            server["attributes"],
        )
        assert (
            server["attributes"].get(feature_client.CLIENT_NAME_KEY)
            == f"{feature_client.CLIENT_NAME}-{index}"
        ), (tag, server)
        assert (
            client["attributes"][feature_client.REQUEST_ID] == server["attributes"][feature_client.REQUEST_ID]
        ), tag
    assert len({clients[tag]["trace_id"] for tag in tags}) == len(tags), "calls share a trace"


def _by_tag(spans: list[Span]) -> dict[str, Span]:
    import json

    out: dict[str, Span] = {}
    for span in spans:
        raw = span["attributes"].get(attr.GEN_AI_TOOL_CALL_ARGUMENTS)
        assert isinstance(raw, str), f"{span['kind']} span without captured arguments: {span['attributes']}"
        tag = json.loads(raw)["tag"]
        assert tag not in out, f"two {span['kind']} spans for call {tag}"
        out[tag] = span
    return out


@pytest.mark.mcp1
async def test_injection_leaves_the_callers_request_alone(
    instrumented: Any, span_exporter: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mcp 1.x: the trace context goes into the request the SDK sends, not into the caller's object.

    One request object, sent twice under two different root spans: each SERVER span belongs to its own
    call's trace (no stale ``traceparent`` from the first send), the caller's request dumps the same
    before and after, keeps its own ``params`` and ``_meta`` objects, and is never copied.
    """
    import mcp.types as types
    import pydantic

    request = types.ClientRequest(
        types.CallToolRequest.model_validate(
            {"method": "tools/call", "params": {"name": "add", "arguments": ADD_ARGS, "_meta": {"k": "v"}}}
        )
    )
    params, meta = request.root.params, request.root.params.meta
    before = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    watched = {id(request), id(request.root), id(params), id(meta)}
    copied: list[str] = []
    model_copy = pydantic.BaseModel.model_copy

    def counting_copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        if id(self) in watched:
            copied.append(type(self).__name__)
        return model_copy(self, *args, **kwargs)

    monkeypatch.setattr(pydantic.BaseModel, "model_copy", counting_copy)
    tracer = trace.get_tracer(feature_server.USER_TRACER)
    roots = []
    async with feature_client.connect("memory", tmp_path) as conn:
        await conn.list_tools()
        for name in ("first", "second"):
            with tracer.start_as_current_span(f"{ROOT_SPAN}.{name}") as root, anyio.fail_after(STEP_TIMEOUT):
                result = await conn.session.send_request(request, types.CallToolResult)
            roots.append(root.get_span_context())
            assert _text(result) == "5"
            assert request.model_dump(by_alias=True, mode="json", exclude_none=True) == before
            assert request.root.params is params and request.root.params.meta is meta
            assert meta.model_extra == {"k": "v"}
    assert copied == [], f"the caller's request was copied: {copied}"
    spans = feature_client.collect(span_exporter, conn)
    servers = [s for s in spans if s["name"] == "tools/call add" and s["kind"] == "SERVER"]
    clients = [s for s in spans if s["name"] == "tools/call add" and s["kind"] == "CLIENT"]
    assert len(servers) == len(clients) == 2, describe(spans)
    for root_context, client, server in zip(roots, clients, servers, strict=True):
        assert client["trace_id"] == format(root_context.trace_id, "032x")
        assert_child(server, client)
