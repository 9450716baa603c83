"""Helpers shared by the SDK hook modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp_otel._guard import log_failure_once
from mcp_otel.telemetry import ServerRequest

T = TypeVar("T")
_SDK_MODULES = ("mcp.", "fastmcp.")


def original_exception(exc: BaseException) -> BaseException:
    """Unwrap the SDKs' wrapper exceptions (``ToolError(...) from e``) to the exception the user code raised.

    Only exceptions defined in ``mcp`` / ``fastmcp`` modules are unwrapped, so a user's own ``raise X from Y``
    keeps ``X``.
    """
    seen = 0
    while exc.__cause__ is not None and type(exc).__module__.startswith(_SDK_MODULES) and seen < 8:
        exc = exc.__cause__
        seen += 1
    return exc


async def run_server_request(request: ServerRequest, call: Callable[[], Awaitable[T]], where: str) -> T:
    """Await ``call()`` with ``request``'s span current, then end the span; never raises on its own.

    Exceptions from ``call()`` propagate unchanged; hooks record them before re-raising where they need to.
    """
    try:
        request.activate()
    except Exception:
        log_failure_once(f"{where}.activate")
    try:
        return await call()
    finally:
        try:
            request.deactivate()
            request.end()
        except Exception:
            log_failure_once(f"{where}.end")


def guarded(where: str, func: Callable[..., Any], *args: Any) -> None:
    """Call ``func(*args)``; log (once) and swallow any exception it raises."""
    try:
        func(*args)
    except Exception:
        log_failure_once(where)
