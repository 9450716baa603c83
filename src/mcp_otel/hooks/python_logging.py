"""The Python ``logging`` seam: records emitted while mcp-otel handles a request become log records.

One observer before ``logging.Logger.callHandlers`` (what sentry-sdk's logging integration patches too): it
sees every record that passed its logger's level and filters, once, before any handler runs, and adds no
handler, so ``logging.basicConfig()`` and ``dictConfig()`` behave as without mcp-otel. Outside a request it
costs one context-variable read per record; the telemetry core (:class:`~mcp_otel.telemetry.logs.LogSignal`)
does the rest.
"""

from __future__ import annotations

from typing import Any

from mcp_otel.hooks.factory import Args, Kwargs, before
from mcp_otel.hooks.patching import Patch
from mcp_otel.telemetry import active_request
from mcp_otel.telemetry.logs import LogSignal


def logging_patches(logs: LogSignal) -> list[Patch]:
    """The patch of ``logging.Logger.callHandlers`` that hands request-time records to ``logs``."""

    def observe(logger: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
        request = active_request()
        if request is not None:
            logs.python_record(request, args[0] if args else kwargs["record"])

    return [before("logging", "Logger.callHandlers", observe)]
