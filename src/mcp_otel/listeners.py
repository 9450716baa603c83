"""Listeners: let exporters and mappers (the Sentry integration) observe what spans cannot carry.

Spans carry exception *events*, not exception objects, no session lifecycle, and only the keys of the
OpenTelemetry conventions. A listener registered here is told of the exception objects, of each finished
operation, of session starts and ends, of the log records mcp-otel makes and of the facts the vendor-neutral
span leaves out (:mod:`mcp_otel.facts`), in the process and task where they happen. Every call is guarded: a
failing listener is logged once and never reaches the MCP host. With no listener registered
(:data:`registered` is empty) nothing is built and nothing is called.
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

    def on_fact(self, operation: OperationView, fact: str, value: Any) -> None:
        """A fact about the running ``operation`` that its span does not carry: ``fact`` is one of the names
        in :mod:`mcp_otel.facts`, ``value`` its value (see there). Its span is still running."""

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
registered: tuple[McpListener, ...] = ()
"""The registered listeners (an immutable tuple, replaced on every change; empty in the common case). The hot
path reads it as ``listeners.registered`` to skip building what no one listens to."""

fact_receivers: tuple[McpListener, ...] = ()
"""The registered listeners that override :meth:`McpListener.on_fact` (a subset of :data:`registered`): the
core builds a fact only when this is not empty."""


def add_listener(listener: McpListener) -> None:
    """Register ``listener`` (idempotent)."""
    with _lock:
        if not any(item is listener for item in registered):
            _publish((*registered, listener))


def remove_listener(listener: McpListener) -> None:
    """Unregister ``listener`` (no error if it was not registered)."""
    with _lock:
        _publish(tuple(item for item in registered if item is not listener))


def _publish(all_listeners: tuple[McpListener, ...]) -> None:
    global registered, fact_receivers
    registered = all_listeners
    fact_receivers = tuple(x for x in all_listeners if type(x).on_fact is not McpListener.on_fact)


def listeners() -> tuple[McpListener, ...]:
    """The registered listeners (an immutable snapshot; empty in the common case)."""
    return registered


def notify(method: str, *args: Any) -> None:
    """Call ``method`` on every listener with ``args``; a failing listener is logged once per method."""
    for listener in registered:
        try:
            getattr(listener, method)(*args)
        except Exception:
            log_failure_once(f"listener {type(listener).__name__}.{method}")


def notify_fact(operation: OperationView, fact: str, value: Any) -> None:
    """Hand one fact (:mod:`mcp_otel.facts`) about ``operation`` to every listener that takes facts (guarded
    like :func:`notify`). Callers check :data:`fact_receivers` first, so nothing is built for no one."""
    for listener in fact_receivers:
        try:
            listener.on_fact(operation, fact, value)
        except Exception:
            log_failure_once(f"listener {type(listener).__name__}.on_fact")
