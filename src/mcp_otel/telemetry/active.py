"""The active operation and what listeners see of it.

The context variable holding the request whose span mcp-otel made current (server handler or client send), the
accessors the hooks and the Sentry integration use, and the read-only view handed to listeners
(:mod:`mcp_otel.listeners`).
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from opentelemetry.trace import Span, SpanKind

from mcp_otel.model import Message

if TYPE_CHECKING:
    from mcp_otel.telemetry.exception_text import ExceptionText
    from mcp_otel.telemetry.operation import Operation

# A weak reference: copies of the context made while a request ran (timers, idle worker threads, background
# tasks the handler started) must not keep its Operation, its span and its session alive after it ended.
_active: ContextVar[weakref.ref[Operation] | None] = ContextVar("mcp_otel_active_operation", default=None)


def active_operation() -> Operation | None:
    """The request whose span mcp-otel made current in this context (server handler or client send)."""
    ref = _active.get()
    return ref() if ref is not None else None


def active_request() -> Operation | None:
    """The server request whose handler runs in this context, if any."""
    op = active_operation()
    return op if op is not None and op.kind is SpanKind.SERVER else None


def active_client_request() -> Operation | None:
    """The client request being sent in this context, if any."""
    op = active_operation()
    return op if op is not None and op.kind is SpanKind.CLIENT else None


class OperationView(Protocol):
    """What listeners see of an operation (:mod:`mcp_otel.listeners`): read-only.

    :class:`Operation` has these members; listeners get a :class:`ReadOnlyOperation` in front of it, so they
    cannot start, end or re-type the operation the hooks are running.
    """

    @property
    def kind(self) -> SpanKind:
        """``SpanKind.SERVER`` (a message this process handles) or ``SpanKind.CLIENT`` (one it sends)."""

    @property
    def method(self) -> str:
        """The JSON-RPC method."""

    @property
    def message(self) -> Message:
        """The message, as the hooks described it."""

    @property
    def span(self) -> Span:
        """The operation's span (the invalid span when not recording)."""

    @property
    def error_type(self) -> str | None:
        """The ``error.type`` recorded so far (``None`` while the operation has not failed)."""

    @property
    def exception_text(self) -> ExceptionText:
        """The rules exception text follows (the ``exception_text`` setting and ``content_redactor``)."""


class ReadOnlyOperation:
    """An :class:`OperationView` of one :class:`Operation`, handed to listeners."""

    __slots__ = ("_op",)

    def __init__(self, op: Operation) -> None:
        self._op = op

    @property
    def kind(self) -> SpanKind:
        """See :class:`OperationView`."""
        return self._op.kind

    @property
    def method(self) -> str:
        """See :class:`OperationView`."""
        return self._op.method

    @property
    def message(self) -> Message:
        """See :class:`OperationView`."""
        return self._op.message

    @property
    def span(self) -> Span:
        """See :class:`OperationView`."""
        return self._op.span

    @property
    def error_type(self) -> str | None:
        """See :class:`OperationView`."""
        return self._op.error_type

    @property
    def exception_text(self) -> ExceptionText:
        """See :class:`OperationView`."""
        return self._op.exception_text
