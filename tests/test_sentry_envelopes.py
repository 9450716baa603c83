"""mcp-otel → Sentry, end to end: real MCP transports, a real sentry-sdk client, envelopes received over HTTP.

The server runs in-process (in-memory, the 2.x direct path, streamable HTTP behind uvicorn on 127.0.0.1) or as
a stdio subprocess (``tests/support/sentry_server.py``, which sets up ``sentry_sdk.init`` + mcp-otel + Sentry
itself, with sentry-sdk's own MCP integration left on). Every assertion is on what
``tests/support/sentry_receiver.py`` received: transactions, error events, release-health sessions, OTLP
spans.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import tempfile
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
from opentelemetry.trace import SpanKind  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel import McpInstrumentor  # noqa: E402
from mcp_otel.model import Transport  # noqa: E402
from mcp_otel.sentry import McpSentry  # noqa: E402
from mcp_otel.sentry.health import ReleaseHealth  # noqa: E402
from support import sentry_server  # noqa: E402
from support.compat import CLIENT_NAME, CLIENT_VERSION, IS_MCP1  # noqa: E402
from support.harness import REPO_ROOT, Conn  # noqa: E402
from support.sentry_receiver import SentryReceiver, tear_down_sentry  # noqa: E402

SERVER_SCRIPT = Path(sentry_server.__file__).resolve()
CANARY = "canary-5b1e0c"
SERVER_TRANSPORTS = ("memory", "stdio", "http") if IS_MCP1 else ("memory", "direct", "stdio", "http")
NETWORK = {"stdio": "pipe", "http": "tcp", "http-stateless": "tcp"}
MCP_TRANSPORT = {
    "memory": "memory",
    "direct": "memory",
    "stdio": "stdio",
    "http": "http",
    "http-stateless": "http",
}


# -- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    with SentryReceiver() as r:
        yield r


@pytest.fixture
def sentry_setup(receiver: SentryReceiver) -> Iterator[Callable[..., McpSentry]]:
    """``sentry_setup(**init_options)``: ``sentry_sdk.init`` at the receiver + mcp-otel + Sentry, in-process.

    sentry-sdk's auto-enabling integrations (its MCP integration among them) stay off in the test process:
    they patch mcp for good. The stdio tests run them in the server subprocess.
    """
    handles: list[McpSentry] = []
    instrumentor = McpInstrumentor()

    def _setup(setup_options: dict[str, Any] | None = None, **init_options: Any) -> McpSentry:
        options: dict[str, Any] = {
            "dsn": receiver.dsn,
            "release": sentry_server.RELEASE,
            "environment": sentry_server.ENVIRONMENT,
            "traces_sample_rate": 1.0,
            "auto_enabling_integrations": False,
        }
        options.update(init_options)
        sentry_sdk.init(**options)
        provider = TracerProvider()
        handle = mcp_otel.sentry.setup(provider, **(setup_options or {}))
        handles.append(handle)
        instrumentor.instrument(tracer_provider=provider, capture_content=handle.capture_content)
        return handle

    try:
        yield _setup
    finally:
        tear_down_sentry(instrumentor, handles)


def connect(transport: str, receiver: SentryReceiver, env: dict[str, str] | None = None) -> Any:
    """A client session to ``support/sentry_server.py``'s server (a stdio server sends to ``receiver``)."""
    return sentry_server.connect(transport, receiver.dsn, env)


def finish(transport: str) -> None:
    """Send what the in-process client queued (the stdio server flushes when it exits)."""
    if transport != "stdio":
        sentry_sdk.flush(timeout=5.0)


# -- reading what arrived --------------------------------------------------------------------------------


def transactions(receiver: SentryReceiver, op: str | None = None) -> dict[str, dict[str, Any]]:
    """Transactions by name (of ``op`` when given; the last one wins)."""
    out = {}
    for item in receiver.items("transaction"):
        payload = item.payload
        if op is None or payload["contexts"]["trace"].get("op") == op:
            out[payload["transaction"]] = payload
    return out


def trace_of(transaction: dict[str, Any]) -> dict[str, Any]:
    return transaction["contexts"]["trace"]  # type: ignore[no-any-return]


def errors(receiver: SentryReceiver) -> list[dict[str, Any]]:
    return [item.payload for item in receiver.items("event") if item.payload.get("exception")]


def exception_types(event: dict[str, Any]) -> list[str]:
    return [value["type"] for value in event["exception"]["values"]]


def sessions(receiver: SentryReceiver) -> list[dict[str, Any]]:
    return [item.payload for item in receiver.items("session")]


def aggregates(receiver: SentryReceiver) -> list[dict[str, Any]]:
    return [agg for item in receiver.items("sessions") for agg in item.payload["aggregates"]]


def has_transaction(name: str, op: str = "mcp.server") -> Callable[[SentryReceiver], bool]:
    return lambda r: name in transactions(r, op)


def all_of(*predicates: Callable[[SentryReceiver], bool]) -> Callable[[SentryReceiver], bool]:
    return lambda r: all(p(r) for p in predicates)


def raw_contains(receiver: SentryReceiver, text: str) -> list[str]:
    """Which received request bodies (decompressed) contain ``text``."""
    return [body[:200].decode("utf-8", "replace") for body in receiver.raw_bodies if text.encode() in body]


async def exchange(conn: Conn, argument: str = "demo") -> None:
    """Tool call, failing tool, prompt, resource read and a server→client notification."""
    await conn.list_tools()
    await conn.call_tool("add", {"a": 2, "b": 3})
    result = await conn.call_tool("explode", {"text": argument})
    assert result.get("isError") is True
    await conn.call_tool("echo", {"text": argument})
    await conn.get_prompt("greet", {"name": argument})
    await conn.read_resource("demo://info")
    await conn.call_tool("logged", {"text": argument})


# -- the exchange, on every server transport ------------------------------------------------------------


@pytest.mark.parametrize("transport", SERVER_TRANSPORTS)
def test_mcp_insights_data_errors_and_session(
    transport: str, receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    if transport != "stdio":
        sentry_setup()

    async def run() -> None:
        async with connect(transport, receiver) as conn:
            await exchange(conn)

    anyio.run(run)
    finish(transport)
    stateful = transport not in ("direct",)
    receiver.wait_for(
        all_of(
            has_transaction("tools/call logged"),
            lambda r: len(errors(r)) >= 1,
            (lambda r: len(sessions(r)) >= 1) if stateful else (lambda r: bool(aggregates(r))),
        )
    )
    server = transactions(receiver, "mcp.server")
    expected = {"tools/list", "tools/call add", "tools/call explode", "tools/call echo", "prompts/get greet"}
    expected |= {"resources/read demo://info", "tools/call logged"}
    assert expected <= set(server), sorted(server)

    for name in expected:
        trace = trace_of(server[name])
        data = trace["data"]
        assert trace["origin"] == "auto.ai.mcp.otel"
        assert trace["status"] == ("internal_error" if name == "tools/call explode" else "ok"), name
        assert server[name]["transaction_info"]["source"] == "route"  # Sentry JS 11.17: route for every name
        assert data["mcp.method.name"] == name.split(" ")[0]
        assert data["mcp.transport"] == MCP_TRANSPORT[transport]
        if transport in NETWORK:
            assert data["network.transport"] == NETWORK[transport]
        else:
            assert "network.transport" not in data
        assert data.get("mcp.client.name") == CLIENT_NAME, (name, data)
        assert data["mcp.request.id"] == data["jsonrpc.request.id"] and data["mcp.request.id"].isdigit()
        if transport == "http":
            assert data.get("mcp.session.id")
        else:
            assert "mcp.session.id" not in data
        assert "client.address" not in data and "client.port" not in data  # user info off by default

    ok, failed = trace_of(server["tools/call add"]), trace_of(server["tools/call explode"])
    assert ok["status"] == "ok" and ok["data"]["mcp.tool.name"] == "add"
    assert ok["data"]["mcp.tool.result.is_error"] is False
    assert ok["data"]["mcp.tool.result.content_count"] == 1
    assert failed["status"] == "internal_error" and failed["data"]["mcp.tool.name"] == "explode"
    assert failed["data"]["mcp.tool.result.is_error"] is True
    assert failed["data"]["mcp.tool.result.content_count"] == 1
    assert failed["data"]["error.type"] == "tool_error"
    prompt = trace_of(server["prompts/get greet"])["data"]
    assert prompt["mcp.prompt.name"] == "greet" and prompt["mcp.prompt.result.message_count"] == 1
    assert "mcp.prompt.result.description" not in prompt  # output: off by default
    resource = trace_of(server["resources/read demo://info"])["data"]
    assert resource["mcp.resource.protocol"] == "demo" and "mcp.resource.uri" not in resource
    if transport != "direct":  # the 2026-07-28 direct path sends no log notifications
        logged = server["tools/call logged"]
        assert [(s["op"], s["description"]) for s in logged["spans"]] == [
            ("mcp.notification.server_to_client", "notifications/message")
        ]
        assert logged["spans"][0]["parent_span_id"] == trace_of(logged)["span_id"]
        child = logged["spans"][0]
        assert (
            child.get("status", child.get("tags", {}).get("status")) == "ok"
        )  # a tag before sentry-sdk 2.5x
        assert logged["spans"][0]["data"]["mcp.transport"] == MCP_TRANSPORT[transport]
        received = transactions(receiver, "mcp.notification.client_to_server")
        initialized = trace_of(received["notifications/initialized"])
        assert initialized["status"] == "ok" and initialized["origin"] == "auto.ai.mcp.otel"
        assert initialized["data"]["mcp.transport"] == MCP_TRANSPORT[transport]
        assert "mcp.request.id" not in initialized["data"]

    # the failing tool: exactly one error event, linked to its transaction by trace and span id
    events = [e for e in errors(receiver) if "RuntimeError" in exception_types(e)]
    assert len(events) == 1, [exception_types(e) for e in errors(receiver)]
    event = events[0]
    assert event["exception"]["values"][-1]["mechanism"] == sentry_server.tool_mechanism("explode")
    assert event["exception"]["values"][-1]["value"] == sentry_server.EXPLODE_MESSAGE
    assert event["contexts"]["trace"]["trace_id"] == failed["trace_id"]
    assert event["contexts"]["trace"]["span_id"] == failed["span_id"]
    assert event["transaction"] == "tools/call explode"
    duplicates = [
        e for e in errors(receiver) if e is not event and sentry_server.EXPLODE_MESSAGE in json.dumps(e)
    ]
    assert duplicates == [], "no logging or sentry MCP duplicates"
    assert not [
        t for t in receiver.items("transaction") if trace_of(t.payload).get("origin") == "auto.ai.mcp"
    ]

    if stateful:
        (session,) = sessions(receiver)
        assert session["status"] == "exited" and session["errors"] == 1  # errored: a tool failed
        assert session["attrs"]["release"] == sentry_server.RELEASE
        assert session["attrs"]["environment"] == sentry_server.ENVIRONMENT
        assert session["attrs"]["user_agent"] == f"{CLIENT_NAME}/{CLIENT_VERSION}"
        assert "did" not in session and "ip_address" not in session["attrs"]
        assert not aggregates(receiver)
    else:
        assert not sessions(receiver)
        counts = _sum_aggregates(aggregates(receiver))
        assert counts.get("errored") == 1 and counts.get("exited", 0) >= 6, counts


def _sum_aggregates(rows: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rows:
        for key in ("exited", "errored", "crashed", "abnormal"):
            total[key] = total.get(key, 0) + int(row.get(key, 0))
    return total


def test_client_spans_and_trace_ids(receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]) -> None:
    """In one process, the client's request is an ``mcp.client`` transaction in the server span's trace."""
    sentry_setup()

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("add", {"a": 1, "b": 1})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(
        all_of(has_transaction("tools/call add"), has_transaction("tools/call add", "mcp.client"))
    )
    server = trace_of(transactions(receiver, "mcp.server")["tools/call add"])
    client = trace_of(transactions(receiver, "mcp.client")["tools/call add"])
    assert server["trace_id"] == client["trace_id"]
    assert server["parent_span_id"] == client["span_id"]


def test_streamable_http_stateless_reports_request_sessions(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    sentry_setup(send_default_pii=True)

    async def run() -> None:
        async with connect("http-stateless", receiver) as conn:
            await conn.call_tool("add", {"a": 1, "b": 2})
            await conn.call_tool("explode", {"text": "x"})

    anyio.run(run)
    finish("http-stateless")
    receiver.wait_for(all_of(has_transaction("tools/call explode"), lambda r: bool(aggregates(r))))
    assert not sessions(receiver), "no application session without a protocol session"
    counts = _sum_aggregates(aggregates(receiver))
    assert counts.get("errored") == 1 and counts.get("exited", 0) >= 1, counts
    data = trace_of(transactions(receiver, "mcp.server")["tools/call add"])["data"]
    assert data["mcp.transport"] == "http" and data["network.transport"] == "tcp"
    assert data["client.address"] == "127.0.0.1" and isinstance(data["client.port"], int)  # PII allowed


# -- content and user data ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["memory", "stdio", "http"])
def test_canary_never_leaves_with_defaults(
    transport: str, receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    """Tool arguments and results, prompt arguments: nothing reaches any envelope by default."""
    if transport != "stdio":
        sentry_setup()

    async def run() -> None:
        async with connect(transport, receiver) as conn:
            await exchange(conn, CANARY)
            await conn.call_tool("capture", {"text": CANARY})

    anyio.run(run)
    finish(transport)
    receiver.wait_for(
        all_of(
            has_transaction("tools/call capture"), lambda r: len(errors(r)) >= 2, lambda r: bool(sessions(r))
        )
    )
    assert raw_contains(receiver, CANARY) == []
    # the errors are there all the same, with their frames (the argument variables filtered)
    (explode,) = [e for e in errors(receiver) if "RuntimeError" in exception_types(e)]
    frames = explode["exception"]["values"][-1]["stacktrace"]["frames"]
    assert any(frame.get("vars", {}).get("text") == "[Filtered]" for frame in frames)
    (captured,) = [e for e in errors(receiver) if "LookupError" in exception_types(e)]
    capture = trace_of(transactions(receiver, "mcp.server")["tools/call capture"])
    assert captured["contexts"]["trace"]["span_id"] == capture["span_id"], "user error linked to the MCP span"


def test_content_is_sent_when_allowed(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    """The positive control: with ``send_default_pii=True``, the same exchange carries the content."""
    handle = sentry_setup(send_default_pii=True)
    assert handle.capture_content

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("echo", {"text": CANARY})
            await conn.get_prompt("greet", {"name": CANARY})
            await conn.read_resource("demo://info")

    anyio.run(run)
    finish("memory")
    receiver.wait_for(has_transaction("resources/read demo://info"))
    server = transactions(receiver, "mcp.server")
    echo = trace_of(server["tools/call echo"])["data"]
    assert echo["mcp.request.argument.text"] == CANARY
    assert CANARY in echo["mcp.tool.result.content"]
    prompt = trace_of(server["prompts/get greet"])["data"]
    assert prompt["mcp.request.argument.name"] == CANARY
    assert prompt["mcp.prompt.result.description"] == "A greeting prompt."
    assert prompt["mcp.prompt.result.message_count"] == 1
    assert trace_of(server["resources/read demo://info"])["data"]["mcp.resource.uri"] == "demo://info"


def test_overrides_beat_send_default_pii(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    sentry_setup(
        {"record_inputs": False, "record_outputs": False, "resource_uri_in_name": False},
        send_default_pii=True,
    )

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("echo", {"text": CANARY})
            await conn.read_resource("demo://info")

    anyio.run(run)
    finish("memory")
    receiver.wait_for(has_transaction("resources/read"))
    assert raw_contains(receiver, CANARY) == []
    data = trace_of(transactions(receiver, "mcp.server")["resources/read"])["data"]
    assert data["mcp.resource.uri"] == "demo://info"  # user info still follows send_default_pii


# -- errors -----------------------------------------------------------------------------------------------


def test_ignore_errors_stay_ignored(receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]) -> None:
    sentry_setup(ignore_errors=[RuntimeError])

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("explode", {"text": "x"})
            await conn.call_tool("fail", {"reason": "y"})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(lambda r: len(errors(r)) >= 1 and bool(sessions(r)))
    assert [exception_types(e)[-1] for e in errors(receiver)] == ["ValueError"]


def test_error_events_survive_trace_sampling(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    """No transactions when ``traces_sampler`` says 0; the error is still captured, with the span's ids."""
    sentry_setup(traces_sampler=lambda context: 0.0)  # the sampler wins over the remote parent's flag

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("explode", {"text": "x"})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(lambda r: len(errors(r)) == 1 and bool(sessions(r)))
    assert not receiver.items("transaction")
    trace = errors(receiver)[0]["contexts"]["trace"]
    assert len(trace["trace_id"]) == 32 and len(trace["span_id"]) == 16 and trace["op"] == "mcp.server"


def test_before_send_transaction_applies(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    def drop_lists(event: Any, hint: Any) -> Any:
        return None if str(event.get("transaction", "")).endswith("/list") else event

    sentry_setup(before_send_transaction=drop_lists)

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.list_tools()
            await conn.call_tool("add", {"a": 1, "b": 1})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(has_transaction("tools/call add"))
    assert "tools/list" not in transactions(receiver)


def test_crashed_session(receiver: SentryReceiver) -> None:
    """``Server.run(raise_exceptions=True)``: a handler exception ends the session → ``crashed``.

    mcp 1.x sees it leave ``ServerSession``; mcp 2.x in the ``finally`` that closes the connection.
    """

    async def run() -> None:
        async with connect("stdio", receiver, {"SENTRY_TEST_SERVER": "crash"}) as conn:
            with anyio.move_on_after(10):  # the server dies: the request never gets an answer

                async def prompt() -> None:
                    with contextlib.suppress(Exception):
                        await conn.session.get_prompt("crash", {})

                async with anyio.create_task_group() as tg:
                    tg.start_soon(prompt)
                    while not sessions(receiver):
                        await anyio.sleep(0.1)
                    tg.cancel_scope.cancel()

    anyio.run(run)
    receiver.wait_for(lambda r: bool(sessions(r)) and bool(errors(r)))
    (session,) = sessions(receiver)
    assert session["status"] == "crashed" and session["errors"] == 1
    assert session["attrs"]["release"] == sentry_server.RELEASE
    assert [exception_types(e)[-1] for e in errors(receiver)] == ["RuntimeError"]


def test_never_breaks_the_host(
    receiver: SentryReceiver,
    sentry_setup: Callable[..., McpSentry],
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    """A failing mapping or capture is logged once; the MCP exchange is unaffected."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("mapping broke")

    monkeypatch.setattr("mcp_otel.sentry.processor.map_span", broken)
    monkeypatch.setattr("mcp_otel.sentry.errors.event_from_exception", broken)
    monkeypatch.setattr("mcp_otel.sentry.health.SentrySession", broken)
    monkeypatch.setattr("mcp_otel._guard._seen", set())
    sentry_setup()

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            assert (await conn.call_tool("add", {"a": 2, "b": 2}))["content"][0]["text"] == "4"
            assert (await conn.call_tool("explode", {"text": "x"}))["isError"] is True

    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        anyio.run(run)
    finish("memory")
    failures = [r.getMessage() for r in caplog.records if "instrumentation error" in r.getMessage()]
    assert any("sentry.processor.on_end" in m for m in failures), failures
    assert any("sentry.errors.on_exception" in m for m in failures), failures
    assert any("sentry.health" in m for m in failures), failures


# -- release health details -------------------------------------------------------------------------------


def test_abandoned_and_open_sessions_are_abnormal(receiver: SentryReceiver) -> None:
    """A session object dropped without a close, and one open at exit, end ``abnormal``."""
    sentry_sdk.init(dsn=receiver.dsn, release=sentry_server.RELEASE, auto_enabling_integrations=False)
    health = ReleaseHealth()
    health.install()
    try:

        class Key:
            pass

        dropped, kept = Key(), Key()
        health.on_session_start(dropped, SpanKind.SERVER, Transport(kind="stdio"))
        health.on_session_start(kept, SpanKind.SERVER, Transport(kind="stdio"))
        health.on_session_start(Key(), SpanKind.CLIENT, Transport(kind="stdio"))  # not reported
        assert health.open_sessions() == 2
        del dropped
        gc.collect()
        assert health.open_sessions() == 1
        health._at_exit()  # what atexit runs
        sentry_sdk.flush(timeout=5.0)
        receiver.wait_for(lambda r: len(sessions(r)) == 2)
        assert [s["status"] for s in sessions(receiver)] == ["abnormal", "abnormal"]
        del kept
    finally:
        health.uninstall()
        sentry_sdk.get_client().close(timeout=2.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)


def test_no_sessions_without_auto_session_tracking(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    sentry_setup(auto_session_tracking=False)

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("add", {"a": 1, "b": 1})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(has_transaction("tools/call add"))
    time.sleep(0.3)
    assert not sessions(receiver) and not aggregates(receiver)


def test_distinct_id_only_with_user_info(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    sentry_setup(send_default_pii=True)

    async def run() -> None:
        async with connect("http", receiver) as conn:
            await conn.call_tool("add", {"a": 1, "b": 1})

    anyio.run(run)
    finish("http")
    receiver.wait_for(lambda r: bool(sessions(r)))
    (session,) = sessions(receiver)
    assert session["status"] == "exited" and "errors" not in session
    assert session["did"] == "127.0.0.1" and session["attrs"]["ip_address"] == "127.0.0.1"


# -- the OTLP path ----------------------------------------------------------------------------------------


def test_otlp_integration_spans_carry_sentry_op(receiver: SentryReceiver) -> None:
    """stdio server with ``OTLPIntegration()``: its exporter sends mcp-otel's spans marked for Sentry."""
    pytest.importorskip("sentry_sdk.integrations.otlp", reason="OTLPIntegration needs sentry-sdk >= 2.45")

    async def run() -> None:
        async with connect("stdio", receiver, {"SENTRY_TEST_MODE": "otlp"}) as conn:
            await exchange(conn)

    anyio.run(run)
    receiver.wait_for(
        all_of(
            lambda r: any(s["name"] == "tools/call logged" for s in r.otlp_spans()),
            lambda r: len(errors(r)) >= 1,
            lambda r: bool(sessions(r)),
        )
    )
    otlp_paths = {path for method, path, _ in receiver.requests if method == "POST" and "otlp" in path}
    assert otlp_paths == {"/api/1/integration/otlp/v1/traces/"}
    spans = {s["name"]: s for s in receiver.otlp_spans() if s["scope"] == "mcp_otel"}
    add = {"mcp.tool.name": "add", "mcp.tool.result.is_error": False, "mcp.tool.result.content_count": 1}
    explode = {"mcp.tool.name": "explode", "error.type": "tool_error", "mcp.tool.result.is_error": True}
    expected = {
        "tools/call add": ("mcp.server", add),
        "tools/call explode": ("mcp.server", {**explode, "mcp.tool.result.content_count": 1}),
        "prompts/get greet": (
            "mcp.server",
            {"mcp.prompt.name": "greet", "mcp.prompt.result.message_count": 1},
        ),
        "resources/read": ("mcp.server", {"mcp.resource.uri": "demo://info"}),
        "notifications/initialized": ("mcp.notification.client_to_server", {}),
        "notifications/message": ("mcp.notification.server_to_client", {}),
    }
    for name, (op, attributes) in expected.items():
        span = spans[name]["attributes"]
        assert span["sentry.op"] == op, name
        assert span["sentry.origin"] == "auto.ai.mcp.otel"
        assert span["mcp.method.name"] == name.split(" ")[0]
        assert span["mcp.transport"] == "stdio" and span["network.transport"] == "pipe"
        for key, value in attributes.items():
            assert span[key] == value, (name, key)
        if not name.startswith("notifications/"):
            assert span["mcp.client.name"] == CLIENT_NAME
    assert spans["tools/call explode"]["status_code"] == 2  # STATUS_CODE_ERROR
    (event,) = errors(receiver)
    assert event["contexts"]["trace"]["span_id"] == spans["tools/call explode"]["span_id"]
    assert sessions(receiver)[0]["status"] == "exited"


def test_otlp_exporter_sends_the_mapped_spans(receiver: SentryReceiver) -> None:
    """``otlp_exporter()``: spans go to Sentry's OTLP endpoint exactly as the transaction path maps them."""
    sentry_sdk.init(dsn=receiver.dsn, release=sentry_server.RELEASE, auto_enabling_integrations=False)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mcp_otel.sentry.otlp_exporter()))
    instrumentor = McpInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:

        async def run() -> None:
            async with connect("http", receiver) as conn:
                await conn.call_tool("add", {"a": 1, "b": 2})
                await conn.call_tool("explode", {"text": CANARY})
                await conn.read_resource("demo://info")

        anyio.run(run)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        sentry_sdk.get_client().close(timeout=2.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)
    # OTLP spans are span-v2 spans in Sentry: JS 11.17's streaming rule, the method alone
    receiver.wait_for(lambda r: any(s["name"] == "resources/read" for s in r.otlp_spans()))
    headers = [{k.lower(): v for k, v in h.items()} for _, p, h in receiver.requests if "otlp" in p][0]
    assert headers["x-sentry-auth"].startswith("Sentry sentry_key=publickey")
    spans = {(s["name"], s["kind"]): s["attributes"] for s in receiver.otlp_spans()}
    server_kind = 2  # SPAN_KIND_SERVER
    add = spans[("tools/call add", server_kind)]
    assert add["sentry.op"] == "mcp.server" and add["mcp.request.id"] == add["jsonrpc.request.id"]
    assert add["mcp.tool.result.is_error"] is False and add["mcp.tool.result.content_count"] == 1
    assert add["mcp.transport"] == "http" and add["network.transport"] == "tcp" and add["mcp.session.id"]
    assert "client.address" not in add and "client.port" not in add
    assert spans[("tools/call explode", server_kind)]["mcp.tool.result.is_error"] is True
    resource = spans[("resources/read", server_kind)]
    assert "mcp.resource.uri" not in resource and resource["mcp.resource.protocol"] == "demo"
    assert spans[("tools/call add", 3)]["sentry.op"] == "mcp.client"  # SPAN_KIND_CLIENT
    assert [s for s in receiver.otlp_spans() if CANARY in json.dumps(s)] == []


# -- sentry-sdk's own integrations: no double capture -----------------------------------------------------


def test_logging_integration_does_not_duplicate(
    receiver: SentryReceiver, sentry_setup: Callable[..., McpSentry]
) -> None:
    """mcp logs exceptions it converts (2.x after mcp-otel saw them, 1.x FastMCP before): one event each."""
    sentry_setup()  # LoggingIntegration is a default integration

    async def run() -> None:
        async with connect("memory", receiver) as conn:
            await conn.call_tool("explode", {"text": "x"})
            with contextlib.suppress(Exception):
                await conn.session.get_prompt("no-such-prompt", {})

    anyio.run(run)
    finish("memory")
    receiver.wait_for(lambda r: bool(sessions(r)) and len(errors(r)) >= 2)
    time.sleep(0.3)
    events = errors(receiver)
    assert len(events) == 2, [(exception_types(e), e.get("logger")) for e in events]
    mechanisms = sorted(
        (e["exception"]["values"][-1]["mechanism"] for e in events), key=lambda m: m["data"]["error_type"]
    )
    assert mechanisms == [
        {
            "type": "auto.ai.mcp_server",
            "handled": False,
            "data": {"error_type": "prompt_execution", "prompt_name": "no-such-prompt"},
        },
        sentry_server.tool_mechanism("explode"),
    ]


def test_sentry_mcp_integration_does_not_duplicate(receiver: SentryReceiver) -> None:
    """stdio server with sentry-sdk's ``MCPIntegration`` on: one transaction and one error per failure."""

    async def run() -> None:
        async with connect("stdio", receiver) as conn:
            await conn.call_tool("explode", {"text": "x"})
            await conn.call_tool("fail", {"reason": "y"})

    anyio.run(run)
    receiver.wait_for(all_of(has_transaction("tools/call fail"), lambda r: len(errors(r)) >= 2))
    time.sleep(0.5)
    origins = [trace_of(item.payload).get("origin") for item in receiver.items("transaction")]
    assert set(origins) == {"auto.ai.mcp.otel"}, origins
    assert sorted(exception_types(e)[-1] for e in errors(receiver)) == ["RuntimeError", "ValueError"]
    assert sorted(
        (e["exception"]["values"][-1]["mechanism"] for e in errors(receiver)),
        key=lambda m: m["data"]["tool_name"],
    ) == [sentry_server.tool_mechanism("explode"), sentry_server.tool_mechanism("fail")]


# -- the documented setup ---------------------------------------------------------------------------------


@pytest.mark.parametrize("otlp", [False, True], ids=["transactions", "otlp"])
def test_example_setup(otlp: bool, receiver: SentryReceiver) -> None:
    """``examples/sentry_setup.py`` over stdio, as its docstring runs it."""
    if otlp:
        pytest.importorskip("sentry_sdk.integrations.otlp", reason="OTLPIntegration needs sentry-sdk >= 2.45")
    from support.harness import ServerSpec, open_client

    example = REPO_ROOT / "examples" / "sentry_setup.py"
    env = {"SENTRY_DSN": receiver.dsn, "MCP_OTEL_SENTRY_OTLP": "1" if otlp else "0"}

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            spec = ServerSpec(sentry_server.build_server, example)
            async with open_client(
                "stdio", spec, tmp_path=Path(tmp), env=env, instrument_subprocess=False
            ) as conn:
                try:
                    await conn.call_tool("add", {"a": 1, "b": 2})
                    await conn.call_tool("fail", {"reason": "r"})
                except Exception as exc:
                    raise AssertionError(f"server stderr:\n{conn.server_stderr()}") from exc

    anyio.run(run)
    if otlp:
        receiver.wait_for(lambda r: any(s["name"] == "tools/call fail" for s in r.otlp_spans()))
        span = next(s for s in receiver.otlp_spans() if s["name"] == "tools/call fail")["attributes"]
        assert span["sentry.op"] == "mcp.server" and span["mcp.tool.name"] == "fail"
    else:
        receiver.wait_for(has_transaction("tools/call fail"))
        assert trace_of(transactions(receiver)["tools/call fail"])["status"] == "internal_error"
    receiver.wait_for(lambda r: bool(sessions(r)) and bool(errors(r)))
    (event,) = errors(receiver)
    assert exception_types(event)[-1] == "ValueError"
    assert sessions(receiver)[0]["attrs"]["release"] == "demo-weather@1.0.0"
