"""Never break the host: instrumentation failures are logged once per place and swallowed."""

from __future__ import annotations

import logging
import threading

_log = logging.getLogger("mcp_otel")
_seen: set[str] = set()
_lock = threading.Lock()


def log_failure_once(where: str) -> None:
    """Log the exception being handled, once per ``where`` for the life of the process.

    Call it from an ``except`` block in instrumentation code; the MCP call then proceeds as if uninstrumented.

    Args:
        where: a short stable name of the failing place (``"v1.handle_request"``); the dedup key.
    """
    with _lock:
        if where in _seen:
            return
        _seen.add(where)
    _log.warning(
        "mcp-otel: instrumentation error in %s (further errors here are not logged)", where, exc_info=True
    )
