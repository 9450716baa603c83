"""mcp-otel → Sentry in span streaming mode (``trace_lifecycle="stream"``), end to end, and ``client_spans``.

Real MCP transports, a real sentry-sdk client, span-v2 envelopes received over HTTP by
``tests/sentry_receiver.py``: segments and their spans (ops, names, attributes, parents, ids and times equal
to the OTel spans), linked error events, release-health sessions, no double capture with sentry-sdk's own
``MCPIntegration`` (left on in the stdio server), the privacy canary, and ``before_send_span`` /
``ignore_spans`` / ``traces_sampler``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import anyio  # noqa: E402
import sentry_sdk  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import format_span_id, format_trace_id  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel import McpInstrumentor  # noqa: E402
from mcp_otel.sentry import McpSentry  # noqa: E402
from mcp_otel.sentry.streaming import supported  # noqa: E402
from support.compat import CLIENT_NAME, IS_MCP1  # noqa: E402
from support.sentry_receiver import SentryReceiver, tear_down_sentry  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import sentry_server  # noqa: E402

pytestmark = pytest.mark.skipif(not supported(), reason="sentry-sdk without span streaming")

CANARY = "canary-7d41aa"
SERVER_TRANSPORTS = ("memory", "stdio", "http") if IS_MCP1 else ("memory", "direct", "stdio", "http")
MCP_TRANSPORT = {"memory": "memory", "direct": "memory", "stdio": "stdio", "http": "http"}


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    with SentryReceiver() as r:
        yield r


@pytest.fixture
def stream_setup(receiver: SentryReceiver) -> Iterator[Callable[..., tuple[McpSentry, InMemorySpanExporter]]]:
    """``stream_setup(setup_options, **init_options)``: streaming client + mcp-otel + Sentry, in-process.

    Returns the handle and an exporter holding the OTel spans mcp-otel recorded (same provider).
    """
    handles: list[McpSentry] = []
    instrumentor = McpInstrumentor()

    def _setup(
        setup_options: dict[str, Any] | None = None, **init_options: Any
    ) -> tuple[McpSentry, InMemorySpanExporter]:
        options: dict[str, Any] = {
            "dsn": receiver.dsn,
            "release": sentry_server.RELEASE,
            "environment": sentry_server.ENVIRONMENT,
            "traces_sample_rate": 1.0,
            "auto_enabling_integrations": False,
            "trace_lifecycle": "stream",
        }
        options.update(init_options)
        sentry_sdk.init(**options)
        provider = TracerProvider()
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        handle = mcp_otel.sentry.setup(provider, **(setup_options or {}))
        handles.append(handle)
        instrumentor.instrument(tracer_provider=provider, capture_content=handle.capture_content)
        return handle, exporter

    try:
        yield _setup
    finally:
        tear_down_sentry(instrumentor, handles)


def streamed(receiver: SentryReceiver) -> list[dict[str, Any]]:
    """Every streamed span received, attributes as plain values."""
    out = []
    for item in receiver.items("span"):
        for span in item.payload["items"]:
            attributes = {k: v["value"] for k, v in span.get("attributes", {}).items()}
            out.append({**span, "attributes": attributes})
    return out


def segments(receiver: SentryReceiver, op: str = "mcp.server") -> dict[str, dict[str, Any]]:
    """Segments of ``op`` by name (the last one wins)."""
    return {
        s["name"]: s for s in streamed(receiver) if s["is_segment"] and s["attributes"].get("sentry.op") == op
    }


def errors(receiver: SentryReceiver) -> list[dict[str, Any]]:
    return [item.payload for item in receiver.items("event") if item.payload.get("exception")]


def sessions(receiver: SentryReceiver) -> list[dict[str, Any]]:
    return [item.payload for item in receiver.items("session")]


async def exchange(conn: Any, argument: str = "demo") -> None:
    await conn.list_tools()
    await conn.call_tool("add", {"a": 2, "b": 3})
    assert (await conn.call_tool("explode", {"text": argument})).get("isError") is True
    await conn.call_tool("echo", {"text": argument})
    await conn.get_prompt("greet", {"name": argument})
    await conn.read_resource("demo://info")
    await conn.call_tool("logged", {"text": argument})


@pytest.mark.parametrize("transport", SERVER_TRANSPORTS)
def test_streamed_segments_errors_and_session(
    transport: str, receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    env = {"SENTRY_TEST_LIFECYCLE": "stream"}  # the stdio server keeps sentry-sdk's MCPIntegration on
    if transport != "stdio":
        stream_setup()

    async def run() -> None:
        async with sentry_server.connect(transport, receiver.dsn, env) as conn:
            await exchange(conn)

    anyio.run(run)
    if transport != "stdio":
        sentry_sdk.flush(timeout=5.0)
    stateful = transport != "direct"
    receiver.wait_for(
        lambda r: (
            "tools/call logged" in segments(r) and bool(errors(r)) and (bool(sessions(r)) or not stateful)
        )
    )
    time.sleep(0.3)
    server = segments(receiver)
    expected = {"tools/list", "tools/call add", "tools/call explode", "tools/call echo", "prompts/get greet"}
    expected |= {"resources/read", "tools/call logged"}  # streamed: resources/* by the method (JS 11.17)
    assert expected <= set(server), sorted(server)
    assert not receiver.items("transaction"), "streaming mode sends no transactions"
    origins = {s["attributes"].get("sentry.origin") for s in streamed(receiver)}
    assert origins == {"auto.ai.mcp.otel"}, origins  # no spans of sentry-sdk's MCPIntegration
    for name in expected:
        span = server[name]
        attributes = span["attributes"]
        assert span["status"] == ("error" if name == "tools/call explode" else "ok"), name
        assert attributes["sentry.segment.name.source"] == "route"
        assert (
            attributes["sentry.segment.name"] == name and attributes["sentry.segment.id"] == span["span_id"]
        )
        assert attributes["mcp.method.name"] == name.split(" ")[0]
        assert attributes["mcp.transport"] == MCP_TRANSPORT[transport]
        assert attributes["mcp.client.name"] == CLIENT_NAME
        assert attributes["mcp.request.id"] == attributes["jsonrpc.request.id"]
        assert span["end_timestamp"] >= span["start_timestamp"]
        assert "client.address" not in attributes and "mcp.resource.uri" not in attributes
    failed = server["tools/call explode"]
    assert failed["attributes"]["mcp.tool.result.is_error"] is True
    assert failed["attributes"]["mcp.tool.name"] == "explode"
    assert server["prompts/get greet"]["attributes"]["mcp.prompt.result.message_count"] == 1
    if transport != "direct":  # the 2026-07-28 direct path sends no log notifications
        logged = server["tools/call logged"]
        (child,) = [s for s in streamed(receiver) if s.get("parent_span_id") == logged["span_id"]]
        assert child["is_segment"] is False and child["name"] == "notifications/message"
        assert child["attributes"]["sentry.op"] == "mcp.notification.server_to_client"
        assert child["attributes"]["sentry.segment.id"] == logged["span_id"]
        assert child["trace_id"] == logged["trace_id"]
        initialized = segments(receiver, "mcp.notification.client_to_server")["notifications/initialized"]
        assert initialized["attributes"]["mcp.lifecycle.phase"] == "initialization_complete"
        assert initialized["attributes"]["mcp.protocol.ready"] == 1

    (event,) = [e for e in errors(receiver) if sentry_server.EXPLODE_MESSAGE in json.dumps(e)]
    assert event["exception"]["values"][-1]["mechanism"] == sentry_server.tool_mechanism("explode")
    assert event["contexts"]["trace"]["trace_id"] == failed["trace_id"]
    assert event["contexts"]["trace"]["span_id"] == failed["span_id"]
    assert event["transaction"] == "tools/call explode"
    if stateful:
        (session,) = sessions(receiver)
        assert session["status"] == "exited" and session["errors"] == 1
        assert session["attrs"]["release"] == sentry_server.RELEASE


def test_streamed_spans_are_the_otel_spans(
    receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    """Trace and span ids, parents, start and end times of each streamed span are the OTel span's."""
    _, exporter = stream_setup()

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("add", {"a": 1, "b": 1})
            await conn.call_tool("logged", {"text": "x"})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: "tools/call logged" in segments(r))
    otel = {format_span_id(s.context.span_id): s for s in exporter.get_finished_spans()}
    sent = streamed(receiver)
    assert len(sent) >= 4
    for span in sent:
        source = otel[span["span_id"]]
        assert span["trace_id"] == format_trace_id(source.context.trace_id)
        parent = format_span_id(source.parent.span_id) if source.parent is not None else None
        assert span.get("parent_span_id") == parent
        assert span["start_timestamp"] == pytest.approx(source.start_time / 1e9, abs=1e-5)
        assert span["end_timestamp"] == pytest.approx(source.end_time / 1e9, abs=1e-5)
    # with client spans on (the default), the in-process client's requests are mcp.client segments
    client = segments(receiver, "mcp.client")["tools/call add"]
    assert segments(receiver)["tools/call add"]["parent_span_id"] == client["span_id"]


@pytest.mark.parametrize("lifecycle", ["static", "stream"])
def test_client_spans_off_sends_only_received_requests(
    lifecycle: str, receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    """``client_spans=False``: no ``mcp.client`` data; what the server received, and what it sent inside."""
    _, exporter = stream_setup({"client_spans": False}, trace_lifecycle=lifecycle)

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("add", {"a": 1, "b": 1})
            await conn.call_tool("logged", {"text": "x"})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    if lifecycle == "stream":
        receiver.wait_for(lambda r: "tools/call logged" in segments(r))
        time.sleep(0.3)
        ops = {s["attributes"]["sentry.op"] for s in streamed(receiver)}
        logged = segments(receiver)["tools/call logged"]
        children = [s for s in streamed(receiver) if s.get("parent_span_id") == logged["span_id"]]
    else:
        receiver.wait_for(
            lambda r: any(i.payload["transaction"] == "tools/call logged" for i in r.items("transaction"))
        )
        time.sleep(0.3)
        payloads = [i.payload for i in receiver.items("transaction")]
        ops = {p["contexts"]["trace"]["op"] for p in payloads} | {
            s["op"] for p in payloads for s in p.get("spans", [])
        }
        logged = next(p for p in payloads if p["transaction"] == "tools/call logged")
        children = logged["spans"]
    assert "mcp.client" not in ops, ops
    assert "mcp.server" in ops
    assert [c.get("name", c.get("description")) for c in children] == ["notifications/message"]
    # mcp-otel still records every OTel span for other exporters
    assert {s.name for s in exporter.get_finished_spans()} >= {"tools/call add", "tools/call logged"}
    kinds = {s.kind.name for s in exporter.get_finished_spans()}
    assert kinds >= {"CLIENT", "SERVER"}


def test_before_send_span_ignore_spans_and_sampler(
    receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    seen: list[dict[str, Any]] = []

    def sampler(context: dict[str, Any]) -> float:
        seen.append(context.get("mcp") or {})
        return 0.0 if context["transaction_context"]["name"] == "tools/call echo" else 1.0

    def before_send_span(span: dict[str, Any], hint: Any) -> dict[str, Any]:
        span["attributes"]["edited"] = "yes"
        return span

    stream_setup(traces_sampler=sampler, before_send_span=before_send_span, ignore_spans=["tools/list"])

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.list_tools()
            await conn.call_tool("echo", {"text": "x"})
            await conn.call_tool("add", {"a": 1, "b": 1})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: "tools/call add" in segments(r))
    time.sleep(0.3)
    names = set(segments(receiver))
    assert "tools/call add" in names and "tools/call echo" not in names and "tools/list" not in names
    assert all(s["attributes"]["edited"] == "yes" for s in streamed(receiver))
    assert {
        "op": "mcp.server",
        "name": "tools/call echo",
        "method": "tools/call",
        "span_kind": "server",
    } in seen


def test_canary_never_leaves_with_defaults(
    receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    stream_setup()

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("echo", {"text": CANARY})
            await conn.call_tool("explode", {"text": CANARY})
            await conn.get_prompt("greet", {"name": CANARY})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: "prompts/get greet" in segments(r) and bool(errors(r)))
    time.sleep(0.3)
    assert not [b[:200] for b in receiver.raw_bodies if CANARY.encode() in b]


def test_content_with_pii(receiver: SentryReceiver, stream_setup: Callable[..., Any]) -> None:
    """With ``send_default_pii``: arguments, results, the error text of an ``isError`` result, the URI."""
    stream_setup(send_default_pii=True)

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("echo", {"text": CANARY})
            await conn.call_tool("fail", {"reason": CANARY})
            await conn.read_resource("demo://info")

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: "resources/read" in segments(r))
    server = segments(receiver)
    echo = server["tools/call echo"]["attributes"]
    assert echo["mcp.request.argument.text"] == CANARY
    assert CANARY in echo["mcp.tool.result.content"]
    fail = server["tools/call fail"]["attributes"]
    assert fail["mcp.tool.result.is_error"] is True
    (block,) = json.loads(fail["mcp.tool.result.content"])  # the error text the client received
    assert block["type"] == "text" and "Error executing tool fail" in block["text"]
    assert fail["mcp.tool.result.content_type"] == "text"
    resource = server["resources/read"]["attributes"]
    assert resource["mcp.request.argument.uri"] == "demo://info"
    assert resource["mcp.resource.uri"] == "demo://info"


def test_errors_captured_by_a_tool_join_the_segment(
    receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    """``sentry_sdk.capture_exception`` inside a tool: the event carries the streamed segment's ids."""
    stream_setup()

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("capture", {"text": "x"})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: "tools/call capture" in segments(r) and bool(errors(r)))
    segment = segments(receiver)["tools/call capture"]
    (event,) = errors(receiver)
    assert event["exception"]["values"][-1]["value"] == sentry_server.CAPTURED_MESSAGE
    assert event["contexts"]["trace"]["trace_id"] == segment["trace_id"]
    assert event["contexts"]["trace"]["span_id"] == segment["span_id"]


def test_errors_inside_a_users_own_span_keep_it(
    receiver: SentryReceiver, stream_setup: Callable[..., Any]
) -> None:
    """A tool that starts a streamed span of its own: errors captured inside belong to that span."""
    stream_setup()

    async def run() -> None:
        async with sentry_server.connect("memory", receiver.dsn) as conn:
            await conn.call_tool("capture_in_span", {"text": "x"})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: bool(errors(r)) and any(s["name"] == "own work" for s in streamed(r)))
    own = next(s for s in streamed(receiver) if s["name"] == "own work")
    (event,) = errors(receiver)
    assert event["contexts"]["trace"]["span_id"] == own["span_id"]
