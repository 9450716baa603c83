"""The standard exchange with the demo server, and what the spec expects of its spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .compat import IS_MCP1
from .harness import Conn
from .spans import Span

ADD_ARGS = {"a": 2, "b": 3}
FAIL_ARGS = {"reason": "demo"}
GREET_ARGS = {"name": "Ada"}
RESOURCE_URI = "demo://info"
FAIL_MESSAGE = "forecast backend unavailable: demo"

#: JSON-RPC codes a server does not count as errors (the caller sent something unservable).
NOT_SERVER_ERRORS = (-32700, -32600, -32601, -32602, -32002)

CONTENT_KEYS = ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result")
PROMPT_VARIABLE_PREFIX = "gen_ai.prompt.variable."


@dataclass
class Run:
    """A finished, instrumented client session: what the client saw, what it got, every span of it."""

    transport: str
    conn: Conn
    results: Any  # DemoResults / LowlevelResults
    spans: list[Span]


@dataclass
class DemoResults:
    add: dict[str, Any] = field(default_factory=dict)
    fail: dict[str, Any] = field(default_factory=dict)
    greet: dict[str, Any] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)


async def run_demo(conn: Conn) -> DemoResults:
    """Every request kind the demo server serves, once each (the client lists tools before calling them)."""
    out = DemoResults()
    await conn.list_tools()
    out.add = await conn.call_tool("add", ADD_ARGS)
    out.fail = await conn.call_tool("fail", FAIL_ARGS)
    out.greet = await conn.get_prompt("greet", GREET_ARGS)
    out.read = await conn.read_resource(RESOURCE_URI)
    if conn.can_ping:
        await conn.ping()
    await conn.list_resource_templates()
    await conn.list_prompts()
    await conn.list_resources()
    return out


def method_of(span_name: str) -> str:
    """``"tools/call add"`` → ``"tools/call"``."""
    return span_name.split(" ", 1)[0]


def client_info_after_initialize(transport: str) -> bool:
    """Whether the server can know the clientInfo on requests after ``initialize``.

    Not on mcp 1.x stateless streamable HTTP: every POST gets a fresh ``ServerSession`` that never saw the
    ``initialize`` request, and the client does not repeat its clientInfo.
    """
    return not (IS_MCP1 and transport == "http-stateless")


#: Codes the lowlevel server's ``code:<n>`` prompts raise as ``McpError``/``MCPError``.
LOWLEVEL_CODES = (*NOT_SERVER_ERRORS, -32603, -32000, -32001)


@dataclass
class LowlevelResults:
    work: dict[str, Any] = field(default_factory=dict)
    #: prompt name (``code:<n>``, ``mcp-error``, ``crash``) → the JSON-RPC error code the client got
    codes: dict[str, int] = field(default_factory=dict)


async def run_lowlevel(conn: Conn) -> LowlevelResults:
    """The lowlevel server: a tool that opens a user span, then every failing prompt."""
    out = LowlevelResults()
    await conn.list_tools()
    out.work = await conn.call_tool("work", {})
    for name in [*(f"code:{c}" for c in LOWLEVEL_CODES), "mcp-error", "crash"]:
        out.codes[name] = await conn.expect_error(f"prompts/get {name}", conn.session.get_prompt(name, {}))
    return out


#: Requests the caller gets wrong: id → (method, params). The server answers each with a JSON-RPC error whose
#: code is on the server-side exclusion list (unknown method, invalid params, a method without a handler).
CLIENT_ERROR_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "unknown-method": ("no/such/method", {}),
    "invalid-params": ("tools/call", {"arguments": {}}),
    "no-handler": ("resources/subscribe", {"uri": RESOURCE_URI}),
}


async def run_client_errors(conn: Conn) -> dict[str, int]:
    """Send every ``CLIENT_ERROR_CASES`` request; return case id → the error code the client got."""
    return {
        case: await conn.request_error(method, params)
        for case, (method, params) in CLIENT_ERROR_CASES.items()
    }
