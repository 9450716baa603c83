"""The hook layer's own failure isolation, and what it records where the SDK's answer is not the handler's.

- A step of an operation that fails (making it current, deactivating it) never keeps the next step from
  running: the span still ends and the duration point is still recorded, and MCP answers as usual.
- A global propagator whose ``inject`` raises never fails a request: it is sent without trace context.
- mcp 2.3, protocol 2026-07-28 over a JSON-RPC stream: a handler exception is answered ``-32603`` and the
  SERVER span records the code that was sent.
- The standalone fastmcp ``Client`` used before it is connected: fastmcp's own error, nothing logged by us.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator

from mcp_otel.telemetry import Operation
from support.compat import IS_MCP1
from support.harness import STEP_TIMEOUT
from support.metrics import metric_points
from support.spans import describe, server_request_spans, to_dicts

pytestmark = pytest.mark.anyio

ARGS = {"a": 2, "b": 3}
SERVER_DURATION = "mcp.server.operation.duration"
CLIENT_DURATION = "mcp.client.operation.duration"


class Boom(RuntimeError):
    """The injected failure."""


@pytest.fixture
def failures(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[[], list[str]]]:
    """``failures()`` → the "instrumentation error" records mcp-otel logged so far (log-once memory reset)."""
    monkeypatch.setattr("mcp_otel._guard._seen", set())
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        yield lambda: [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("mcp_otel") and "instrumentation error" in r.getMessage()
        ]


async def test_failing_deactivation_still_ends_spans_and_records_points(
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    metric_reader: Any,
    monkeypatch: pytest.MonkeyPatch,
    failures: Callable[[], list[str]],
) -> None:
    """``Operation.deactivate`` raises on every operation: every span still ends, every operation still gets
    its duration point, the calls answer, and the failure is logged (once per place)."""
    original = Operation.deactivate

    def deactivate(self: Operation) -> None:
        original(self)  # undo the activation, then fail as a broken context would
        raise Boom("deactivate")

    instrument()
    monkeypatch.setattr(Operation, "deactivate", deactivate)
    async with connect("memory") as conn:
        await conn.list_tools()
        result = await conn.call_tool("add", ARGS)
    assert result["isError"] is False
    spans = conn.spans()
    server = server_request_spans(spans)
    assert "tools/call add" in [s["name"] for s in server], describe(spans)
    points = metric_points(metric_reader)
    server_points = [p for p in points if p["name"] == SERVER_DURATION]
    client_points = [p for p in points if p["name"] == CLIENT_DURATION]
    # every SERVER span (request or notification) has its point, and so has every CLIENT span
    server_spans = [s for s in spans if s["kind"] == "SERVER" and s["scope"] == "mcp_otel"]
    client_spans = [s for s in spans if s["kind"] == "CLIENT" and s["scope"] == "mcp_otel"]
    assert sum(p["count"] for p in server_points) == len(server_spans), (server_points, describe(spans))
    assert sum(p["count"] for p in client_points) == len(client_spans), (client_points, describe(spans))
    logged = failures()
    assert logged and all("deactivate" in m for m in logged), logged
    assert len(logged) == len(set(logged)), logged


class RaisingInjectPropagator(TextMapPropagator):
    """A propagator whose ``inject`` raises (``extract`` works)."""

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        return Context() if context is None else context

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        self.calls += 1
        raise Boom("inject")

    @property
    def fields(self) -> set[str]:
        return {"traceparent"}


@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_raising_propagator_never_fails_a_request(
    transport: str,
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    failures: Callable[[], list[str]],
) -> None:
    """Requests and notifications are sent without trace context; the answer is the usual one."""
    propagator = RaisingInjectPropagator()
    instrument()
    monkeypatch.setattr(propagate, "_HTTP_TEXT_FORMAT", propagator)
    async with connect(transport) as conn:
        result = await conn.call_tool("add", ARGS)
        again = await conn.call_tool("add", ARGS)
    assert propagator.calls > 0
    assert [result["content"][0]["text"], again["content"][0]["text"]] == ["5", "5"]
    logged = failures()
    assert logged, "the propagator failure was swallowed without a log record"
    assert len(logged) == len(set(logged)), logged


async def test_modern_handler_exception_records_the_code_sent(
    instrument: Callable[..., Any], span_exporter: Any
) -> None:
    """mcp 2.3, protocol 2026-07-28 over a JSON-RPC stream (the dual-era loop): a handler exception is
    answered ``-32603``; the SERVER span says ``-32603`` too (and the exception's class), like the client."""
    if IS_MCP1:
        pytest.skip("mcp 1.x has no 2026-07-28 protocol")
    import anyio
    from mcp import Client
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    memory = pytest.importorskip("mcp.client._memory")
    instrument()

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        raise Boom("listing failed")

    server = Server("modern-errors", on_list_tools=on_list_tools)
    with anyio.fail_after(STEP_TIMEOUT):
        async with Client(memory.InMemoryTransport(server), mode="auto") as client:
            with pytest.raises(MCPError) as raised:
                await client.list_tools()
    assert raised.value.error.code == -32603
    spans = [s for s in to_dicts(span_exporter.get_finished_spans()) if s["name"] == "tools/list"]
    by_kind = {s["kind"]: s["attributes"] for s in spans}
    assert set(by_kind) == {"SERVER", "CLIENT"}, describe(spans)
    assert by_kind["SERVER"]["mcp.protocol.version"] == "2026-07-28"
    assert by_kind["SERVER"]["rpc.response.status_code"] == "-32603"
    assert by_kind["SERVER"]["error.type"] == "Boom"
    assert by_kind["CLIENT"]["rpc.response.status_code"] == "-32603"


#: mcp 1.x's deprecation of ``str`` results of ``read_resource``, warned with ``stacklevel=2``.
STR_RESOURCE_DEPRECATION = "Returning str or bytes from read_resource"


async def _read_text_resource() -> str | None:
    """Read a resource a lowlevel mcp 1.x server returns as ``str``: its text, ``None`` when the read failed
    (a warning filter turned the SDK's deprecation warning into an error)."""
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import McpError  # type: ignore[attr-defined]
    from mcp.shared.memory import create_connected_server_and_client_session

    server: Any = Server("warning-origin")

    @server.read_resource()  # type: ignore[untyped-decorator,no-untyped-call,misc]
    async def read(uri: Any) -> str:
        return "plain text"

    async with create_connected_server_and_client_session(server) as client:
        try:
            result = await client.read_resource("demo://text")  # type: ignore[arg-type]
        except McpError:
            return None
    text: str = result.contents[0].text  # type: ignore[union-attr]
    return text


async def test_sdk_warnings_keep_their_origin(instrument: Callable[..., Any]) -> None:
    """mcp 1.x warns with ``stacklevel=2`` from inside its handlers: instrumented, the warning is still
    attributed to the SDK module that called the handler, so a filter scoped to that module still matches
    (under a filter that makes the warning an error elsewhere, the read still succeeds)."""
    import warnings

    if not IS_MCP1:
        pytest.skip("the deprecation is mcp 1.x's")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=STR_RESOURCE_DEPRECATION)
        if await _read_text_resource() is not None:
            pytest.skip("this mcp 1.x does not warn about str results of read_resource")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=STR_RESOURCE_DEPRECATION)
        warnings.filterwarnings(
            "ignore", message=STR_RESOURCE_DEPRECATION, module=r"mcp\.server\.lowlevel\.server"
        )
        assert await _read_text_resource() == "plain text"
        instrument()
        assert await _read_text_resource() == "plain text"


def test_session_state_takes_unhashable_and_unweakrefable_keys() -> None:
    """Per-session state is keyed by identity: an unhashable SDK object (mcp 2.3's
    ``_SingleExchangeDispatchContext`` is an ``eq=True`` dataclass) works as a key and goes with it; an object
    that cannot be weakly referenced is simply not remembered."""
    import dataclasses
    import gc

    from mcp_otel.hooks.common import IdentityMap

    @dataclasses.dataclass
    class Unhashable:
        name: str

    state: IdentityMap[str] = IdentityMap()
    key, twin = Unhashable("a"), Unhashable("a")
    state.set(key, "value")
    assert (state.get(key), state.get(twin), len(state)) == ("value", None, 1)
    del key
    gc.collect()
    assert len(state) == 0
    state.set(42, "int")  # ints cannot be weakly referenced
    assert (state.get(42), len(state)) == (None, 0)
    assert state.pop(twin) is None


async def test_notification_with_a_non_object_meta_is_not_our_error(
    instrument: Callable[..., Any], span_exporter: Any, failures: Callable[[], list[str]]
) -> None:
    """mcp 2.x: a notification whose ``_meta`` is not an object (``_meta: 42``) is sent and received as the
    SDK handles it; mcp-otel records its spans without trace context and logs nothing."""
    if IS_MCP1:
        pytest.skip("mcp 1.x notifications are typed models: their _meta is always an object")
    import anyio
    from mcp import Client

    from support.servers import build_demo

    instrument()
    method = "notifications/roots/list_changed"
    with anyio.fail_after(STEP_TIMEOUT):
        async with Client(build_demo(), mode="legacy") as client:
            await client.session._dispatcher.notify(method, {"_meta": 42})
            await client.list_tools()  # the notification is handled before this answer arrives
    spans = [s for s in to_dicts(span_exporter.get_finished_spans()) if s["name"] == method]
    assert sorted(s["kind"] for s in spans) == ["CLIENT", "SERVER"], describe(spans)
    assert failures() == []


async def test_listeners_get_a_read_only_view(
    instrument: Callable[..., Any], connect: Callable[..., Any]
) -> None:
    """Listeners see what an operation is (kind, method, message, span, error type), not the operation the
    hooks run: nothing to end, activate or re-type."""
    from mcp_otel import listeners

    seen: list[Any] = []

    class Recorder(listeners.McpListener):
        def on_operation_end(self, operation: Any) -> None:
            seen.append(operation)

    recorder = Recorder()
    instrument()
    listeners.add_listener(recorder)
    try:
        async with connect("memory") as conn:
            await conn.call_tool("add", ARGS)
    finally:
        listeners.remove_listener(recorder)
    call = next(v for v in seen if v.method == "tools/call" and v.kind.name == "SERVER")
    assert (call.message.name, call.error_type, call.span.get_span_context().is_valid) == ("add", None, True)
    assert not isinstance(call, Operation)
    for member in ("end", "activate", "deactivate", "set_error", "record_exception", "set_attribute"):
        assert not hasattr(call, member), member
    with pytest.raises(AttributeError):
        call.kind = None


async def test_suppressed_instrumentation_makes_no_spans(
    instrument: Callable[..., Any], connect: Callable[..., Any], metric_reader: Any
) -> None:
    """Inside OpenTelemetry's ``suppress_instrumentation()`` the client sends without a span or a point (as
    contrib instrumentations do); outside it, the same call has its CLIENT span."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    instrument()
    async with connect("memory") as conn:
        await conn.list_tools()
        with suppress_instrumentation():
            suppressed = await conn.call_tool("add", ARGS)
        await conn.call_tool("add", {"a": 1, "b": 1})
    assert suppressed["content"][0]["text"] == "5"
    clients = [s for s in conn.spans() if s["kind"] == "CLIENT" and s["name"] == "tools/call add"]
    assert len(clients) == 1, describe(conn.spans())
    points = [p for p in metric_points(metric_reader) if p["name"] == CLIENT_DURATION]
    calls = [p for p in points if p["attributes"].get("gen_ai.tool.name") == "add"]
    assert sum(p["count"] for p in calls) == 1, calls


def test_failing_started_bookkeeping_still_ends_the_operation(failures: Callable[[], list[str]]) -> None:
    """A seam's ``started`` bookkeeping that raises after the operation began: the call proceeds, the span
    ends, the context is restored and the failure is logged once."""
    from opentelemetry import trace
    from opentelemetry.metrics import get_meter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from mcp_otel.config import McpOtelConfig
    from mcp_otel.hooks.factory import Seam, build
    from mcp_otel.model import STDIO, Message, Session
    from mcp_otel.telemetry import Telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(
        provider.get_tracer("mcp_otel"), get_meter("mcp_otel"), McpOtelConfig.from_kwargs({"metrics": False})
    )

    def started(op: Any, instance: Any, args: Any, kwargs: Any) -> None:
        raise Boom("started")

    seam = Seam(
        "module",
        "handler",
        SpanKind.SERVER,
        lambda instance, args, kwargs: Message("tools/list", 1, None, None, None, Session(), STDIO),
        started=started,
        is_async=False,
    )
    wrapper = build(seam, telemetry)
    before = trace.get_current_span()
    seen: list[Any] = []
    assert wrapper(lambda: seen.append(trace.get_current_span()) or "answer", None, (), {}) == "answer"
    (span,) = exporter.get_finished_spans()
    assert span.name == "tools/list" and span.kind is SpanKind.SERVER
    assert [s.get_span_context() for s in seen] == [span.context]  # current while the call ran
    assert trace.get_current_span() is before
    logged = failures()
    assert len(logged) == 1 and "started" in logged[0], logged
