"""Per-session state is freed when a session closes: 10,000 sessions (handshake + one tool call each, both
sides instrumented) leave mcp-otel's per-session maps, ``Session``/``Operation`` object counts and the SDK
session objects exactly where they were (weak references and object counts, no timing).

The sessions are real SDK sessions against one server object, in this process. mcp 1.x: a ``ClientSession``
against ``Server.run`` over memory streams. mcp 2.x: every other session is ``mcp.Client`` over the JSON-RPC
memory streams (``memory``), the others over the in-process ``DirectDispatcher`` (``direct``), 5,000 each: a
leak on either path shows as growth by thousands. :data:`BATCH` sessions are open at a time.

Cost: one instrumented session takes 6-9 ms of CPU here (2 cores shared with other jobs; less on 2.x's
direct path), so the 10,000 take 60-90 s per mcp version. Three things keep it there without leaving the
SDK's real session objects and mcp-otel's hooks: the tool has no output schema (the client would otherwise
check its schema with ``jsonschema`` on every call, about a quarter of a 2.x session's cost), the SDK's INFO
request log is muted, and the objects that exist before the run are frozen out of the garbage collector's
scans (``gc.freeze``, about a tenth of the run's CPU time).
"""

from __future__ import annotations

import contextvars
import gc
import logging
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from mcp_otel import listeners
from mcp_otel.model import Session
from mcp_otel.semconv import metrics as m
from mcp_otel.telemetry import Operation, active_operation
from support import feature_server
from support.compat import IS_MCP1
from support.harness import STEP_TIMEOUT
from support.metrics import metric_points
from support.scenario import ADD_ARGS

pytestmark = [pytest.mark.per_major, pytest.mark.anyio]

#: Sessions opened and closed per test, after :data:`WARMUP` sessions that set the baseline.
SESSIONS = 10_000
WARMUP = 40
#: Sessions open at the same time.
BATCH = 20
#: The tool each session calls once (no output schema: see the module docstring).
TOOL = "lifetime"
#: The session paths, used in turn (see the module docstring).
PATHS = ("memory",) if IS_MCP1 else ("memory", "direct")


class _SessionRefs(listeners.McpListener):
    """Keeps a weak reference to every SDK session object mcp-otel saw start (both sides)."""

    def __init__(self) -> None:
        self.refs: list[tuple[SpanKind, Any, weakref.ref[Any]]] = []

    def on_session_start(self, key: Any, kind: SpanKind, transport: Any) -> None:
        self.refs.append((kind, transport, weakref.ref(key)))


def _state() -> dict[str, int]:
    """Sizes of mcp-otel's per-session maps and counts of live ``Session``/``Operation`` objects."""
    gc.collect()
    from mcp_otel import McpInstrumentor

    out = McpInstrumentor().state_sizes()
    assert out, "mcp-otel is not instrumented"
    objects = gc.get_objects()
    out["Session objects"] = sum(1 for o in objects if type(o) is Session)
    out["Operation objects"] = sum(1 for o in objects if type(o) is Operation)
    return out


def _build_server() -> Any:
    """The issue-3 test server plus :data:`TOOL`, a tool without an output schema."""
    server = feature_server.build_server()

    @server.tool(name=TOOL, structured_output=False)
    def lifetime(a: int, b: int) -> str:
        """Add two integers, as text."""
        return str(a + b)

    return server


async def _one_session(
    transport: str, server: Any, tool: str = TOOL, arguments: dict[str, Any] = ADD_ARGS, answer: str = "5"
) -> None:
    """Open a session, call ``tool`` once, check the answer, close it."""
    if IS_MCP1:
        from mcp.client.session import ClientSession
        from mcp.shared.memory import create_client_server_memory_streams

        lowlevel = server._mcp_server
        async with (
            create_client_server_memory_streams() as (client_streams, server_streams),
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(
                lambda: lowlevel.run(
                    server_streams[0], server_streams[1], lowlevel.create_initialization_options()
                )
            )
            async with ClientSession(client_streams[0], client_streams[1]) as session:
                await session.initialize()
                result = await session.call_tool(tool, arguments)
            tg.cancel_scope.cancel()
    else:
        from mcp import Client

        mode = "legacy" if transport == "memory" else "auto"
        async with Client(server, mode=mode, cache=None) as client:
            result = await client.session.call_tool(tool, arguments)
    assert (result.isError if IS_MCP1 else result.is_error) is False
    assert result.content[0].text == answer


async def _run(server: Any, count: int) -> None:
    """``count`` sessions, :data:`BATCH` at a time, taking the :data:`PATHS` in turn."""
    for start in range(0, count, BATCH):
        with anyio.fail_after(STEP_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for index in range(start, min(start + BATCH, count)):
                    tg.start_soon(_one_session, PATHS[index % len(PATHS)], server)


async def test_closed_sessions_leave_no_state(instrument: Callable[..., Any], metric_reader: Any) -> None:
    """After :data:`SESSIONS` sessions: per-session maps and object counts back at the warm-up baseline, and
    every SDK session object mcp-otel saw is gone."""
    instrument(tracer_provider=TracerProvider())  # spans are recorded and dropped: no exporter keeps them
    refs = _SessionRefs()
    listeners.add_listener(refs)
    sdk_log = logging.getLogger("mcp")
    sdk_log_level = sdk_log.level
    sdk_log.setLevel(logging.WARNING)  # mcp 1.x logs every request at INFO
    try:
        server = _build_server()
        await _run(server, WARMUP)
        baseline = _state()
        # The baseline's objects (the whole test process, garbage already collected) need no scanning by
        # the collector during the run: freezing them saves about a tenth of the run's CPU time. The
        # objects the sessions create are tracked as usual, and everything is unfrozen before counting.
        gc.freeze()
        try:
            await _run(server, SESSIONS)
        finally:
            gc.unfreeze()
        after = _state()
    finally:
        sdk_log.setLevel(sdk_log_level)
        listeners.remove_listener(refs)
    assert after == baseline, f"per-session state grew over {SESSIONS} sessions: {baseline} -> {after}"
    assert all(
        size == 0 for name, size in after.items() if name.startswith("_") and name != "_wrapped_handlers"
    ), after
    gc.collect()
    alive = [(kind.name, transport, ref()) for kind, transport, ref in refs.refs if ref() is not None]
    assert alive == [], f"{len(alive)} of {len(refs.refs)} closed sessions are still reachable: {alive[:3]}"
    # The sessions really opened and closed: one session duration count per session and side (the direct
    # path has no server-side session).
    total = WARMUP + SESSIONS
    points = metric_points(metric_reader)
    client_count = sum(p["count"] for p in points if p["name"] == m.MCP_CLIENT_SESSION_DURATION)
    server_count = sum(p["count"] for p in points if p["name"] == m.MCP_SERVER_SESSION_DURATION)
    assert (client_count, server_count) == (total, total // len(PATHS))
    sides = Counter(kind for kind, _, _ in refs.refs)
    assert sides == {SpanKind.CLIENT: total, SpanKind.SERVER: total // len(PATHS)}, sides


@pytest.mark.parametrize("transport", PATHS)
async def test_context_copies_do_not_keep_requests(instrument: Callable[..., Any], transport: str) -> None:
    """A copy of the context made while a request ran (an idle worker thread's last job, a timer, a background
    task keep one) does not keep the request's ``Operation`` (span, message, session) alive after it ended."""
    instrument(tracer_provider=TracerProvider())
    kept: list[contextvars.Context] = []
    server = feature_server.build_server()

    @server.tool(name="keep", structured_output=False)
    def keep() -> str:
        """Keep a copy of the context the tool runs in."""
        kept.append(contextvars.copy_context())
        return "kept"

    await _one_session(transport, server, "keep", {}, "kept")
    assert len(kept) == 1
    gc.collect()
    assert kept[0].run(active_operation) is None
    assert [o for o in gc.get_objects() if type(o) is Operation] == []
