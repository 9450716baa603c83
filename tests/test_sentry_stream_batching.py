"""How streamed MCP spans are batched into envelopes: by sentry-sdk's own span batcher, with its rules.

mcp-otel starts and ends streamed spans with sentry-sdk's public ``sentry_sdk.traces.start_span`` /
``StreamedSpan.end``, so they go through the client's ``SpanBatcher``: one bucket per trace (an envelope's
``trace`` header is one trace's dynamic sampling context), flushed when a segment ends, when a bucket reaches
1,000 spans or 5 MB, every 5 s, and on ``flush()`` / ``close()`` (sentry-sdk's ``atexit`` integration closes
the client at exit). ``mcp_otel.sentry`` adds a flush when its span processor shuts down.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import anyio  # noqa: E402
import sentry_sdk  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel import McpInstrumentor  # noqa: E402
from mcp_otel.sentry.streaming import supported  # noqa: E402
from support import sentry_server  # noqa: E402
from support.sentry_receiver import CapturingTransport  # noqa: E402

pytestmark = pytest.mark.skipif(not supported(), reason="sentry-sdk without span streaming")


@pytest.fixture
def streaming() -> Iterator[list[Any]]:
    """A span-streaming Sentry client whose envelopes land in the returned list, and mcp-otel on it."""
    CapturingTransport.envelopes = []
    sentry_sdk.init(
        dsn="http://publickey@127.0.0.1:9/1",
        transport=CapturingTransport,
        traces_sample_rate=1.0,
        release=sentry_server.RELEASE,
        trace_lifecycle="stream",
        auto_enabling_integrations=False,
    )
    provider = TracerProvider()
    handle = mcp_otel.sentry.setup(provider, release_health=False)
    instrumentor = McpInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield CapturingTransport.envelopes
    finally:
        instrumentor.uninstrument()
        handle.close()
        sentry_sdk.get_client().close(timeout=2.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)


def _span_items(envelopes: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """(envelope headers, item headers, spans) of every span item."""
    out = []
    for envelope in envelopes:
        for item in envelope.items:
            if item.type == "span":
                out.append((dict(envelope.headers), dict(item.headers), item.payload.json["items"]))
    return out


def _run(*calls: tuple[str, dict[str, Any]]) -> None:
    async def run() -> None:
        async with sentry_server.connect("memory", None) as conn:
            for name, arguments in calls:
                await conn.call_tool(name, arguments)

    anyio.run(run)


def test_a_segment_and_its_spans_travel_in_one_envelope(streaming: list[Any]) -> None:
    """The log notification a tool sends is a child span of the tool's segment: same bucket, one envelope."""
    _run(("logged", {"text": "x"}))
    sentry_sdk.flush(timeout=5.0)
    (headers, item, spans) = next(
        (h, i, s)
        for h, i, s in _span_items(streaming)
        if any(span["name"] == "tools/call logged" for span in s)
    )
    names = sorted(span["name"] for span in spans)
    assert "notifications/message" in names
    assert item["item_count"] == len(spans)
    segment = next(span for span in spans if span["name"] == "tools/call logged")
    assert all(span["trace_id"] == segment["trace_id"] for span in spans)
    assert headers["trace"]["trace_id"] == segment["trace_id"]


def test_an_envelope_never_mixes_traces(streaming: list[Any]) -> None:
    """Each call is its own trace here (the client starts one); an ended segment flushes its bucket."""
    _run(("echo", {"text": "a"}), ("echo", {"text": "b"}), ("add", {"a": 1, "b": 2}))
    sentry_sdk.flush(timeout=5.0)
    items = _span_items(streaming)
    for headers, _, spans in items:
        assert {span["trace_id"] for span in spans} == {headers["trace"]["trace_id"]}
    segments = sum(span["is_segment"] for _, _, spans in items for span in spans)
    assert len(items) <= segments  # at most one envelope per segment (its bucket), never one per span


def test_closing_mcp_otel_flushes_the_client(streaming: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """``McpSentry.close()`` (or the tracer provider's shutdown) flushes the Sentry client once."""
    flushed: list[float | None] = []
    client = sentry_sdk.get_client()
    original = client.flush

    def flush(timeout: float | None = None, callback: Any = None) -> None:
        flushed.append(timeout)
        original(timeout=timeout, callback=callback)

    monkeypatch.setattr(client, "flush", flush)
    provider = TracerProvider()
    handle = mcp_otel.sentry.setup(provider, release_health=False, capture_errors=False)
    handle.close()
    provider.shutdown()  # shuts the processor down again: no second flush
    assert flushed == [2.0]
