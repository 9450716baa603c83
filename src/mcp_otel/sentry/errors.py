"""Error capture: each exception a tool or handler raises becomes exactly one Sentry error event.

:class:`ErrorCapture` is an mcp-otel listener. mcp-otel reports the exception objects a server's tools and
handlers raise — also those the SDK turns into an ``isError`` result (mcp 1.x ``FastMCP``, mcp 2.x
``MCPServer``) — and ErrorCapture captures each once through the user's Sentry client: mechanism
``auto.ai.mcp_server``, ``handled: false`` and the ``data`` of Sentry's JavaScript SDK
(:mod:`mcp_otel.sentry.mechanism`), the trace context of the request's span (trace id, span id, op,
origin and the span data as :func:`~mcp_otel.sentry.mapping.map_span` gates it), the transaction name of
that span. The client's ``ignore_errors``, ``sample_rate``, ``before_send`` and scope data apply.

No double capture: a global event processor (registered while an ErrorCapture is installed) drops

- error events of sentry-sdk's own ``MCPIntegration`` (mechanism ``mcp``): mcp-otel
  captures handler exceptions itself, with the OTel trace context;
- error events whose exception chain holds an exception mcp-otel captured (mcp 2.x logs the tool exception it
  converted, which ``LoggingIntegration`` would capture again);
- ``LoggingIntegration`` events from the ``mcp`` / ``fastmcp`` loggers logged inside a running request
  handler (mcp 1.x ``FastMCP`` logs before it re-raises; mcp-otel captures the exception next).

Any other event carrying an exception marks it as seen, and mcp-otel then does not capture it again (a tool
that calls ``sentry_sdk.capture_exception(e)`` and re-raises, ``OTLPIntegration(capture_exceptions=True)``).
Error events captured by user code while an MCP handler runs get the trace context of the MCP span when no
Sentry span is active, so they join its trace; and, unless inputs are recorded, their frame variables that
hold the request's arguments are replaced with ``[Filtered]``, as on mcp-otel's own events. Exception text on
both follows mcp-otel's ``exception_text`` setting: credentials are scrubbed by default
(:mod:`mcp_otel.sentry.event_text`); so are the breadcrumbs of log lines written during MCP requests, on any
event (:mod:`mcp_otel.sentry.request_breadcrumbs`).

The pieces: :mod:`~mcp_otel.sentry.event_processor` (the deduplicating global event processor),
:mod:`~mcp_otel.sentry.exception_marks` (which exceptions were seen or captured) and
:mod:`~mcp_otel.sentry.error_context` (trace context and argument scrubbing of the events).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sentry_sdk
from opentelemetry.trace import SpanKind
from sentry_sdk.utils import event_from_exception

from mcp_otel._guard import log_failure_once
from mcp_otel.listeners import McpListener
from mcp_otel.sentry import event_processor
from mcp_otel.sentry.error_context import FILTERED, HINT_KEY, scrub_arguments, trace_context
from mcp_otel.sentry.event_text import HINT_RULES_KEY
from mcp_otel.sentry.exception_marks import CAPTURED, MAX_STRONG_MARKS, mark, marked
from mcp_otel.sentry.mechanism import mechanism
from mcp_otel.sentry.options import SentryMcpOptions
from mcp_otel.telemetry import active_operation

if TYPE_CHECKING:
    from mcp_otel.telemetry import OperationView as Operation  # listeners get a read-only view
    from mcp_otel.telemetry.logs import LogRecordView

__all__ = ["FILTERED", "HINT_KEY", "MAX_STRONG_MARKS", "ErrorCapture"]


class ErrorCapture(McpListener):
    """Listener that captures tool and handler exceptions as Sentry error events (see the module docs).

    Args:
        options: what span data may go on the events (default: follow the Sentry client).
        drop_sentry_mcp_events: drop the error events and spans of sentry-sdk's own ``MCPIntegration``
            while this capture is active (they would count every MCP request and error twice).
    """

    def __init__(
        self, options: SentryMcpOptions | None = None, *, drop_sentry_mcp_events: bool = True
    ) -> None:
        self.options = options or SentryMcpOptions()
        self.drop_sentry_mcp_events = drop_sentry_mcp_events

    def install(self) -> None:
        """Activate: register the listener with mcp-otel and the deduplicating event processor with Sentry."""
        from mcp_otel import listeners

        event_processor.register(self)
        listeners.add_listener(self)

    def uninstall(self) -> None:
        """Deactivate; the last active capture also removes the global event processor from sentry-sdk."""
        from mcp_otel import listeners

        listeners.remove_listener(self)
        event_processor.unregister(self)

    def on_log_record(self, record: LogRecordView) -> None:
        """Remember a Python log line written during an MCP request: its breadcrumb is scrubbed on any later
        event too (:mod:`~mcp_otel.sentry.request_breadcrumbs`)."""
        python = record.logging_record
        operation = active_operation()
        if python is None or operation is None:
            return
        try:
            lines = event_processor.request_log_lines
            lines.remember(python.name, python.getMessage(), operation.exception_text)
        except Exception:
            log_failure_once("sentry.errors.on_log_record")

    def on_exception(self, operation: Operation, exc: BaseException) -> None:
        """Capture ``exc``, raised by a tool or handler while the server request ``operation`` ran."""
        try:
            self._capture(operation, exc)
        except Exception:
            log_failure_once("sentry.errors.on_exception")

    def _capture(self, operation: Operation, exc: BaseException) -> None:
        if operation.kind is not SpanKind.SERVER or not isinstance(exc, Exception):
            return
        if marked(exc) is not None:
            return  # captured already (by mcp-otel, or by another Sentry capture of the same exception)
        client = sentry_sdk.get_client()
        if not client.is_active():
            return
        mark(exc, CAPTURED)
        options = self.options.resolve(client)
        event, hint = event_from_exception(
            exc, client_options=client.options, mechanism=mechanism(operation, exc, options)
        )
        context, name = trace_context(operation, options)
        if context is not None:
            event["contexts"] = {"trace": context}
        event["transaction"] = name
        if not options.record_inputs:
            scrub_arguments(event, operation)
        hint[HINT_KEY] = True
        hint[HINT_RULES_KEY] = operation.exception_text  # applied by the event processor, after breadcrumbs
        sentry_sdk.capture_event(event, hint=hint)
