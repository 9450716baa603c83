"""Log records, the third signal of the telemetry core next to spans and metric points (``docs/logs.md``).

Two sources, one way out (the global or the given OpenTelemetry ``LoggerProvider``):

- **Python ``logging``** records a server emits while mcp-otel handles a request: OpenTelemetry's own
  ``LoggingHandler`` translates them (body, severity, exception, extra attributes; the scope is the logger's
  name; :mod:`~mcp_otel.telemetry.log_handlers`), on a copy that also carries the request's attributes. A
  record that an OpenTelemetry
  ``LoggingHandler`` on its logger's path records already
  (``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``, ``opentelemetry-instrumentation-logging``, or the
  user's own) is left to it: it is correlated already.
- **MCP log notifications** (``notifications/message``): the server's in the context of the request that sends
  it, the client's in the context of the span of its receipt (the server's trace, from ``_meta``). The
  severity follows RFC 5424 → ``SeverityNumber`` (OTel Logs Data Model, appendix B, syslog); the body is
  ``data`` (a string as is, anything else as JSON); the logger name is ``mcp_otel.log.logger``.

Exception text follows the ``exception_text`` setting as on spans
(:class:`~mcp_otel.telemetry.exception_text.ExceptionText`): a record's ``exception.message`` /
``exception.stacktrace`` are scrubbed of credentials by default (none with ``type``), and so is every body
(a logged error often repeats its exception's text; ``full`` leaves both as logged). Every body then passes
``content_redactor`` (key :data:`~mcp_otel.semconv.signals.LOG_BODY_REDACTION_KEY`) and is cut to
``max_content_length``. Attributes come from the operation, as its metric point's do
(:meth:`~mcp_otel.telemetry.operation.Operation.log_attributes`). A server that logs one event both ways (a
Python record and a notification with the same text, one after the other in one request) gets one record.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry._logs import LoggerProvider, LogRecord, SeverityNumber, get_logger
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from mcp_otel import listeners
from mcp_otel.config import McpOtelConfig
from mcp_otel.model import Attributes, LogMessage, Message
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import LOG_BODY_REDACTION_KEY, LOG_RECORD_ATTRIBUTES
from mcp_otel.telemetry.capture import capture
from mcp_otel.telemetry.exception_text import ExceptionText
from mcp_otel.telemetry.log_handlers import otel_logging_handler, recorded_elsewhere, severity_of_python
from mcp_otel.version import __version__

if TYPE_CHECKING:
    from mcp_otel.telemetry.operation import Operation

__all__ = ["MCP_SEVERITY", "LogRecordView", "LogSignal"]

SCOPE_NAME = "mcp_otel"
NOTIFICATIONS_MESSAGE = attr.McpMethodNameValues.NOTIFICATIONS_MESSAGE.value

MCP_SEVERITY: Mapping[str, SeverityNumber] = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "notice": SeverityNumber.INFO2,
    "warning": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "critical": SeverityNumber.ERROR2,
    "alert": SeverityNumber.ERROR3,
    "emergency": SeverityNumber.FATAL,
}
"""RFC 5424 level of an MCP log notification → OTel ``SeverityNumber`` (Logs Data Model, appendix B, syslog).
An unknown level is ``UNSPECIFIED``; the level as sent is the severity text."""

# Python loggers whose records repeat an MCP log notification the framework sends (fastmcp logs every
# ``ctx.log`` as "Sending INFO to client: ..." at DEBUG): the notification is the record.
_NOTIFICATION_MIRRORS = frozenset({"fastmcp.server.context.to_client"})
_HAS_CONTEXT_ARGUMENT = "context" in inspect.signature(LogRecord.__init__).parameters  # API >= 1.35
_emitting: ContextVar[bool] = ContextVar("mcp_otel_emitting_log", default=False)


@dataclass(frozen=True, slots=True)
class LogRecordView:
    """A log record mcp-otel made, as listeners (the Sentry integration) see it.

    Attributes:
        body: the body after scrubbing, redaction and truncation (``None``: the redactor dropped it).
        severity_number: the OTel severity number (``SeverityNumber`` value).
        severity_text: the level as the source named it (``info``, ``WARNING`` …).
        attributes: the record's MCP attributes (and ``mcp_otel.log.logger``).
        trace_id: the trace id of the context the record belongs to (0: none).
        span_id: the span id of that context (0: none).
        timestamp_ns: when the event happened (nanoseconds since the epoch).
        logger_name: the Python logger's name, or the MCP notification's logger (``None``: not given).
        logging_record: the Python ``logging`` record it was made of (``None`` for MCP notifications), as
            logged: a listener that sends any of its text applies the ``exception_text`` rules itself.
    """

    body: str | None
    severity_number: int
    severity_text: str
    attributes: Mapping[str, Any]
    trace_id: int
    span_id: int
    timestamp_ns: int
    logger_name: str | None
    logging_record: logging.LogRecord | None = None


def _text(data: Any) -> str:
    """A notification's ``data`` as text: a string as is, anything else as JSON."""
    if isinstance(data, str):
        return data
    return json.dumps(data, default=str, ensure_ascii=False)


def message_log_attributes(message: Message) -> Attributes:
    """The attributes of a record about ``message`` when no operation runs for it (an excluded method, or a
    notification sent outside any request): its method, its session's and transport's attributes."""
    out: Attributes = {attr.MCP_METHOD_NAME: message.method}
    out.update(message.session.attributes())
    for key, value in message.transport.attributes().items():
        if key in LOG_RECORD_ATTRIBUTES:
            out[key] = value
    return out


class LogSignal:
    """Emits mcp-otel's log records through one ``LoggerProvider`` and tells the listeners.

    Args:
        config: the resolved configuration (``content_redactor``, ``max_content_length``).
        logger_provider: the provider to emit through (``None``: the global one, also when set later).
    """

    def __init__(self, config: McpOtelConfig, logger_provider: LoggerProvider | None = None) -> None:
        self._config = config
        self._rules = ExceptionText.of(config)  # exception text and credentials in bodies
        self._provider = logger_provider
        self._logger = get_logger(SCOPE_NAME, __version__, logger_provider=logger_provider)
        self._handler: logging.Handler | None = None
        self._handler_made = False

    # ---- MCP log notifications ---------------------------------------------------------------------------
    def sent(self, message: Message, current: Context | None, request: Operation | None) -> None:
        """A server sends ``notifications/message``: a record in the context of the request sending it.

        Args:
            message: the notification (``message.log`` holds its params).
            current: the current context (the request's span, or a span the handler opened in it).
            request: the request being handled (``None`` outside any request).
        """
        log = message.log
        if log is None:
            return
        text = _text(log.data)
        if request is not None and request.repeats_log(True, text):
            return
        attributes = request.log_attributes() if request is not None else message_log_attributes(message)
        self._notification(log, text, attributes, current)

    def received(self, message: Message, op: Operation | None, parent: Context | None) -> None:
        """A client receives ``notifications/message``: a record in the context of the span of its receipt
        (``op``), else of the sender's context from ``_meta`` (``parent``)."""
        log = message.log
        if log is None:
            return
        context = parent
        if op is not None and op.span.get_span_context().is_valid:
            context = trace.set_span_in_context(op.span, parent)
        attributes = op.log_attributes() if op is not None else message_log_attributes(message)
        self._notification(log, _text(log.data), attributes, context)

    def _notification(
        self, log: LogMessage, text: str, attributes: Attributes, context: Context | None
    ) -> None:
        level = log.level if isinstance(log.level, str) else str(log.level)
        severity = MCP_SEVERITY.get(level.lower(), SeverityNumber.UNSPECIFIED)
        if isinstance(log.logger, str):
            attributes[attr.MCP_OTEL_LOG_LOGGER] = log.logger
        body = self._body(text)
        now = time.time_ns()
        span_context = trace.get_current_span(context).get_span_context()
        if _HAS_CONTEXT_ARGUMENT:
            record = LogRecord(
                timestamp=now,
                observed_timestamp=now,
                context=context,
                severity_text=level,
                severity_number=severity,
                body=body,
                attributes=attributes,
            )
        else:  # opentelemetry-api < 1.35: ids instead of a context
            record = LogRecord(  # type: ignore[call-overload,unused-ignore]
                timestamp=now,
                observed_timestamp=now,
                trace_id=span_context.trace_id,
                span_id=span_context.span_id,
                trace_flags=span_context.trace_flags,
                severity_text=level,
                severity_number=severity,
                body=body,
                attributes=attributes,
            )
        self._logger.emit(record)
        if listeners.listeners():
            view = LogRecordView(
                body,
                severity.value,
                level,
                attributes,
                span_context.trace_id,
                span_context.span_id,
                now,
                log.logger,
            )
            listeners.notify("on_log_record", view)

    # ---- Python logging ----------------------------------------------------------------------------------
    def python_record(self, op: Operation, record: logging.LogRecord) -> None:
        """A Python ``logging`` record emitted while ``op`` (a message this process handles) is active.

        Not recorded: records of a client's handling of a received log notification (the notification is
        the record), the frameworks' mirror of the notifications they send, records mcp-otel's own emission
        causes, and a repeat of the request's previous record from its MCP notification.
        """
        if _emitting.get() or op.kind is not SpanKind.SERVER:
            return
        if op.method == NOTIFICATIONS_MESSAGE or record.name in _NOTIFICATION_MIRRORS:
            return
        token = _emitting.set(True)
        try:
            text = record.getMessage()
            if op.repeats_log(False, text):
                return
            body = self._body(text)
            attributes = op.log_attributes()
            if not recorded_elsewhere(record.name):
                handler = self._otel_handler()
                if handler is not None:
                    handler.emit(self._translatable(record, body, attributes))
            if listeners.listeners():
                span_context = trace.get_current_span().get_span_context()
                view = LogRecordView(
                    body,
                    severity_of_python(record.levelno),
                    record.levelname,
                    attributes,
                    span_context.trace_id,
                    span_context.span_id,
                    int(record.created * 1e9),
                    record.name,
                    record,
                )
                listeners.notify("on_log_record", view)
        finally:
            _emitting.reset(token)

    def _body(self, text: str) -> str | None:
        """A body as it may leave: credentials scrubbed (unless ``exception_text="full"``: a logged error
        often repeats its exception's text), then the redactor and the cap."""
        return capture(self._config, LOG_BODY_REDACTION_KEY, self._rules.free_text(text))

    def _translatable(
        self, record: logging.LogRecord, body: str | None, attributes: Attributes
    ) -> logging.LogRecord:
        """The copy of ``record`` OpenTelemetry's handler translates (the original stays as other handlers see
        it): ``body`` as its message, the request's attributes, and its exception as the ``exception_text``
        setting says. Unless the text leaves as raised (``full`` without a redactor, where the handler writes
        the exception as it would without mcp-otel), the handler gets no ``exc_info``: the record carries
        ``exception.type`` / ``.message`` / ``.stacktrace`` in the span event's format instead, scrubbed."""
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args = ("" if body is None else body), None
        copy.__dict__.update(attributes)
        exc_info = record.exc_info
        if exc_info and not self._rules.passthrough:
            copy.exc_info = copy.exc_text = None
            if exc_info[1] is not None:
                copy.__dict__.update(self._rules.event_attributes(exc_info[1], escaped=None))
        return copy

    def _otel_handler(self) -> logging.Handler | None:
        if not self._handler_made:
            self._handler_made = True
            self._handler = otel_logging_handler(self._provider)
        return self._handler
