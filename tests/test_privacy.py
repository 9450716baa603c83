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

from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import LOG_BODY_REDACTION_KEY
from support import feature_client, privacy_harness, privacy_server
from support.compat import IS_MCP1
from support.harness import TRANSPORTS
from support.metrics import metric_points
from support.privacy_harness import instrumented, sentry_items
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
EXCEPTION_TEXT_KEYS = frozenset(
    {attr.EXCEPTION_MESSAGE, attr.EXCEPTION_STACKTRACE, attr.OTEL_STATUS_DESCRIPTION}
)
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
    return privacy_harness.leaks(data, [CANARY])


def _run(
    transport: str, tmp_path: Path, telemetry: dict[str, Any], **options: Any
) -> tuple[list[Any], feature_client.Conn]:
    """The exchange, instrumented with ``options``; all spans of both sides."""
    instrumentor = instrumented(telemetry, **options)
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
    ours_items = sentry_items(sentry)
    assert any(item.type == "transaction" for item in ours_items)
    assert leaks([item.payload for item in ours_items]) == []


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
    # exception text (the explode tool raises: test_exception_text_privacy.py) and log record bodies
    # (docs/logs.md, tests/test_logs.py) go through the redactor too: not content span values
    calls = [call for call in all_calls if call[0] not in (*EXCEPTION_TEXT_KEYS, LOG_BODY_REDACTION_KEY)]
    assert {call[0] for call in all_calls if call[0] in EXCEPTION_TEXT_KEYS} == {
        attr.EXCEPTION_MESSAGE,
        attr.EXCEPTION_STACKTRACE,
    }
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
