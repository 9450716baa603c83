"""Listeners: let exporters and mappers (the Sentry integration) observe what spans cannot carry.

Spans carry exception *events*, not exception objects, and no session lifecycle. A listener registered here
is told of the exception objects, of each finished operation, of session starts and ends and of the log
records mcp-otel makes, in the process and task where they happen. Every call is guarded: a failing listener
is logged once and never reaches the MCP host.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind

from mcp_otel._guard import log_failure_once

if TYPE_CHECKING:
    from mcp_otel.model import Session, Transport
    from mcp_otel.telemetry import OperationView
    from mcp_otel.telemetry.logs import LogRecordView


class McpListener:
    """Base class of listeners; override what you need (every method does nothing by default)."""

    def on_exception(self, operation: OperationView, exc: BaseException) -> None:
        """``exc`` was raised by a tool or handler while ``operation`` ran (also when the SDK turned it into
        an ``isError`` result)."""

    def on_operation_end(self, operation: OperationView) -> None:
        """``operation`` ended (its span has ended): see ``operation.error_type``, ``operation.message``."""

    def on_session_start(self, key: Any, kind: SpanKind, transport: Transport) -> None:
        """An MCP session started; ``key`` is the SDK's session object (``Message.session_key``)."""

    def on_session_end(self, key: Any, kind: SpanKind, session: Session, error: BaseException | None) -> None:
        """The session ``key`` closed; ``error`` is the exception that ended it, if any."""

    def on_log_record(self, record: LogRecordView) -> None:
        """mcp-otel made a log record (``docs/logs.md``), in the process and task where it happened; also when
        an OpenTelemetry ``LoggingHandler`` of the user records a Python record instead of mcp-otel."""


_lock = threading.Lock()
_listeners: tuple[McpListener, ...] = ()


def add_listener(listener: McpListener) -> None:
    """Register ``listener`` (idempotent)."""
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = (*_listeners, listener)


def remove_listener(listener: McpListener) -> None:
    """Unregister ``listener`` (no error if it was not registered)."""
    global _listeners
    with _lock:
        _listeners = tuple(item for item in _listeners if item is not listener)


def listeners() -> tuple[McpListener, ...]:
    """The registered listeners (an immutable snapshot; empty in the common case)."""
    return _listeners


def notify(method: str, *args: Any) -> None:
    """Call ``method`` on every listener with ``args``; a failing listener is logged once per method."""
    for listener in _listeners:
        try:
            getattr(listener, method)(*args)
        except Exception:
            log_failure_once(f"listener {type(listener).__name__}.{method}")
