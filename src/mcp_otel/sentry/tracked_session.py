"""The record :class:`~mcp_otel.sentry.health.ReleaseHealth` keeps of each MCP session until it reports it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.model import Session, Transport


@dataclass
class TrackedSession:
    """One open MCP session: when and how it started, its failed requests, and whether it was reported."""

    kind: SpanKind
    started: datetime
    transport: Transport
    sessionless: bool
    key: Callable[[], Any] = field(default=lambda: None, repr=False)
    errors: int = 0
    address: str | None = None
    session: Session | None = None
    finalizer: Any = field(default=None, repr=False)
    done: bool = False  # reported or forgotten: never reported (again)


def key_holder(key: Any) -> Callable[[], Any]:
    """A callable returning ``key`` while it lives: a weak reference, else ``key`` itself.

    A key that cannot be weak-referenced is held strongly while its session is tracked, so that its ``id()``
    cannot be reused by another object (whose session would otherwise take its place).
    """
    try:
        return weakref.ref(key)
    except TypeError:
        return lambda: key


def user_agent(session: Session | None) -> str | None:
    """The MCP client's ``name/version`` (the session's user agent), or ``None`` when it did not say."""
    peer = session.client if session is not None else None
    if peer is None or not peer.name:
        return None
    return f"{peer.name}/{peer.version}" if peer.version else peer.name
