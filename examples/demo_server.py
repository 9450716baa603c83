"""A small MCP server of the kind mcp-otel users run: two tools, a prompt and a resource.

Runs unchanged on mcp 1.x (``FastMCP``) and mcp 2.x (``MCPServer``). Start it over stdio::

    python examples/demo_server.py                                # stdio
    python examples/demo_server.py streamable-http [--port 8000]  # HTTP (uvicorn) on 127.0.0.1:PORT/mcp

It does not import mcp-otel: instrument it with ``opentelemetry-instrument`` or ``mcp-otel demo``. Its
``forecast`` tool logs one line through Python ``logging`` (to stderr: stdout is the MCP channel), which
mcp-otel records as a log record in the tool call's span (``docs/logs.md``).
"""

from __future__ import annotations

import argparse
import logging
import sys

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server

_log = logging.getLogger("demo_server")


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
        _log.info("looking up the forecast for %s", city)
        return f"Sunny in {city}, 21 °C"

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails: raises ValueError with ``reason``."""
        _log.warning("forecast backend unavailable: %s", reason)
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


def main(argv: list[str] | None = None) -> None:
    """Serve over the transport named on the command line (``stdio`` by default)."""
    parser = argparse.ArgumentParser(description="The mcp-otel demo MCP server.")
    parser.add_argument("transport", nargs="?", default="stdio", choices=["stdio", "sse", "streamable-http"])
    parser.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1 (default: 8000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    server = build_server()
    if args.transport == "stdio":
        server.run("stdio")
    elif hasattr(server.settings, "port"):  # mcp 1.x: HTTP options are server settings
        server.settings.port = args.port
        server.run(args.transport)
    else:  # mcp 2.x: run() keywords
        server.run(args.transport, port=args.port)  # type: ignore[call-arg,unused-ignore]


if __name__ == "__main__":
    main()
