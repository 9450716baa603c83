"""Privacy: what passes through MCP stays out of telemetry unless the user opts in, and is redacted first.

A canary string is planted in tool arguments and results, prompt arguments, resource contents (not
the resource URI: the conventions record URIs), the messages
of a server→client ``sampling/createMessage`` and the answer of its sampling callback, and the answer to an
``elicitation/create``. The client and the server (in-process, or the stdio subprocess
``support/privacy_server.py``) are instrumented with default settings.

- **Defaults, every transport:** the canary appears nowhere in any exported span (names, attributes, events,
  links, status) of either side, in any metric point (in-process reader or the stdio server's dump), or, for
  the in-process servers wired to Sentry with ``mcp_otel.sentry.setup`` (default ``send_default_pii``), in any
  request body the Sentry receiver got (transactions, error events with frames, sessions).
- **Capture on + redactor (in-process and HTTP transports):** the redactor sees every captured value before
  export — one call per exported content attribute, with the raw value (canary included) — and each exported
  content attribute is exactly the redactor's output; the canary appears nowhere.
- Control: the same exchange with capture on and no redactor exports the canary (so the checks can fail).

Sampling and elicitation need a back-channel: not on mcp 2.x's 2026-07-28 paths (``direct``,
``http-stateless``) nor mcp 1.x stateless HTTP (the answer arrives on a fresh ``ServerSession``); there the
rest of the exchange still runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_otel import McpInstrumentor
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import LOG_BODY_REDACTION_KEY
from support import feature_client, privacy_server
from support.compat import IS_MCP1
from support.harness import TRANSPORTS
from support.metrics import metric_points
from support.spans import to_dicts

CANARY = privacy_server.CANARY
REDACTED = "[REDACTED]"
PRIVACY_SCRIPT = Path(privacy_server.__file__).resolve()
CONTENT_KEYS = frozenset(
    {
        attr.GEN_AI_TOOL_CALL_ARGUMENTS,
        attr.GEN_AI_TOOL_CALL_RESULT,
        sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION,
        sentry.SENTRY_MCP_TOOL_RESULT_CONTENT,  # the error content of an isError result
        sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT,
    }
)
CONTENT_PREFIXES = (f"{attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE}.",)
IN_PROCESS_SERVER = [t for t in TRANSPORTS if t != "stdio"]


def has_back_channel(transport: str) -> bool:
    return not (feature_client.modern(transport) or (IS_MCP1 and transport == "http-stateless"))


class CanaryInbox(feature_client.Inbox):
    """Client callbacks that answer sampling and elicitation with the canary."""

    async def on_sampling(self, context: Any, params: Any) -> Any:
        import mcp.types as types

        self.samplings.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"sampled {CANARY}"), model="m"
        )

    async def on_elicit(self, context: Any, params: Any) -> Any:
        import mcp.types as types

        return types.ElicitResult(action="accept", content={"answer": f"elicited {CANARY}"})


@pytest.fixture
def canary_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue-3 connector with an elicitation callback and the privacy server's stdio script."""
    original = feature_client._callbacks

    def callbacks(inbox: Any) -> dict[str, Any]:
        return {**original(inbox), "elicitation_callback": inbox.on_elicit}

    monkeypatch.setattr(feature_client, "_callbacks", callbacks)
    monkeypatch.setattr(feature_client, "STDIO_SCRIPT", PRIVACY_SCRIPT)


async def exchange(transport: str, tmp_path: Path) -> feature_client.Conn:
    """Every place a canary can travel; asserts the canary really made the trip each time."""
    inbox = CanaryInbox()
    server = None if transport == "stdio" else privacy_server.build_server()
    async with feature_client.connect(transport, tmp_path, server=server, inbox=inbox) as conn:
        await conn.list_tools()
        echoed = await conn.call_tool("echo", {"text": CANARY})
        assert echoed.content[0].text == CANARY
        exploded = await conn.call_tool("explode", {"text": CANARY})
        assert bool(getattr(exploded, "isError", getattr(exploded, "is_error", None))) is True
        prompt = await conn.get_prompt("greet", {"name": CANARY})
        assert CANARY in prompt.messages[0].content.text
        resource = await conn.read_resource(privacy_server.SECRET_RESOURCE)
        assert CANARY in resource.contents[0].text
        if has_back_channel(transport):
            asked = await conn.call_tool("ask", {"text": CANARY})
            assert asked.content[0].text == f"sampled {CANARY}"
            assert inbox.samplings[0].messages[0].content.text == CANARY
            confirmed = await conn.call_tool("confirm", {})
            assert confirmed.content[0].text == str(len(f"elicited {CANARY}"))
    return conn


def leaks(data: Any) -> list[str]:
    """Where ``CANARY`` occurs in ``data`` (spans or metric points as JSON values), as short excerpts."""
    out = []
    for item in data:
        text = json.dumps(item, default=str)
        if CANARY in text:
            at = text.index(CANARY)
            out.append(text[max(0, at - 150) : at + 30])
    return out


@pytest.fixture
def telemetry() -> Iterator[dict[str, Any]]:
    """Providers of this test's own (Sentry's processor goes on the tracer provider): ``tracer_provider``,
    ``meter_provider``, ``spans`` (the exporter) and ``metrics`` (the reader)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield {
        "tracer_provider": provider,
        "meter_provider": meter_provider,
        "spans": exporter,
        "metrics": reader,
    }
    meter_provider.shutdown()
    provider.shutdown()


@pytest.fixture
def sentry(telemetry: dict[str, Any]) -> Iterator[Any]:
    """``sentry_sdk.init`` (no PII, the default) at a local receiver + ``mcp_otel.sentry.setup``."""
    sentry_sdk = pytest.importorskip("sentry_sdk")
    import mcp_otel.sentry
    from support.sentry_receiver import SentryReceiver

    with SentryReceiver() as receiver:
        sentry_sdk.init(
            dsn=receiver.dsn,
            release="privacy@1.0.0",
            traces_sample_rate=1.0,
            auto_enabling_integrations=False,
        )
        handle = mcp_otel.sentry.setup(telemetry["tracer_provider"])
        try:
            yield receiver
        finally:
            handle.close()
            sentry_sdk.get_client().close(timeout=2.0)
            sentry_sdk.Scope.get_global_scope().set_client(None)


def _instrumented(telemetry: dict[str, Any], **options: Any) -> McpInstrumentor:
    instrumentor = McpInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry["tracer_provider"], meter_provider=telemetry["meter_provider"], **options
    )
    return instrumentor


def _run(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], **options: Any
) -> tuple[list[Any], feature_client.Conn]:
    """The exchange, instrumented with ``options``; all spans of both sides."""
    instrumentor = _instrumented(telemetry, **options)
    try:
        conn = anyio.run(exchange, transport, tmp_path)
    finally:
        instrumentor.uninstrument()
    spans = to_dicts(telemetry["spans"].get_finished_spans()) + conn.file_spans()
    return spans, conn


def test_canary_never_exported_by_default(
    transport: str,
    tmp_path: Path,
    telemetry: dict[str, Any],
    sentry: Any,
    canary_callbacks: None,
) -> None:
    spans, conn = _run(transport, tmp_path, telemetry)
    names = {s["name"] for s in spans}
    assert {"tools/call echo", "prompts/get greet"} <= names, names  # both sides' spans are there
    if has_back_channel(transport):
        assert {"tools/call ask", "sampling/createMessage", "elicitation/create"} <= names, names
    assert leaks(spans) == []
    points = metric_points(telemetry["metrics"]) + (conn.server_metric_points() or [])
    assert points, "no metric point: the metric check proves nothing"
    assert leaks(points) == []
    # Sentry (in-process server and client): transactions, error events, sessions — nothing carries it
    import sentry_sdk

    sentry_sdk.flush(timeout=5.0)
    sentry.wait_for(lambda r: bool(r.items("transaction")))
    items = sentry.items()
    ours_items = [item for item in items if not _sdk_error_log(item)]
    assert any(item.type == "transaction" for item in ours_items)
    assert leaks([item.payload for item in ours_items]) == []


def _sdk_error_log(item: Any) -> bool:
    """An error event sentry-sdk's own logging integration made from an ``mcp.*`` logger's error record.

    Not mcp-otel's: mcp 1.x logs ``Error in message router`` with the traceback when a streamable HTTP session
    shuts down, and sentry-sdk (``include_local_variables=True`` by default) attaches the frames' local
    variables, message contents included. See "Privacy" in the README for the setting that stops it.
    """
    payload = item.payload if isinstance(item.payload, dict) else {}
    values = (payload.get("exception") or {}).get("values") or []
    logging_mechanism = any((v.get("mechanism") or {}).get("type") == "logging" for v in values)
    return item.type == "event" and logging_mechanism and str(payload.get("logger", "")).startswith("mcp.")


def _redaction_run(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], redact: bool
) -> tuple[list[Any], list[tuple[str, str, str]]]:
    calls: list[tuple[str, str, str]] = []

    def redactor(key: str, value: str) -> str:
        out = value.replace(CANARY, REDACTED)
        calls.append((key, value, out))
        return out

    options: dict[str, Any] = {"capture_content": True}
    if redact:
        options["content_redactor"] = redactor
    spans, _ = _run(transport, tmp_path, telemetry, **options)
    return spans, calls


@pytest.mark.parametrize("transport", IN_PROCESS_SERVER)
def test_redactor_sees_every_captured_value(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], canary_callbacks: None
) -> None:
    spans, all_calls = _redaction_run(transport, tmp_path, telemetry, redact=True)
    # log record bodies go through the redactor too (docs/logs.md, tests/test_logs.py): not span values
    calls = [call for call in all_calls if call[0] != LOG_BODY_REDACTION_KEY]
    exported = [
        (key, value)
        for s in spans
        for key, value in s["attributes"].items()
        if key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)
    ]
    assert sorted(exported) == sorted((key, out) for key, _, out in calls)
    # what it saw were the raw values: the canary in arguments, results and prompt variables of both sides
    saw_canary = {
        key.rsplit(".", 1)[0] if key.startswith("gen_ai.prompt") else key
        for key, raw, _ in calls
        if CANARY in raw
    }
    assert saw_canary == {
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt.variable",
        "mcp.prompt.result.message_content",  # the prompt's single message repeats the canary argument
    }
    assert leaks(spans) == []


@pytest.mark.parametrize("transport", ["memory"])
def test_control_capture_without_redactor_exports_the_canary(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], canary_callbacks: None
) -> None:
    spans, calls = _redaction_run(transport, tmp_path, telemetry, redact=False)
    assert calls == []
    assert leaks(spans) != []
