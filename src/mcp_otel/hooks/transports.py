"""Transport seams of both mcp generations: they set :data:`mcp_otel.transport.transport_hint`, and put each
message's trace context into the HTTP requests the client transports send (:mod:`mcp_otel.hooks.http_client`).

The SDK imports its transport functions by name into other modules (``stdio_server`` into ``mcp`` and the
high-level servers; ``stdio_client`` / ``streamable_http_client`` into ``mcp.client.client`` on 2.x), so
every alias is listed. A name missing from the installed mcp is skipped.
"""

from __future__ import annotations

from mcp_otel.hooks.http_client import http_client_patches
from mcp_otel.hooks.patching import Patch
from mcp_otel.model import MEMORY, STDIO, Transport
from mcp_otel.transport import constant_hint, register_http_client_transport, server_http_hint, url_hint


def transport_patches() -> list[Patch]:
    """The transport hint wrappers (server and client side, mcp 1.x and 2.x names)."""
    stdio = constant_hint(STDIO)
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
        *(Patch(module, "stdio_server", stdio) for module in stdio_server_aliases),
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
