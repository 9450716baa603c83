"""Credentials in exception text stay out of every export by default (the ``exception_text`` setting).

The privacy server (``support/privacy_server.py``, in-process or as the stdio subprocess) has a tool that
raises with a database URL with a password and a GitHub token in its message and locals (→ ``exception``
event on the server span, Sentry error event), a tool that answers a JSON-RPC error holding a JWT (→ status
descriptions of both sides), and a resource that raises with a bearer token and an ``api_key=`` value (→
error response, status descriptions, exception event). The client checks that the secrets really travelled
(error messages; on mcp 1.x the tool result too), and ``full`` exports them, so the checks can fail.

- **Default (``scrubbed``), every transport the issue names** (stdio, streamable HTTP, in-memory; on mcp 2.x
  also ``direct``): no secret in any exported span of either side (names, attributes, events, status) or in
  any Sentry envelope (in-process server: error events with frames, breadcrumbs, transactions); the exception
  events and descriptions are there, with ``REDACTED`` where the secrets were.
- **``full``**: the same exchange exports the secrets (the control).
- **``type``**: exception events carry ``exception.type`` only; no status description.
- **mcp 2.x ``sdk_spans="enrich"``**: the SDK's own spans, which mcp-otel adopts, are scrubbed too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_otel.config import ENV_EXCEPTION_TEXT
from mcp_otel.semconv import attributes as attr
from support import feature_client, privacy_server
from support.compat import IS_MCP1, IS_MCP2, SDK_SCOPE
from support.harness import TRANSPORTS
from support.privacy_harness import instrumented, leaks, sentry_items
from support.spans import Span, to_dicts

SECRETS = privacy_server.SECRETS
CANARY_TRANSPORTS = [t for t in TRANSPORTS if t in ("memory", "direct", "stdio", "http")]
LEAK_SPAN = "tools/call leak"
REFUSE_SPAN = "tools/call refuse"
LEAKY_SPAN = "resources/read"


@pytest.fixture(autouse=True)
def _default_exception_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default setting unless a test sets one (the stdio server inherits the environment)."""
    monkeypatch.delenv(ENV_EXCEPTION_TEXT, raising=False)


@pytest.fixture
def privacy_stdio(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdio connects to the privacy server's script (it instruments itself from the environment)."""
    monkeypatch.setattr(feature_client, "STDIO_SCRIPT", Path(privacy_server.__file__).resolve())


async def exchange(transport: str, tmp_path: Path) -> feature_client.Conn:
    """The three failures; asserts every secret reached the client (so telemetry could have carried it)."""
    server = None if transport == "stdio" else privacy_server.build_server()
    async with feature_client.connect(transport, tmp_path, server=server) as conn:
        leaked = await conn.call_tool("leak", {})
        assert bool(getattr(leaked, "isError", getattr(leaked, "is_error", None))) is True
        if IS_MCP1:  # FastMCP puts the message in the result; mcp 2.x MCPServer does not
            text = leaked.content[0].text
            assert privacy_server.DB_PASSWORD in text and privacy_server.GITHUB_TOKEN in text, text
        if IS_MCP1:  # FastMCP turns every tool exception into an isError result, the SDK's error too
            refused = await conn.call_tool("refuse", {})
            assert privacy_server.JWT in refused.content[0].text
        else:
            with pytest.raises(Exception) as raised:  # noqa: PT011 - MCPError
                await conn.call_tool("refuse", {})
            assert privacy_server.JWT in str(raised.value)
        with pytest.raises(Exception) as unread:  # noqa: PT011
            await conn.read_resource(privacy_server.LEAKY_RESOURCE)
        if IS_MCP1:  # mcp 2.x answers "Error reading resource …" without the exception's message
            message = str(unread.value)
            assert privacy_server.BEARER_TOKEN in message and privacy_server.API_KEY in message
    return conn


def _run(transport: str, tmp_path: Path, telemetry: dict[str, Any], **options: Any) -> list[Span]:
    instrumentor = instrumented(telemetry, **options)
    try:
        conn = anyio.run(exchange, transport, tmp_path)
    finally:
        instrumentor.uninstrument()
    return to_dicts(telemetry["spans"].get_finished_spans()) + conn.file_spans()


def _server_span(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s["name"].startswith(name) and s["kind"] == "SERVER"]
    assert len(found) == 1, [(s["name"], s["kind"]) for s in spans]
    return found[0]


def _client_span(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s["name"].startswith(name) and s["kind"] == "CLIENT"]
    assert len(found) == 1, [(s["name"], s["kind"]) for s in spans]
    return found[0]


def _exception_events(span: Span) -> list[dict[str, Any]]:
    return [e["attributes"] for e in span["events"] if e["name"] == "exception"]


@pytest.mark.parametrize("transport", CANARY_TRANSPORTS)
def test_no_secret_leaves_by_default(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], sentry: Any, privacy_stdio: None
) -> None:
    spans = _run(transport, tmp_path, telemetry)
    assert leaks(spans, SECRETS) == []
    # the exception text is there, scrubbed: the exception event of the tool
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert event[attr.EXCEPTION_TYPE] == "ConnectionError"
    assert event[attr.EXCEPTION_MESSAGE] == (
        "connect to postgresql://REDACTED:REDACTED@db.internal:5432/orders failed; "
        "GitHub answered 401 for REDACTED"
    )
    assert "Traceback (most recent call last)" in event[attr.EXCEPTION_STACKTRACE]
    assert 'in leak\n    raise ConnectionError(f"connect to {dsn}' in event[attr.EXCEPTION_STACKTRACE]
    assert event[attr.EXCEPTION_ESCAPED] == "False"
    # the JSON-RPC error message, as both sides' status description (mcp 1.x: an isError result, whose
    # exception event is scrubbed)
    if IS_MCP1:
        (event,) = _exception_events(_server_span(spans, REFUSE_SPAN))
        assert event[attr.EXCEPTION_MESSAGE] == "session token rejected: REDACTED"
    else:
        for span in (_server_span(spans, REFUSE_SPAN), _client_span(spans, REFUSE_SPAN)):
            assert span["status"] == "ERROR"
            assert span["status_description"] == "session token rejected: REDACTED", span
    # the resource's exception (mcp 1.x; mcp 2.x answers "Error reading resource …" and records no exception):
    # an exception event on the server, and the server's error message as both sides' status description
    if IS_MCP1:
        (event,) = _exception_events(_server_span(spans, LEAKY_SPAN))
        assert "'Authorization': 'Bearer REDACTED'" in event[attr.EXCEPTION_MESSAGE]
        assert "api_key=REDACTED" in event[attr.EXCEPTION_MESSAGE]
        assert "api_key=REDACTED" in _client_span(spans, LEAKY_SPAN)["status_description"]
    # Sentry (in-process server): the tool's error event is there, scrubbed; nothing carries a secret
    items = sentry_items(sentry)
    assert leaks([item.payload for item in items], SECRETS) == []
    if transport != "stdio":
        errors = [i.payload for i in items if i.type == "event" and i.payload.get("exception")]
        values = [v for e in errors for v in e["exception"]["values"] if v["type"] == "ConnectionError"]
        assert values and "postgresql://REDACTED:REDACTED@db.internal" in values[0]["value"]
        frames = values[0]["stacktrace"]["frames"]
        leak_frame = next(f for f in frames if f.get("function") == "leak")
        assert "REDACTED" in str(leak_frame.get("vars")), leak_frame.get("vars")  # dsn and token locals


@pytest.mark.parametrize("transport", [t for t in CANARY_TRANSPORTS if t in ("memory", "stdio")])
def test_full_exports_the_text_as_raised(
    transport: str,
    tmp_path: Path,
    telemetry: dict[str, Any],
    privacy_stdio: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "full")  # the stdio server reads it too
    spans = _run(transport, tmp_path, telemetry)
    found = leaks(spans, SECRETS)
    assert found, "full mode exported no secret: the default test proves nothing"
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert privacy_server.DB_PASSWORD in event[attr.EXCEPTION_MESSAGE]
    assert privacy_server.GITHUB_TOKEN in event[attr.EXCEPTION_STACKTRACE]
    if IS_MCP1:
        assert privacy_server.API_KEY in _client_span(spans, LEAKY_SPAN)["status_description"]
    else:
        assert privacy_server.JWT in _client_span(spans, REFUSE_SPAN)["status_description"]


@pytest.mark.parametrize("transport", [t for t in CANARY_TRANSPORTS if t in ("memory", "stdio")])
def test_type_records_the_exception_type_only(
    transport: str,
    tmp_path: Path,
    telemetry: dict[str, Any],
    privacy_stdio: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "type")
    spans = _run(transport, tmp_path, telemetry)
    assert leaks(spans, SECRETS) == []
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert event == {attr.EXCEPTION_TYPE: "ConnectionError", attr.EXCEPTION_ESCAPED: "False"}
    for span in spans:
        assert span["status_description"] in (None, ""), span
    failed = _client_span(spans, LEAKY_SPAN if IS_MCP1 else REFUSE_SPAN)
    assert failed["status"] == "ERROR"
    assert failed["attributes"][attr.ERROR_TYPE] == ("0" if IS_MCP1 else "-32001")


def test_sentry_full_sends_the_text(
    tmp_path: Path, telemetry: dict[str, Any], sentry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "full")
    _run("memory", tmp_path, telemetry)
    items = sentry_items(sentry)
    assert privacy_server.DB_PASSWORD in str([i.payload for i in items if i.type == "event"])


@pytest.mark.skipif(IS_MCP1, reason="mcp 1.x has no spans of its own")
@pytest.mark.parametrize("transport", ["memory"])
def test_enrich_mode_scrubs_the_sdk_spans(
    transport: str, tmp_path: Path, instrument: Any, span_exporter: Any
) -> None:
    assert IS_MCP2
    instrument(sdk_spans="enrich")
    anyio.run(exchange, transport, tmp_path)
    spans = to_dicts(span_exporter.get_finished_spans())
    sdk_spans = [s for s in spans if s["scope"] == SDK_SCOPE]
    assert sdk_spans, "no SDK span: enrich mode proves nothing"
    assert leaks(spans, SECRETS) == []
    refused = [s for s in sdk_spans if s["name"].endswith("tools/call refuse")]
    # the SDK's SERVER span (and, from mcp 2.3, its CLIENT span) describes the JSON-RPC error
    described = {s["status_description"] for s in refused if s["status_description"]}
    assert described == {"session token rejected: REDACTED"}
