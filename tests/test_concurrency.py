"""Concurrent streamable-HTTP sessions: no span, parent or metric point crosses from one session to another.

One demo server behind uvicorn on 127.0.0.1 (stateful streamable HTTP, ``mcp-session-id``), client and
server instrumented in this process. ``SESSIONS`` clients, each with its own clientInfo name
(``client-<i>``), connect (``HANDSHAKES_AT_ONCE`` handshakes in flight at a time), wait until all of them
are open, then each calls ``add(i, j)`` ``CALLS`` times, all sessions at once. Then:

- every ``tools/call`` SERVER span carries the ``mcp.session.id`` its client saw and that session's
  ``mcp.client.name``; each session has exactly ``CALLS`` of them;
- each SERVER span's parent is a ``tools/call`` CLIENT span of the same trace and the same session;
- the ``mcp.{server,client}.operation.duration`` points for ``tools/call`` count ``SESSIONS × CALLS`` each;
- every result is its own call's sum;
- after every session closed and the server stopped, mcp-otel's per-session maps are empty and the count of
  live ``Session``/``Operation`` objects is back at its value before the sessions (``_state()`` of
  ``test_session_lifetime``).

CI runs 20 sessions × 5 calls. The full count of the issue, 200 sessions × 20 calls, runs with
``MCP_OTEL_FULL_CONCURRENCY=1`` (bounded at 300 s; 98 s here on 2 shared cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from mcp_otel.semconv import metrics as m
from support import harness
from support.compat import implementation
from support.harness import connect_http, serve_http
from support.metrics import metric_points
from support.servers import build_demo
from support.spans import ours, to_dicts
from test_session_lifetime import _state

pytestmark = pytest.mark.anyio

FULL = os.environ.get("MCP_OTEL_FULL_CONCURRENCY") == "1"
SESSIONS, CALLS = (200, 20) if FULL else (20, 5)
#: Upper bound for the whole run (connect, calls, close).
TIME_LIMIT = 300.0 if FULL else 60.0

#: Handshakes in flight at once (all sessions stay open together; this only paces the connects).
HANDSHAKES_AT_ONCE = 25

SESSION_ID = "mcp.session.id"
CLIENT_NAME = "mcp.client.name"


def _drop_cancelled_timers() -> None:
    """Remove cancelled timers from the running asyncio loop's heap.

    asyncio drops a cancelled ``TimerHandle`` lazily (when it comes due, or when cancelled ones outnumber the
    live ones), and each keeps the ``contextvars.Context`` it was scheduled in — a read timeout set while a
    client request was being sent holds that request's context (its span and mcp-otel's active operation) for
    as long as the timeout was (minutes). That is the event loop holding a context, not per-session state.
    """
    loop: Any = asyncio.get_running_loop()
    scheduled = getattr(loop, "_scheduled", None)
    if isinstance(scheduled, list):
        scheduled[:] = [h for h in scheduled if not h.cancelled()]
        heapq.heapify(scheduled)
        loop._timer_cancelled_count = 0


async def test_concurrent_sessions_stay_apart(
    instrument: Callable[..., Any], span_exporter: Any, metric_reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "SESSION_TIMEOUT", TIME_LIMIT)  # one session lasts as long as the whole run
    instrument()
    server = build_demo()
    session_of: dict[int, str] = {}
    wrong: list[tuple[int, int, Any]] = []
    _drop_cancelled_timers()
    baseline = _state()
    started = time.monotonic()

    handshakes = anyio.CapacityLimiter(HANDSHAKES_AT_ONCE)
    all_open = anyio.Event()

    async def one_session(url: str, i: int) -> None:
        async with contextlib.AsyncExitStack() as stack:
            async with handshakes:
                conn = await stack.enter_async_context(
                    connect_http("http", url, client_info=implementation(f"client-{i}"))
                )
            session_id = conn.session_id
            assert session_id is not None
            session_of[i] = session_id
            if len(session_of) == SESSIONS:
                all_open.set()
            await all_open.wait()  # every session is open before any calls: all SESSIONS run at once
            for j in range(CALLS):
                result = await conn.call_tool("add", {"a": i, "b": j})
                if result.get("structuredContent", {}).get("result") != i + j:
                    wrong.append((i, j, result))

    with anyio.fail_after(TIME_LIMIT):
        async with serve_http("http", server) as url, anyio.create_task_group() as tg:
            for i in range(SESSIONS):
                tg.start_soon(one_session, url, i)
    elapsed = time.monotonic() - started
    print(f"\n{SESSIONS} sessions x {CALLS} calls: {elapsed:.1f} s")

    assert wrong == []
    assert len(set(session_of.values())) == SESSIONS
    name_of = {sid: f"client-{i}" for i, sid in session_of.items()}

    spans = ours(to_dicts(span_exporter.get_finished_spans()))
    calls = [s for s in spans if s["attributes"].get("mcp.method.name") == "tools/call"]
    server = [s for s in calls if s["kind"] == "SERVER"]
    client = {s["span_id"]: s for s in calls if s["kind"] == "CLIENT"}
    assert len(server) == SESSIONS * CALLS
    assert len(client) == SESSIONS * CALLS
    mixed = []
    for span in server:
        sid = span["attributes"].get(SESSION_ID)
        parent = client.get(span["parent_span_id"])
        if (
            sid not in name_of
            or span["attributes"].get(CLIENT_NAME) != name_of[sid]
            or parent is None
            or parent["trace_id"] != span["trace_id"]
            or parent["attributes"].get(SESSION_ID) != sid
        ):
            mixed.append((span["name"], span["attributes"], parent and parent["attributes"]))
    assert mixed == [], f"{len(mixed)} spans mixed up, e.g. {mixed[:2]}"
    per_session = Counter(s["attributes"][SESSION_ID] for s in server)
    assert set(per_session.values()) == {CALLS}
    # one parent per server span: no client span parents two of them
    assert len({s["parent_span_id"] for s in server}) == SESSIONS * CALLS

    points = metric_points(metric_reader)

    def count(name: str) -> int:
        return sum(
            p["count"]
            for p in points
            if p["name"] == name and p["attributes"].get("mcp.method.name") == "tools/call"
        )

    assert count(m.MCP_SERVER_OPERATION_DURATION) == SESSIONS * CALLS
    assert count(m.MCP_CLIENT_OPERATION_DURATION) == SESSIONS * CALLS
    sessions_closed = sum(p["count"] for p in points if p["name"] == m.MCP_SERVER_SESSION_DURATION)
    assert sessions_closed == SESSIONS

    del server, client, calls, spans
    _drop_cancelled_timers()
    after = _state()
    assert {k: v for k, v in after.items() if k.startswith("_") and k != "_wrapped_handlers"} == {
        k: 0 for k in after if k.startswith("_") and k != "_wrapped_handlers"
    }, after
    assert after["Session objects"] == baseline["Session objects"], (baseline, after)
    assert after["Operation objects"] == baseline["Operation objects"], (baseline, after)
