"""How the Sentry session of an MCP session ends: ``exited``, ``errored``, ``crashed`` or ``abnormal``.

The outcome table is in :mod:`mcp_otel.sentry.health`; :func:`outcome` decides it, :func:`close_session`
writes it (with duration and error count) on a sentry-sdk session before it is sent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mcp_otel.semconv.signals import CANCELLED

if TYPE_CHECKING:
    from sentry_sdk.session import Session as SentrySession

    from mcp_otel.telemetry import OperationView as Operation

EXITED = "exited"
"""Outcome: closed normally, no failed request."""
ERRORED = "errored"
"""Outcome: closed normally after a tool error or handler exception."""
CRASHED = "crashed"
"""Outcome: an exception ended the session."""
ABNORMAL = "abnormal"
"""Outcome: the transport dropped without a close."""


def outcome(error: BaseException | None, errors: int) -> str:
    """The outcome of a session that ended with ``error`` after ``errors`` failed requests."""
    if error is None:
        return ERRORED if errors else EXITED
    if not isinstance(error, Exception) or is_transport_error(error):
        return ABNORMAL  # cancelled / shut down, or the connection broke
    return CRASHED


def is_transport_error(error: BaseException) -> bool:
    """Whether ``error`` (or every member of an exception group) is a broken or closed connection."""
    members = getattr(error, "exceptions", None)
    if isinstance(members, (list, tuple)) and members:
        return all(isinstance(m, BaseException) and is_transport_error(m) for m in members)
    if isinstance(error, (ConnectionError, EOFError)):
        return True
    try:
        import anyio
    except ImportError:  # pragma: no cover - mcp depends on anyio
        return False
    return isinstance(error, (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream))


def close_session(session: SentrySession, result: str, errors: int) -> None:
    """Close ``session`` as ``result`` (an outcome) after ``errors`` failed requests, ending now."""
    now = utc_now()
    session.update(duration=max((now - session.started).total_seconds(), 0.0), timestamp=now)
    if result == CRASHED:
        session.update(errors=max(errors, 1))
        session.close("crashed")
    elif result == ABNORMAL:
        session.update(errors=errors)
        session.close("abnormal")
    else:
        session.update(errors=errors if result == ERRORED else 0)
        session.close("exited")


def request_failed(operation: Operation) -> bool:
    """Whether ``operation`` failed and so counts as an error of its session (a cancellation does not)."""
    error_type = operation.error_type
    return error_type is not None and error_type != CANCELLED


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (as sentry-sdk sessions want it)."""
    return datetime.now(timezone.utc)
