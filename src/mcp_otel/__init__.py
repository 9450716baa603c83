"""mcp-otel: OpenTelemetry instrumentation for MCP (Model Context Protocol) servers and clients.

Usage::

    from mcp_otel import McpInstrumentor

    McpInstrumentor().instrument()  # before constructing MCP servers

or zero-code with ``opentelemetry-instrument`` (entry point ``mcp``).
"""

from mcp_otel.instrumentor import McpInstrumentor
from mcp_otel.version import __version__

__all__ = ["McpInstrumentor", "__version__"]
