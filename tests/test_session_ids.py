"""``session.id`` where the protocol has no session id: stdio connections and 2026-07-28 sessions.

Each such session gets a random id, written as ``session.id`` only (never ``mcp.session.id``). The client
carries its id to the server in the W3C baggage of the message's ``_meta`` (``mcp_otel.session.id``), so both
sides of one stdio session share it; the caller's context and the server handler's context never hold it.
Without a baggage propagator each side keeps its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcp_otel.semconv.signals import SESSION_ID_BAGGAGE_KEY
from support.compat import IS_MCP1
from support.harness import ServerSpec, open_client
from support.spans import Span, ours

pytestmark = pytest.mark.anyio

BAGGAGE_SCRIPT = Path(__file__).resolve().parent / "support" / "baggage_server.py"
USER_BAGGAGE = {"tenant": "acme"}


def _spec() -> ServerSpec:
    from support.baggage_server import build_server

    return ServerSpec(factory=build_server, script=BAGGAGE_SCRIPT, name="baggage-server")


async def _stdio_session(
    exporter: Any, workdir: Path, env: dict[str, str] | None = None
) -> tuple[list[Span], Any]:
    """One stdio session (tools/list, one call) under user baggage; its spans and the handler's baggage."""
    workdir.mkdir()
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        async with open_client("stdio", _spec(), exporter=exporter, tmp_path=workdir, env=env) as conn:
            await conn.list_tools()
            result = await conn.call_tool("baggage_entries", {})
        # never in the caller's context
        assert dict(baggage.get_all()) == USER_BAGGAGE
    finally:
        otel_context.detach(token)
    spans = ours(conn.spans())
    exporter.clear()
    return spans, json.loads(result["content"][0]["text"])


def _session_ids(spans: list[Span], kind: str) -> set[Any]:
    return {s["attributes"].get("session.id") for s in spans if s["kind"] == kind}


def _assert_no_protocol_session_id(spans: list[Span]) -> None:
    assert [s["name"] for s in spans if "mcp.session.id" in s["attributes"]] == []


@pytest.fixture
def no_baggage_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    try:
        yield
    finally:
        propagate.set_global_textmap(previous)


async def test_stdio_session_shares_one_session_id(
    instrumented: Any, span_exporter: Any, tmp_path: Path
) -> None:
    """Default propagators (tracecontext, baggage): every client and server span of the session carries the
    client's id; the handler sees the user's baggage, not the session id entry."""
    spans, handler_baggage = await _stdio_session(span_exporter, tmp_path / "one")
    client_ids, server_ids = _session_ids(spans, "CLIENT"), _session_ids(spans, "SERVER")
    assert len(client_ids) == 1 and client_ids == server_ids, (client_ids, server_ids)
    session_id = client_ids.pop()
    assert uuid.UUID(session_id).version == 4
    names = {(s["kind"], s["name"]) for s in spans}
    assert {("CLIENT", "tools/call baggage_entries"), ("SERVER", "tools/call baggage_entries")} <= names
    assert ("SERVER", "initialize") in names
    _assert_no_protocol_session_id(spans)
    assert handler_baggage == USER_BAGGAGE
    assert SESSION_ID_BAGGAGE_KEY not in handler_baggage


async def test_each_stdio_connection_has_its_own_id(
    instrumented: Any, span_exporter: Any, tmp_path: Path
) -> None:
    first, _ = await _stdio_session(span_exporter, tmp_path / "first")
    second, _ = await _stdio_session(span_exporter, tmp_path / "second")
    ids = [_session_ids(spans, "CLIENT") | _session_ids(spans, "SERVER") for spans in (first, second)]
    assert all(len(i) == 1 and None not in i for i in ids), ids
    assert ids[0] != ids[1]


async def test_without_baggage_each_side_keeps_its_own(
    instrumented: Any, span_exporter: Any, tmp_path: Path, no_baggage_propagator: None
) -> None:
    """Propagators without baggage on both sides: one id per side, both on every span of that side."""
    spans, handler_baggage = await _stdio_session(
        span_exporter, tmp_path / "one", env={"OTEL_PROPAGATORS": "tracecontext"}
    )
    client_ids, server_ids = _session_ids(spans, "CLIENT"), _session_ids(spans, "SERVER")
    assert len(client_ids) == len(server_ids) == 1 and None not in client_ids | server_ids
    assert client_ids != server_ids
    _assert_no_protocol_session_id(spans)
    assert handler_baggage == {}  # no baggage propagator: not even the user's


async def test_session_id_attribute_off(instrument: Any, span_exporter: Any, tmp_path: Path) -> None:
    instrument(session_id_attribute=False)
    spans, _ = await _stdio_session(span_exporter, tmp_path / "one")
    assert _session_ids(spans, "CLIENT") == {None}
    assert len(_session_ids(spans, "SERVER")) == 1  # the server process has its own (default) settings


@pytest.mark.skipif(IS_MCP1, reason="mcp 1.x has no 2026-07-28 (sessionless) transports")
@pytest.mark.parametrize("transport", ["direct", "http-stateless"])
async def test_sessionless_session_shares_one_session_id(
    instrumented: Any, span_exporter: Any, connect: Any, transport: str
) -> None:
    async with connect(transport) as conn:
        assert conn.modern
        await conn.list_tools()
        await conn.call_tool("add", {"a": 1, "b": 2})
    spans = ours(conn.spans())
    ids = _session_ids(spans, "CLIENT") | _session_ids(spans, "SERVER")
    assert len(ids) == 1 and None not in ids, ids
    _assert_no_protocol_session_id(spans)
