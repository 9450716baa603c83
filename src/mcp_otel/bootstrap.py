"""Run a Python MCP server (or any script) with mcp-otel tracing set up before it starts.

Usage::

    python -m mcp_otel.bootstrap (--spans-file PATH | --otlp URL) [--service-name NAME] -- script.py [args...]
    python -m mcp_otel.bootstrap (--spans-file PATH | --otlp URL) [--service-name NAME] -- -m module [args...]

It creates an OpenTelemetry SDK :class:`~opentelemetry.sdk.trace.TracerProvider`,
:class:`~opentelemetry.sdk.metrics.MeterProvider` and ``LoggerProvider`` (also installed as the global
providers), exporting spans and log records either to a JSON Lines file
(:class:`mcp_otel.spanfile.JsonLinesSpanExporter` / ``JsonLinesLogExporter`` behind simple processors, so
every span is on disk as soon as it ends, even if the process is killed later) or to an OTLP/HTTP endpoint
(needs ``opentelemetry-exporter-otlp-proto-http``, the ``sdk`` extra). Then it calls
``McpInstrumentor().instrument(...)`` and runs the script as ``__main__`` with ``sys.argv`` set to the
script and its arguments, as ``python script.py args...`` would. The providers are flushed and shut down when
the interpreter exits and on SIGTERM (stdio servers are terminated by their client).

The test harness starts stdio servers through this module. ``mcp-otel run``, ``trace`` and ``demo`` use
:mod:`mcp_otel.autostart` instead (any command, every Python process it starts), which reuses
:func:`create_telemetry`, :func:`instrument` and :func:`install_shutdown_hooks`.
"""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from mcp_otel.otlp_endpoints import BootstrapError, otlp_endpoints, otlp_logs_endpoint
from mcp_otel.shutdown import (
    SHUTDOWN_TIMEOUT_SECONDS,
    install_shutdown_hooks,
    install_signal_flush,
    run_with_timeout,
)
from mcp_otel.spanfile import JsonLinesLogExporter, JsonLinesSpanExporter

__all__ = [
    "OTLP_PACKAGE",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "BootstrapError",
    "Telemetry",
    "create_telemetry",
    "install_shutdown_hooks",
    "install_signal_flush",
    "instrument",
    "main",
    "otlp_endpoints",
    "otlp_logs_endpoint",
    "run_command",
    "run_with_timeout",
]

OTLP_PACKAGE = "opentelemetry-exporter-otlp-proto-http"
"""The distribution that provides the OTLP/HTTP exporters used by ``--otlp``."""


@dataclass
class Telemetry:
    """The SDK providers created by :func:`create_telemetry`.

    Attributes:
        tracer_provider: exports the spans.
        meter_provider: exports metrics over OTLP with ``--otlp``; has no reader with ``--spans-file``.
        logger_provider: exports log records to the same destination as the spans.
    """

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider = field(default_factory=LoggerProvider)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _done: bool = field(default=False, repr=False)

    def shutdown(self) -> None:
        """Flush and shut down both providers; later calls do nothing. Never raises."""
        with self._lock:
            if self._done:
                return
            self._done = True
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            try:
                provider.shutdown()
            except Exception as exc:  # shutting down must not mask the script's own exit status
                print(f"mcp-otel: shutting down {type(provider).__name__} failed: {exc!r}", file=sys.stderr)


def _import_otlp(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BootstrapError(
            f"--otlp needs the {OTLP_PACKAGE} package ({exc}); install it with: pip install 'mcp-otel[sdk]'"
        ) from exc


def create_telemetry(
    *,
    spans_file: str | Path | None = None,
    otlp: str | None = None,
    service_name: str | None = None,
    default_service_name: str = "mcp-server",
) -> Telemetry:
    """Create the SDK tracer and meter providers for exactly one destination.

    Args:
        spans_file: append spans and log records to this JSON Lines file (created if missing), one per line,
            written as each span ends or record is emitted.
        otlp: export spans and log records (batched) and metrics to this OTLP/HTTP endpoint; see
            :func:`otlp_endpoints` and :func:`otlp_logs_endpoint`.
        service_name: the ``service.name`` resource attribute; overrides ``OTEL_SERVICE_NAME``.
        default_service_name: ``service.name`` when neither ``service_name`` nor the ``OTEL_SERVICE_NAME`` /
            ``OTEL_RESOURCE_ATTRIBUTES`` environment variables set one.

    Returns:
        The providers; they are not installed globally (see :func:`main`).

    Raises:
        BootstrapError: when not exactly one of ``spans_file`` and ``otlp`` is given, the URL is invalid, or
            ``otlp`` is given and the OTLP exporter package is not installed.
    """
    if (spans_file is None) == (otlp is None):
        raise BootstrapError("give exactly one of --spans-file PATH and --otlp URL")
    resource = Resource.create()
    if service_name:
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    elif str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))

    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    readers: list[MetricReader] = []
    if spans_file is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(spans_file)))
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(JsonLinesLogExporter(spans_file)))
    else:
        assert otlp is not None
        traces_url, metrics_url = otlp_endpoints(otlp)
        span_module = _import_otlp("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        metric_module = _import_otlp("opentelemetry.exporter.otlp.proto.http.metric_exporter")
        tracer_provider.add_span_processor(
            BatchSpanProcessor(span_module.OTLPSpanExporter(endpoint=traces_url))
        )
        readers.append(PeriodicExportingMetricReader(metric_module.OTLPMetricExporter(endpoint=metrics_url)))
        log_module = _import_otlp("opentelemetry.exporter.otlp.proto.http._log_exporter")
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(log_module.OTLPLogExporter(endpoint=otlp_logs_endpoint(otlp)))
        )
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(tracer_provider, meter_provider, logger_provider)


def instrument(telemetry: Telemetry) -> None:
    """Enable ``mcp_otel.McpInstrumentor`` with the providers of ``telemetry``.

    Raises:
        BootstrapError: when ``mcp_otel.McpInstrumentor`` cannot be imported.
    """
    try:
        from mcp_otel import McpInstrumentor
    except ImportError as exc:
        raise BootstrapError(f"cannot import mcp_otel.McpInstrumentor: {exc}") from exc
    McpInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=telemetry.logger_provider,
    )


def run_command(command: Sequence[str]) -> None:
    """Run ``command`` in this interpreter as ``__main__``, like ``python <command>`` would.

    Args:
        command: ``["script.py", *args]`` (run with :func:`runpy.run_path`; the script's directory becomes
            ``sys.path[0]``) or ``["-m", "package.module", *args]`` (run with :func:`runpy.run_module`).
            ``sys.argv`` is set to the script path or module name followed by ``args``.

    Raises:
        BootstrapError: when ``command`` is empty, ``-m`` has no module, or the script does not exist.
        SystemExit: or anything else the script raises, unchanged.
    """
    if not command:
        raise BootstrapError("nothing to run: give a script after '--', e.g. -- server.py")
    if command[0] == "-m":
        if len(command) < 2:
            raise BootstrapError("-m needs a module name")
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
        return
    script = command[0]
    if not Path(script).is_file():
        raise BootstrapError(f"script not found: {script}")
    sys.argv = [script, *command[1:]]
    sys.path[0] = str(Path(script).resolve().parent)
    runpy.run_path(script, run_name="__main__")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_otel.bootstrap",
        description="Run a Python MCP server with mcp-otel tracing enabled before it starts.",
        epilog="Everything after '--' is the script (or -m module) and its arguments.",
    )
    destination = parser.add_mutually_exclusive_group(required=True)
    destination.add_argument(
        "--spans-file", metavar="PATH", help="append finished spans to this JSON Lines file"
    )
    destination.add_argument(
        "--otlp", metavar="URL", help="export to this OTLP/HTTP endpoint, e.g. http://localhost:4318"
    )
    parser.add_argument("--service-name", metavar="NAME", help="service.name (default: the script's name)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m mcp_otel.bootstrap``: set up telemetry, instrument, run the script.

    The providers become the global OpenTelemetry providers, so spans the script creates itself go to the
    same destination.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``): options, ``--``, then the
            script or ``-m module`` and its arguments.

    Raises:
        SystemExit: status 2 with a message on stderr for bad arguments or when telemetry cannot be set up;
            otherwise whatever the script raises.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if "--" in args:
        split = args.index("--")
        options, command = args[:split], args[split + 1 :]
    else:
        options, command = args, []
    parsed = parser.parse_args(options)
    if not command:
        parser.error("give the script to run after '--', e.g. -- server.py [args...]")
    if command[0] == "-m":
        if len(command) < 2:
            parser.error("-m needs a module name")
        default_name = command[1]
    else:
        if not Path(command[0]).is_file():
            parser.error(f"script not found: {command[0]}")
        default_name = Path(command[0]).stem
    try:
        telemetry = create_telemetry(
            spans_file=parsed.spans_file,
            otlp=parsed.otlp,
            service_name=parsed.service_name,
            default_service_name=default_name,
        )
        install_shutdown_hooks(telemetry.shutdown)
        trace.set_tracer_provider(telemetry.tracer_provider)
        metrics.set_meter_provider(telemetry.meter_provider)
        _logs.set_logger_provider(telemetry.logger_provider)
        instrument(telemetry)
    except BootstrapError as exc:
        parser.exit(2, f"mcp-otel bootstrap: {exc}\n")
    try:
        run_command(command)
    except BootstrapError as exc:
        parser.exit(2, f"mcp-otel bootstrap: {exc}\n")


if __name__ == "__main__":
    main()
