"""A server whose tools log through Python ``logging`` and through MCP log notifications (``ctx.info`` …).

``FastMCP`` on mcp 1.x, ``MCPServer`` on mcp 2.x. Importable (``build_server``) and runnable over stdio
(``python log_server.py``, e.g. under ``python -m mcp_otel.bootstrap``). No ``from __future__ import
annotations``: FastMCP reads the tools' annotations at runtime to find the ``Context`` parameter.

Tool ``chatty(city)`` logs, in this order:

1. Python ``INFO`` ``looking up <city>``;
2. Python ``INFO`` ``forecast ready for <city>`` and the same text through ``ctx.info`` (one event, two
   ways);
3. an MCP ``error`` notification, data ``{"city": <city>, "token": SECRET}``, logger ``backend``;
4. Python ``ERROR`` ``token SECRET rejected: LONG`` (to redact and cap).

Tool ``levels`` sends one MCP log notification per RFC 5424 level, its data the level's name.

Tool ``failing`` logs a failure with its exception (``logger.exception``): :data:`FAILING_LOG` with
``SECRET`` as its argument, the exception :data:`FAILING_ERROR` (``token=SECRET`` in its message).
"""

import logging
import warnings
from typing import Any

try:  # mcp 2.x
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context
    from mcp.server.fastmcp import FastMCP as _Server

SERVER_NAME = "log-server"
LOGGER_NAME = "tests.log-server"
MCP_LOGGER = "backend"
SECRET = "sk-secret-token"
REDACTED = "[redacted]"
LONG = "x" * 200
MAX_CONTENT_LENGTH = 64
FAILING_LOG = "lookup with %s failed"
FAILING_ERROR = f"login with token={SECRET} refused"
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

_log = logging.getLogger(LOGGER_NAME)
_log.setLevel(logging.INFO)  # this logger's records exist whatever the root level is


def redact(key: str, value: str) -> str:
    """The tests' ``content_redactor``: replaces :data:`SECRET`."""
    return value.replace(SECRET, REDACTED)


def build_server() -> Any:
    """Create the server (call after the instrumentor is enabled)."""
    server = _Server(SERVER_NAME)

    @server.tool()
    async def chatty(city: str, ctx: Context) -> str:
        """Logs four events (see the module docstring)."""
        _log.info("looking up %s", city)
        _log.info("forecast ready for %s", city)
        with warnings.catch_warnings():  # mcp 2.3: the logging capability is deprecated (SEP-2577)
            warnings.simplefilter("ignore")
            await ctx.info(f"forecast ready for {city}")
            await ctx.log("error", {"city": city, "token": SECRET}, logger_name=MCP_LOGGER)
        _log.error("token %s rejected: %s", SECRET, LONG)
        return "ok"

    @server.tool()
    def failing() -> str:
        """Logs a failure with its exception (see the module docstring)."""
        try:
            raise ConnectionError(FAILING_ERROR)
        except ConnectionError:
            _log.exception(FAILING_LOG, SECRET)
        return "ok"

    @server.tool()
    async def levels(ctx: Context) -> str:
        """One MCP log notification per RFC 5424 level."""
        session = ctx.request_context.session
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for level in LEVELS:
                await session.send_log_message(level=level, data=level, related_request_id=ctx.request_id)
        return "ok"

    return server


if __name__ == "__main__":
    build_server().run("stdio")
