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

Log records follow the same setting: ``grumble`` logs the failure with ``logger.exception`` (the database URL
in the message's argument, the exception's message and traceback) and sends an MCP ``warning`` notification
holding the GitHub token. Every log record of either side (OTLP in-memory exporter, the stdio server's file)
and every Sentry log item is checked with the spans. The exchange also cancels a call with a reason holding
the JWT (the ``mcp_otel.cancelled.reason`` event attribute, and the status description; not on mcp 2.x
direct dispatch, which sends no notification).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_otel.config import ENV_EXCEPTION_TEXT
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import EVENT_CANCELLED
from support import feature_client, privacy_server
from support.compat import IS_MCP1, IS_MCP2, SDK_SCOPE
from support.harness import TRANSPORTS
from support.privacy_harness import instrumented, leaks, log_records, sentry_items
from support.spans import Span, to_dicts

SECRETS = privacy_server.SECRETS
CANARY_TRANSPORTS = [t for t in TRANSPORTS if t in ("memory", "direct", "stdio", "http")]
LEAK_SPAN = "tools/call leak"
REFUSE_SPAN = "tools/call refuse"
LEAKY_SPAN = "resources/read"
CANCELLED_SPAN = "tools/call wait"
#: The reason the client gives when it cancels a call.
CANCEL_REASON = f"caller gave up; session {privacy_server.JWT}"
SCRUBBED_DSN = "postgresql://REDACTED:REDACTED@db.internal:5432/orders"
Record = dict[str, Any]


@dataclass
class Exported:
    """What the exchange exported: spans and log records of both sides (in-process and the stdio server's)."""

    spans: list[Span]
    records: list[Record]

    def python_record(self) -> Record:
        """The server's record of ``grumble``'s ``logger.exception``."""
        (record,) = [r for r in self.records if r["scope"] == privacy_server.LOGGER_NAME]
        return record

    def notification_records(self) -> list[Record]:
        """The records of ``grumble``'s MCP notification: the server's (sent) and the client's (received)."""
        found = [r for r in self.records if r["severity_text"] == "warning" and r["scope"] == "mcp_otel"]
        assert len(found) == 2, self.records
        return found


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
        assert await _text_of(conn.call_tool("grumble", {})) == "logged"
        await feature_client.call_and_cancel(conn, reason=CANCEL_REASON)
        # the client's record of the server's notification (1.x HTTP: on the standalone stream, maybe later)
        await _wait(lambda: len(conn.inbox.logs) >= 1)
    return conn


async def _text_of(call: Any) -> str:
    result = await call
    return str(result.content[0].text)


async def _wait(condition: Any) -> None:
    with anyio.fail_after(feature_client.STEP_TIMEOUT):
        while not condition():
            await anyio.sleep(0.05)


def _run(transport: str, tmp_path: Path, telemetry: dict[str, Any], **options: Any) -> Exported:
    instrumentor = instrumented(telemetry, **options)
    try:
        conn = anyio.run(exchange, transport, tmp_path)
    finally:
        instrumentor.uninstrument()
    spans = to_dicts(telemetry["spans"].get_finished_spans()) + conn.file_spans()
    return Exported(spans, log_records(telemetry) + conn.file_log_records())


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


def _cancelled_events(spans: list[Span]) -> list[dict[str, Any]]:
    span = _server_span(spans, CANCELLED_SPAN)
    return [e["attributes"] for e in span["events"] if e["name"] == EVENT_CANCELLED]


def _reason_delivered(transport: str) -> bool:
    """Whether the server reads the client's cancel reason (not on mcp 2.x direct dispatch)."""
    return feature_client.cancel_reason_delivered(transport, CANCEL_REASON) == CANCEL_REASON


def _log_items(receiver: Any) -> list[dict[str, Any]]:
    """Every Sentry log item the receiver got (after :func:`sentry_items` flushed)."""
    return [log for item in receiver.items("log") for log in item.payload["items"]]


@pytest.mark.parametrize("transport", CANARY_TRANSPORTS)
def test_no_secret_leaves_by_default(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], sentry: Any, privacy_stdio: None
) -> None:
    exported = _run(transport, tmp_path, telemetry)
    spans = exported.spans
    assert leaks(spans, SECRETS) == []
    assert leaks(exported.records, SECRETS) == []
    # the exception text is there, scrubbed: the exception event of the tool
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert event[attr.EXCEPTION_TYPE] == "ConnectionError"
    assert event[attr.EXCEPTION_MESSAGE] == (
        f"connect to {SCRUBBED_DSN} failed; GitHub answered 401 for REDACTED"
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
    # log records: the Python record's body and exception, the notification's records on both sides
    python = exported.python_record()
    assert python["body"] == f"lookup failed for {SCRUBBED_DSN}"
    assert python["severity_text"] == "ERROR"
    assert python["attributes"][attr.EXCEPTION_TYPE] == "ConnectionError"
    assert python["attributes"][attr.EXCEPTION_MESSAGE] == f"connect to {SCRUBBED_DSN} failed"
    stacktrace = python["attributes"][attr.EXCEPTION_STACKTRACE]
    assert stacktrace.startswith("Traceback (most recent call last)") and "in grumble\n" in stacktrace
    assert stacktrace.endswith(f"ConnectionError: connect to {SCRUBBED_DSN} failed\n")
    assert attr.EXCEPTION_ESCAPED not in python["attributes"]
    for record in exported.notification_records():
        assert record["body"] == "backend refused token REDACTED", record
    # the peer's cancel reason, on the cancelled request's event and status
    if _reason_delivered(transport):
        scrubbed = "caller gave up; session REDACTED"
        assert _cancelled_events(spans) == [{attr.MCP_OTEL_CANCELLED_REASON: scrubbed}]
        assert _server_span(spans, CANCELLED_SPAN)["status_description"] == scrubbed
    else:
        assert _cancelled_events(spans) == [{}]
    # Sentry (in-process server): the tool's error event is there, scrubbed; nothing carries a secret
    items = sentry_items(sentry)
    assert leaks([item.payload for item in items], SECRETS) == []
    # nor any breadcrumb of the request's log lines, also on the events sentry_items leaves out (mcp 1.x's
    # "Error in message router", captured outside any request, carries grumble's breadcrumb)
    crumbs = [(i.payload.get("breadcrumbs") or {}).get("values") for i in sentry.items() if i.type == "event"]
    assert leaks(crumbs, SECRETS) == []
    if transport != "stdio":
        errors = [i.payload for i in items if i.type == "event" and i.payload.get("exception")]
        values = [v for e in errors for v in e["exception"]["values"] if v["type"] == "ConnectionError"]
        assert values and f"connect to {SCRUBBED_DSN} failed" in [v["value"] for v in values]
        leaked = next(v for v in values if "GitHub answered" in v["value"])
        frames = leaked["stacktrace"]["frames"]
        leak_frame = next(f for f in frames if f.get("function") == "leak")
        assert "REDACTED" in str(leak_frame.get("vars")), leak_frame.get("vars")  # dsn and token locals


@pytest.mark.parametrize("transport", [t for t in CANARY_TRANSPORTS if t in ("memory", "http")])
def test_no_secret_reaches_sentry_logs(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], sentry_with_logs: Any
) -> None:
    """``enable_logs=True``: mcp-otel sends the log records as Sentry log items (sentry-sdk's logging
    integration sends the Python record as a log item and an error event by itself); none carries a secret."""
    exported = _run(transport, tmp_path, telemetry)
    assert leaks(exported.spans + exported.records, SECRETS) == []
    sentry_items(sentry_with_logs)  # flushed
    sentry_with_logs.wait_for(lambda r: len(_log_items(r)) >= 3)
    items = sentry_items(sentry_with_logs)
    assert leaks([item.payload for item in items], SECRETS) == []
    bodies = sorted(log["body"] for log in _log_items(sentry_with_logs) if "REDACTED" in log["body"])
    assert bodies == [
        "backend refused token REDACTED",
        "backend refused token REDACTED",
        f"lookup failed for {SCRUBBED_DSN}",
    ]


@pytest.mark.parametrize("transport", [t for t in CANARY_TRANSPORTS if t in ("memory", "stdio")])
def test_full_exports_the_text_as_raised(
    transport: str,
    tmp_path: Path,
    telemetry: dict[str, Any],
    privacy_stdio: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "full")  # the stdio server reads it too
    exported = _run(transport, tmp_path, telemetry)
    spans = exported.spans
    found = leaks(spans, SECRETS)
    assert found, "full mode exported no secret: the default test proves nothing"
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert privacy_server.DB_PASSWORD in event[attr.EXCEPTION_MESSAGE]
    assert privacy_server.GITHUB_TOKEN in event[attr.EXCEPTION_STACKTRACE]
    if IS_MCP1:
        assert privacy_server.API_KEY in _client_span(spans, LEAKY_SPAN)["status_description"]
    else:
        assert privacy_server.JWT in _client_span(spans, REFUSE_SPAN)["status_description"]
    assert _reason_delivered(transport)
    assert _cancelled_events(spans) == [{attr.MCP_OTEL_CANCELLED_REASON: CANCEL_REASON}]
    assert _server_span(spans, CANCELLED_SPAN)["status_description"] == CANCEL_REASON
    # log records as logged: OpenTelemetry's handler writes the exception itself
    python = exported.python_record()
    assert python["body"] == privacy_server.GRUMBLE_LOG % privacy_server.DSN
    assert python["attributes"][attr.EXCEPTION_MESSAGE] == f"connect to {privacy_server.DSN} failed"
    assert privacy_server.DB_PASSWORD in python["attributes"][attr.EXCEPTION_STACKTRACE]
    for record in exported.notification_records():
        assert record["body"] == privacy_server.GRUMBLE_NOTICE


@pytest.mark.parametrize("transport", [t for t in CANARY_TRANSPORTS if t in ("memory", "stdio")])
def test_type_records_the_exception_type_only(
    transport: str,
    tmp_path: Path,
    telemetry: dict[str, Any],
    privacy_stdio: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "type")
    exported = _run(transport, tmp_path, telemetry)
    spans = exported.spans
    assert leaks(spans, SECRETS) == []
    assert leaks(exported.records, SECRETS) == []
    (event,) = _exception_events(_server_span(spans, LEAK_SPAN))
    assert event == {attr.EXCEPTION_TYPE: "ConnectionError", attr.EXCEPTION_ESCAPED: "False"}
    for span in spans:
        assert span["status_description"] in (None, ""), span
    failed = _client_span(spans, LEAKY_SPAN if IS_MCP1 else REFUSE_SPAN)
    assert failed["status"] == "ERROR"
    assert failed["attributes"][attr.ERROR_TYPE] == ("0" if IS_MCP1 else "-32001")
    assert _cancelled_events(spans) == [{}]  # the event stays, without the reason
    # log records keep their message (scrubbed: it is the server's, not only the exception's); the exception
    # is its type
    python = exported.python_record()
    assert python["body"] == f"lookup failed for {SCRUBBED_DSN}"
    assert {k: v for k, v in python["attributes"].items() if k.startswith("exception.")} == {
        attr.EXCEPTION_TYPE: "ConnectionError"
    }
    for record in exported.notification_records():
        assert record["body"] == "backend refused token REDACTED"


@pytest.mark.parametrize("logs", [False, True])
def test_sentry_full_sends_the_text(
    logs: bool,
    tmp_path: Path,
    telemetry: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EXCEPTION_TEXT, "full")
    receiver = request.getfixturevalue("sentry_with_logs" if logs else "sentry")
    _run("memory", tmp_path, telemetry)
    items = sentry_items(receiver)
    assert privacy_server.DB_PASSWORD in str([i.payload for i in items if i.type == "event"])
    if logs:
        receiver.wait_for(lambda r: len(_log_items(r)) >= 3)
        bodies = [log["body"] for log in _log_items(receiver)]
        assert privacy_server.GRUMBLE_LOG % privacy_server.DSN in bodies
        assert privacy_server.GRUMBLE_NOTICE in bodies


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
