"""The breadcrumbs of log lines written during MCP requests, scrubbed on events captured outside them too.

sentry-sdk's ``LoggingIntegration`` records a breadcrumb for each log line, as logged, in the current scope,
and it rides on the scope's next error events — also on one captured outside any MCP request (mcp 1.x's own
``Error in message router`` when a streamable HTTP session ends, an error of the application's), which
:mod:`~mcp_otel.sentry.event_processor` does not scrub as a request's. :class:`RequestLogLines` remembers the
last log lines mcp-otel saw during requests (logger name and message: what the breadcrumb holds) with their
request's ``exception_text`` rules, and scrubs the breadcrumbs that match them
(:func:`~mcp_otel.sentry.event_text.scrub_breadcrumb`). Other breadcrumbs are left as they are.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mcp_otel.sentry.event_text import scrub_breadcrumb

if TYPE_CHECKING:
    from sentry_sdk._types import Event

    from mcp_otel.telemetry.exception_text import ExceptionText

MAX_LINES = 100
"""How many log lines are remembered: sentry-sdk keeps 100 breadcrumbs by default (``max_breadcrumbs``)."""


class RequestLogLines:
    """The last :data:`MAX_LINES` log lines written during MCP requests, with the rules their text follows."""

    def __init__(self, size: int = MAX_LINES) -> None:
        self._size = size
        self._lines: dict[tuple[str, str], ExceptionText] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lines)

    def remember(self, logger_name: str, message: str, rules: ExceptionText) -> None:
        """Remember the line ``message`` of logger ``logger_name`` (nothing to remember when its text may
        leave as logged)."""
        if rules.passthrough:
            return
        key = (logger_name, message)
        with self._lock:
            self._lines.pop(key, None)
            self._lines[key] = rules
            while len(self._lines) > self._size:
                del self._lines[next(iter(self._lines))]

    def clear(self) -> None:
        """Forget every line."""
        with self._lock:
            self._lines.clear()

    def scrub(self, event: Event) -> None:
        """Scrub the breadcrumbs of ``event`` that record a remembered line, in place."""
        if not self._lines:
            return
        breadcrumbs: Any = event.get("breadcrumbs")
        crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
        for crumb in crumbs if isinstance(crumbs, list) else []:
            if isinstance(crumb, dict) and crumb.get("type") == "log":
                rules = self._lines.get((crumb.get("category"), crumb.get("message")))  # type: ignore[arg-type]
                if rules is not None:
                    scrub_breadcrumb(crumb, rules)
