"""The feature server: an MCP server whose tools use every feature the client-side tests exercise.

Sampling, progress, log and list-changed notifications, a cancellable tool, a concurrency barrier, a prompt,
a resource and a completion handler that answers with JSON-RPC errors. ``FastMCP`` on mcp 1.x and
``MCPServer`` on mcp 2.x. No ``from __future__ import annotations`` here: FastMCP reads the tools'
annotations at runtime to find the ``Context`` parameter.
"""

from dataclasses import dataclass
from typing import Any

import anyio
from opentelemetry import baggage, trace

from support.compat import IS_MCP1, mcp_error
from support.harness import STEP_TIMEOUT

SERVER_NAME = "feature-server"
SERVER_VERSION = "3.1.4"
RESOURCE_URI = "feature://info"
USER_SPAN = "tests.user-work"
USER_TRACER = "tests.feature-server"
BAGGAGE_KEY = "tests.tenant"
SAMPLED_TEXT = "sampled-answer"
SAMPLING_MODEL = "test-model"
LOG_TEXT = "feature-server log line"
PROGRESS_STEPS = 3
#: Completion argument name for which the handler raises ``McpError``/``MCPError(int(value))``.
ERROR_ARGUMENT = "code"
#: Upper bound for a whole session (connect → close); the ``wait`` tool sleeps this long at most.
SESSION_TIMEOUT = 90.0


def progress_is_request_scoped() -> bool:
    """Whether ``Context.report_progress`` ties progress to its request (``related_request_id``)."""
    if not IS_MCP1:
        return True
    import inspect

    from mcp.server.fastmcp import Context

    return "related_request_id" in inspect.getsource(Context.report_progress)


@dataclass
class Barrier:
    """Makes ``parties`` concurrent ``rendezvous`` tool calls wait for each other (proves real overlap)."""

    parties: int = 1
    arrived: int = 0
    event: Any = None

    def reset(self, parties: int) -> None:
        self.parties, self.arrived, self.event = parties, 0, None

    async def wait(self) -> int:
        if self.event is None:
            self.event = anyio.Event()
        self.arrived += 1
        ticket = self.arrived
        if self.arrived >= self.parties:
            self.event.set()
        with anyio.fail_after(STEP_TIMEOUT):
            await self.event.wait()
        return ticket


BARRIER = Barrier()


def _user_work() -> str:
    with trace.get_tracer(USER_TRACER).start_as_current_span(USER_SPAN):
        value = baggage.get_baggage(BAGGAGE_KEY)
        return "" if value is None else str(value)


def request_id(ctx: Any) -> Any:
    """The id of the request a tool's ``Context`` serves."""
    return ctx.request_context.request_id


def build_server() -> Any:
    """A fresh test server (FastMCP on 1.x, MCPServer on 2.x). Build it after ``instrument()``.

    Tools: ``add``; ``fail`` (raises → ``isError``); ``traced`` (opens span ``tests.user-work``, returns
    the baggage value ``tests.tenant`` it sees); ``sample`` (asks the client for a sampling message);
    ``progress`` (reports ``PROGRESS_STEPS`` steps and logs a line); ``notify`` (sends
    ``notifications/resources/updated`` and ``notifications/tools/list_changed``); ``wait`` (reports
    progress 0, then sleeps until cancelled); ``rendezvous`` (waits on :data:`BARRIER`). Prompt
    ``greet``, resource ``feature://info``, and a completion handler that raises ``McpError(int(value))``
    for argument ``code``.
    """
    if IS_MCP1:
        from mcp.server.fastmcp import Context, FastMCP

        server: Any = FastMCP(SERVER_NAME)
        server._mcp_server.version = SERVER_VERSION
    else:
        from mcp.server.mcpserver import Context, MCPServer

        server = MCPServer(SERVER_NAME, version=SERVER_VERSION)

    import mcp.types as types

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ValueError(f"tool failure: {reason}")

    @server.tool()
    def traced() -> str:
        """Open a user span; return the baggage value seen."""
        return _user_work()

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        """Ask the client to sample a message."""
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
        result = await ctx.session.create_message(
            [message], max_tokens=16, related_request_id=request_id(ctx)
        )
        return str(result.content.text)

    @server.tool()
    async def progress(ctx: Context) -> str:
        """Report progress and log one line."""
        for step in range(1, PROGRESS_STEPS + 1):
            await ctx.report_progress(step, PROGRESS_STEPS)
        await ctx.info(LOG_TEXT)
        return "done"

    @server.tool()
    async def notify(ctx: Context) -> str:
        """Send resources/updated and tools/list_changed to the client."""
        await ctx.session.send_resource_updated(uri(RESOURCE_URI))
        await ctx.session.send_tool_list_changed()
        return "sent"

    @server.tool()
    async def wait(ctx: Context) -> str:
        """Report progress 0 (the client's signal that it runs), then sleep until cancelled (bounded)."""
        await ctx.report_progress(0, None)
        await anyio.sleep(SESSION_TIMEOUT)
        return "not cancelled"

    @server.tool()
    async def rendezvous(tag: str) -> str:
        """Wait until every party of :data:`BARRIER` arrived."""
        await BARRIER.wait()
        return tag

    @server.prompt()
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Greet {name}."

    @server.resource(RESOURCE_URI)
    def info() -> str:
        """Static text."""
        return "feature-server resource"

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any = None) -> Any:
        if argument.name == ERROR_ARGUMENT:
            raise mcp_error(int(argument.value), f"completion asked for {argument.value}")
        return None

    return server


def uri(text: str) -> Any:
    """A resource URI as the installed mcp's session methods take it."""
    if IS_MCP1:
        from pydantic import AnyUrl

        return AnyUrl(text)
    return text
