"""The instrumented client process of ``mcp-otel demo`` and ``trace``: its telemetry (in memory, or over OTLP
with export failures reported once), and one session against the server under a root span and a time limit.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, TextIO, TypeVar

from mcp_otel.cli.errors import DemoError
from mcp_otel.version import __version__

__all__ = ["ClientTelemetry", "client_telemetry", "run_session"]

_STDERR_TAIL_LINES = 30
_Result = TypeVar("_Result")


@dataclass
class ClientTelemetry:
    """The client process's providers (made by :func:`client_telemetry`).

    Attributes:
        tracer_provider: the SDK ``TracerProvider``.
        meter_provider: the SDK ``MeterProvider``.
        memory: the ``InMemorySpanExporter`` holding the client's spans, or ``None`` when exporting over OTLP.
        otlp: the OTLP/HTTP endpoint the spans, metrics and log records go to, or ``None``.
        reporter: the :class:`mcp_otel.export_failures.ExportFailureReporter` when exporting over OTLP.
        logger_provider: the SDK ``LoggerProvider`` (the client's log records: the server's log
            notifications it receives).
        log_memory: the ``InMemoryLogRecordExporter`` holding them, or ``None`` when exporting over OTLP.
    """

    tracer_provider: Any
    meter_provider: Any
    memory: Any
    otlp: str | None = None
    reporter: Any = None
    logger_provider: Any = None
    log_memory: Any = None

    def shutdown(self, prog: str) -> str | None:
        """Flush and shut down; return the one-line span export failure (endpoint and reason), if any.

        A failed metric export alone (a traces-only backend such as Phoenix) is a warning on stderr.

        Args:
            prog: the command (``mcp-otel demo``) that starts the warning line.
        """
        try:
            self.tracer_provider.shutdown()
            self.meter_provider.shutdown()
            if self.logger_provider is not None:
                self.logger_provider.shutdown()
        finally:
            if self.reporter is not None:
                self.reporter.uninstall()
        failures = {} if self.reporter is None else self.reporter.failures
        if "spans" in failures:
            return f"exporting the spans to {self.otlp} failed: {failures['spans']}"
        for signal in ("metrics", "logs"):
            if signal in failures:
                print(
                    f"{prog}: warning: exporting the {signal} to {self.otlp} failed (the spans were "
                    f"exported): {failures[signal]}",
                    file=sys.stderr,
                )
        return None

    def span_tree(
        self, server_spans: list[dict[str, Any]], server_logs: Sequence[dict[str, Any]] = ()
    ) -> tuple[str, str]:
        """The span counts (``"8 server spans, 9 client spans"``, and the log records when there are any) and
        the tree (:func:`mcp_otel.tree.render_tree`) of the client's spans and log records kept in memory
        together with ``server_spans`` and ``server_logs`` (the server's, from
        :func:`mcp_otel.spanfile.read_spans` / ``read_log_records``)."""
        from mcp_otel.spanfile import log_record_to_dict, span_to_dict
        from mcp_otel.tree import render_tree

        client_spans = [span_to_dict(span) for span in self.memory.get_finished_spans()]
        client_logs = [] if self.log_memory is None else self.log_memory.get_finished_logs()
        logs = [*(log_record_to_dict(r) for r in client_logs), *server_logs]
        counts = f"{len(server_spans)} server spans, {len(client_spans)} client spans"
        if logs:
            counts += f", {len(logs)} log record{'' if len(logs) == 1 else 's'}"
        return counts, render_tree([*client_spans, *server_spans], logs)


def client_telemetry(otlp: str | None, service_name: str) -> ClientTelemetry:
    """Providers for the client process: spans kept in memory, or spans and metrics sent to ``otlp``.

    Args:
        otlp: the OTLP/HTTP endpoint, or ``None`` to keep the spans in memory (metrics are not exported).
        service_name: the client's ``service.name``.

    Raises:
        DemoError: when ``otlp`` is not an http(s) URL or the OTLP exporter is not installed.
    """
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mcp_otel.bootstrap import BootstrapError, create_telemetry
    from mcp_otel.export_failures import ExportFailureReporter

    if otlp is not None:
        try:
            telemetry = create_telemetry(otlp=otlp, service_name=service_name)
        except BootstrapError as exc:
            raise DemoError(str(exc)) from exc
        reporter = ExportFailureReporter(quiet=True).install()
        return ClientTelemetry(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            None,
            otlp,
            reporter,
            logger_provider=telemetry.logger_provider,
        )
    resource = Resource.create({SERVICE_NAME: service_name})
    tracer_provider = TracerProvider(resource=resource)
    memory = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    logger_provider = LoggerProvider(resource=resource)
    log_memory = _in_memory_log_exporter()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
    return ClientTelemetry(
        tracer_provider,
        MeterProvider(resource=resource),
        memory,
        logger_provider=logger_provider,
        log_memory=log_memory,
    )


def _in_memory_log_exporter() -> Any:
    """The SDK's in-memory log exporter (``InMemoryLogRecordExporter``, ``InMemoryLogExporter`` before)."""
    import importlib

    export: Any = importlib.import_module("opentelemetry.sdk._logs.export")
    return (getattr(export, "InMemoryLogRecordExporter", None) or export.InMemoryLogExporter)()


def run_session(
    telemetry: ClientTelemetry,
    drive: Callable[[TextIO], Awaitable[_Result]],
    *,
    root_span: str,
    timeout: float,
    error: type[Exception],
    failure: str,
) -> tuple[_Result, str, str]:
    """Run ``drive`` in the client process with ``McpInstrumentor`` enabled, under the span ``root_span``,
    then shut the client's telemetry down.

    Args:
        telemetry: the client's providers (:func:`client_telemetry`).
        drive: the session: given the file the server's stderr goes to, it connects and sends its requests.
        root_span: the name of the client span that encloses the session, also the command (``mcp-otel demo``)
            named in warnings.
        timeout: limit in seconds for the whole session.
        error: the exception type to raise; one that ``drive`` raises keeps its message.
        failure: what failed when the session raised something else, e.g. ``the session failed``.

    Returns:
        ``(result, trace_id, server_log)``: what ``drive`` returned, the trace id (32 hex digits) and the
        tail of the server's stderr (indented, for printing).

    Raises:
        error: when the session fails or passes ``timeout`` (with the server's stderr tail), or the span
            export fails.
    """
    import anyio
    from opentelemetry.trace import SpanKind

    from mcp_otel import McpInstrumentor

    instrumentor = McpInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=telemetry.logger_provider,
    )
    tracer = telemetry.tracer_provider.get_tracer("mcp_otel.cli", __version__)
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            with tracer.start_as_current_span(root_span, kind=SpanKind.INTERNAL) as root:
                trace_id = format(root.get_span_context().trace_id, "032x")

                async def session() -> _Result:
                    with anyio.fail_after(timeout):
                        return await drive(errlog)

                result = anyio.run(session)
        except Exception as exc:
            leaf = _innermost(exc)
            if isinstance(leaf, error):
                reason = str(leaf)
            elif isinstance(leaf, TimeoutError):
                reason = f"no result within {timeout:g} s"
            else:
                reason = f"the server did not start or {failure}: {str(leaf) or type(leaf).__name__}"
            raise error(f"{reason}\nserver stderr:\n{_tail(errlog)}") from exc
        finally:
            instrumentor.uninstrument()
            export_failure = telemetry.shutdown(root_span)
        server_log = _tail(errlog)
    if export_failure is not None:
        raise error(export_failure)
    return result, trace_id, server_log


def _innermost(exc: BaseException) -> BaseException:
    """The first non-group exception inside ``exc`` (anyio wraps task failures in exception groups)."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or not inner or not isinstance(inner[0], BaseException):
            return exc
        exc = inner[0]


def _tail(log: IO[str]) -> str:
    log.flush()
    log.seek(0)
    lines = log.read().splitlines()[-_STDERR_TAIL_LINES:]
    return "\n".join("  | " + line for line in lines) if lines else "  (empty)"
