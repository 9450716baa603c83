"""SERVER spans of mcp-otel: names, kinds, per-operation attributes, statuses, parents and content capture.

Every test runs the real demo server (``examples/demo_server.py``) or the lowlevel server of
``support.servers`` behind each transport the installed mcp offers (``support.harness.TRANSPORTS``).
Tests that only inspect the spans of the default exchange share one instrumented session per transport
(the ``demo_run`` / ``lowlevel_run`` fixtures); tests with their own options or requests open their own.
Transport-specific attributes (``mcp.transport``, ``network.*``, ``mcp.session.id``, client identity) are in
``test_transports.py``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from mcp_otel import facts
from support.compat import IS_MCP1, OTEL_SCOPE
from support.facts import recording
from support.harness import IN_PROCESS, TRANSPORTS, Conn
from support.scenario import (
    ADD_ARGS,
    CLIENT_ERROR_CASES,
    CONTENT_KEYS,
    FAIL_ARGS,
    FAIL_MESSAGE,
    LOWLEVEL_CODES,
    NOT_SERVER_ERRORS,
    PROMPT_VARIABLE_PREFIX,
    RESOURCE_URI,
    Run,
    method_of,
    run_demo,
)
from support.servers import CRASH_MESSAGE, LOWLEVEL_NAME, MCP_ERROR_CODE, USER_SPAN
from support.spans import Span, by_id, describe, named, one, sdk_spans, server_request_spans

pytestmark = pytest.mark.anyio

IN_PROCESS_TRANSPORTS = [t for t in TRANSPORTS if t in IN_PROCESS]
#: Transports whose server runs in the test process, so ``instrument()`` keywords apply to it.
SAME_PROCESS_TRANSPORTS = [t for t in TRANSPORTS if t != "stdio"]


async def _demo_spans(connect: Callable[..., Any], transport: str, **kwargs: Any) -> tuple[Conn, list[Span]]:
    async with connect(transport, **kwargs) as conn:
        await run_demo(conn)
    return conn, conn.spans()


def _server_span(spans: list[Span], name: str, conn: Conn | None = None) -> Span:
    found = named(server_request_spans(spans), name)
    stderr = f"\nserver stderr:\n{conn.server_stderr()[-3000:]}" if conn is not None else ""
    assert len(found) == 1, (
        f"expected exactly one mcp_otel SERVER span {name!r}, got {len(found)}; "
        f"spans: {describe(spans)}{stderr}"
    )
    return found[0]


def _exception_events(span: Span) -> list[dict[str, Any]]:
    return [e for e in span["events"] if e["name"] == "exception"]


# --------------------------------------------------------------------------------------------------------
# One SERVER span per request, with the right name and kind, and nothing from the SDK.


async def test_one_server_span_per_request(demo_run: Run) -> None:
    conn, spans = demo_run.conn, demo_run.spans
    server = server_request_spans(spans)
    names = [s["name"] for s in server]
    assert names == conn.sent, (
        f"SERVER span names (start order) differ from the requests sent\n"
        f"  spans: {names}\n  sent:  {conn.sent}"
        f"\n  all: {describe(spans)}\nserver stderr:\n{conn.server_stderr()[-3000:]}"
    )
    for s in server:
        assert s["kind"] == "SERVER", s
        assert s["scope"] == OTEL_SCOPE, s
    expected_handshake = "server/discover" if conn.modern else "initialize"
    assert names[0] == expected_handshake
    assert "initialize" not in names or not conn.modern


async def test_no_sdk_spans_while_instrumented(demo_run: Run) -> None:
    """mcp 2.x emits its own spans (scope ``mcp-python-sdk``); instrumented, it must emit none."""
    spans = demo_run.spans
    assert sdk_spans(spans) == [], f"mcp SDK spans while instrumented: {describe(sdk_spans(spans))}"


async def test_method_name_and_request_id(demo_run: Run) -> None:
    server = server_request_spans(demo_run.spans)
    ids: list[int] = []
    for s in server:
        attrs = s["attributes"]
        assert attrs.get("mcp.method.name") == method_of(s["name"]), s
        rid = attrs.get("jsonrpc.request.id")
        assert isinstance(rid, str) and rid.lstrip("-").isdigit(), f"{s['name']}: jsonrpc.request.id={rid!r}"
        ids.append(int(rid))
    assert len(set(ids)) == len(ids), f"request ids repeat: {ids}"
    assert ids == sorted(ids), f"request ids not in send order: {ids}"


async def test_operation_attributes(demo_run: Run) -> None:
    spans = demo_run.spans
    add = _server_span(spans, "tools/call add")
    assert add["attributes"]["gen_ai.tool.name"] == "add"
    assert add["attributes"]["gen_ai.operation.name"] == "execute_tool"
    fail = _server_span(spans, "tools/call fail")
    assert fail["attributes"]["gen_ai.tool.name"] == "fail"
    assert fail["attributes"]["gen_ai.operation.name"] == "execute_tool"
    greet = _server_span(spans, "prompts/get greet")
    assert greet["attributes"]["gen_ai.prompt.name"] == "greet"
    read = _server_span(spans, "resources/read")
    assert read["attributes"]["mcp.resource.uri"] == RESOURCE_URI
    for s in server_request_spans(spans):
        if s["attributes"].get("mcp.method.name") != "tools/call":
            assert "gen_ai.operation.name" not in s["attributes"], s
            assert "gen_ai.tool.name" not in s["attributes"], s
        if s["attributes"].get("mcp.method.name") != "prompts/get":
            assert "gen_ai.prompt.name" not in s["attributes"], s


async def test_no_content_captured_by_default(demo_run: Run) -> None:
    for s in server_request_spans(demo_run.spans):
        for key in s["attributes"]:
            assert key not in CONTENT_KEYS, f"{s['name']}: {key} captured by default"
            assert not key.startswith(PROMPT_VARIABLE_PREFIX), f"{s['name']}: {key} captured by default"


@pytest.mark.parametrize("same_process", SAME_PROCESS_TRANSPORTS)
async def test_resource_uri_in_span_name_opt_in(
    instrument: Callable[..., Any], connect: Callable[..., Any], same_process: str
) -> None:
    instrument(resource_uri_in_span_name=True)
    _, spans = await _demo_spans(connect, same_process)
    read = _server_span(spans, f"resources/read {RESOURCE_URI}")
    assert read["attributes"]["mcp.resource.uri"] == RESOURCE_URI
    assert named(server_request_spans(spans), "resources/read") == []


# --------------------------------------------------------------------------------------------------------
# Status.


async def test_successful_requests_leave_status_unset(demo_run: Run) -> None:
    for s in server_request_spans(demo_run.spans):
        if s["name"] == "tools/call fail":
            continue
        assert s["status"] == "UNSET", f"{s['name']}: status {s['status']} {s['status_description']!r}"
        assert "error.type" not in s["attributes"], s
        assert "rpc.response.status_code" not in s["attributes"], s


async def test_tool_error(demo_run: Run) -> None:
    assert demo_run.results.fail["isError"] is True
    fail = _server_span(demo_run.spans, "tools/call fail", demo_run.conn)
    assert fail["status"] == "ERROR"
    assert fail["attributes"]["error.type"] == "tool_error"
    assert "rpc.response.status_code" not in fail["attributes"]
    events = _exception_events(fail)
    assert len(events) == 1, f"exception events: {fail['events']}"
    assert events[0]["attributes"]["exception.type"] == "ValueError"
    assert FAIL_MESSAGE in events[0]["attributes"]["exception.message"]


async def test_tool_error_result_unchanged(
    instrument: Callable[..., Any], connect: Callable[..., Any], transport: str
) -> None:
    """The client gets exactly the ``isError`` result it gets without instrumentation."""
    async with connect(transport, instrument_subprocess=False) as conn:
        await conn.list_tools()
        plain = await conn.call_tool("fail", FAIL_ARGS)
    instrument()
    async with connect(transport) as conn:
        await conn.list_tools()
        instrumented_result = await conn.call_tool("fail", FAIL_ARGS)
    assert plain["isError"] is True
    assert instrumented_result == plain


@pytest.mark.parametrize("case", CLIENT_ERROR_CASES)
async def test_client_errors_are_not_server_errors(client_errors_run: Run, case: str) -> None:
    """Codes the caller caused (-32601, -32602, …): status code recorded, no ``error.type``, status UNSET."""
    method, _ = CLIENT_ERROR_CASES[case]
    code = client_errors_run.results[case]
    assert code in NOT_SERVER_ERRORS, f"server answered {method} with {code}"
    received = [
        s
        for s in server_request_spans(client_errors_run.spans)
        if s["attributes"].get("mcp.method.name") == method
    ]
    if IS_MCP1 and not received:
        # The client's span records the error (test_client_spans); no server span can exist on 1.x.
        pytest.skip(
            "mcp 1.x answers a request that fails its ClientRequest union (unknown method, invalid params) "
            "with -32602 inside BaseSession._receive_loop, before any handler or hookable method runs"
        )
    span = _server_span(client_errors_run.spans, method, client_errors_run.conn)
    attrs = span["attributes"]
    assert attrs["mcp.method.name"] == method
    assert attrs["rpc.response.status_code"] == str(code)
    assert "error.type" not in attrs, attrs
    assert span["status"] == "UNSET"


@pytest.mark.parametrize("code", LOWLEVEL_CODES)
async def test_mcp_error_classification(lowlevel_run: Run, code: int) -> None:
    """A lowlevel handler raising ``McpError``/``MCPError(code)``: the server-side exclusion list decides."""
    name = f"code:{code}"
    assert lowlevel_run.results.codes[name] == code
    span = _server_span(lowlevel_run.spans, f"prompts/get {name}", lowlevel_run.conn)
    attrs = span["attributes"]
    assert attrs["rpc.response.status_code"] == str(code)
    if code in NOT_SERVER_ERRORS:
        assert "error.type" not in attrs, attrs
        assert span["status"] == "UNSET"
    else:
        assert attrs["error.type"] == str(code)
        assert span["status"] == "ERROR"


async def test_plain_exception_in_lowlevel_handler(lowlevel_run: Run) -> None:
    """``RuntimeError`` from a lowlevel handler: ``error.type`` is its class name, with an exception event."""
    code = lowlevel_run.results.codes["crash"]
    span = _server_span(lowlevel_run.spans, "prompts/get crash", lowlevel_run.conn)
    attrs = span["attributes"]
    assert attrs["rpc.response.status_code"] == str(code)
    assert attrs["error.type"] == "RuntimeError"
    assert span["status"] == "ERROR"
    events = _exception_events(span)
    assert len(events) == 1, span["events"]
    assert events[0]["attributes"]["exception.type"] == "RuntimeError"
    assert CRASH_MESSAGE in events[0]["attributes"]["exception.message"]


async def test_mcp_error_in_lowlevel_handler(lowlevel_run: Run) -> None:
    assert lowlevel_run.results.codes["mcp-error"] == MCP_ERROR_CODE
    span = _server_span(lowlevel_run.spans, "prompts/get mcp-error", lowlevel_run.conn)
    assert span["attributes"]["rpc.response.status_code"] == str(MCP_ERROR_CODE)
    assert span["attributes"]["error.type"] == str(MCP_ERROR_CODE)
    assert span["status"] == "ERROR"


async def test_lowlevel_server_spans(lowlevel_run: Run) -> None:
    """The lowlevel server's exchange: one SERVER span per request, named after the server it came from."""
    names = [s["name"] for s in server_request_spans(lowlevel_run.spans)]
    assert names == lowlevel_run.conn.sent, describe(lowlevel_run.spans)
    for s in server_request_spans(lowlevel_run.spans):
        assert s["attributes"].get("mcp.server.name") == LOWLEVEL_NAME, s


# --------------------------------------------------------------------------------------------------------
# Parents.


def _traceparent() -> tuple[str, str, str]:
    trace_id = secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@pytest.mark.skipif(not IS_MCP1, reason="mcp 2.x's client injects its own current span into _meta")
async def test_meta_traceparent_is_the_parent(
    instrumented: Any, connect: Callable[..., Any], transport: str
) -> None:
    """A ``traceparent`` sent in ``params._meta`` makes that remote span the SERVER span's parent (mcp 1.x).

    mcp 2.x's client injects its current span into ``_meta`` itself (replacing a hand-made ``traceparent``
    whenever one of its own or mcp-otel's CLIENT spans is current); ``test_client_span_is_the_parent``
    covers it.
    """
    header, trace_id, span_id = _traceparent()
    from mcp.types import CallToolResult

    async with connect(transport) as conn:
        await conn.list_tools()
        await conn.request(
            "tools/call",
            {"name": "add", "arguments": ADD_ARGS, "_meta": {"traceparent": header}},
            span_name="tools/call add",
            result_type=CallToolResult,
        )
    span = _server_span(conn.spans(), "tools/call add", conn)
    assert span["trace_id"] == trace_id
    assert span["parent_span_id"] == span_id
    assert span["parent_is_remote"] is True


@pytest.mark.skipif(IS_MCP1, reason="the mcp 1.x client does not put the caller's span into _meta")
async def test_client_span_is_the_parent(
    instrumented: Any, connect: Callable[..., Any], transport: str, tracer_provider: Any
) -> None:
    """mcp 2.x's client injects the caller's current span: a call inside ``client-root`` nests under it."""
    tracer = tracer_provider.get_tracer("tests.client")
    async with connect(transport) as conn:
        await conn.list_tools()
        with tracer.start_as_current_span("client-root"):
            await conn.call_tool("add", ADD_ARGS)
    spans = conn.spans()
    root = one(spans, "client-root")
    span = _server_span(spans, "tools/call add", conn)
    assert span["trace_id"] == root["trace_id"]
    parent = by_id(spans).get(span["parent_span_id"])
    if parent is not None and parent["scope"] == OTEL_SCOPE and parent["kind"] == "CLIENT":
        # mcp-otel traced the call on the client side too: semconv puts its CLIENT span in between.
        assert parent["parent_span_id"] == root["span_id"], describe(spans)
    else:
        assert span["parent_span_id"] == root["span_id"], (
            f"parent {parent and parent['name']!r} instead of client-root; spans: {describe(spans)}"
        )
        if transport not in IN_PROCESS:
            assert span["parent_is_remote"] is True


async def test_spans_opened_by_a_tool_are_children(lowlevel_run: Run) -> None:
    assert lowlevel_run.results.work.get("isError") is not True, lowlevel_run.results.work
    spans = lowlevel_run.spans
    server = _server_span(spans, "tools/call work", lowlevel_run.conn)
    user = one(spans, USER_SPAN)
    assert user["trace_id"] == server["trace_id"]
    assert user["parent_span_id"] == server["span_id"], describe(spans)


# --------------------------------------------------------------------------------------------------------
# Content capture (opt-in).


def _json_attr(span: Span, key: str) -> Any:
    value = span["attributes"].get(key)
    assert isinstance(value, str), f"{span['name']}: {key}={value!r} (want a JSON string)"
    return json.loads(value)


@pytest.fixture(params=IN_PROCESS_TRANSPORTS)
def inproc(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


async def test_capture_content(
    instrument: Callable[..., Any], connect: Callable[..., Any], inproc: str
) -> None:
    instrument(capture_content=True)
    with recording() as recorder:
        conn, spans = await _demo_spans(connect, inproc)
    add = _server_span(spans, "tools/call add")
    assert _json_attr(add, "gen_ai.tool.call.arguments") == ADD_ARGS
    assert _json_attr(add, "gen_ai.tool.call.result") == {"result": 5}
    greet = _server_span(spans, "prompts/get greet")
    assert greet["attributes"]["gen_ai.prompt.variable.name"] == "Ada"
    fail = _server_span(spans, "tools/call fail")
    assert _json_attr(fail, "gen_ai.tool.call.arguments") == FAIL_ARGS
    assert "gen_ai.tool.call.result" not in fail["attributes"], "result is only captured on success"
    # the prompt result has no convention key: listeners (the Sentry mapping) get it, content only on capture
    assert not [k for k in greet["attributes"] if k.startswith("mcp.prompt.result.")]
    assert recorder.of(facts.PROMPT_RESULT, "SERVER") == [
        facts.PromptResult(1, "A greeting prompt.", "user", "Write a friendly greeting for Ada.")
    ]


async def test_capture_content_without_structured_result(
    instrument: Callable[..., Any], connect: Callable[..., Any], inproc: str
) -> None:
    """No ``structuredContent``: the result is the ``content`` array, wrapped in an object (GenAI schema)."""
    instrument(capture_content=True)
    async with connect(inproc, server="lowlevel") as conn:
        await conn.list_tools()
        result = await conn.call_tool("work", {})
    assert "structuredContent" not in result
    span = _server_span(conn.spans(), "tools/call work")
    wrapped = _json_attr(span, "gen_ai.tool.call.result")
    assert isinstance(wrapped, dict) and set(wrapped) == {"content"}, wrapped
    captured = wrapped["content"]
    assert isinstance(captured, list) and len(captured) == 1, captured
    assert {k: captured[0][k] for k in ("type", "text")} == {"type": "text", "text": "done"}
    assert _json_attr(span, "gen_ai.tool.call.arguments") == {}


async def test_max_content_length(
    instrument: Callable[..., Any], connect: Callable[..., Any], inproc: str
) -> None:
    instrument(capture_content=True, max_content_length=10)
    _, spans = await _demo_spans(connect, inproc)
    add = _server_span(spans, "tools/call add")
    greet = _server_span(spans, "prompts/get greet")
    captured = {
        "arguments": add["attributes"].get("gen_ai.tool.call.arguments"),
        "result": add["attributes"].get("gen_ai.tool.call.result"),
        "prompt variable": greet["attributes"].get("gen_ai.prompt.variable.name"),
    }
    for what, value in captured.items():
        assert isinstance(value, str), f"{what} not captured: {value!r}"
        assert len(value) <= 10, f"{what} longer than max_content_length=10: {value!r}"
    assert captured["prompt variable"] == "Ada"


async def test_content_redactor(
    instrument: Callable[..., Any], connect: Callable[..., Any], inproc: str
) -> None:
    seen: list[tuple[str, str]] = []

    def redactor(key: str, value: str) -> str | None:
        seen.append((key, value))
        if key == "gen_ai.tool.call.result":
            return None
        if key == "gen_ai.tool.call.arguments":
            return "<redacted>"
        return value.upper()

    instrument(capture_content=True, content_redactor=redactor)
    _, spans = await _demo_spans(connect, inproc)
    keys = {k for k, _ in seen}
    assert {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt.variable.name"} <= keys, (
        seen
    )
    for key, value in seen:
        assert isinstance(value, str), (key, value)
    add_args = [json.loads(v) for k, v in seen if k == "gen_ai.tool.call.arguments"]
    assert ADD_ARGS in add_args
    assert ("gen_ai.prompt.variable.name", "Ada") in seen
    add = _server_span(spans, "tools/call add")
    assert add["attributes"]["gen_ai.tool.call.arguments"] == "<redacted>"
    assert "gen_ai.tool.call.result" not in add["attributes"], (
        "redactor returned None: attribute must be dropped"
    )
    greet = _server_span(spans, "prompts/get greet")
    assert greet["attributes"]["gen_ai.prompt.variable.name"] == "ADA"


@pytest.mark.parametrize("capture_transport", [t for t in TRANSPORTS if t in (*IN_PROCESS, "stdio")])
async def test_capture_env_var(
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capture_transport: str,
) -> None:
    """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` turns capture on without the keyword.

    Over stdio the subprocess (``mcp_otel.bootstrap``) inherits the variable.
    """
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument()
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    conn, spans = await _demo_spans(connect, capture_transport, env=env)
    add = _server_span(spans, "tools/call add", conn)
    assert _json_attr(add, "gen_ai.tool.call.arguments") == ADD_ARGS
    greet = _server_span(spans, "prompts/get greet", conn)
    assert greet["attributes"]["gen_ai.prompt.variable.name"] == "Ada"


async def test_capture_keyword_beats_env_var(
    instrument: Callable[..., Any], connect: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, inproc: str
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument(capture_content=False)
    with recording() as recorder:
        _, spans = await _demo_spans(connect, inproc)
    add = _server_span(spans, "tools/call add")
    assert "gen_ai.tool.call.arguments" not in add["attributes"]
    assert recorder.of(facts.PROMPT_RESULT, "SERVER") == [facts.PromptResult(message_count=1)]  # no content
