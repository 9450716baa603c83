"""A stdio MCP server whose one tool reports the baggage its handler sees (run under ``mcp_otel.bootstrap``).

``python -m mcp_otel.bootstrap --spans-file F -- tests/baggage_server.py``: tool ``baggage`` returns the
handler context's baggage as JSON (the session-id tests check that mcp-otel's session id entry is not there).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from opentelemetry import baggage  # noqa: E402

from support.compat import IS_MCP1  # noqa: E402


def build_server() -> object:
    """FastMCP (mcp 1.x) or MCPServer (2.x) with tool ``baggage``."""
    if IS_MCP1:
        from mcp.server.fastmcp import FastMCP

        server = FastMCP("baggage-server")
    else:
        from mcp.server.mcpserver import MCPServer

        server = MCPServer("baggage-server")

    @server.tool()
    def baggage_entries() -> str:
        """The baggage of the handler's context, as a JSON object."""
        return json.dumps(dict(baggage.get_all()))

    return server


if __name__ == "__main__":
    build_server().run("stdio")  # type: ignore[attr-defined]
