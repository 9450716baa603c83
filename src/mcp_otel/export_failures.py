"""One line on stderr for a failed OTLP export, instead of the exporters' log records and their retries.

Used in every process :mod:`mcp_otel.autostart` sets up (the program keeps running) and, quietly, by
``mcp-otel demo`` and ``trace`` (:mod:`mcp_otel.cli.client_session`), which report the failure when they exit.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ExportFailureReporter"]


class ExportFailureReporter:
    """Turns the OTLP exporters' warnings and errors into one line on stderr (or none with ``quiet``).

    Installed on the ``opentelemetry.exporter`` logger (which then no longer propagates), it keeps the first
    failure's message as :attr:`failure`, and the first of each signal in :attr:`failures` (``"spans"``,
    ``"metrics"``, ``"logs"``: a traces-only backend refuses metrics), and drops the retries that follow.

    Args:
        quiet: record the failure without printing it (the CLI prints it when it exits).
    """

    def __init__(self, *, quiet: bool = False) -> None:
        import logging

        self.failure: str | None = None
        self.failures: dict[str, str] = {}
        self._quiet = quiet
        reporter = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                reporter._record(record.name, record.getMessage())

        self._handler = _Handler(logging.WARNING)
        self._logger = logging.getLogger("opentelemetry.exporter")

    def install(self) -> ExportFailureReporter:
        """Attach to the exporter loggers; returns ``self``."""
        self._logger.addHandler(self._handler)
        self._logger.propagate = False
        return self

    def uninstall(self) -> None:
        """Detach and let the exporter loggers propagate again."""
        self._logger.removeHandler(self._handler)
        self._logger.propagate = True

    def _record(self, logger: str, message: str) -> None:
        signal = "metrics" if "metric" in logger else "logs" if "_log_exporter" in logger else "spans"
        self.failures.setdefault(signal, " ".join(message.split()))
        if self.failure is not None:
            return
        self.failure = " ".join(message.split())
        if not self._quiet:
            sys.stderr.write(
                f"mcp-otel: exporting telemetry to {_endpoint()} failed: {self.failure} (the program keeps "
                "running; further export errors are not shown)\n"
            )
            sys.stderr.flush()


def _endpoint() -> str:
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or "the default OTLP endpoint"
    )
