"""Without Sentry, an exported MCP span carries no key outside the conventions and mcp-otel's documented
extensions, on every transport and mcp version.

Every attribute of every span mcp-otel exports (scope ``mcp_otel``, client and server side, both processes
of a stdio exchange) must be in the generated span tables ``signals.MCP_{CLIENT,SERVER}_SPAN_ATTRIBUTES``:
the upstream keys (semconv/otel/), the peer identity keys adopted as a decision
(semconv/model/decisions.yaml) and the ``mcp_otel.*`` / ``session.id`` refinements
(semconv/model/extensions.yaml); template keys by their prefix. Span events are the OTel ``exception`` event
and mcp-otel's own ``mcp_otel.progress`` / ``mcp_otel.cancelled``. No listener is registered here: nothing
Sentry-shaped may appear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_otel import listeners
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat, signals
from support import feature_client
from support.compat import IS_MCP1
from support.harness import TRANSPORTS
from support.scenario import Run
from support.spans import Span, find

pytestmark = pytest.mark.anyio

OTEL_SCOPE = "mcp_otel"
# Both tables for either kind: a server→client notification's CLIENT span describes its peer with the server
# side's transport keys (client.address/port). Which of the two upstream tables a key comes from is not what
# this test is about; that every key is upstream or documented is.
DOCUMENTED = signals.MCP_SERVER_SPAN_ATTRIBUTES | signals.MCP_CLIENT_SPAN_ATTRIBUTES
ALLOWED = {"SERVER": DOCUMENTED, "CLIENT": DOCUMENTED}
# the OTel exception event (core semantic conventions, model/exceptions): what Span.record_exception writes
EXCEPTION_KEYS = frozenset(
    {"exception.type", "exception.message", "exception.stacktrace", "exception.escaped"}
)
EVENT_KEYS = {
    "exception": EXCEPTION_KEYS,
    signals.EVENT_PROGRESS: frozenset({attr.MCP_OTEL_PROGRESS_CURRENT, attr.MCP_OTEL_PROGRESS_TOTAL}),
    signals.EVENT_CANCELLED: frozenset({attr.MCP_OTEL_CANCELLED_REASON}),
}
SENTRY_KEYS = frozenset(
    v for k, v in vars(sentry_compat).items() if k.startswith("SENTRY_MCP_") and isinstance(v, str)
)
SUBPROCESS_TRANSPORTS = [t for t in ("memory", "stdio", "http") if t in TRANSPORTS]


def _allowed(key: str, kind: str) -> bool:
    if key in ALLOWED[kind]:
        return True
    prefix = key.rsplit(".", 1)[0]
    return prefix in signals.TEMPLATE_ATTRIBUTE_PREFIXES and prefix in ALLOWED[kind]


def foreign_keys(spans: list[Span]) -> list[str]:
    """``"<span name> <kind>: <key>"`` for every key of an mcp-otel span outside the documented set."""
    out = []
    ours = [s for s in spans if s["scope"] == OTEL_SCOPE]
    assert ours, "no mcp-otel span to check"
    for span in ours:
        where = f"{span['name']} {span['kind']}"
        out += [f"{where}: {key}" for key in span["attributes"] if not _allowed(key, span["kind"])]
        for event in span["events"]:
            allowed = EVENT_KEYS.get(event["name"])
            if allowed is None:
                out.append(f"{where}: event {event['name']}")
                continue
            out += [f"{where}: {event['name']}.{key}" for key in event["attributes"] if key not in allowed]
    return out


def test_the_documented_set_has_no_sentry_key() -> None:
    assert SENTRY_KEYS and not SENTRY_KEYS & (ALLOWED["SERVER"] | ALLOWED["CLIENT"])
    assert "mcp.transport" in SENTRY_KEYS and "mcp.client.name" not in SENTRY_KEYS


def test_the_check_catches_a_foreign_key() -> None:
    span = {"scope": OTEL_SCOPE, "name": "tools/call a", "kind": "SERVER", "events": []}
    assert foreign_keys([{**span, "attributes": {"mcp.method.name": "tools/call"}}]) == []
    assert foreign_keys([{**span, "attributes": {"gen_ai.prompt.variable.city": "x"}}]) == []
    assert foreign_keys([{**span, "attributes": {"mcp.transport": "stdio"}}]) == [
        "tools/call a SERVER: mcp.transport"
    ]
    assert foreign_keys([{**span, "attributes": {}, "events": [{"name": "mcp.progress", "attributes": {}}]}])


async def test_demo_runs(demo_run: Run) -> None:
    """The demo exchange (every request kind the demo server serves), once per transport."""
    assert foreign_keys(demo_run.spans) == [], demo_run.transport


async def test_lowlevel_runs(lowlevel_run: Run) -> None:
    """The lowlevel server's exchange (in-process and stdio)."""
    assert foreign_keys(lowlevel_run.spans) == [], lowlevel_run.transport


async def test_client_error_runs(client_errors_run: Run) -> None:
    """Requests that fail with JSON-RPC errors, once per transport."""
    assert foreign_keys(client_errors_run.spans) == [], client_errors_run.transport


@pytest.mark.parametrize("transport", SUBPROCESS_TRANSPORTS)
async def test_features_with_content_capture(
    transport: str,
    instrument: Any,
    span_exporter: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Content capture on, every result kind, log and progress notifications, a cancelled request."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_MCP_CAPTURE_CONTENT", "true")  # the stdio server's setting
    monkeypatch.setattr(listeners, "registered", ())  # no Sentry, no other listener in this process
    monkeypatch.setattr(listeners, "fact_receivers", ())
    instrument(capture_content=True)
    async with feature_client.connect(transport, tmp_path) as conn:
        await feature_client.standard_exchange(conn)
        await conn.call_tool("progress", {}, progress_callback=conn.inbox.on_progress)
        if not (IS_MCP1 and transport == "memory"):  # 1.x in-memory: the cancel races the session's close
            await feature_client.call_and_cancel(conn)
            await feature_client.wait_for_spans(
                span_exporter, conn, lambda x: bool(find(x, "tools/call wait", "SERVER"))
            )
    spans = feature_client.collect(span_exporter, conn)
    assert foreign_keys(spans) == []
    keys = {key for s in spans for key in s["attributes"]}
    assert {attr.GEN_AI_TOOL_CALL_ARGUMENTS, attr.GEN_AI_TOOL_CALL_RESULT, "mcp.client.name"} <= keys
    assert any(e["name"] == signals.EVENT_PROGRESS for s in spans for e in s["events"])
