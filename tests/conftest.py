"""Shared fixtures: SDK providers with in-memory exporters, the instrumentor, and the transport harness.

The global tracer provider is an SDK ``TracerProvider`` set once per run (OpenTelemetry allows one), whose
processor forwards to the current test's ``InMemorySpanExporter``. It has to be global: mcp 2.x's own spans
and the spans user code opens (``trace.get_tracer(...)``) go through it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.harness import (
    DEMO_SCRIPT,
    IN_PROCESS,
    LOWLEVEL_SCRIPT,
    TRANSPORTS,
    Conn,
    ServerSpec,
    open_client,
)
from support.privacy_harness import sentry, sentry_with_logs, telemetry  # noqa: F401 (the privacy tests' fixtures)
from support.scenario import Run, run_client_errors, run_demo, run_lowlevel
from support.servers import LOWLEVEL_NAME, build_demo, build_lowlevel

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

SERVERS = {
    "demo": ServerSpec(build_demo, DEMO_SCRIPT),
    "lowlevel": ServerSpec(build_lowlevel, LOWLEVEL_SCRIPT, name=LOWLEVEL_NAME),
}


class _RoutingProcessor(SpanProcessor):
    """Forwards to whichever processor the running test installed (none between tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.target: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        target = self.target
        if target is not None:
            target.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        target = self.target
        if target is not None:
            target.on_end(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_ROUTER = _RoutingProcessor()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tracer_provider() -> TracerProvider:
    """The global SDK tracer provider of this test run."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # set by an earlier session fixture instance
        return current
    provider = TracerProvider()
    provider.add_span_processor(_ROUTER)
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another global tracer provider was already set"
    return provider


@pytest.fixture
def span_exporter(tracer_provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """An ``InMemorySpanExporter`` (behind a ``SimpleSpanProcessor``) receiving this test's spans."""
    exporter = InMemorySpanExporter()
    _ROUTER.target = SimpleSpanProcessor(exporter)
    try:
        yield exporter
    finally:
        _ROUTER.target = None


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


@pytest.fixture(autouse=True)
def _no_ambient_capture_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Content capture is off unless a test turns it on."""
    monkeypatch.delenv(CAPTURE_ENV, raising=False)


@pytest.fixture
def instrument(
    tracer_provider: TracerProvider, meter_provider: MeterProvider, span_exporter: InMemorySpanExporter
) -> Iterator[Callable[..., Any]]:
    """``instrument(**options)`` → the instrumented ``McpInstrumentor``; always uninstrumented at teardown."""
    from mcp_otel import McpInstrumentor

    instrumentor = McpInstrumentor()

    def _instrument(**options: Any) -> Any:
        options.setdefault("tracer_provider", tracer_provider)
        options.setdefault("meter_provider", meter_provider)
        instrumentor.instrument(**options)
        return instrumentor

    try:
        yield _instrument
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument: Callable[..., Any]) -> Any:
    """``McpInstrumentor`` instrumented with the test providers and default options."""
    return instrument()


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Every transport the installed mcp offers (see ``support.harness``)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def connect(
    span_exporter: InMemorySpanExporter, tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Conn]]:
    """``async with connect(transport, server="demo", **kw) as conn:`` — an initialized client session.

    Build the server after instrumenting: request ``instrumented`` (or call ``instrument``) first.
    After the block, ``conn.spans()`` holds the exchange's spans (stdio: read back from the spans file).
    """
    counter = iter(range(1_000_000))

    @contextlib.asynccontextmanager
    async def _connect(transport: str, server: str = "demo", **kwargs: Any) -> AsyncIterator[Conn]:
        workdir = tmp_path / f"session-{next(counter)}"
        workdir.mkdir()
        async with open_client(
            transport, SERVERS[server], exporter=span_exporter, tmp_path=workdir, **kwargs
        ) as conn:
            yield conn

    return _connect


# --------------------------------------------------------------------------------------------------------
# One instrumented exchange per transport, shared by every test that only inspects its spans.


async def _instrumented_run(
    transport: str,
    server: str,
    scenario: Callable[[Conn], Awaitable[Any]],
    tracer_provider: TracerProvider,
    workdir: Path,
) -> Run:
    """Instrument (default options), run ``scenario`` over ``transport``, uninstrument; keep the spans."""
    from mcp_otel import McpInstrumentor

    exporter = InMemorySpanExporter()
    previous, _ROUTER.target = _ROUTER.target, SimpleSpanProcessor(exporter)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrumentor = McpInstrumentor()
    try:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        async with open_client(transport, SERVERS[server], exporter=exporter, tmp_path=workdir) as conn:
            results = await scenario(conn)
        spans = conn.spans()
    finally:
        instrumentor.uninstrument()
        _ROUTER.target = previous
        meter_provider.shutdown()
    return Run(transport=transport, conn=conn, results=results, spans=spans)


@pytest.fixture(scope="session", params=TRANSPORTS)
async def demo_run(
    request: pytest.FixtureRequest, tracer_provider: TracerProvider, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """``support.scenario.run_demo`` against the demo server, instrumented, once per transport."""
    transport: str = request.param
    workdir = tmp_path_factory.mktemp(f"demo-{transport}")
    return await _instrumented_run(transport, "demo", run_demo, tracer_provider, workdir)


@pytest.fixture(scope="session", params=[t for t in TRANSPORTS if t in (*IN_PROCESS, "stdio")])
async def lowlevel_run(
    request: pytest.FixtureRequest, tracer_provider: TracerProvider, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """``support.scenario.run_lowlevel`` against the lowlevel server (in-process and stdio), once each."""
    transport: str = request.param
    workdir = tmp_path_factory.mktemp(f"lowlevel-{transport}")
    return await _instrumented_run(transport, "lowlevel", run_lowlevel, tracer_provider, workdir)


@pytest.fixture(scope="session", params=TRANSPORTS)
async def client_errors_run(
    request: pytest.FixtureRequest, tracer_provider: TracerProvider, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """``support.scenario.run_client_errors`` against the demo server, once per transport."""
    transport: str = request.param
    workdir = tmp_path_factory.mktemp(f"client-errors-{transport}")
    return await _instrumented_run(transport, "demo", run_client_errors, tracer_provider, workdir)


# ------------------------------------------------------------------------------------------- the matrix

#: Which tests this run takes (noxfile.py sets it per session; unset: every test). ``all``: every test;
#: ``major``: all but the tests marked ``once``; ``seams``: neither those nor the tests marked ``per_major``.
SCOPE_ENV = "MCP_OTEL_TEST_SCOPE"
_LEFT_OUT = {"all": (), "major": ("once",), "seams": ("once", "per_major")}


@pytest.hookimpl(trylast=True)  # after pytest-xdist's, which marks the grouped tests' node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked for the other mcp major; deselect what the session's scope leaves to another one;
    fail the tests of an ``xdist_group`` that ``--dist loadgroup`` did not group."""
    from support.compat import IS_MCP1

    _fail_lost_groups(config, items)
    other_major = "mcp2" if IS_MCP1 else "mcp1"
    for item in items:
        if item.get_closest_marker(other_major) is not None:
            item.add_marker(pytest.mark.skip(reason=f"needs mcp {other_major[-1]}.x"))
    scope = os.environ.get(SCOPE_ENV, "all")
    if scope not in _LEFT_OUT:
        raise pytest.UsageError(f"{SCOPE_ENV}={scope!r}: expected one of {', '.join(_LEFT_OUT)}")
    left_out = _LEFT_OUT[scope]
    if not left_out:
        return
    kept, deselected = [], []
    for item in items:
        (deselected if any(item.get_closest_marker(m) for m in left_out) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


#: Why the tests of an ``xdist_group`` fail when ``--dist loadgroup`` does not group them.
_GROUPS_LOST = (
    "--dist loadgroup did not group this test (no '@<group>' in its node id): pytest >= 9.2 no longer "
    "lets pytest-xdist rename node ids (pytest-xdist #1386), so each module fixture of a group (a benchmark "
    "run, a Prometheus server, a virtualenv) is built once per worker: minutes of CPU, silently. Install "
    "the pytest pinned in pyproject.toml."
)


_group_lost = pytest.StashKey[bool]()


def _fail_lost_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail every grouped test when ``--dist loadgroup`` lost its group (seen in the workers, after
    pytest-xdist's own hook has added ``@<group>`` to the node ids; see :data:`_GROUPS_LOST`)."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            item.stash[_group_lost] = True


def pytest_runtest_setup(item: pytest.Item) -> None:
    """See :func:`_fail_lost_groups`."""
    if item.stash.get(_group_lost, False):
        pytest.fail(_GROUPS_LOST, pytrace=False)
