"""mcp-otel's log records → Sentry Logs, linked to the trace and span they were made in.

With ``sentry_sdk.init(enable_logs=True)``, :class:`SentryLogs` (installed by :func:`mcp_otel.sentry.setup`)
sends every log record mcp-otel makes (``docs/logs.md``) — a server's Python ``logging`` records during MCP
requests and the MCP log notifications — as a Sentry log item, through sentry-sdk's own logs pipeline (the
scope's ``_capture_log``, which ``sentry_sdk.logger`` and sentry-sdk's ``LoggingIntegration`` use too), so
``before_send_log``, scope attributes and batching apply. Each item carries the OpenTelemetry trace and span
id of the record (the ids mcp-otel's spans have in Sentry), the record's MCP attributes and their Sentry names
(``mcp.tool.name`` …, gated like the spans' by ``send_default_pii``), ``logger.name`` and
``sentry.origin``.

sentry-sdk's ``LoggingIntegration`` sends Python records as Sentry logs by itself, unlinked to mcp-otel's
trace: a record mcp-otel sent is not sent again by it (a filter on its logs handler recognises the record).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import sentry_sdk

from mcp_otel import listeners
from mcp_otel.listeners import McpListener
from mcp_otel.sentry.mapping import ORIGIN
from mcp_otel.sentry.options import SentryMcpOptions
from mcp_otel.sentry.span_data import sentry_attributes
from mcp_otel.telemetry.logs import LogRecordView

__all__ = ["SentryLogs", "logs_enabled"]

_LEVELS = ((4, "trace"), (8, "debug"), (12, "info"), (16, "warn"), (20, "error"), (24, "fatal"))
# The Python record this context sent last: sentry-sdk's logs handler runs right after mcp-otel's observer
# for the same record, in the same context (one slot, never a list).
_sent: ContextVar[int] = ContextVar("mcp_otel_sentry_log_sent", default=0)


def logs_enabled(client: Any = None) -> bool:
    """Whether the Sentry client (default: the current one) is active and has logs enabled (``enable_logs``,
    or ``_experiments={"enable_logs": True}`` on older sentry-sdk)."""
    client = sentry_sdk.get_client() if client is None else client
    if not client.is_active():
        return False
    options = getattr(client, "options", None) or {}
    experiments = options.get("_experiments") or {}
    return bool(options.get("enable_logs") or experiments.get("enable_logs"))


def _level(severity_number: int) -> str:
    """Sentry's log level for an OTel severity number (its ranges: trace … fatal)."""
    for upper, name in _LEVELS:
        if 0 < severity_number <= upper:
            return name
    return "info"


class _AlreadySent(logging.Filter):
    """On sentry-sdk's logs handler: drops the Python record mcp-otel has just sent as a Sentry log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _sent.get() != id(record)


class SentryLogs(McpListener):
    """Sends mcp-otel's log records to Sentry Logs (see the module docstring).

    Args:
        options: what may be sent (content and user-data attributes are gated as on spans).
    """

    def __init__(self, options: SentryMcpOptions | None = None) -> None:
        self.options = options if options is not None else SentryMcpOptions()
        self._filter = _AlreadySent()

    def install(self) -> None:
        """Start listening to mcp-otel's log records."""
        listeners.add_listener(self)

    def uninstall(self) -> None:
        """Stop listening."""
        listeners.remove_listener(self)

    def on_log_record(self, record: LogRecordView) -> None:
        """Send ``record`` as a Sentry log item when the current client has logs enabled."""
        client = sentry_sdk.get_client()
        if not logs_enabled(client):
            return
        python = record.logging_record
        found = getattr(client.get_integration("logging"), "_sentry_logs_handler", None)
        sentry_handler = found if python is not None and isinstance(found, logging.Handler) else None
        if sentry_handler is not None and python is not None and python.levelno < sentry_handler.level:
            return  # below LoggingIntegration(sentry_logs_level=...): sentry-sdk would not send it either
        scope = sentry_sdk.get_current_scope()
        capture = getattr(scope, "_capture_log", None)
        if capture is None:  # a sentry-sdk without logs
            return
        attributes = sentry_attributes(record.attributes, False, self.options.resolve(client), ended=False)
        attributes["sentry.origin"] = ORIGIN
        if record.logger_name:
            attributes.setdefault("logger.name", record.logger_name)
        capture(
            {
                "severity_text": _level(record.severity_number),
                "severity_number": record.severity_number,
                "body": record.body if record.body is not None else "",
                "attributes": attributes,
                "time_unix_nano": record.timestamp_ns,
                "trace_id": format(record.trace_id, "032x") if record.trace_id else None,
                "span_id": format(record.span_id, "016x") if record.span_id else None,
            }
        )
        if sentry_handler is not None:
            _sent.set(id(python))
            if self._filter not in sentry_handler.filters:
                sentry_handler.addFilter(self._filter)
