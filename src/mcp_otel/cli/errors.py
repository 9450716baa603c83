"""The errors ``mcp-otel demo`` and ``mcp-otel trace`` end with: one line on stderr and exit status 1."""

from __future__ import annotations

__all__ = ["DemoError", "TraceError"]


class DemoError(Exception):
    """The demo could not run: server not found or failed to start, a call failed or returned a wrong
    result, or the time limit passed. The message says which."""


class TraceError(Exception):
    """``mcp-otel trace`` could not run: bad arguments, the server did not start, a request failed or the
    time limit passed. The message says which."""
