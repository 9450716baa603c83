"""Which mcp is installed, and the few names that differ between its major lines.

Every version branch of the test-suite lives in ``tests/support``; the tests themselves read the same on
mcp 1.x and 2.x.
"""

from __future__ import annotations

from importlib.metadata import version as _dist_version
from typing import Any

MCP_VERSION: str = _dist_version("mcp")
MCP_VERSION_INFO: tuple[int, ...] = tuple(int(p) for p in MCP_VERSION.split(".")[:3] if p.isdigit())
MCP_MAJOR: int = MCP_VERSION_INFO[0]
IS_MCP1: bool = MCP_MAJOR == 1
IS_MCP2: bool = MCP_MAJOR == 2

#: The protocol revision the 2.x sessionless paths (``Client(server)``, modern HTTP) speak.
MODERN_PROTOCOL_VERSION = "2026-07-28"

#: Instrumentation scope of the spans mcp 2.x emits on its own.
SDK_SCOPE = "mcp-python-sdk"
#: Instrumentation scope of mcp-otel's spans.
OTEL_SCOPE = "mcp_otel"

CLIENT_NAME = "spec-client"
CLIENT_VERSION = "9.9.9"
SERVER_NAME = "demo-weather"


def implementation(name: str = CLIENT_NAME, version: str = CLIENT_VERSION) -> Any:
    """An ``Implementation`` (clientInfo) for the installed mcp."""
    from mcp.types import Implementation

    return Implementation(name=name, version=version)


def mcp_error(code: int, message: str) -> Exception:
    """An ``McpError`` (1.x) / ``MCPError`` (2.x) carrying ``code`` — what a lowlevel handler raises."""
    if IS_MCP1:
        from mcp.shared.exceptions import McpError
        from mcp.types import ErrorData

        return McpError(ErrorData(code=code, message=message))
    from mcp.shared.exceptions import MCPError

    return MCPError(code, message)


def mcp_error_type() -> type[Exception]:
    """The exception class a client raises on a JSON-RPC error response."""
    if IS_MCP1:
        from mcp.shared.exceptions import McpError

        return McpError
    from mcp.shared.exceptions import MCPError

    return MCPError


def error_code(exc: BaseException) -> int:
    """The JSON-RPC error code carried by a client-side ``McpError``/``MCPError``."""
    err = getattr(exc, "error", None)
    if err is not None and hasattr(err, "code"):
        return int(err.code)
    return int(exc.code)  # type: ignore[attr-defined]


def hook_targets() -> list[tuple[str, str]]:
    """The well-known attributes the instrumentor patches on this mcp line: ``(module, qualified name)``."""
    if IS_MCP1:
        return [
            ("mcp.server.lowlevel.server", "Server._handle_request"),
            ("mcp.shared.session", "RequestResponder.respond"),
            ("mcp.server.session", "ServerSession._received_request"),
            ("mcp.server.stdio", "stdio_server"),
        ]
    return [
        ("mcp.server.runner", "ServerRunner._on_request"),
        ("mcp.server.mcpserver.server", "MCPServer.call_tool"),
        ("mcp.shared._otel", "_tracer"),
        ("mcp.shared.jsonrpc_dispatcher", "otel_span"),
        ("mcp.server._otel", "OpenTelemetryMiddleware.__call__"),
    ]


#: Hook targets the instrumentor replaces by an object of its own rather than wrapping (the SDK's silenced
#: OpenTelemetry pieces: a silent tracer, a pass-through dispatcher span and middleware).
REPLACED_TARGETS = frozenset(
    {
        "mcp.shared._otel:_tracer",
        "mcp.shared.jsonrpc_dispatcher:otel_span",
        "mcp.server._otel:OpenTelemetryMiddleware.__call__",
    }
)
