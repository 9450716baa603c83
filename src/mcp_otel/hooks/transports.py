"""Transport seams of both mcp generations: they set :data:`mcp_otel.transport.transport_hint`, and put each
message's trace context into the HTTP requests the client transports send (:mod:`mcp_otel.hooks.http_client`).

Serving stdio also moves the OpenTelemetry console exporters off stdout, the MCP channel
(:func:`mcp_otel.console_exporters.redirect_to_stderr`).

The SDK imports its transport functions by name into other modules (``stdio_server`` into ``mcp`` and the
high-level servers; ``stdio_client`` / ``streamable_http_client`` into ``mcp.client.client`` on 2.x), so
every alias is listed. A name missing from the installed mcp is skipped.
"""

from __future__ import annotations

from typing import Any

from mcp_otel.console_exporters import redirect_to_stderr
from mcp_otel.hooks.http_client import http_client_patches
from mcp_otel.hooks.patching import Patch, Wrapper
from mcp_otel.model import MEMORY, STDIO, Transport
from mcp_otel.transport import constant_hint, register_http_client_transport, server_http_hint, url_hint


def _stdio_server(hint: Wrapper) -> Wrapper:
    """``hint`` for ``stdio_server``, which first keeps the console exporters off stdout."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        redirect_to_stderr()  # never raises
        return hint(wrapped, instance, args, kwargs)

    return wrapper


def transport_patches() -> list[Patch]:
    """The transport hint wrappers (server and client side, mcp 1.x and 2.x names)."""
    stdio = constant_hint(STDIO)
    stdio_server = _stdio_server(stdio)
    memory = constant_hint(MEMORY)
    http = url_hint("http")
    stdio_server_aliases = (
        "mcp.server.stdio",
        "mcp",
        "mcp.server.fastmcp.server",
        "mcp.server.mcpserver.server",
    )
    stdio_client_aliases = ("mcp.client.stdio", "mcp", "mcp.client.client")
    return [
        # server side
        *(Patch(module, "stdio_server", stdio_server) for module in stdio_server_aliases),
        Patch("mcp.shared.memory", "create_client_server_memory_streams", memory),
        Patch("mcp.client._memory", "create_client_server_memory_streams", memory),
        Patch("mcp.server.streamable_http", "StreamableHTTPServerTransport.connect", server_http_hint()),
        Patch("mcp.server.sse", "SseServerTransport.connect_sse", constant_hint(Transport(kind="sse"))),
        # client side
        *(Patch(module, "stdio_client", stdio) for module in stdio_client_aliases),
        Patch("mcp.client.sse", "sse_client", url_hint("sse")),
        Patch("mcp.client.streamable_http", "streamablehttp_client", http),  # mcp < 1.24 name
        Patch("mcp.client.streamable_http", "streamable_http_client", http),
        Patch("mcp.client.client", "streamable_http_client", http),
        Patch(
            "mcp.client.streamable_http", "StreamableHTTPTransport.__init__", register_http_client_transport
        ),
        # the trace context of each message in the HTTP requests that carry it
        *http_client_patches(),
    ]
