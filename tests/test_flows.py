"""The 2026-07-28 flows of mcp 2.3, end to end over stdio and streamable HTTP, with the SDK's real ``Client``
(its multi-round-trip driver, real elicitation and sampling callbacks) and ``MCPServer``
(``support.flows_server``).

One exchange per transport (module-scoped), each step under a root span of its own:

- multi-round-trip calls: a tool, a prompt and a resource read with 1, 2 and 3 rounds, the ``Resolve``
  path (``book``), a state-only round, a refused input request and the rounds cap — one CLIENT span per
  logical call, the later rounds CLIENT spans under it, each round a SERVER span, the input requests SERVER
  spans under it, one client metric point per call, the server's ``input_required`` points labelled;
- a ``subscriptions/listen`` channel delivering a resource-updated and a tools-list-changed event, then
  dropped (stdio: the server process is killed; HTTP: the response stream breaks);
- an extension method, and one the runner rejects for the wire version;
- (HTTP) a client without the elicitation capability: -32021 is the caller's fault on the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from support.compat import MCP_VERSION_INFO, OTEL_SCOPE, implementation
from support.harness import REPO_ROOT, STEP_TIMEOUT, bootstrap_command, serve_asgi, subprocess_env
from support.metrics import metric_points
from support.spans import Span, describe, to_dicts, wait_for_file_spans

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(MCP_VERSION_INFO < (2, 3), reason="the 2026-07-28 flows need mcp >= 2.3"),
]

ROUND = "mcp_otel.request.round"
ROUND_COUNT = "mcp_otel.request.round_count"
RESULT_TYPE = "mcp_otel.result.type"
REQUEST_COUNT = "mcp_otel.input_request.count"
END = "mcp_otel.subscription.end"
EVENT_COUNT = "mcp_otel.subscription.event_count"
STATUS_CODE = "rpc.response.status_code"
ERROR_TYPE = "error.type"
REQUEST_ID = "jsonrpc.request.id"
INPUT_REQUIRED_EVENT = "mcp_otel.input_required"
SERVER_SCRIPT = Path(__file__).resolve().parent / "support" / "flows_server.py"
RESOURCE_URI = "file:///flows/a"
#: The logical calls of the exchange: step → (span name, client call, rounds).
CALLS: dict[str, tuple[str, str, int]] = {
    **{f"tool-{n}": ("tools/call poll", "tool", n) for n in (1, 2, 3)},
    **{f"prompt-{n}": ("prompts/get brief", "prompt", n) for n in (1, 2, 3)},
    **{f"resource-{n}": ("resources/read", "resource", n) for n in (1, 2, 3)},
}


# ----------------------------------------------------------------------------------------- the exchange


@dataclass
class FlowsRun:
    """What one exchange left: every span (both processes), the in-process metric points, the results."""

    transport: str
    spans: list[Span] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def root(self, step: str) -> Span:
        (root,) = [s for s in self.spans if s["name"] == f"step {step}"]
        return root

    def children(self, parent: Span, kind: str | None = None, name: str | None = None) -> list[Span]:
        found = [
            s
            for s in self.spans
            if s["parent_span_id"] == parent["span_id"]
            and s["trace_id"] == parent["trace_id"]
            and (kind is None or s["kind"] == kind)
            and (name is None or s["name"] == name)
        ]
        return sorted(found, key=lambda s: s["start_ns"])

    def call(self, step: str, name: str) -> Span:
        """The one CLIENT span of a logical call (child of the step's root span)."""
        found = self.children(self.root(step), "CLIENT", name)
        assert len(found) == 1, f"{step}: {describe(self.spans)}"
        return found[0]


async def elicitation(ctx: Any, params: Any) -> Any:
    """The client's elicitation callback: refuses the question ``refuse``, answers every other."""
    from mcp_types import ElicitResult, ErrorData

    if params.message == "refuse":
        return ErrorData(code=-32600, message="refused by the user")
    return ElicitResult(action="accept", content={"seat": "1A", "answer": "yes"})


async def sampling(ctx: Any, params: Any) -> Any:
    """The client's sampling callback."""
    from mcp_types import CreateMessageResult, TextContent

    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="fine"), model="test")


def _client(target: Any, **kwargs: Any) -> Any:
    from mcp import Client

    return Client(
        target,
        client_info=implementation(),
        read_timeout_seconds=STEP_TIMEOUT,
        elicitation_callback=elicitation,
        sampling_callback=sampling,
        **kwargs,
    )


async def _call(client: Any, kind: str, rounds: int, state_only: bool = False) -> Any:
    if kind == "tool":
        return await client.call_tool("poll", {"rounds": rounds, "state_only": state_only})
    if kind == "prompt":
        return await client.get_prompt("brief", {"rounds": str(rounds)})
    return await client.read_resource(f"steps://{rounds}")


async def _raw(client: Any, method: str) -> Any:
    from mcp.types import Request, Result

    class RawRequest(Request[dict[str, Any] | None, str]):  # type: ignore[misc]
        pass

    return await client.session.send_request(RawRequest(method=method, params={"text": "hi"}), Result)


async def _exchange(client: Any, run: FlowsRun, drop: Callable[[], Any]) -> None:
    """Every step, each under ``step <name>``; the listen channel (dropped at the end) comes last."""
    from mcp.client.subscriptions import SubscriptionLost
    from mcp.shared.exceptions import MCPError

    step = _root
    for name, (_, kind, rounds) in CALLS.items():
        with step(name):
            run.results[name] = await _call(client, kind, rounds)
    with step("resolve"):
        run.results["resolve"] = await client.call_tool("book", {"flight": "LH1"})
    with step("state-only"):
        run.results["state-only"] = await _call(client, "tool", 3, state_only=True)
    with step("refused"), pytest.raises(MCPError) as refused:
        await client.call_tool("ask", {"question": "refuse"})
    run.results["refused"] = refused.value.error.code
    client.input_required_max_rounds = 2
    with step("cap"), pytest.raises(RuntimeError, match="more than 2 rounds"):
        await _call(client, "tool", 5)
    client.input_required_max_rounds = 10
    with step("extension"):
        run.results["extension"] = await _raw(client, "echo/ping")
    with step("extension-rejected"), pytest.raises(MCPError) as rejected:
        await _raw(client, "echo/legacy")
    run.results["extension-rejected"] = rejected.value.error.code
    with step("listen"):
        events: list[Any] = []
        with pytest.raises(SubscriptionLost):
            async with client.listen(tools_list_changed=True, resource_subscriptions=[RESOURCE_URI]) as sub:
                await client.call_tool("publish", {"uri": RESOURCE_URI})
                async for event in sub:
                    events.append(event)
                    if len(events) == 2:
                        await drop()
        run.results["listen"] = events


@contextlib.asynccontextmanager
async def _stdio(tmp_path: Path, run: FlowsRun) -> AsyncIterator[tuple[Any, Callable[[], Any]]]:
    from mcp.client.stdio import StdioServerParameters

    spans_file = tmp_path / "server-spans.jsonl"
    argv = bootstrap_command(spans_file, SERVER_SCRIPT)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=subprocess_env(), cwd=str(REPO_ROOT))
    pid: list[int] = []

    async def drop() -> None:
        os.kill(pid[0], signal.SIGKILL)  # the server goes away mid-channel

    client = _client(params)
    with contextlib.suppress(Exception):  # the server is gone: closing the session may complain
        async with client:
            pid.append(await _server_pid(client))
            yield client, drop
    # the server's spans up to the channel (SimpleSpanProcessor: each is on disk when it ends)
    run.spans.extend(wait_for_file_spans(spans_file, _has_publish))


async def _server_pid(client: Any) -> int:
    """The stdio server's process id (``/proc``: the newest child of this process running the bootstrap)."""
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    for child in reversed(children):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"mcp_otel.bootstrap" in cmdline and str(SERVER_SCRIPT).encode() in cmdline:
            return int(child)
    raise AssertionError(f"no stdio server child among {children}")


def _has_publish(spans: list[Span]) -> bool:
    return any(s["kind"] == "SERVER" and s["name"] == "tools/call publish" for s in spans)


class _Dropper:
    """ASGI wrapper whose response streams break once :meth:`drop` was called (a dropped connection)."""

    def __init__(self, app: Any) -> None:
        self.app, self.dropped = app, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def guarded(message: Any) -> None:
            if self.dropped and message.get("type") == "http.response.body":
                raise ConnectionResetError("connection dropped")
            await send(message)

        await self.app(scope, receive, guarded)

    async def drop(self) -> None:
        self.dropped = True


@contextlib.asynccontextmanager
async def _http(run: FlowsRun) -> AsyncIterator[tuple[Any, Callable[[], Any]]]:
    from mcp.shared.exceptions import MCPError

    from support import flows_server

    app = _Dropper(flows_server.build().streamable_http_app())
    async with serve_asgi(app) as base:
        url = base + "/mcp"
        async with _client(url) as client:
            yield client, app.drop
        app.dropped = False
        # a client without the elicitation capability: the server answers -32021
        from mcp import Client

        async with Client(url, client_info=implementation(), read_timeout_seconds=STEP_TIMEOUT) as bare:
            with _root("capability"), pytest.raises(MCPError) as missing:
                await bare.call_tool("book", {"flight": "LH1"})
        run.results["capability"] = missing.value.error.code
        with _root("listen-closed"):  # a channel the client closes itself
            async with _client(url) as client, client.listen(tools_list_changed=True):
                pass


@contextlib.contextmanager
def _root(name: str) -> Any:
    from opentelemetry import trace

    with (
        anyio.fail_after(STEP_TIMEOUT),
        trace.get_tracer("tests.flows").start_as_current_span(f"step {name}"),
    ):
        yield


@pytest.fixture(scope="module", params=["stdio", "http"])
async def flows(
    request: pytest.FixtureRequest, tracer_provider: Any, tmp_path_factory: pytest.TempPathFactory
) -> FlowsRun:
    """The exchange over one transport, instrumented (default options), with its spans and points."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import conftest
    from mcp_otel import McpInstrumentor

    run = FlowsRun(transport=request.param)
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    previous, conftest._ROUTER.target = conftest._ROUTER.target, SimpleSpanProcessor(exporter)
    instrumentor = McpInstrumentor()
    try:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        opened = _stdio(tmp_path_factory.mktemp("flows"), run) if run.transport == "stdio" else _http(run)
        with anyio.fail_after(6 * STEP_TIMEOUT):
            async with opened as (client, drop):
                await _exchange(client, run, drop)
        run.points = metric_points(reader)
        run.spans.extend(to_dicts(exporter.get_finished_spans()))
    finally:
        instrumentor.uninstrument()
        conftest._ROUTER.target = previous
        meter_provider.shutdown()
    return run


# ----------------------------------------------------------------------------------------- helpers


def _is_result_attribute(key: str) -> bool:
    return key.startswith(("mcp.tool.result.", "mcp.prompt.result.", "gen_ai.tool.call.result"))


def _assert_rounds(run: FlowsRun, step: str, name: str, requests: list[tuple[str, int]]) -> Span:
    """A logical call of ``len(requests) + 1`` rounds whose round ``k`` asked for ``requests[k-1]``
    (``(method, count)``; count 0: state only). Returns the call's CLIENT span."""
    rounds = len(requests) + 1
    call = run.call(step, name)
    attrs = call["attributes"]
    assert call["status"] == "UNSET", call
    assert RESULT_TYPE not in attrs and ROUND not in attrs, call
    if rounds == 1:
        assert ROUND_COUNT not in attrs and call["events"] == [], call
    else:
        assert attrs[ROUND_COUNT] == rounds, call
        events = [e for e in call["events"] if e["name"] == INPUT_REQUIRED_EVENT]
        assert [(e["attributes"][ROUND], e["attributes"][REQUEST_COUNT]) for e in events] == [
            (k, 1 if requests[k - 1][0] else 0) for k in range(1, rounds)
        ], call
    # round 1 is the call's own request: its SERVER span is the call's child
    servers = run.children(call, "SERVER", name)
    legs = run.children(call, "CLIENT", name)
    assert len(servers) == 1 and len(legs) == rounds - 1, describe(run.children(call))
    for round_, leg in enumerate(legs, start=2):
        final = round_ == rounds
        assert leg["status"] == "UNSET", leg
        assert leg["attributes"][ROUND] == round_, leg
        assert leg["attributes"][RESULT_TYPE] == ("complete" if final else "input_required"), leg
        (server,) = run.children(leg, "SERVER", name)
        servers.append(server)
    for round_, server in enumerate(servers, start=1):
        sattrs = server["attributes"]
        final = round_ == rounds
        assert server["status"] == "UNSET", server
        if rounds == 1:
            assert RESULT_TYPE not in sattrs and ROUND not in sattrs, server
            continue
        assert sattrs[ROUND] == round_, server  # round 1 by its params, later rounds from the baggage
        assert sattrs[RESULT_TYPE] == ("complete" if final else "input_required"), server
        if not final:
            assert sattrs[REQUEST_COUNT] == (1 if requests[round_ - 1][0] else 0), server
            assert not [k for k in sattrs if _is_result_attribute(k)], server
    inputs = run.children(call, "SERVER")
    inputs = [s for s in inputs if s["name"] != name]
    expected = [(method, k) for k, (method, _) in enumerate(requests, start=1) if method]
    assert [(s["name"], s["attributes"][ROUND]) for s in inputs] == expected, describe(inputs)
    for span in inputs:
        assert span["status"] == "UNSET" and ERROR_TYPE not in span["attributes"], span
    return call


def _requests(rounds: int) -> list[tuple[str, int]]:
    """What ``flows_server.next_round`` asks in each round but the last."""
    return [("elicitation/create" if k % 2 else "sampling/createMessage", 1) for k in range(1, rounds)]


# ----------------------------------------------------------------------------------------- multi-round-trip


@pytest.mark.parametrize("step", list(CALLS))
async def test_multi_round_trip_call_is_one_trace(flows: FlowsRun, step: str) -> None:
    """1, 2 and 3 rounds of a tool call, a prompt and a resource read: one CLIENT span for the call, its
    later rounds CLIENT spans under it, every round's SERVER span in the same trace, the input requests
    (real elicitation and sampling callbacks) SERVER spans under the call."""
    name, _, rounds = CALLS[step]
    call = _assert_rounds(flows, step, name, _requests(rounds))
    assert {s["trace_id"] for s in flows.spans if s["trace_id"] == call["trace_id"]}
    if step.startswith("tool"):
        assert flows.results[step].content[0].text == f"done after {rounds}"


async def test_resolve_path_and_input_request_keys(flows: FlowsRun) -> None:
    """``MCPServer``'s ``Resolve`` parameters (an elicitation, then a sampling that depends on it): three
    rounds; each input request's span carries the key the server gave it as its request id."""
    call = _assert_rounds(
        flows, "resolve", "tools/call book", [("elicitation/create", 1), ("sampling/createMessage", 1)]
    )
    inputs = [s for s in flows.children(call, "SERVER") if s["name"] != "tools/call book"]
    keys = [str(s["attributes"][REQUEST_ID]) for s in inputs]
    assert [key.rsplit(":", 1)[1] for key in keys] == ["ask_seat", "summarise"], keys  # module:resolver
    assert flows.results["resolve"].content[0].text == "LH1 1A"


async def test_state_only_rounds(flows: FlowsRun) -> None:
    """Rounds that carry only ``requestState``: no input request spans, ``mcp_otel.input_request.count`` 0."""
    _assert_rounds(flows, "state-only", "tools/call poll", [("", 0), ("", 0)])


async def test_refused_input_request(flows: FlowsRun) -> None:
    """The client refuses an input request: the request's SERVER span records the code (the caller's fault:
    UNSET); the call fails with that code as ``error.type`` but no status code (no response carried it)."""
    assert flows.results["refused"] == -32600
    call = flows.call("refused", "tools/call ask")
    assert call["status"] == "ERROR" and call["status_description"] == "refused by the user", call
    assert call["attributes"][ERROR_TYPE] == "-32600" and STATUS_CODE not in call["attributes"], call
    assert call["attributes"][ROUND_COUNT] == 1, call
    (server,) = flows.children(call, "SERVER", "tools/call ask")
    assert server["status"] == "UNSET" and server["attributes"][RESULT_TYPE] == "input_required", server
    (refused,) = flows.children(call, "SERVER", "elicitation/create")
    assert refused["attributes"][STATUS_CODE] == "-32600" and ERROR_TYPE not in refused["attributes"], refused
    assert refused["status"] == "UNSET", refused


async def test_rounds_cap(flows: FlowsRun) -> None:
    """The driver gives up after ``input_required_max_rounds``: the call's span is ERROR with the driver's
    exception, every round before it recorded; the rounds themselves did not fail."""
    call = flows.call("cap", "tools/call poll")
    assert call["status"] == "ERROR", call
    assert call["attributes"][ERROR_TYPE] == "InputRequiredRoundsExceededError", call
    assert call["attributes"][ROUND_COUNT] == 3, call
    assert [e["name"] for e in call["events"]] == [INPUT_REQUIRED_EVENT] * 3 + ["exception"], call
    legs = flows.children(call, "CLIENT", "tools/call poll")
    assert [(leg["attributes"][ROUND], leg["status"]) for leg in legs] == [(2, "UNSET"), (3, "UNSET")]


async def test_metric_points_count_each_call_once(flows: FlowsRun) -> None:
    """The client records one point per logical call (the whole duration); the server records every round,
    its ``input_required`` rounds labelled, so the unlabelled points count each call once."""
    client = [
        p
        for p in flows.points
        if p["name"] == "mcp.client.operation.duration" and p["attributes"].get("gen_ai.tool.name") == "poll"
    ]
    # tool-1, tool-2, tool-3, state-only (the cap's call failed: its point carries the error type)
    ok = [p for p in client if "error.type" not in p["attributes"]]
    assert [p["count"] for p in ok] == [4] and RESULT_TYPE not in ok[0]["attributes"], client
    failed = [p for p in client if p["attributes"].get("error.type") == "InputRequiredRoundsExceededError"]
    assert [p["count"] for p in failed] == [1], client
    if flows.transport == "stdio":
        return  # the server's points stay in its process
    server = [
        p
        for p in flows.points
        if p["name"] == "mcp.server.operation.duration" and p["attributes"].get("gen_ai.tool.name") == "poll"
    ]
    by_type = {p["attributes"].get(RESULT_TYPE): p["count"] for p in server}
    # rounds answered input_required: 0 + 1 + 2 (tool-1..3) + 2 (state-only) + 3 (cap)
    assert by_type == {None: 4, "input_required": 8}, server
    book = [
        p["count"]
        for p in flows.points
        if p["name"] == "mcp.client.operation.duration"
        and p["attributes"].get("gen_ai.tool.name") == "book"
        and "error.type" not in p["attributes"]
    ]
    assert book == [1]  # three rounds, one point


# ----------------------------------------------------------------------------------------- listen


async def test_listen_channel_delivers_then_drops(flows: FlowsRun) -> None:
    """The channel is a CLIENT span on the client for its life, ``lost`` (ERROR) when the connection drops;
    the events it delivered are counted on it, and each is a notification span in the same trace."""
    assert [type(e).__name__ for e in flows.results["listen"]] == ["ResourceUpdated", "ToolsListChanged"]
    channel = flows.call("listen", "subscriptions/listen")
    attrs = channel["attributes"]
    assert attrs[END] == "lost" and channel["status"] == "ERROR", channel
    assert attrs[ERROR_TYPE] == "-32000" and attrs[EVENT_COUNT] == 2, channel
    assert attrs[REQUEST_ID].startswith("listen-"), channel
    received = [
        s
        for s in flows.spans
        if s["trace_id"] == channel["trace_id"]
        and s["kind"] == "SERVER"
        and s["name"] in ("notifications/resources/updated", "notifications/tools/list_changed")
    ]
    assert sorted(s["name"] for s in received) == [
        "notifications/resources/updated",
        "notifications/tools/list_changed",
    ], describe(flows.spans)
    if flows.transport == "stdio":
        return  # the server was killed: its channel span never ended
    (server,) = flows.children(channel, "SERVER", "subscriptions/listen")
    assert server["status"] == "UNSET" and server["attributes"][END] == "cancelled", server
    assert server["attributes"][EVENT_COUNT] >= 2, server
    sent = flows.children(server, "CLIENT")
    assert [s["name"] for s in sent][:3] == [
        "notifications/subscriptions/acknowledged",
        "notifications/resources/updated",
        "notifications/tools/list_changed",
    ], describe(sent)
    sent_ids = {s["span_id"] for s in sent}
    assert all(event["parent_span_id"] in sent_ids for event in received), describe(received)


async def test_listen_channel_closed_by_the_client(flows: FlowsRun) -> None:
    """A channel the application leaves: ``client_closed`` on the client, ``cancelled`` on the server, no
    error on either side."""
    if flows.transport == "stdio":
        pytest.skip("the HTTP exchange covers the closed channel")
    channel = flows.call("listen-closed", "subscriptions/listen")
    assert channel["status"] == "UNSET" and channel["attributes"][END] == "client_closed", channel
    assert channel["attributes"][EVENT_COUNT] == 0, channel
    (server,) = flows.children(channel, "SERVER", "subscriptions/listen")
    assert server["status"] == "UNSET" and server["attributes"][END] == "cancelled", server


# ----------------------------------------------------------------------------------------- extensions, codes


async def test_extension_method(flows: FlowsRun) -> None:
    """An extension's request method gets spans like any custom method; one the runner rejects for the wire
    version records -32601 (the caller's mistake on the server, an error on the client)."""
    assert type(flows.results["extension"]).__name__ == "Result"
    call = flows.call("extension", "echo/ping")
    assert call["status"] == "UNSET" and call["attributes"]["mcp.method.name"] == "echo/ping", call
    (server,) = flows.children(call, "SERVER", "echo/ping")
    assert server["status"] == "UNSET" and server["scope"] == OTEL_SCOPE, server
    assert flows.results["extension-rejected"] == -32601
    call = flows.call("extension-rejected", "echo/legacy")
    assert call["status"] == "ERROR" and call["attributes"][ERROR_TYPE] == "-32601", call
    (server,) = flows.children(call, "SERVER", "echo/legacy")
    assert server["status"] == "UNSET" and server["attributes"][STATUS_CODE] == "-32601", server
    assert ERROR_TYPE not in server["attributes"], server
    if flows.transport == "http":
        points = [
            p
            for p in flows.points
            if p["name"] == "mcp.server.operation.duration"
            and p["attributes"]["mcp.method.name"] == "echo/ping"
        ]
        assert [p["count"] for p in points] == [1], points


async def test_missing_client_capability_is_the_callers_fault(flows: FlowsRun) -> None:
    """-32021 (missing required client capability, 2026-07-28): on the server ``rpc.response.status_code``
    without ``error.type`` (status UNSET), as for -32602; on the client an error like every code."""
    if flows.transport == "stdio":
        pytest.skip("the HTTP exchange covers it")
    assert flows.results["capability"] == -32021
    call = flows.call("capability", "tools/call book")
    assert call["status"] == "ERROR" and call["attributes"][ERROR_TYPE] == "-32021", call
    (server,) = flows.children(call, "SERVER", "tools/call book")
    assert server["status"] == "UNSET" and server["attributes"][STATUS_CODE] == "-32021", server
    assert ERROR_TYPE not in server["attributes"], server
