"""The measured process of the mcp-otel overhead benchmark: one configuration, one path, one result.

``bench/run.py`` starts this script once per measurement, each time in a fresh interpreter of the virtualenv
that has the configuration's packages, and reads the single ``BENCH-RESULT {json}`` line it prints last.
It only needs the standard library, ``mcp`` (1.x or 2.x), ``anyio`` and the configuration's own packages;
mcp-otel itself is imported from ``src/`` (the driver puts it on ``PYTHONPATH``).

Tasks:

``latency``
    Open ``--concurrency`` sessions over ``--path``, warm up, then time ``--calls`` ``tools/call``
    round trips (one tool of ``--tools``, argument of ``--arg-size`` characters); per-call latencies
    (median, p90, p99) and wall time per call.
``memory``
    Open and close ``--sessions`` in-memory sessions (one ``tools/call`` each), then ``gc.collect()`` and
    report peak RSS, the Python objects retained by type against a snapshot taken after a warm-up, and the
    size of mcp-otel's own per-session dicts.
``points``
    As ``latency``, with metric readers that keep their points: report the attribute sets of the
    ``tools/call`` duration points (the equal-work floor is checked against mcp-otel's with it).
``describe``
    Report the interpreter and the installed package versions.

Configurations (``--config``): see :data:`CONFIGS`. A configuration that does not apply to the installed mcp
or whose package is missing reports ``status`` ``n/a`` / ``unavailable`` instead of a number; one that raises
while it is set up or measured reports ``crash`` with the exception.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import metadata
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "


def _mcp_version() -> str:
    try:
        return metadata.version("mcp")
    except metadata.PackageNotFoundError:  # the driver imports this module for CONFIGS only
        return ""


MCP_VERSION = _mcp_version()
IS_MCP1 = MCP_VERSION.startswith("1.")

#: configuration name → one-line description (the driver prints these under the tables).
CONFIGS: dict[str, str] = {
    "none": "no TracerProvider, no instrumentation (OTel API no-op; on 2.x the SDK middleware is present)",
    "sdk-spans": "mcp 2.x built-in spans: SDK TracerProvider + BatchSpanProcessor to a no-op exporter",
    "sdk-spans-metrics": (
        "the floor, equal work: mcp 2.x built-in spans + one duration histogram point per span (two per "
        "call) recorded in a span processor's on_end with mcp-otel's attribute set for that operation (same "
        "keys, same values; SDK MeterProvider as for otel-metrics)"
    ),
    "sdk-spans-metrics-min": (
        "the old floor: as sdk-spans-metrics, each point with the method name (and error type) only"
    ),
    "otel-spans": "mcp-otel, client+server spans, metrics=False (same TracerProvider)",
    "otel-metrics": "mcp-otel, spans + duration histograms (SDK MeterProvider, periodic reader to a no-op)",
    "otel-capture": "mcp-otel, spans + metrics + capture_content=True",
    "otel-sentry": (
        "mcp-otel, spans + metrics + mcp_otel.sentry.setup() (sentry_sdk.init as for `sentry`, its MCP "
        "integration disabled, capture_content as the Sentry client allows)"
    ),
    "sentry": "sentry-sdk MCPIntegration (traces_sample_rate=1, send_default_pii) + the SDK TracerProvider",
    "sentry-stream": "as `sentry`, in span streaming mode (trace_lifecycle='stream')",
    "otel-sentry-server": (
        "mcp-otel, spans + metrics + mcp_otel.sentry.setup(client_spans=False): one Sentry transaction per "
        "call, as `sentry` (equal work)"
    ),
    "otel-sentry-server-stream": "as `otel-sentry-server`, in span streaming mode (one segment per call)",
    "otel-sentry-server-nometrics": (
        "as `otel-sentry-server` with metrics=False and setup(sentry_trace=False): the Sentry budget's equal "
        "work (the peer records no metrics and writes no sentry-trace/baggage into _meta)"
    ),
    "otel-sentry-server-stream-nometrics": "as `otel-sentry-server-nometrics`, in span streaming mode",
    "openinference": "openinference-instrumentation-mcp + the SDK TracerProvider",
    "logfire": "logfire.instrument_mcp() (send_to_logfire=False, console=False, the same no-op BSP)",
    "traceloop": "Traceloop opentelemetry-instrumentation-mcp + the SDK TracerProvider",
}
PATHS = ("memory", "direct", "http")
DISTRIBUTIONS = (
    "mcp",
    "anyio",
    "pydantic",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation",
    "wrapt",
    "uvicorn",
    "httpx",
    "sentry-sdk",
    "openinference-instrumentation-mcp",
    "logfire",
    "opentelemetry-instrumentation-mcp",
)


class Unavailable(Exception):
    """The configuration cannot run here (``status`` is the first argument: ``n/a`` or ``unavailable``)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --------------------------------------------------------------------------------------------------------
# Configurations


class Setup:
    """What a configuration installed: providers to flush before measuring memory."""

    def __init__(self) -> None:
        self.tracer_provider: Any = None
        self.meter_provider: Any = None
        self.metric_reader: Any = None
        self.notes: list[str] = []

    def flush(self) -> None:
        """Flush span batches (so queued spans do not count as retained objects)."""
        if self.tracer_provider is not None and hasattr(self.tracer_provider, "force_flush"):
            self.tracer_provider.force_flush()


#: ``--task points``: metric readers keep the points (an in-memory reader instead of the no-op export).
_capture_points = False


def _sdk_tracer_provider(setup: Setup) -> Any:
    """An SDK ``TracerProvider`` with a ``BatchSpanProcessor`` to a no-op exporter, set globally."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoOpSpanExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoOpSpanExporter()))
    trace.set_tracer_provider(provider)
    setup.tracer_provider = provider
    return provider


def _sdk_meter_provider(setup: Setup) -> Any:
    """An SDK ``MeterProvider`` with a periodic reader (60 s) to a no-op exporter, set globally."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )

    class NoOpMetricExporter(MetricExporter):
        def export(
            self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            pass

    reader: Any = PeriodicExportingMetricReader(NoOpMetricExporter(), export_interval_millis=60_000)
    if _capture_points:
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    setup.metric_reader = reader
    metrics.set_meter_provider(provider)
    setup.meter_provider = provider
    return provider


def _span_duration_processor(meter_provider: Any, equal_work: bool = True) -> Any:
    """The least code that gives spans and duration metrics: a span processor whose ``on_end`` records each
    span's duration in a client or server histogram.

    ``equal_work``: each point carries exactly the attributes mcp-otel records for that operation — the
    keys of the conventions' default set for the histogram, read from the span (the server's), and, for the
    SDK's CLIENT span, which carries only the method and the request id, the tool, the operation name and
    the protocol version derived as mcp-otel derives them: the target from the message (here the span name,
    parsed once per name), the protocol version once per session (here the one the server's ``initialize``
    span recorded). Otherwise (the old floor) the method name and the error type only.
    """
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.trace import SpanKind

    from mcp_otel.semconv import attributes as attr
    from mcp_otel.semconv import metrics as semconv_metrics

    meter = meter_provider.get_meter("bench.span-durations")
    client = semconv_metrics.create_mcp_client_operation_duration(meter)
    server = semconv_metrics.create_mcp_server_operation_duration(meter)
    server_keys = semconv_metrics.MCP_SERVER_OPERATION_DURATION_ATTRIBUTES
    client_keys = semconv_metrics.MCP_CLIENT_OPERATION_DURATION_ATTRIBUTES
    method_key, error_key, version_key = attr.MCP_METHOD_NAME, attr.ERROR_TYPE, attr.MCP_PROTOCOL_VERSION
    execute_tool = attr.GenAiOperationNameValues.EXECUTE_TOOL.value
    send_prefix = "MCP send "  # the SDK's CLIENT span name: "MCP send {method}[ {target}]"

    class MinimalDurationFromSpans(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            if span.start_time is None or span.end_time is None:
                return
            attrs = span.attributes or {}
            point = {method_key: attrs.get(method_key, span.name)}
            if error_key in attrs:
                point[error_key] = attrs[error_key]
            histogram = server if span.kind is SpanKind.SERVER else client
            histogram.record((span.end_time - span.start_time) / 1e9, point)

    class DurationFromSpans(SpanProcessor):
        def __init__(self) -> None:
            self.protocol_version: Any = None  # per session in mcp-otel; one session per bench process
            self.targets: dict[str, dict[str, Any]] = {}  # client span name → the message's target keys

        def _client_target(self, name: str, method: Any) -> dict[str, Any]:
            found = self.targets.get(name)
            if found is None:
                target = name[len(send_prefix) :].partition(" ")[2] if name.startswith(send_prefix) else ""
                found = {}
                if target and method == "tools/call":
                    found = {attr.GEN_AI_TOOL_NAME: target, attr.GEN_AI_OPERATION_NAME: execute_tool}
                elif target and method == "prompts/get":
                    found = {attr.GEN_AI_PROMPT_NAME: target}
                self.targets[name] = found
            return found

        def on_end(self, span: ReadableSpan) -> None:
            if span.start_time is None or span.end_time is None:
                return
            attrs = span.attributes or {}
            duration = (span.end_time - span.start_time) / 1e9
            if span.kind is SpanKind.SERVER:
                if self.protocol_version is None and version_key in attrs:
                    self.protocol_version = attrs[version_key]
                server.record(duration, {k: attrs[k] for k in server_keys if k in attrs})
                return
            point = {k: attrs[k] for k in client_keys if k in attrs}
            point.update(self._client_target(span.name, point.get(method_key)))
            if self.protocol_version is not None:
                point[version_key] = self.protocol_version
            client.record(duration, point)

    return DurationFromSpans() if equal_work else MinimalDurationFromSpans()


def _sentry_init(**options: Any) -> None:
    """``sentry_sdk.init`` with a transport that drops every envelope (nothing leaves the process)."""
    try:
        import sentry_sdk
        from sentry_sdk.transport import Transport
    except ImportError as exc:
        raise Unavailable("unavailable", f"sentry-sdk not installed ({exc})") from None
    if options.get("trace_lifecycle") == "stream":
        try:
            import sentry_sdk.traces  # noqa: F401
        except ImportError:
            raise Unavailable("unavailable", "this sentry-sdk has no span streaming mode") from None

    class DiscardTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            pass

        def flush(self, timeout: float, callback: Any = None) -> None:
            pass

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=DiscardTransport,
        traces_sample_rate=1.0,
        send_default_pii=True,
        **options,
    )


def _mcp_otel_instrument(setup: Setup, **kwargs: Any) -> None:
    try:
        from mcp_otel import McpInstrumentor
    except ImportError as exc:
        raise Unavailable("unavailable", f"mcp_otel not importable ({exc})") from None
    McpInstrumentor().instrument(tracer_provider=setup.tracer_provider, **kwargs)


def _sentry_processor(
    setup: Setup, stream: bool = False, client_spans: bool = True, sentry_trace: bool = True
) -> bool:
    """Wire mcp-otel's Sentry processor (``mcp_otel.sentry.setup``) as its docs say; the content switch.

    sentry-sdk's own MCP integration is disabled (as the docs recommend); ``capture_content`` follows the
    Sentry client (``send_default_pii=True`` here, as in the ``sentry`` configuration).
    """
    try:
        import mcp_otel.sentry as mcp_sentry
    except ImportError as exc:
        raise Unavailable("unavailable", f"mcp_otel.sentry not importable ({exc})") from None
    setup_func = getattr(mcp_sentry, "setup", None)
    if not callable(setup_func):
        raise Unavailable("unavailable", "mcp_otel.sentry has no setup()")
    from sentry_sdk.integrations.mcp import MCPIntegration

    extra: dict[str, Any] = {"trace_lifecycle": "stream"} if stream else {}
    _sentry_init(disabled_integrations=[MCPIntegration()], **extra)
    kwargs: dict[str, Any] = {} if client_spans else {"client_spans": False}
    if not sentry_trace:
        kwargs["sentry_trace"] = False  # an older mcp-otel has no such option: nothing to turn off
    try:
        installed = setup_func(tracer_provider=setup.tracer_provider, **kwargs)
    except TypeError:
        kwargs.pop("sentry_trace", None)
        installed = setup_func(tracer_provider=setup.tracer_provider, **kwargs)
    capture = bool(getattr(installed, "capture_content", False))
    setup.notes.append(f"mcp_otel.sentry.setup({kwargs}), capture_content={capture}")
    return capture


def configure(config: str) -> Setup:
    """Install ``config`` in this process (before any MCP server is built)."""
    setup = Setup()
    if config == "none":
        return setup
    if config == "sdk-spans":
        if IS_MCP1:
            raise Unavailable("n/a", "mcp 1.x has no built-in spans")
        _sdk_tracer_provider(setup)
        return setup
    if config in ("sdk-spans-metrics", "sdk-spans-metrics-min"):
        if IS_MCP1:
            raise Unavailable("n/a", "mcp 1.x has no built-in spans")
        tracer_provider = _sdk_tracer_provider(setup)
        processor = _span_duration_processor(_sdk_meter_provider(setup), config == "sdk-spans-metrics")
        tracer_provider.add_span_processor(processor)
        return setup
    if config.startswith("otel-sentry-server"):
        _sdk_tracer_provider(setup)
        stream = "-stream" in config
        if config.endswith("-nometrics"):
            capture = _sentry_processor(setup, stream=stream, client_spans=False, sentry_trace=False)
            _mcp_otel_instrument(setup, metrics=False, capture_content=capture)
            return setup
        _sdk_meter_provider(setup)
        capture = _sentry_processor(setup, stream=stream, client_spans=False)
        _mcp_otel_instrument(setup, meter_provider=setup.meter_provider, capture_content=capture)
        return setup
    if config == "sentry-stream":
        _sdk_tracer_provider(setup)
        _sentry_init(trace_lifecycle="stream")
        return setup
    if config in ("otel-spans", "otel-metrics", "otel-capture", "otel-sentry"):
        _sdk_tracer_provider(setup)
        if config == "otel-spans":
            _mcp_otel_instrument(setup, metrics=False)
            return setup
        _sdk_meter_provider(setup)
        capture = config == "otel-capture"
        if config == "otel-sentry":
            capture = _sentry_processor(setup)
        _mcp_otel_instrument(setup, meter_provider=setup.meter_provider, capture_content=capture)
        return setup
    if config == "sentry":
        _sdk_tracer_provider(setup)
        _sentry_init()
        from sentry_sdk.integrations.mcp import MCPIntegration  # noqa: F401  (auto-enabled with mcp)

        return setup
    if config == "openinference":
        provider = _sdk_tracer_provider(setup)
        try:
            from openinference.instrumentation.mcp import MCPInstrumentor
        except ImportError as exc:
            raise Unavailable(
                "unavailable", f"openinference-instrumentation-mcp not installed ({exc})"
            ) from None
        MCPInstrumentor().instrument(tracer_provider=provider)
        return setup
    if config == "logfire":
        try:
            import logfire
        except ImportError as exc:
            raise Unavailable("unavailable", f"logfire not installed ({exc})") from None
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        probe = Setup()
        _sdk_tracer_provider(probe)  # only to build the same no-op BSP; logfire sets its own provider
        processor = probe.tracer_provider._active_span_processor._span_processors[0]
        assert isinstance(processor, BatchSpanProcessor)
        logfire.configure(
            send_to_logfire=False,
            console=False,
            additional_span_processors=[processor],
            inspect_arguments=False,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logfire.instrument_mcp()
        setup.notes.extend(" ".join(str(w.message).split())[:90] for w in caught)
        from opentelemetry import trace

        setup.tracer_provider = trace.get_tracer_provider()
        return setup
    if config == "traceloop":
        provider = _sdk_tracer_provider(setup)
        try:
            from opentelemetry.instrumentation.mcp import McpInstrumentor as TraceloopInstrumentor
        except ImportError as exc:
            raise Unavailable(
                "unavailable", f"opentelemetry-instrumentation-mcp not installed ({exc})"
            ) from None
        TraceloopInstrumentor().instrument(tracer_provider=provider)
        return setup
    raise SystemExit(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")


# --------------------------------------------------------------------------------------------------------
# The server


def build_server(tools: int = 1) -> Any:
    """The measured server: async ``add``, ``size(text)`` and ``tools - 1`` more never-called tools."""
    if IS_MCP1:
        from mcp.server.fastmcp import FastMCP as ServerClass
    else:
        from mcp.server.mcpserver import MCPServer as ServerClass
    server = ServerClass("bench")

    @server.tool()
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def size(text: str) -> int:
        """The length of ``text``."""
        return len(text)

    for index in range(max(0, tools - 1)):

        def make(i: int) -> Callable[[int], Awaitable[int]]:
            async def extra(x: int) -> int:
                return x + i

            extra.__name__ = f"tool_{i}"
            extra.__doc__ = f"Extra tool number {i}."
            return extra

        server.tool(name=f"tool_{index}")(make(index))
    return server


# --------------------------------------------------------------------------------------------------------
# Paths: one client session connected to the server


class Conn:
    """A connected client: ``await conn.call(name, arguments)``."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        result = await self.session.call_tool(name, arguments)
        if getattr(result, "isError", None) or getattr(result, "is_error", None):
            raise RuntimeError(f"tool {name} failed: {result}")
        return result


@contextlib.asynccontextmanager
async def serve_http(server: Any) -> AsyncIterator[str]:
    """Serve ``server`` over streamable HTTP with uvicorn in this event loop on 127.0.0.1; yield its URL."""
    import anyio
    import uvicorn

    app = server.streamable_http_app()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="error",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    userver = uvicorn.Server(config)
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await userver.serve()
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        with anyio.fail_after(30):
            while not userver.started:
                if stopped.is_set():
                    raise RuntimeError("uvicorn exited before it started")
                await anyio.sleep(0.01)
        port = userver.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            userver.should_exit = True
            with anyio.move_on_after(10):
                await stopped.wait()
            tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def connect(path: str, server: Any, url: str | None = None) -> AsyncIterator[Conn]:
    """One initialized client session over ``path`` (``url`` for ``http``)."""
    if IS_MCP1:
        if path == "memory":
            from mcp.shared.memory import create_connected_server_and_client_session

            lowlevel = getattr(server, "_mcp_server", server)  # mcp 1.15 takes the lowlevel Server only
            async with create_connected_server_and_client_session(lowlevel) as session:
                yield Conn(session)
            return
        if path == "http":
            from mcp.client import streamable_http
            from mcp.client.session import ClientSession

            # streamable_http_client exists from mcp 1.24; older 1.x has only streamablehttp_client
            streamable_http_client = (
                getattr(streamable_http, "streamable_http_client", None)
                or streamable_http.streamablehttp_client
            )
            assert url is not None
            async with (
                streamable_http_client(url) as streams,
                ClientSession(streams[0], streams[1]) as session,
            ):
                await session.initialize()
                yield Conn(session)
            return
        raise Unavailable("n/a", f"path {path!r} exists on mcp 2.x only")
    from mcp import Client

    if path == "memory":
        client = Client(server, mode="legacy")
    elif path == "direct":
        client = Client(server)
    elif path == "http":
        client = Client(url)
    else:
        raise SystemExit(f"unknown path {path!r}")
    async with client:
        yield Conn(client)


# --------------------------------------------------------------------------------------------------------
# Tasks


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Time ``tools/call`` round trips; see the module docstring."""
    import anyio

    server = build_server(args.tools)
    if args.arg_size > 0:
        name, arguments = "size", {"text": "x" * args.arg_size}
    else:
        name, arguments = "add", {"a": 2, "b": 3}
    concurrency = max(1, args.concurrency)
    per_session = max(1, args.calls // concurrency)
    latencies: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve_http(server)) if args.path == "http" else None
        conns = [await stack.enter_async_context(connect(args.path, server, url)) for _ in range(concurrency)]
        for conn in conns:
            for _ in range(max(1, args.warmup // concurrency)):
                await conn.call(name, arguments)

        async def worker(conn: Conn) -> None:
            clock = time.perf_counter_ns
            record = latencies.append
            for _ in range(per_session):
                start = clock()
                await conn.call(name, arguments)
                record(clock() - start)

        cpu_start = time.process_time()
        wall_start = time.perf_counter_ns()
        if concurrency == 1:
            await worker(conns[0])
        else:
            async with anyio.create_task_group() as tg:
                for conn in conns:
                    tg.start_soon(worker, conn)
        wall = time.perf_counter_ns() - wall_start
        cpu = time.process_time() - cpu_start
    values = sorted(v / 1000 for v in latencies)
    return {
        "calls": len(values),
        "median_us": statistics.median(values),
        "mean_us": statistics.fmean(values),
        "p90_us": _percentile(values, 0.90),
        "p99_us": _percentile(values, 0.99),
        "wall_us_per_call": wall / 1000 / len(values),
        "calls_per_s": len(values) / (wall / 1e9),
        "cpu_us_per_call": cpu * 1e6 / len(values),
    }


def _rss_kib() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return -1


def _object_counts() -> Counter[str]:
    gc.collect()
    gc.collect()
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def _mcp_otel_state() -> dict[str, int]:
    """Sizes of mcp-otel's per-session maps (empty when mcp-otel is not loaded)."""
    module = sys.modules.get("mcp_otel")
    if module is None:
        return {}
    sizes: dict[str, int] = module.McpInstrumentor().state_sizes()
    return sizes


async def run_memory(args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    """Open and close ``--sessions`` sessions; report RSS and retained objects; see the module docstring."""
    server = build_server(args.tools)
    path = args.path

    async def one_session() -> None:
        async with connect(path, server) as conn:
            await conn.call("add", {"a": 2, "b": 3})

    warm = min(200, max(1, args.sessions // 10))
    for _ in range(warm):
        await one_session()
    setup.flush()
    before = _object_counts()
    rss_before = _rss_kib()
    start = time.perf_counter()
    for _ in range(args.sessions):
        await one_session()
    elapsed = time.perf_counter() - start
    setup.flush()
    after = _object_counts()
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}
    top = sorted(grown.items(), key=lambda kv: -kv[1])[:12]
    return {
        "sessions": args.sessions,
        "session_ms": elapsed * 1000 / args.sessions,
        "rss_before_kib": rss_before,
        "rss_after_kib": _rss_kib(),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "objects_before": sum(before.values()),
        "objects_after": sum(after.values()),
        "objects_delta": sum(after.values()) - sum(before.values()),
        "grown_types": top,
        "mcp_otel_state": _mcp_otel_state(),
    }


def operation_points(setup: Setup) -> dict[str, list[list[list[Any]]]]:
    """``--task points``: the attribute sets of the ``tools/call`` points of the two operation-duration
    histograms, sorted (what the floor's equal work is checked against)."""
    found: dict[str, list[list[list[Any]]]] = {}
    if setup.metric_reader is None:
        return found
    data = setup.metric_reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not metric.name.endswith(".operation.duration"):
                    continue
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    if attributes.get("mcp.method.name") == "tools/call":
                        found.setdefault(metric.name, []).append(
                            sorted([k, v] for k, v in attributes.items())
                        )
    return {name: sorted(points) for name, points in sorted(found.items())}


def describe() -> dict[str, Any]:
    """The interpreter and package versions of this environment."""
    versions: dict[str, str] = {}
    for dist in DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run one task, print ``BENCH-RESULT {json}``; exit 0 whatever the status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", choices=("latency", "memory", "points", "describe"), default="latency")
    parser.add_argument("--config", default="none", choices=sorted(CONFIGS))
    parser.add_argument("--path", default="memory", choices=PATHS)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--tools", type=int, default=1)
    parser.add_argument(
        "--arg-size", type=int, default=0, help="characters of the tool argument (0: add(2, 3))"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent sessions")
    parser.add_argument(
        "--sessions", type=int, default=10_000, help="memory task: sessions to open and close"
    )
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"config": args.config, "path": args.path, "mcp": MCP_VERSION, "task": args.task}
    if args.task == "describe":
        result.update(status="ok", **describe())
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    import anyio

    try:
        if IS_MCP1 and args.path == "direct":
            raise Unavailable("n/a", "mcp 1.x has no in-process direct dispatcher")
        global _capture_points
        _capture_points = args.task == "points"
        setup = configure(args.config)
        result["notes"] = setup.notes
        if args.task == "points":
            anyio.run(run_latency, args)
            measured = {"points": operation_points(setup)}
        elif args.task == "latency":
            measured = anyio.run(run_latency, args)
        else:
            measured = anyio.run(run_memory, args, setup)
        result.update(status="ok", **measured)
    except Unavailable as exc:
        result.update(status=exc.status, reason=exc.reason)
    except BaseException as exc:  # a crashing peer is a result, not a benchmark failure
        if isinstance(exc, KeyboardInterrupt):
            raise
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result.update(status="crash", reason=detail[:300])
        traceback.print_exc(file=sys.stderr)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
