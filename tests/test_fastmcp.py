"""Standalone fastmcp: 2.x and 3.x (on mcp 1.x) and 4.x (on mcp 2.x) servers and clients under mcp-otel.

- A fastmcp server and the fastmcp ``Client`` produce the same mcp-otel spans (names, kinds, statuses,
  parents, attributes, exception events) as the SDK's own demo server driven by the SDK's client, in memory
  and over stdio (a real subprocess under ``python -m mcp_otel.bootstrap``).
- fastmcp 4's native telemetry is switched to ``propagation_only`` while instrumented: no ``fastmcp`` span
  and no SDK span, one SERVER and one CLIENT span per request; the trace context still crosses the process
  boundary; ``uninstrument()`` gives fastmcp back its own spans, and a user's ``telemetry_mode="off"`` stays.
  fastmcp 3 has the native spans without the modes: they are silenced the same way while instrumented.

Runs in a virtualenv with fastmcp installed (see ``docs/fastmcp.md``); skipped elsewhere.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("fastmcp", reason="standalone fastmcp is not installed (nox session tests-fastmcp*)")

from support import fastmcp_demo  # noqa: E402
from support.compat import (  # noqa: E402
    OTEL_SCOPE,
    SDK_SCOPE,
    implementation,  # noqa: E402
)
from support.harness import REPO_ROOT, STEP_TIMEOUT, bootstrap_command, subprocess_env  # noqa: E402
from support.spans import Span, describe, to_dicts, wait_for_file_spans  # noqa: E402

FASTMCP_MAJOR = fastmcp_demo.fastmcp_major() or 0
FASTMCP4 = FASTMCP_MAJOR >= 4
needs_telemetry_mode = pytest.mark.skipif(not FASTMCP4, reason="only fastmcp 4 has telemetry modes")
pytestmark = pytest.mark.anyio

#: The requests of the demo exchange, as their SERVER span names.
REQUESTS = ["tools/list", "tools/call add", "tools/call fail", "prompts/get greet", "resources/read"]


# --- fixtures


@pytest.fixture
def hooked(
    instrument: Callable[..., Any], tracer_provider: Any, meter_provider: Any
) -> Iterator[Callable[..., Any]]:
    """``hooked(**options)``: ``McpInstrumentor`` instrumented with the fastmcp hooks active."""
    stack = contextlib.ExitStack()

    def _hooked(**options: Any) -> Any:
        instrumentor = instrument(**options)
        stack.enter_context(
            fastmcp_demo.fastmcp_hooks(instrumentor, tracer_provider, meter_provider, **options)
        )
        return instrumentor

    with stack:
        yield _hooked


def _client(target: Any, *, legacy: bool = True, **kwargs: Any) -> Any:
    """A fastmcp ``Client``; on fastmcp 4 ``legacy`` pins the initialize handshake (the SDK client's default
    on stdio), else it negotiates as fastmcp does by default (``server/discover``, 2026-07-28)."""
    from fastmcp import Client

    if FASTMCP4:
        kwargs["mode"] = "legacy" if legacy else "auto"
    return Client(target, client_info=implementation(), timeout=STEP_TIMEOUT, **kwargs)


async def _fastmcp_exchange(client: Any) -> None:
    """The demo exchange through the fastmcp ``Client``."""
    with anyio.fail_after(4 * STEP_TIMEOUT):
        async with client:
            await client.list_tools()
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.content[0].text == "5"
            failed = await client.call_tool("fail", {"reason": "demo"}, raise_on_error=False)
            assert failed.is_error
            await client.get_prompt("greet", {"name": "Ada"})
            await client.read_resource("demo://info")


async def _sdk_exchange(connect: Callable[..., Any], transport: str) -> list[Span]:
    """The demo exchange against the SDK's own demo server, through the test harness."""
    async with connect(transport) as conn:
        await conn.list_tools()
        await conn.call_tool("add", {"a": 2, "b": 3})
        await conn.call_tool("fail", {"reason": "demo"})
        await conn.get_prompt("greet", {"name": "Ada"})
        await conn.read_resource("demo://info")
    return conn.spans()


def _server_names(spans: list[Span]) -> list[str]:
    return [s["name"] for s in spans if s["scope"] == OTEL_SCOPE and s["kind"] == "SERVER"]


def _assert_one_span_per_request(spans: list[Span], kinds: tuple[str, ...] = ("SERVER", "CLIENT")) -> None:
    """No foreign MCP spans, and exactly one mcp-otel span of each of ``kinds`` per JSON-RPC request."""
    foreign = [s for s in spans if s["scope"] in (fastmcp_demo.FASTMCP_SCOPE, SDK_SCOPE)]
    assert not foreign, describe(foreign)
    for kind in kinds:
        ids = Counter(
            s["attributes"]["jsonrpc.request.id"]
            for s in spans
            if s["kind"] == kind and "jsonrpc.request.id" in s["attributes"]
        )
        assert ids and max(ids.values()) == 1, f"{kind}: {ids}; {describe(spans)}"


def _assert_linked(spans: list[Span]) -> None:
    """Every request's SERVER span is a child of its CLIENT span (same trace)."""
    index = {s["span_id"]: s for s in spans}
    for server in (s for s in spans if s["kind"] == "SERVER" and s["scope"] == OTEL_SCOPE):
        if server["name"].startswith("notifications/"):
            continue
        parent = index.get(server["parent_span_id"] or "")
        assert parent is not None, f"{server['name']}: parent missing; {describe(spans)}"
        assert (parent["kind"], parent["name"], parent["trace_id"]) == (
            "CLIENT",
            server["name"],
            server["trace_id"],
        )


# --- in memory


async def test_fastmcp_server_and_client_match_the_sdk_in_memory(
    hooked: Callable[..., Any], connect: Callable[..., Any], span_exporter: Any
) -> None:
    """Same spans as the SDK server + SDK client on the in-memory transport (initialize handshake)."""
    hooked()
    sdk_spans = await _sdk_exchange(connect, "memory")
    span_exporter.clear()

    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    spans = to_dicts(span_exporter.get_finished_spans())

    assert set(fastmcp_demo.shapes(spans)) == set(fastmcp_demo.shapes(sdk_spans))
    for name in REQUESTS:
        assert name in _server_names(spans)
    _assert_one_span_per_request(spans)
    _assert_linked(spans)
    failed = next(s for s in spans if s["kind"] == "SERVER" and s["name"] == "tools/call fail")
    assert failed["attributes"]["error.type"] == "tool_error"
    assert [e["attributes"]["exception.type"] for e in failed["events"]] == ["ValueError"]
    assert {s["attributes"].get("mcp.transport") for s in spans if s["scope"] == OTEL_SCOPE} == {"memory"}


async def test_client_used_before_connecting_is_not_our_error(
    hooked: Callable[..., Any], span_exporter: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """A fastmcp ``Client`` used before ``async with`` fails with fastmcp's own error and mcp-otel logs
    nothing; then entered twice (nested), each exit undoes its own entry and the calls keep their
    transport."""
    import logging

    monkeypatch.setattr("mcp_otel._guard._seen", set())
    hooked()
    client = _client(fastmcp_demo.build_fastmcp_demo())
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        with pytest.raises(RuntimeError, match="not connected"):
            await client.initialize()
        async with client:
            async with client:
                await client.call_tool("add", {"a": 2, "b": 3})
            await client.call_tool("add", {"a": 2, "b": 3})
    assert [r.getMessage() for r in caplog.records if "instrumentation error" in r.getMessage()] == []
    calls = [s for s in to_dicts(span_exporter.get_finished_spans()) if s["name"] == "tools/call add"]
    assert len(calls) == 4, describe(calls)
    assert {s["attributes"].get("mcp.transport") for s in calls} == {"memory"}


async def test_fastmcp_client_on_the_sdk_server(
    hooked: Callable[..., Any], connect: Callable[..., Any], span_exporter: Any
) -> None:
    """The fastmcp ``Client`` wraps the SDK ``ClientSession``: against the SDK's own server its CLIENT spans
    are mcp-otel's, the same as the SDK client's."""
    hooked()
    sdk_spans = await _sdk_exchange(connect, "memory")
    span_exporter.clear()

    from support.servers import build_demo

    await _fastmcp_exchange(_client(build_demo()))
    spans = to_dicts(span_exporter.get_finished_spans())

    assert set(fastmcp_demo.shapes(spans)) == set(fastmcp_demo.shapes(sdk_spans))
    _assert_one_span_per_request(spans)


@needs_telemetry_mode
async def test_fastmcp4_default_client_modern_protocol(
    hooked: Callable[..., Any], span_exporter: Any
) -> None:
    """fastmcp 4's default negotiation (``server/discover``, 2026-07-28): still one span per request."""
    hooked()
    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo(), legacy=False))
    spans = to_dicts(span_exporter.get_finished_spans())

    assert _server_names(spans)[0] == "server/discover"
    assert set(REQUESTS) <= set(_server_names(spans))
    _assert_one_span_per_request(spans)
    _assert_linked(spans)
    ours = [s for s in spans if s["scope"] == OTEL_SCOPE and s["name"] != "server/discover"]
    assert {s["attributes"].get("mcp.protocol.version") for s in ours} == {"2026-07-28"}
    assert not any("mcp.session.id" in s["attributes"] for s in spans)  # sessionless protocol


@needs_telemetry_mode
async def test_native_telemetry_is_propagation_only_while_instrumented(
    hooked: Callable[..., Any], span_exporter: Any
) -> None:
    """Instrumented: fastmcp's mode reads ``propagation_only`` (settings untouched); uninstrumented: the
    original function is back and fastmcp emits its own spans again."""
    import fastmcp
    import fastmcp.server.telemetry as server_telemetry
    import fastmcp.telemetry as telemetry

    hooked()
    assert telemetry.telemetry_mode() == "propagation_only"
    assert server_telemetry.telemetry_mode() == "propagation_only"
    assert fastmcp.settings.telemetry_mode == "native"
    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    assert not [s for s in span_exporter.get_finished_spans() if s.instrumentation_scope.name != "mcp_otel"]


@needs_telemetry_mode
async def test_uninstrument_restores_native_telemetry(
    instrument: Callable[..., Any], tracer_provider: Any, meter_provider: Any, span_exporter: Any
) -> None:
    """After uninstrument, the telemetry functions are the originals again and fastmcp's spans are back."""
    import fastmcp
    import fastmcp.server.telemetry as server_telemetry
    import fastmcp.telemetry as telemetry

    originals = (telemetry.telemetry_mode, server_telemetry.telemetry_mode)
    fields_set = set(fastmcp.settings.model_fields_set)
    instrumentor = instrument()
    with fastmcp_demo.fastmcp_hooks(instrumentor, tracer_provider, meter_provider):
        assert telemetry.telemetry_mode() == "propagation_only"
        instrumentor.uninstrument()
    assert (telemetry.telemetry_mode, server_telemetry.telemetry_mode) == originals
    assert telemetry.telemetry_mode() == "native"
    assert fastmcp.settings.telemetry_mode == "native"
    assert set(fastmcp.settings.model_fields_set) == fields_set

    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    scopes = Counter(s.instrumentation_scope.name for s in span_exporter.get_finished_spans())
    assert "mcp_otel" not in scopes  # nothing of mcp-otel's
    assert scopes["fastmcp"] >= 2 * len(REQUESTS)  # fastmcp's own SERVER and CLIENT spans are back


@needs_telemetry_mode
async def test_user_telemetry_off_stays_off(
    hooked: Callable[..., Any], span_exporter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who turned fastmcp's telemetry ``off`` keeps it off (mcp-otel's spans still come)."""
    import fastmcp
    import fastmcp.telemetry as telemetry

    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", "off")
    hooked()
    assert telemetry.telemetry_mode() == "off"
    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    spans = to_dicts(span_exporter.get_finished_spans())
    assert set(REQUESTS) <= set(_server_names(spans))
    _assert_one_span_per_request(spans)
    _assert_linked(spans)  # mcp-otel's own _meta propagation


@needs_telemetry_mode
async def test_enrich_keeps_fastmcp_server_spans_with_our_attributes(
    hooked: Callable[..., Any], span_exporter: Any
) -> None:
    """``sdk_spans="enrich"``: fastmcp keeps its own SERVER span per request, which gets mcp-otel's
    attributes; mcp-otel opens no second one."""
    hooked(sdk_spans="enrich")
    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    spans = to_dicts(span_exporter.get_finished_spans())

    servers = [s for s in spans if s["kind"] == "SERVER"]
    assert {s["scope"] for s in servers} == {fastmcp_demo.FASTMCP_SCOPE}
    names = Counter(s["name"] for s in servers)
    assert all(names[name] == 1 for name in REQUESTS), names
    call = next(s for s in servers if s["name"] == "tools/call add")
    assert call["attributes"]["mcp.transport"] == "memory"
    assert call["attributes"]["mcp.client.name"] == "spec-client"
    assert call["attributes"]["fastmcp.component.type"] == "tool"


@pytest.mark.skipif(FASTMCP_MAJOR != 3, reason="fastmcp 3's native spans have no telemetry mode")
async def test_fastmcp3_native_spans_silenced_while_instrumented(
    instrument: Callable[..., Any], tracer_provider: Any, meter_provider: Any, span_exporter: Any
) -> None:
    """fastmcp 3: instrumented, its span helpers get a tracer that records nothing and its client passes
    ``_meta`` through (one mcp-otel span per request on each side, linked by mcp-otel's injection);
    uninstrumented, its own spans and injection are back."""
    import fastmcp.client.mixins.tools as client_tools
    import fastmcp.server.telemetry as server_telemetry

    originals = (server_telemetry.get_tracer, client_tools.inject_trace_context)
    instrumentor = instrument()
    with fastmcp_demo.fastmcp_hooks(instrumentor, tracer_provider, meter_provider):
        await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
        spans = to_dicts(span_exporter.get_finished_spans())
        _assert_one_span_per_request(spans)
        _assert_linked(spans)
        assert set(REQUESTS) <= set(_server_names(spans))
        instrumentor.uninstrument()
    assert (server_telemetry.get_tracer, client_tools.inject_trace_context) == originals
    span_exporter.clear()
    await _fastmcp_exchange(_client(fastmcp_demo.build_fastmcp_demo()))
    scopes = Counter(s.instrumentation_scope.name for s in span_exporter.get_finished_spans())
    assert "mcp_otel" not in scopes
    assert scopes["fastmcp"] >= 2 * len(REQUESTS)  # fastmcp's own SERVER and CLIENT spans are back


# --- stdio (a real subprocess)


@contextlib.asynccontextmanager
async def _fastmcp_stdio(tmp_path: Path) -> AsyncIterator[tuple[Any, Path, Path]]:
    """A fastmcp ``StdioTransport`` to the fastmcp demo server under ``mcp_otel.bootstrap``."""
    from fastmcp.client.transports import StdioTransport

    spans_file, stderr_file = tmp_path / "server-spans.jsonl", tmp_path / "server-stderr.txt"
    argv = bootstrap_command(spans_file, fastmcp_demo.FASTMCP_SERVER_SCRIPT)
    transport = StdioTransport(
        command=argv[0], args=argv[1:], env=subprocess_env(), cwd=str(REPO_ROOT), log_file=stderr_file
    )
    yield transport, spans_file, stderr_file


def _read_server_spans(spans_file: Path, stderr_file: Path, expected: int) -> list[Span]:
    spans = wait_for_file_spans(
        spans_file,
        lambda found: sum(1 for s in found if s["kind"] == "SERVER") >= expected,
        timeout=STEP_TIMEOUT,
    )
    assert spans, f"the server wrote no spans; stderr:\n{stderr_file.read_text(errors='replace')[-3000:]}"
    return spans


async def test_stdio_matches_the_sdk_server(
    hooked: Callable[..., Any], connect: Callable[..., Any], span_exporter: Any, tmp_path: Path
) -> None:
    """Over stdio, with both processes instrumented: the same server and client spans as the SDK demo
    server, the server spans children of the client spans across the process boundary."""
    hooked()
    sdk_spans = await _sdk_exchange(connect, "stdio")
    span_exporter.clear()

    async with _fastmcp_stdio(tmp_path) as (transport, spans_file, stderr_file):
        await _fastmcp_exchange(_client(transport))
    client_spans = to_dicts(span_exporter.get_finished_spans())
    server_spans = _read_server_spans(spans_file, stderr_file, len(REQUESTS) + 1)
    spans = client_spans + server_spans

    assert set(fastmcp_demo.shapes(spans)) == set(fastmcp_demo.shapes(sdk_spans)), describe(spans)
    _assert_one_span_per_request(client_spans, ("CLIENT",))
    _assert_one_span_per_request(server_spans, ("SERVER",))
    _assert_linked(spans)
    assert {s["attributes"].get("network.transport") for s in server_spans if s["kind"] == "SERVER"} == {
        "pipe"
    }
    assert {s["attributes"].get("mcp.transport") for s in client_spans if s["kind"] == "CLIENT"} == {"stdio"}


@needs_telemetry_mode
async def test_stdio_default_client_no_duplicates(
    hooked: Callable[..., Any], span_exporter: Any, tmp_path: Path
) -> None:
    """fastmcp 4 default negotiation over stdio: one span per request on each side, linked by ``_meta``."""
    hooked()
    async with _fastmcp_stdio(tmp_path) as (transport, spans_file, stderr_file):
        await _fastmcp_exchange(_client(transport, legacy=False))
    client_spans = to_dicts(span_exporter.get_finished_spans())
    server_spans = _read_server_spans(spans_file, stderr_file, len(REQUESTS) + 1)

    _assert_one_span_per_request(client_spans, ("CLIENT",))
    _assert_one_span_per_request(server_spans, ("SERVER",))
    _assert_linked(client_spans + server_spans)
    assert set(REQUESTS) <= set(_server_names(server_spans))
