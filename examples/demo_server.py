"""A small MCP server of the kind mcp-otel users run: two tools, a prompt and a resource.

Runs unchanged on mcp 1.x (``FastMCP``) and mcp 2.x (``MCPServer``). Start it over stdio::

    python examples/demo_server.py                 # stdio
    python examples/demo_server.py streamable-http # HTTP on 127.0.0.1:8000/mcp

It does not import mcp-otel: instrument it with ``opentelemetry-instrument`` or ``mcp-otel demo``.
"""

from __future__ import annotations

import sys

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server


def build_server() -> _Server:
    """Create the demo server (call after the instrumentor is enabled)."""
    server = _Server("demo-weather")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def forecast(city: str) -> str:
        """Return a (made up) weather forecast for ``city``."""
        return f"Sunny in {city}, 21 °C"

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails: raises ValueError with ``reason``."""
        raise ValueError(f"forecast backend unavailable: {reason}")

    @server.prompt()
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Write a friendly greeting for {name}."

    @server.resource("demo://info")
    def info() -> str:
        """Static server information."""
        return "demo-weather: a sample MCP server"

    return server


if __name__ == "__main__":
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    build_server().run(transport)  # type: ignore[arg-type]
