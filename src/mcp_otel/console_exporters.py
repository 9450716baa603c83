"""Keep OpenTelemetry's console exporters off a stdio server's stdout, which is the MCP channel.

``OTEL_TRACES_EXPORTER=console`` (or ``OTEL_METRICS_EXPORTER`` / ``OTEL_LOGS_EXPORTER``) makes the SDK's
``ConsoleSpanExporter`` / ``ConsoleMetricExporter`` / ``ConsoleLogRecordExporter`` print to ``sys.stdout``;
in a stdio MCP server those lines land in the JSON-RPC stream and break the client.
:func:`redirect_to_stderr` points every such exporter of the global providers at ``sys.stderr`` instead and
says so in one line on stderr. It runs when a server starts serving stdio (the ``stdio_server`` hook:
zero-code and manual set-ups) and when ``mcp-otel run`` / ``trace`` set a process up
(:mod:`mcp_otel.autostart`).

The exporters are found inside the SDK providers' processors and readers, whose attributes are private: each
step is guarded, and an exporter not found is left as it is.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

from mcp_otel._guard import log_failure_once

__all__ = ["redirect_to_stderr"]

_SIGNAL_VARIABLES = {
    "spans": "OTEL_TRACES_EXPORTER",
    "metrics": "OTEL_METRICS_EXPORTER",
    "logs": "OTEL_LOGS_EXPORTER",
}
_warned = False
_lock = threading.Lock()


def _writes_to_stdout(out: Any) -> bool:
    if out is sys.stdout or out is sys.__stdout__:
        return True
    try:
        return bool(out.fileno() == 1)
    except Exception:  # not a file (StringIO …), or closed
        return False


def _is_console_exporter(exporter: Any) -> bool:
    kind = type(exporter)
    return kind.__name__.startswith("Console") and kind.__module__.startswith("opentelemetry.")


def _exporters(holder: Any) -> Iterator[Any]:
    """The exporters a span/log processor or a metric reader holds (one level of nesting: the batch
    processors keep theirs in an inner object)."""
    for name in ("span_exporter", "_exporter", "exporter"):
        found = getattr(holder, name, None)
        if found is not None:
            yield found
    inner = getattr(holder, "_batch_processor", None)
    if inner is not None:
        yield from _exporters(inner)


def _holders() -> Iterator[tuple[str, Any]]:
    """``(signal, processor or reader)`` of the global SDK providers."""
    from opentelemetry import _logs, metrics, trace

    span_processor = getattr(trace.get_tracer_provider(), "_active_span_processor", None)
    for processor in getattr(span_processor, "_span_processors", ()):
        yield "spans", processor
    meter_provider = metrics.get_meter_provider()
    readers: Any = getattr(meter_provider, "_metric_readers", None)  # SDK 1.2x+; older: in its configuration
    if readers is None:
        readers = getattr(getattr(meter_provider, "_sdk_config", None), "metric_readers", ())
    for reader in readers:
        yield "metrics", reader
    log_processor = getattr(_logs.get_logger_provider(), "_multi_log_record_processor", None)
    for processor in getattr(log_processor, "_log_record_processors", ()):
        yield "logs", processor


def redirect_to_stderr() -> list[str]:
    """Point the console exporters of the global providers that write to stdout at ``sys.stderr``.

    The first call that moves one writes one warning line to stderr naming the variables (e.g.
    ``OTEL_TRACES_EXPORTER=console``); later calls move any new one silently. Never raises.

    Returns:
        The signals (``spans``, ``metrics``, ``logs``) whose console exporter was moved by this call.
    """
    global _warned
    moved: list[str] = []
    try:
        for signal, holder in _holders():
            for exporter in _exporters(holder):
                if _is_console_exporter(exporter) and _writes_to_stdout(getattr(exporter, "out", None)):
                    exporter.out = sys.stderr
                    if signal not in moved:
                        moved.append(signal)
    except Exception:
        log_failure_once("console exporters: redirect to stderr")
    if moved:
        with _lock:
            first, _warned = not _warned, True
        if first:
            names = ", ".join(f"{_SIGNAL_VARIABLES[s]}=console" for s in moved)
            sys.stderr.write(
                f"mcp-otel: warning: {names} would print to stdout, the MCP stdio channel; "
                "printing to stderr\n"
            )
            sys.stderr.flush()
    return moved
