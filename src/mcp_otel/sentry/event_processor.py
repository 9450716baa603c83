"""The global Sentry event processor of :class:`~mcp_otel.sentry.errors.ErrorCapture`: no double capture.

Registered while an ErrorCapture is installed, first among sentry-sdk's global event processors, it drops

- error events of sentry-sdk's own ``MCPIntegration`` (mechanism ``mcp`` since 2.69; before, the exception
  was captured in its wrapper's frame: :func:`~mcp_otel.sentry.mechanism.captured_by_sentry_mcp`) and, with
  ``drop_sentry_mcp_events``, its transactions and spans (origin ``auto.ai.mcp``);
- error events whose exception chain holds an exception mcp-otel captured;
- ``LoggingIntegration`` events from the ``mcp`` / ``fastmcp`` loggers logged inside a running request
  handler;

marks the exception of any other event as seen, and links error events captured inside an MCP handler to the
MCP span (:func:`~mcp_otel.sentry.error_context.link_to_mcp_span`). The exception text of mcp-otel's own
events and of those captured inside an MCP handler follows the ``exception_text`` setting
(:func:`~mcp_otel.sentry.event_text.scrub_event`); on other events, so do the breadcrumbs of log lines written
during MCP requests (:mod:`~mcp_otel.sentry.request_breadcrumbs`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import sentry_sdk

from mcp_otel._guard import log_failure_once
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.error_context import HINT_KEY, link_to_mcp_span, scrub_arguments
from mcp_otel.sentry.event_text import HINT_RULES_KEY, scrub_event
from mcp_otel.sentry.exception_marks import CAPTURED, SEEN, mark, marked
from mcp_otel.sentry.mechanism import captured_by_sentry_mcp
from mcp_otel.sentry.request_breadcrumbs import RequestLogLines
from mcp_otel.telemetry import active_operation, active_request

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

    from mcp_otel.sentry.errors import ErrorCapture

_MCP_LOGGERS = ("mcp", "fastmcp")

_lock = threading.Lock()
_captures: tuple[ErrorCapture, ...] = ()
_processor_installed = False
request_log_lines = RequestLogLines()
"""The log lines written during MCP requests whose breadcrumbs are scrubbed on every event (the captures')."""


def register(capture: ErrorCapture) -> None:
    """Add ``capture`` to the active captures; the first one installs the global event processor."""
    global _captures, _processor_installed
    with _lock:
        if capture not in _captures:
            _captures = (*_captures, capture)
        if not _processor_installed:
            _install_event_processor()
            _processor_installed = True


def unregister(capture: ErrorCapture) -> None:
    """Remove ``capture``; the last active capture also removes the global event processor from sentry-sdk."""
    global _captures, _processor_installed
    with _lock:
        _captures = tuple(item for item in _captures if item is not capture)
        if not _captures and _processor_installed:
            _uninstall_event_processor()
            _processor_installed = False
            request_log_lines.clear()


def _install_event_processor() -> None:
    """Register :func:`_event_processor` first among Sentry's global event processors.

    First, so that the events it drops never reach ``DedupeIntegration``, which would otherwise remember the
    dropped event's exception and then drop mcp-otel's own event for the same exception.
    """
    processors = getattr(sentry_sdk.scope, "global_event_processors", None)
    if isinstance(processors, list):
        processors.insert(0, _event_processor)
    else:  # pragma: no cover - every sentry-sdk 2.x has the list
        sentry_sdk.scope.add_global_event_processor(_event_processor)


def _uninstall_event_processor() -> None:
    """Remove :func:`_event_processor` from Sentry's global event processors (sentry-sdk has no API)."""
    processors = getattr(sentry_sdk.scope, "global_event_processors", None)
    if isinstance(processors, list):
        while _event_processor in processors:
            processors.remove(_event_processor)


def _event_processor(event: Event, hint: Hint) -> Event | None:
    """Deduplicate MCP error events and link user errors to the MCP span (see the module docs)."""
    captures = _captures
    if not captures:
        return event
    try:
        return _process(event, hint, captures[0])
    except Exception:
        log_failure_once("sentry.errors.event_processor")
        return event


def _process(event: Event, hint: Hint, capture: ErrorCapture) -> Event | None:
    kind = event.get("type")
    if kind == "transaction":
        if capture.drop_sentry_mcp_events:
            return _without_sentry_mcp_spans(event)
        return event
    if kind not in (None, "error", "default"):
        return event
    exc = _exception(hint)
    if hint.get(HINT_KEY):
        rules = hint.get(HINT_RULES_KEY)
        if rules is not None:
            scrub_event(event, rules)  # breadcrumbs are on the event by now
        if exc is not None:
            mark(exc, CAPTURED)
        return event
    if capture.drop_sentry_mcp_events and captured_by_sentry_mcp(event, hint):
        return None  # sentry-sdk's MCPIntegration: mcp-otel captures handler exceptions itself
    if exc is not None:
        if marked(exc) == CAPTURED:
            return None
        record = hint.get("log_record")
        name = getattr(record, "name", None)
        if isinstance(name, str) and _is_mcp_logger(name) and active_request() is not None:
            return None  # the SDK logs a handler exception that mcp-otel captures when it propagates
        mark(exc, SEEN)
    operation = active_operation()
    if operation is not None:
        link_to_mcp_span(event, operation, capture.drop_sentry_mcp_events)
        if not capture.options.resolve().record_inputs:
            scrub_arguments(event, operation)
        scrub_event(event, operation.exception_text)
    else:  # breadcrumbs of log lines written during requests
        request_log_lines.scrub(event)
    return event


def _exception(hint: Hint) -> BaseException | None:
    exc_info = hint.get("exc_info")
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def _is_mcp_logger(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _MCP_LOGGERS)


def _without_sentry_mcp_spans(event: Event) -> Event | None:
    """Drop sentry-sdk MCPIntegration transactions and child spans (origin ``auto.ai.mcp``)."""
    origin = sentry.SENTRY_ORIGIN_AUTO_AI_MCP
    trace = (event.get("contexts") or {}).get("trace") or {}
    if trace.get("origin") == origin:
        return None
    spans = event.get("spans")
    if isinstance(spans, list) and any(isinstance(s, dict) and s.get("origin") == origin for s in spans):
        event["spans"] = [s for s in spans if not (isinstance(s, dict) and s.get("origin") == origin)]
    return event
