"""The servers the tests run: the demo example and a lowlevel server with spans and failing handlers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry import trace

from .compat import IS_MCP1, mcp_error

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PATH = REPO_ROOT / "examples" / "demo_server.py"

LOWLEVEL_NAME = "spec-lowlevel"
#: Span the lowlevel ``work`` tool opens, with the global tracer.
USER_SPAN = "user.work"
USER_TRACER = "tests.user"
MCP_ERROR_CODE = -32603
MCP_ERROR_MESSAGE = "lowlevel internal failure"
CRASH_MESSAGE = "lowlevel handler crashed"


def load_demo() -> ModuleType:
    """Import ``examples/demo_server.py`` by path (it is not a package)."""
    name = "mcp_otel_examples_demo_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEMO_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_demo() -> Any:
    """A fresh demo server (FastMCP on 1.x, MCPServer on 2.x). Call after ``instrument()``."""
    return load_demo().build_server()


def build_lowlevel() -> Any:
    """A lowlevel ``Server``.

    - tool ``work``: opens a span ``user.work`` (global tracer) and returns ``"done"``;
    - prompt ``hello``: works; ``mcp-error``: raises ``McpError``/``MCPError`` -32603; ``code:<n>``: raises
      one with code ``n``; ``crash``: raises ``RuntimeError``.
    """
    return _build_lowlevel_1() if IS_MCP1 else _build_lowlevel_2()


def _do_work() -> str:
    with trace.get_tracer(USER_TRACER).start_as_current_span(USER_SPAN):
        return "done"


def _prompt(name: str) -> Any:
    import mcp.types as types

    if name == "mcp-error":
        raise mcp_error(MCP_ERROR_CODE, MCP_ERROR_MESSAGE)
    if name.startswith("code:"):
        raise mcp_error(int(name[len("code:") :]), f"handler answered {name}")
    if name == "crash":
        raise RuntimeError(CRASH_MESSAGE)
    return types.GetPromptResult(
        messages=[
            types.PromptMessage(role="user", content=types.TextContent(type="text", text=f"prompt {name}"))
        ]
    )


_TOOL_SCHEMA = {"type": "object", "properties": {}}


def _build_lowlevel_1() -> Any:
    import mcp.types as types
    from mcp.server.lowlevel import Server

    server: Any = Server(LOWLEVEL_NAME)

    @server.list_tools()  # type: ignore[misc]
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(name="work", inputSchema=_TOOL_SCHEMA)]

    @server.call_tool()  # type: ignore[misc]
    async def call_tool(name: str, arguments: dict[str, Any]) -> list[types.TextContent]:
        return [types.TextContent(type="text", text=_do_work())]

    @server.list_prompts()  # type: ignore[misc]
    async def list_prompts() -> list[types.Prompt]:
        return [types.Prompt(name=n) for n in ("hello", "mcp-error", "crash")]

    @server.get_prompt()  # type: ignore[misc]
    async def get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        return _prompt(name)  # type: ignore[no-any-return]

    return server


def _build_lowlevel_2() -> Any:
    import mcp.types as types
    from mcp.server import Server

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[types.Tool(name="work", input_schema=_TOOL_SCHEMA)])

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        return types.CallToolResult(content=[types.TextContent(type="text", text=_do_work())])

    async def on_list_prompts(ctx: Any, params: Any) -> Any:
        return types.ListPromptsResult(
            prompts=[types.Prompt(name=n) for n in ("hello", "mcp-error", "crash")]
        )

    async def on_get_prompt(ctx: Any, params: Any) -> Any:
        return _prompt(params.name)

    return Server(
        LOWLEVEL_NAME,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts,
        on_get_prompt=on_get_prompt,
    )
