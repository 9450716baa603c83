"""One trace across mcp-otel and Sentry JS 11.17's own MCP instrumentation, over stdio, both directions.

The server is a Node MCP server (``tests/support/sentry_js_server.mjs``, ``@modelcontextprotocol/sdk``)
wrapped with ``wrapMcpServerWithSentry`` from ``@sentry/core`` 11.17.0 — ``@sentry/node`` stops at 11.12 on
the registry, so the script initialises ``@sentry/core``'s own ``ServerRuntimeClient`` with a transport that
posts to the test's Sentry receiver. The client is mcp-otel-instrumented Python with
``mcp_otel.sentry.setup()``:

- client → JS server: our ``tools/call`` carries ``sentry-trace`` + ``baggage`` next to ``traceparent``;
  Sentry JS (``propagateTraceparent`` off, its default) reads only the former and continues our trace, with
  our dynamic sampling context;
- JS server → client: the JS tool sends ``sampling/createMessage``; the wrapper injects ``sentry-trace`` +
  ``baggage`` (no ``traceparent``) and mcp-otel's span for the request the client handles continues the JS
  span's trace.

The npm packages are installed once into ``$MCP_OTEL_SENTRY_JS_DIR`` (default: a directory in the temp dir);
``.ci/run`` does it ahead of the tests (``python tests/test_sentry_js_interop.py install``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from support import npm_packages

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanKind

    from support.sentry_receiver import Item, SentryReceiver

SENTRY_CORE_VERSION = "11.17.0"
MCP_SDK_VERSION = "1.32.2"
PACKAGE_JSON = {
    "private": True,
    "dependencies": {"@sentry/core": SENTRY_CORE_VERSION, "@modelcontextprotocol/sdk": MCP_SDK_VERSION},
}
DIR_ENV = "MCP_OTEL_SENTRY_JS_DIR"
SCRIPT = Path(__file__).resolve().parent / "support" / "sentry_js_server.mjs"
JS_ORIGIN = "auto.function.mcp_server"


def js_dir() -> Path:
    """Where the Sentry JS packages are (to be) installed."""
    return npm_packages.package_dir(DIR_ENV, f"mcp-otel-sentry-js-{SENTRY_CORE_VERSION}")


def installed(directory: Path) -> bool:
    """Whether ``directory`` holds the pinned ``@sentry/core`` and MCP SDK."""
    return (
        npm_packages.installed_version(directory, "@sentry/core") == SENTRY_CORE_VERSION
        and npm_packages.installed_version(directory, "@modelcontextprotocol/sdk") == MCP_SDK_VERSION
    )


def install(directory: Path) -> Path:
    """Install the packages (unless there) and place the server script next to them (ESM resolves imports
    from the script's directory); return the script's path.

    Raises:
        FileNotFoundError: npm is not installed.
        subprocess.CalledProcessError: npm failed.
    """
    npm_packages.install(directory, PACKAGE_JSON, installed)
    text = SCRIPT.read_text()
    target = directory / f"sentry_js_server-{hashlib.sha256(text.encode()).hexdigest()[:12]}.mjs"
    if not target.is_file():
        staging = Path(tempfile.mkstemp(dir=directory, suffix=".mjs")[1])
        staging.write_text(text)
        staging.replace(target)
    return target


SAMPLED_TEXT = "sampled by the python client"


@pytest.fixture(scope="module")
def js_server() -> Path:
    pytest.importorskip("sentry_sdk")
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed: cannot run Sentry JS (@sentry/core)")
    return install(js_dir())


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    from support.sentry_receiver import SentryReceiver

    with SentryReceiver() as running:
        yield running


async def _on_sampling(context: Any, params: Any) -> Any:
    import mcp.types as types

    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=SAMPLED_TEXT), model="test-model"
    )


@contextlib.asynccontextmanager
async def _session(script: Path, dsn: str, errlog: Any) -> AsyncIterator[Any]:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from support.compat import IS_MCP1, implementation

    node = shutil.which("node")
    assert node is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env["SENTRY_JS_DSN"] = dsn
    params = StdioServerParameters(command=node, args=[str(script)], env=env, cwd=str(script.parent))
    streams = stdio_client(params, errlog=errlog)
    if IS_MCP1:
        from datetime import timedelta

        from mcp.client.session import ClientSession

        async with (
            streams as (read, write),
            ClientSession(
                read,
                write,
                read_timeout_seconds=timedelta(seconds=30),
                client_info=implementation(),
                sampling_callback=_on_sampling,
            ) as session,
        ):
            await session.initialize()
            yield session
        return
    from mcp import Client

    async with Client(
        streams, mode="legacy", client_info=implementation(), sampling_callback=_on_sampling
    ) as client:
        yield client


def _js_spans(receiver: SentryReceiver) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Streamed spans of Sentry JS's MCP instrumentation (its origin) by name: (span, envelope headers).

    Sentry JS 11 streams spans (span-v2 envelope items) by default.
    """
    found = {}
    for item in receiver.items("span"):
        for span in item.payload["items"]:
            if span["attributes"].get("sentry.origin", {}).get("value") == JS_ORIGIN:
                found[span["name"]] = (span, item.envelope_headers)
    return found


def _ours(receiver: SentryReceiver) -> dict[str, Item]:
    """mcp-otel's transactions, by name."""
    import mcp_otel.sentry

    return {
        i.payload["transaction"]: i
        for i in receiver.items("transaction")
        if i.payload["contexts"]["trace"].get("origin") == mcp_otel.sentry.ORIGIN
    }


def _span(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    (span,) = [
        s
        for s in spans
        if s.name == name and s.kind is kind and getattr(s.instrumentation_scope, "name", "") == "mcp_otel"
    ]
    return span


def test_one_trace_across_mcp_otel_and_sentry_js(js_server: Path, receiver: SentryReceiver) -> None:
    import anyio
    import sentry_sdk
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

    import mcp_otel.sentry
    from mcp_otel import McpInstrumentor

    js_dsn = f"http://jskey@127.0.0.1:{receiver.port}/2"
    sentry_sdk.init(
        dsn=receiver.dsn,
        release="py-client@1.0.0",
        traces_sample_rate=1.0,
        auto_enabling_integrations=False,  # sentry-sdk's own MCPIntegration (a client here: nothing to drop)
    )
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handle = mcp_otel.sentry.setup(provider)
    instrumentor = McpInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:

        async def run() -> None:
            with tempfile.TemporaryFile("w+") as errlog:
                async with _session(js_server, js_dsn, errlog) as session:
                    with anyio.fail_after(60):
                        echoed = await session.call_tool("echo", {"text": "hello"})
                        asked = await session.call_tool("ask", {"text": "question"})
                    assert echoed.content[0].text == "hello"
                    assert asked.content[0].text == SAMPLED_TEXT

        anyio.run(run)
        receiver.wait_for(lambda r: {"tools/call echo", "tools/call ask"} <= set(_js_spans(r)), 30)
        sentry_sdk.flush(timeout=5.0)
        receiver.wait_for(lambda r: "sampling/createMessage" in _ours(r), 15)
    finally:
        instrumentor.uninstrument()
        handle.close()
        provider.shutdown()
        sentry_sdk.get_client().close(timeout=2.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)
    spans = list(exporter.get_finished_spans())

    # client → JS server: Sentry JS continued our trace from sentry-trace + baggage (it ignores traceparent)
    ours = _span(spans, "tools/call echo", SpanKind.CLIENT)
    js_echo, js_echo_headers = _js_spans(receiver)["tools/call echo"]
    assert js_echo["trace_id"] == format_trace_id(ours.context.trace_id)
    assert js_echo["parent_span_id"] == format_span_id(ours.context.span_id)
    assert js_echo["attributes"]["sentry.op"]["value"] == "mcp.server"
    dsc = js_echo_headers["trace"]  # our dynamic sampling context, frozen by Sentry JS
    assert dsc["trace_id"] == js_echo["trace_id"]
    if hasattr(sentry_sdk.tracing_utils.Baggage, "populate_from_propagation_context"):  # sentry-sdk >= 2.66
        assert dsc["public_key"] == "publickey" and dsc["release"] == "py-client@1.0.0"

    # JS server → client: its sampling request carried sentry-trace + baggage only; our span continued it
    ask_trace, _ = _js_spans(receiver)["tools/call ask"]
    sampling = _span(spans, "sampling/createMessage", SpanKind.SERVER)
    assert sampling.parent is not None and sampling.parent.is_remote
    assert format_span_id(sampling.parent.span_id) == ask_trace["span_id"]
    assert format_trace_id(sampling.context.trace_id) == ask_trace["trace_id"]
    asked = _span(spans, "tools/call ask", SpanKind.CLIENT)
    assert ask_trace["parent_span_id"] == format_span_id(asked.context.span_id)
    # ... and its Sentry transaction joined the trace with the DSC that came with it
    sampled = _ours(receiver)["sampling/createMessage"]
    assert sampled.payload["contexts"]["trace"]["parent_span_id"] == ask_trace["span_id"]
    assert sampled.envelope_headers["trace"]["trace_id"] == ask_trace["trace_id"]
    assert sampled.envelope_headers["trace"]["public_key"] == dsc["public_key"]  # the DSC that came with it


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        print(install(js_dir()))
    else:
        sys.exit(f"usage: {sys.argv[0]} install   (installs @sentry/core into ${DIR_ENV} or the temp dir)")
