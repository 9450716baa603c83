"""Fault injection: whatever part of the telemetry pipeline breaks, MCP answers exactly as uninstrumented.

Each fault replaces one collaborator of mcp-otel with one that raises (or hangs):

==================  ==============================================================================
``tracer``          the tracer provider hands out a tracer whose ``start_span`` raises
``on-start``        a span processor whose ``on_start`` raises (so does every span start)
``on-end``          a span processor whose ``on_end`` raises (so does every ``span.end()``)
``export-raises``   the exporter raises (behind a ``SimpleSpanProcessor``, which logs it itself)
``export-hangs``    the exporter blocks forever (behind a ``BatchSpanProcessor``): requests never wait
``histogram``       every ``Histogram.record`` raises
``propagator``      the global propagator's ``inject`` and ``extract`` raise
``redactor``        the content redactor raises (content capture on)
``sentry``          the Sentry client's transport raises (``mcp_otel.sentry.setup`` wired in)
==================  ==============================================================================

For each, on the in-process transports and streamable HTTP behind uvicorn on 127.0.0.1 (client and server
both instrumented), the demo exchange — ``tools/list``, ``tools/call`` of a working and of a failing tool,
``prompts/get``, ``resources/read`` — returns results whose JSON dumps equal those of the same exchange
without mcp-otel. The exchange runs twice: mcp-otel logs each failing place once (no duplicate log record,
none added by the second run), never once per request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpHistogram, NoOpMeter, NoOpMeterProvider
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import NoOpTracer, NoOpTracerProvider

from mcp_otel import McpInstrumentor
from support.harness import TRANSPORTS, ServerSpec, open_client
from support.scenario import ADD_ARGS, FAIL_ARGS, GREET_ARGS, RESOURCE_URI
from support.servers import build_demo

pytestmark = pytest.mark.anyio

FAULT_TRANSPORTS = [t for t in TRANSPORTS if t in ("memory", "direct", "http")]
#: Upper bound for one whole exchange under a fault (a hanging exporter must not stretch it).
EXCHANGE_TIMEOUT = 15.0
#: How often the exchange runs per test: failures must be logged once, not once per request.
RUNS = 2
DEMO = ServerSpec(build_demo, Path(__file__).resolve().parents[1] / "examples" / "demo_server.py")


class Boom(RuntimeError):
    """The injected failure."""


async def exchange(conn: Any) -> dict[str, Any]:
    """The requests every fault test compares: results dumped to JSON-compatible dicts."""
    tools = await conn.list_tools()
    return {
        "tools/list": tools.model_dump(by_alias=True, mode="json", exclude_none=True),
        "add": await conn.call_tool("add", ADD_ARGS),
        "fail": await conn.call_tool("fail", FAIL_ARGS),
        "greet": await conn.get_prompt("greet", GREET_ARGS),
        "read": await conn.read_resource(RESOURCE_URI),
    }


async def run_exchanges(transport: str, tmp_path: Path, runs: int = RUNS) -> list[dict[str, Any]]:
    """``runs`` client sessions, each running :func:`exchange`, against one fresh demo server."""
    out = []
    with anyio.fail_after(EXCHANGE_TIMEOUT * runs):
        for _ in range(runs):
            async with open_client(transport, DEMO, tmp_path=tmp_path) as conn:
                out.append(await exchange(conn))
    return out


_baselines: dict[str, dict[str, Any]] = {}


async def baseline(transport: str, tmp_path: Path) -> dict[str, Any]:
    """The exchange's results without mcp-otel (computed once per transport)."""
    if transport not in _baselines:
        McpInstrumentor().uninstrument()
        (_baselines[transport],) = await run_exchanges(transport, tmp_path, runs=1)
    return _baselines[transport]


# -- the faulty collaborators ----------------------------------------------------------------------------


class RaisingProcessor(SpanProcessor):
    def __init__(self, on_start: bool = False, on_end: bool = False) -> None:
        self.raise_on_start = on_start
        self.raise_on_end = on_end
        self.calls = 0

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.calls += 1
        if self.raise_on_start:
            raise Boom("on_start")

    def on_end(self, span: ReadableSpan) -> None:
        self.calls += 1
        if self.raise_on_end:
            raise Boom("on_end")


class RaisingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.calls += 1
        raise Boom("export")

    def shutdown(self) -> None:
        pass


class HangingExporter(SpanExporter):
    """Blocks every export until :attr:`release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def export(self, spans: Any) -> SpanExportResult:
        self.entered.set()
        self.release.wait()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


class RaisingTracerProvider(NoOpTracerProvider):
    """Its tracers raise on every span start."""

    def __init__(self) -> None:
        self.starts = 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        provider = self

        class _Tracer(NoOpTracer):
            def start_span(self, *a: Any, **k: Any) -> Any:
                provider.starts += 1
                raise Boom("start_span")

        return _Tracer()


class RaisingHistogramMeterProvider(NoOpMeterProvider):
    """Its histograms raise on every ``record``."""

    def __init__(self) -> None:
        self.records = 0

    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        provider = self

        class _Histogram(NoOpHistogram):
            def record(self, *a: Any, **k: Any) -> None:
                provider.records += 1
                raise Boom("record")

        class _Meter(NoOpMeter):
            def create_histogram(self, name: str, *a: Any, **k: Any) -> Any:
                return _Histogram(name)

        return _Meter(name)


class RaisingPropagator(TextMapPropagator):
    def __init__(self) -> None:
        self.calls = 0

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        self.calls += 1
        raise Boom("extract")

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        self.calls += 1
        raise Boom("inject")

    @property
    def fields(self) -> set[str]:
        return {"traceparent"}


# -- the test ---------------------------------------------------------------------------------------------


@pytest.fixture
def failures(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[[], list[str]]]:
    """``failures()`` → the "instrumentation error" records mcp-otel logged so far.

    The once-per-place memory of ``log_failure_once`` starts empty for the test.
    """
    monkeypatch.setattr("mcp_otel._guard._seen", set())
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        yield lambda: [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("mcp_otel") and "instrumentation error" in r.getMessage()
        ]


FAULTS = [
    "tracer",
    "on-start",
    "on-end",
    "export-raises",
    "export-hangs",
    "histogram",
    "propagator",
    "redactor",
]
#: Faults mcp-otel never sees: the SDK's span processor handles (and logs) exporter failures itself.
NOT_OURS = ("export-raises", "export-hangs")


@contextlib.contextmanager
def inject_fault(
    fault: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, Any], Callable[[], int]]]:
    """``(instrument() keywords, a counter of how often the faulty part was hit)`` for ``fault``."""
    provider = TracerProvider()
    kwargs: dict[str, Any] = {"tracer_provider": provider, "meter_provider": NoOpMeterProvider()}
    hits: Callable[[], int]
    cleanup: Callable[[], None] = provider.shutdown
    if fault == "tracer":
        tracers = RaisingTracerProvider()
        kwargs["tracer_provider"] = tracers
        hits = lambda: tracers.starts  # noqa: E731
    elif fault in ("on-start", "on-end"):
        processor = RaisingProcessor(on_start=fault == "on-start", on_end=fault == "on-end")
        provider.add_span_processor(processor)
        hits = lambda: processor.calls  # noqa: E731
    elif fault == "export-raises":
        exporter = RaisingExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        hits = lambda: exporter.calls  # noqa: E731
    elif fault == "export-hangs":
        hanging = HangingExporter()
        provider.add_span_processor(
            BatchSpanProcessor(hanging, schedule_delay_millis=1, max_export_batch_size=1, max_queue_size=64)
        )
        hits = lambda: int(hanging.entered.wait(EXCHANGE_TIMEOUT))  # noqa: E731

        def cleanup() -> None:
            hanging.release.set()
            provider.shutdown()

    elif fault == "histogram":
        meters = RaisingHistogramMeterProvider()
        kwargs["meter_provider"] = meters
        hits = lambda: meters.records  # noqa: E731
    elif fault == "propagator":
        propagator = RaisingPropagator()
        monkeypatch.setattr(propagate, "_HTTP_TEXT_FORMAT", propagator)
        hits = lambda: propagator.calls  # noqa: E731
    elif fault == "redactor":
        calls = Counter[str]()

        def redactor(key: str, value: str) -> str:
            calls[key] += 1
            raise Boom("redactor")

        kwargs.update(capture_content=True, content_redactor=redactor)
        hits = lambda: sum(calls.values())  # noqa: E731
    else:  # pragma: no cover
        raise AssertionError(fault)
    try:
        yield kwargs, hits
    finally:
        cleanup()


@pytest.mark.parametrize("transport", FAULT_TRANSPORTS)
@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_changes_nothing(
    fault: str,
    transport: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failures: Callable[[], list[str]],
) -> None:
    expected = await baseline(transport, tmp_path)
    instrumentor = McpInstrumentor()
    with inject_fault(fault, monkeypatch) as (kwargs, hits):
        instrumentor.instrument(**kwargs)
        try:
            first = await run_exchanges(transport, tmp_path, runs=1)
            logged_after_first = failures()
            second = await run_exchanges(transport, tmp_path, runs=RUNS - 1)
        finally:
            instrumentor.uninstrument()
        assert hits() > 0, f"the {fault} fault was never hit: the test proves nothing"
    for results in first + second:
        assert results == expected
    logged = failures()
    assert logged == logged_after_first, (
        f"the second exchange logged again: {logged[len(logged_after_first) :]}"
    )
    repeated = {m: n for m, n in Counter(logged).items() if n > 1}
    assert repeated == {}, f"logged more than once: {repeated}"
    if fault in NOT_OURS:
        assert logged == [], logged
    else:
        assert logged, f"the {fault} failure was swallowed without a log record"


@pytest.mark.parametrize("transport", FAULT_TRANSPORTS)
async def test_sentry_transport_fault_changes_nothing(
    transport: str, tmp_path: Path, failures: Callable[[], list[str]]
) -> None:
    """``mcp_otel.sentry.setup()`` on a Sentry client whose transport raises on every envelope."""
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    import mcp_otel.sentry

    sent: list[Any] = []

    class RaisingTransport(Transport):  # type: ignore[misc]
        def capture_envelope(self, envelope: Any) -> None:
            sent.append(envelope)
            raise Boom("sentry transport")

        def flush(self, timeout: float, callback: Any = None) -> None:
            pass

        def kill(self) -> None:
            pass

    expected = await baseline(transport, tmp_path)
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=RaisingTransport(),
        traces_sample_rate=1.0,
        auto_enabling_integrations=False,
        default_integrations=False,
    )
    provider = TracerProvider()
    handle = mcp_otel.sentry.setup(provider)
    instrumentor = McpInstrumentor()
    instrumentor.instrument(tracer_provider=provider, meter_provider=NoOpMeterProvider())
    try:
        first = await run_exchanges(transport, tmp_path, runs=1)
        logged_after_first = failures()
        second = await run_exchanges(transport, tmp_path, runs=RUNS - 1)
    finally:
        instrumentor.uninstrument()
        handle.close()
        with contextlib.suppress(Boom):  # the client's own final flush hits the raising transport too
            sentry_sdk.get_client().close(timeout=1.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)
        provider.shutdown()
    assert sent, "no envelope reached the raising transport: the test proves nothing"
    for results in first + second:
        assert results == expected
    logged = failures()
    assert logged == logged_after_first, (
        f"the second exchange logged again: {logged[len(logged_after_first) :]}"
    )
    assert {m: n for m, n in Counter(logged).items() if n > 1} == {}
