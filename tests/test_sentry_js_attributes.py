"""Sentry JS 11.17's result, notification and OAuth keys, end to end, in transaction and span streaming mode.

``@sentry/core`` 11.17.0 (``packages/core/src/integrations/mcp-server/``) sends, and so does mcp-otel's Sentry
mapping (never the vendor-neutral spans: ``tests/test_vendor_neutral_keys.py``):

- ``mcp.tool.result.content_type`` of a single-item result always; ``mcp.tool.result.<i>.*`` of several items
  (types always, details only as outputs) — ``resultExtraction.ts`` ``buildAllContentItemAttributes``;
- ``mcp.prompt.result.<i>.role`` / ``.content`` of several messages (outputs) —
  ``extractPromptResultAttributes``;
- ``mcp.progress.*`` and ``mcp.logging.*`` on notification spans (the log message only as input) —
  ``attributeExtraction.ts`` ``getNotificationAttributes``;
- ``mcp.auth.client.name`` on requests whose OAuth access token the server verified —
  ``transport.ts`` ``resolveOAuthClientName``: tested against a real bearer-protected streamable-HTTP server
  on 127.0.0.1 (the SDK's ``token_verifier`` + ``AuthSettings``, with a fixed-token verifier like the SDK's
  own ``tests/interaction/auth/_harness.py`` ``StaticTokenVerifier``).

Everything is read from what ``tests/support/sentry_receiver.py`` received (transactions and their spans, or
span-v2 items).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import anyio  # noqa: E402
import sentry_sdk  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel import McpInstrumentor  # noqa: E402
from mcp_otel.sentry.streaming import supported  # noqa: E402
from support import harness  # noqa: E402
from support.compat import IS_MCP1, implementation  # noqa: E402
from support.sentry_receiver import SentryReceiver, tear_down_sentry  # noqa: E402

MODES = [
    "transactions",
    pytest.param("stream", marks=pytest.mark.skipif(not supported(), reason="no streaming")),
]
LOG_TEXT = "a log line for Sentry"
TOKEN = "tok-valid"
CLIENT_ID = "client-42"
SCOPE = "mcp:read"
RESOURCE = "http://127.0.0.1/mcp"


class StaticTokenVerifier:
    """A ``TokenVerifier`` with a fixed token → ``AccessToken`` map (the SDK test suite's helper, re-made: the
    SDK does not ship its tests)."""

    def __init__(self, tokens: dict[str, Any]) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> Any:
        return self.tokens.get(token)


def build_server(auth: bool = False) -> Any:
    """``add`` (one text item), ``gallery`` (text + image), ``report`` (progress 1/4, 2/4 and a log line),
    prompt ``dialogue`` (two messages); with ``auth``, behind the SDK's bearer auth. Build after
    instrumenting.
    """
    import mcp.types as types
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings

    options: dict[str, Any] = {}
    if auth:
        token = AccessToken(
            token=TOKEN, client_id=CLIENT_ID, scopes=[SCOPE], expires_at=int(time.time()) + 3600
        )
        if "resource" in AccessToken.model_fields:  # RFC 8707 audience, checked against resource_server_url
            token = token.model_copy(update={"resource": RESOURCE})
        options["token_verifier"] = StaticTokenVerifier({TOKEN: token})
        options["auth"] = AuthSettings(
            issuer_url="http://127.0.0.1/issuer", resource_server_url=RESOURCE, required_scopes=[SCOPE]
        )
    if IS_MCP1:
        from mcp.server.fastmcp import Context, FastMCP

        server: Any = FastMCP("sentry-js-keys", **options)
    else:
        from mcp.server.mcpserver import Context, MCPServer

        server = MCPServer("sentry-js-keys", **options)

    @server.tool()
    def add(a: int, b: int) -> str:
        """Add two integers (one text item)."""
        return str(a + b)

    @server.tool()
    def gallery():  # type: ignore[no-untyped-def]  # no annotation: no structured output
        """Two content items: a text and an image."""
        return [
            types.TextContent(type="text", text="hello"),
            types.ImageContent(type="image", data="QUJD", mimeType="image/png"),
        ]

    async def report(ctx: Context) -> str:  # type: ignore[type-arg]
        """Report progress twice and send a log line."""
        await ctx.report_progress(1, 4)
        await ctx.report_progress(2, 4)
        with warnings.catch_warnings():  # mcp 2.3: the logging capability is deprecated (SEP-2577)
            warnings.simplefilter("ignore")
            await ctx.info(LOG_TEXT)
        return "reported"

    report.__annotations__["ctx"] = Context  # FastMCP finds the Context parameter by its annotation
    server.tool()(report)

    @server.prompt()
    def dialogue(topic: str) -> list[dict[str, Any]]:
        """Two messages."""
        return [
            {"role": "user", "content": {"type": "text", "text": f"Tell me about {topic}."}},
            {"role": "assistant", "content": {"type": "text", "text": "Gladly."}},
        ]

    return server


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    with SentryReceiver() as r:
        yield r


@pytest.fixture
def sentry_setup(receiver: SentryReceiver) -> Iterator[Callable[..., Any]]:
    """``sentry_setup(mode, setup_options, **init_options)``: a client at the receiver + mcp-otel + Sentry."""
    handles: list[Any] = []
    instrumentor = McpInstrumentor()

    def _setup(mode: str, setup_options: dict[str, Any] | None = None, **init_options: Any) -> Any:
        options: dict[str, Any] = {
            "dsn": receiver.dsn,
            "traces_sample_rate": 1.0,
            "auto_enabling_integrations": False,
            **({"trace_lifecycle": "stream"} if mode == "stream" else {}),
            **init_options,
        }
        sentry_sdk.init(**options)
        provider = TracerProvider()
        handle = mcp_otel.sentry.setup(provider, client_spans=False, **(setup_options or {}))
        handles.append(handle)
        instrumentor.instrument(tracer_provider=provider, capture_content=handle.capture_content)
        return handle

    try:
        yield _setup
    finally:
        tear_down_sentry(instrumentor, handles)


def received_spans(receiver: SentryReceiver) -> list[tuple[str, str, dict[str, Any]]]:
    """``(op, name, data)`` of every span received: transactions and their child spans, or streamed spans."""
    out = []
    for item in receiver.items("transaction"):
        payload = item.payload
        trace = payload["contexts"]["trace"]
        out.append((trace.get("op"), payload["transaction"], trace.get("data", {})))
        for span in payload.get("spans", []):
            out.append((span.get("op"), span.get("description"), span.get("data", {})))
    for item in receiver.items("span"):
        for span in item.payload["items"]:
            attributes = {k: v["value"] for k, v in span.get("attributes", {}).items()}
            out.append((attributes.get("sentry.op"), span["name"], attributes))
    return out


def data_of(receiver: SentryReceiver, name: str, op: str = "mcp.server") -> list[dict[str, Any]]:
    return [data for o, n, data in received_spans(receiver) if o == op and n == name]


def wait_for(receiver: SentryReceiver, *names: str) -> None:
    receiver.wait_for(lambda r: all(data_of(r, name) for name in names))
    time.sleep(0.2)


async def exchange(conn: harness.Conn) -> None:
    await conn.call_tool("add", {"a": 2, "b": 3})
    await conn.call_tool("gallery", {})
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None = None) -> None:
        progress.append(value)

    # a progress callback: the client sends a progress token, so the server's progress is sent
    await conn._send("tools/call report", conn.session.call_tool("report", {}, progress_callback=on_progress))
    assert progress == [1, 2]
    await conn.get_prompt("dialogue", {"topic": "otters"})


@pytest.mark.parametrize("transport", ["memory", "http"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pii", [False, True], ids=["default", "send_default_pii"])
def test_result_and_notification_keys(
    mode: str, transport: str, pii: bool, receiver: SentryReceiver, sentry_setup: Callable[..., Any]
) -> None:
    sentry_setup(mode, send_default_pii=pii)
    spec = harness.ServerSpec(build_server, Path(__file__).resolve())

    async def run() -> None:
        async with harness.open_client(transport, spec) as conn:
            await exchange(conn)

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    wait_for(receiver, "tools/call add", "tools/call gallery", "tools/call report", "prompts/get dialogue")

    (add,) = data_of(receiver, "tools/call add")
    assert add["mcp.tool.result.content_type"] == "text"  # always, as Sentry JS sends it
    assert add["mcp.tool.result.content_count"] == 1

    (gallery,) = data_of(receiver, "tools/call gallery")
    assert gallery["mcp.tool.result.content_count"] == 2
    assert "mcp.tool.result.content_type" not in gallery  # several items: the indexed keys
    assert gallery["mcp.tool.result.0.content_type"] == "text"
    assert gallery["mcp.tool.result.1.content_type"] == "image"
    details = {
        "mcp.tool.result.0.content": "hello",
        "mcp.tool.result.1.mime_type": "image/png",
        "mcp.tool.result.1.data_size": 4,
    }
    if pii:
        assert {k: gallery.get(k) for k in details} == details
    else:  # outputs stay home by default
        assert not [
            k
            for k in gallery
            if k.startswith(("mcp.tool.result.0.", "mcp.tool.result.1.")) and not k.endswith(".content_type")
        ]

    (dialogue,) = data_of(receiver, "prompts/get dialogue")
    assert dialogue["mcp.prompt.result.message_count"] == 2
    messages = {
        "mcp.prompt.result.0.role": "user",
        "mcp.prompt.result.0.content": "Tell me about otters.",
        "mcp.prompt.result.1.role": "assistant",
        "mcp.prompt.result.1.content": "Gladly.",
    }
    expected = messages if pii else {}
    assert {
        k: v for k, v in dialogue.items() if k.startswith(("mcp.prompt.result.0", "mcp.prompt.result.1"))
    } == (expected)

    # in-process, the server's sending and the client's receipt are both MCP spans of this process
    progress = data_of(receiver, "notifications/progress", "mcp.notification.server_to_client")
    numbers = {
        (d["mcp.progress.current"], d["mcp.progress.total"], d["mcp.progress.percentage"]) for d in progress
    }
    assert numbers == {(1, 4, 25.0), (2, 4, 50.0)}, progress
    tokens = {d.get("mcp.progress.token") for d in progress}
    assert len(tokens) == 1 and isinstance(next(iter(tokens)), str), tokens  # the request's progress token

    logs = data_of(receiver, "notifications/message", "mcp.notification.server_to_client")
    assert logs
    for log in logs:
        assert log["mcp.logging.level"] == "info"
        assert log["mcp.logging.data_type"] == "string"
        if pii:
            assert log["mcp.logging.message"] == LOG_TEXT
        else:
            assert "mcp.logging.message" not in log  # an input: only with record_inputs


# -- mcp.auth.client.name: a bearer-protected streamable-HTTP server ---------------------------------------


@contextlib.asynccontextmanager
async def authorized_client(bearer: str | None) -> AsyncIterator[harness.Conn]:
    """A client session with ``Authorization: Bearer <bearer>`` to the OAuth-protected server (127.0.0.1)."""
    server = build_server(auth=True)
    async with harness.serve_http("http", server) as url, contextlib.AsyncExitStack() as stack:
        log = harness.HttpLog(default_headers={"Authorization": f"Bearer {bearer}"} if bearer else None)
        streams = harness.http_streams("http", url, log)
        yield await harness._connect_streams(stack, "http", streams, implementation(), mode="legacy")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("resolver", "expected"),
    [
        (None, CLIENT_ID),
        (lambda token: f"Example Desktop ({token.client_id})", f"Example Desktop ({CLIENT_ID})"),
    ],
    ids=["client_id", "resolver"],
)
def test_auth_client_name_from_the_verified_token(
    mode: str, resolver: Any, expected: str, receiver: SentryReceiver, sentry_setup: Callable[..., Any]
) -> None:
    sentry_setup(mode, {"auth_client_name": resolver})

    async def run() -> None:
        async with authorized_client(TOKEN) as conn:
            await conn.call_tool("add", {"a": 1, "b": 2})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    wait_for(receiver, "tools/call add")
    (add,) = data_of(receiver, "tools/call add")
    assert add["mcp.auth.client.name"] == expected
    assert "mcp.auth.client.name" not in str(
        data_of(receiver, "notifications/initialized", "mcp.notification.client_to_server")
    )  # requests only, as Sentry JS


def test_no_auth_client_name_without_a_token(
    receiver: SentryReceiver, sentry_setup: Callable[..., Any]
) -> None:
    """The negative control: the same server without auth gives no name."""
    sentry_setup("transactions")
    spec = harness.ServerSpec(build_server, Path(__file__).resolve())

    async def run() -> None:
        async with harness.open_client("http", spec) as conn:
            await conn.call_tool("add", {"a": 1, "b": 2})

    anyio.run(run)
    sentry_sdk.flush(timeout=5.0)
    wait_for(receiver, "tools/call add")
    assert [d.get("mcp.auth.client.name") for d in data_of(receiver, "tools/call add")] == [None]
