"""The MCP server the Sentry tests run: set up like a user would (``sentry_sdk.init`` + mcp-otel + Sentry).

In-process tests import :func:`build_server`. Run as a script it serves stdio, configured by environment:

===========================  ===================================================================
``SENTRY_TEST_DSN``          DSN of the receiver (required)
``SENTRY_TEST_MODE``         ``native`` (transactions, default) or ``otlp`` (``OTLPIntegration``)
``SENTRY_TEST_SERVER``       ``tools`` (default: demo server + the tools below) or ``crash`` (lowlevel
                             server, ``raise_exceptions=True``: ``prompts/get crash`` ends the session)
``SENTRY_TEST_PII``          ``1``: ``send_default_pii=True`` (default off)
``SENTRY_TEST_SENTRY_MCP``   ``0``: disable sentry-sdk's own ``MCPIntegration`` (default: left on, as a user
                             who did not read the docs would, to check there is no double capture)
``SENTRY_TEST_IGNORE``       an exception class name for ``ignore_errors``
``SENTRY_TEST_LIFECYCLE``    ``stream``: ``trace_lifecycle="stream"`` (span streaming; default: transactions)
``SENTRY_TEST_CLIENT_SPANS`` ``0``: ``setup(client_spans=False)``
``SENTRY_TEST_LOGS``         ``1``: ``enable_logs=True`` (Sentry Logs)
===========================  ===================================================================

Tools on top of the demo server's (``add``, ``forecast``, ``fail``, prompt ``greet``, resource ``demo://info``):
``echo(text)`` returns ``text``; ``explode(text)`` raises ``RuntimeError`` (its message does not contain
``text``); ``logged(text)`` logs a warning through Python ``logging`` and sends a log notification to the
client, then returns; ``capture(text)`` captures a
``LookupError`` with ``sentry_sdk.capture_exception`` itself and returns; ``capture_in_span(text)`` does
the same inside a streamed Sentry span of its own (span streaming mode only). :func:`connect` opens a
client session to it over any harness transport.
"""

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from support.compat import IS_MCP1  # noqa: E402
from support.servers import load_demo  # noqa: E402

if IS_MCP1:
    from mcp.server.fastmcp import Context
else:
    from mcp.server.mcpserver import Context

RELEASE = "mcp-otel-tests@1.0.0"
ENVIRONMENT = "test"
EXPLODE_MESSAGE = "tool exploded"
LOG_TEXT = "logged from a tool"
PYTHON_LOG_TEXT = "a warning from the logged tool"
LOGGER_NAME = "tests.sentry-server"
CAPTURED_MESSAGE = "captured by the tool itself"


def tool_mechanism(tool: str) -> dict[str, Any]:
    """The exception mechanism of mcp-otel's event for an exception tool ``tool`` raised."""
    return {
        "type": "auto.ai.mcp_server",
        "handled": False,
        "data": {"error_type": "tool_execution", "tool_name": tool},
    }


def build_server() -> Any:
    """The demo server plus ``echo``, ``explode``, ``logged`` and ``capture`` (build after instrumenting)."""
    server = load_demo().build_server()

    @server.tool()
    def echo(text: str) -> str:
        """Return ``text``."""
        return text

    @server.tool()
    def explode(text: str) -> str:
        """Raise ``RuntimeError`` (the message does not repeat ``text``)."""
        raise RuntimeError(EXPLODE_MESSAGE)

    @server.tool()
    async def logged(text: str, ctx: Context) -> str:  # type: ignore[type-arg]
        """Log a warning through Python ``logging``, send a log notification (server → client), return."""
        logging.getLogger(LOGGER_NAME).warning(PYTHON_LOG_TEXT)
        with warnings.catch_warnings():  # mcp 2.3: the logging capability is deprecated (SEP-2577)
            warnings.simplefilter("ignore")
            await ctx.info(LOG_TEXT)
        return "logged"

    @server.tool()
    def capture(text: str) -> str:
        """Capture an exception with the Sentry SDK directly (inside the MCP handler) and return."""
        import sentry_sdk

        try:
            raise LookupError(CAPTURED_MESSAGE)
        except LookupError as exc:
            sentry_sdk.capture_exception(exc)
        return "captured"

    @server.tool()
    def capture_in_span(text: str) -> str:
        """In span streaming mode: start a Sentry span of the tool's own, capture an exception inside it."""
        import sentry_sdk.traces

        with sentry_sdk.traces.start_span(name="own work"):
            try:
                raise LookupError(CAPTURED_MESSAGE)
            except LookupError as exc:
                sentry_sdk.capture_exception(exc)
        return "captured"

    return server


def build_crash_server() -> Any:
    """A lowlevel server (1.x decorators, 2.x ``on_*`` handlers) whose ``prompts/get`` raises RuntimeError.

    Run with ``raise_exceptions=True``, the exception leaves ``Server.run`` and ends the session (a crash).
    """
    import mcp.types as types
    from mcp.server.lowlevel import Server

    if not IS_MCP1:

        async def on_list_prompts(ctx: Any, params: Any) -> Any:
            return types.ListPromptsResult(prompts=[types.Prompt(name="crash")])

        async def on_get_prompt(ctx: Any, params: Any) -> Any:
            raise RuntimeError(EXPLODE_MESSAGE)

        return Server("sentry-crash", on_list_prompts=on_list_prompts, on_get_prompt=on_get_prompt)

    server: Any = Server("sentry-crash")

    @server.list_prompts()  # type: ignore[misc]
    async def list_prompts() -> list[types.Prompt]:
        return [types.Prompt(name="crash")]

    @server.get_prompt()  # type: ignore[misc]
    async def get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        raise RuntimeError(EXPLODE_MESSAGE)

    return server


def init_sentry(
    dsn: str,
    *,
    pii: bool,
    sentry_mcp: bool,
    mode: str,
    ignore: str | None,
    lifecycle: str | None = None,
    logs: bool = False,
) -> None:
    """``sentry_sdk.init`` the way the docs recommend (plus the test switches)."""
    import sentry_sdk

    options: dict[str, Any] = {
        "dsn": dsn,
        "release": RELEASE,
        "environment": ENVIRONMENT,
        "traces_sample_rate": 1.0,
        "send_default_pii": pii,
    }
    if not sentry_mcp:
        from sentry_sdk.integrations.mcp import MCPIntegration

        options["disabled_integrations"] = [MCPIntegration()]
    if mode == "otlp":
        from sentry_sdk.integrations.otlp import OTLPIntegration

        options["integrations"] = [OTLPIntegration()]
    if ignore:
        options["ignore_errors"] = [ignore]
    if lifecycle:
        options["trace_lifecycle"] = lifecycle
    if logs:
        options["enable_logs"] = True
    sentry_sdk.init(**options)


@contextlib.asynccontextmanager
async def connect(transport: str, dsn: str | None, env: dict[str, str] | None = None) -> AsyncIterator[Any]:
    """An initialized client session (``support.harness.Conn``) to this server over ``transport``.

    In-process transports build the server here (Sentry is whatever the test process set up); ``stdio`` runs
    this file as a subprocess that sends to ``dsn``, with ``env`` added to its environment.
    """
    from support.harness import ServerSpec, open_client

    spec = ServerSpec(build_server, Path(__file__).resolve())
    server_env = {"SENTRY_TEST_DSN": dsn or "", **(env or {})}
    with tempfile.TemporaryDirectory() as tmp:
        async with open_client(
            transport, spec, tmp_path=Path(tmp), env=server_env, instrument_subprocess=False
        ) as conn:
            yield conn


def main() -> None:
    import anyio

    import mcp_otel.sentry
    from mcp_otel import McpInstrumentor

    mode = os.environ.get("SENTRY_TEST_MODE", "native")
    init_sentry(
        os.environ["SENTRY_TEST_DSN"],
        pii=os.environ.get("SENTRY_TEST_PII") == "1",
        sentry_mcp=os.environ.get("SENTRY_TEST_SENTRY_MCP", "1") != "0",
        mode=mode,
        ignore=os.environ.get("SENTRY_TEST_IGNORE") or None,
        lifecycle=os.environ.get("SENTRY_TEST_LIFECYCLE") or None,
        logs=os.environ.get("SENTRY_TEST_LOGS") == "1",
    )
    handle = mcp_otel.sentry.setup(
        otlp=mode == "otlp", client_spans=os.environ.get("SENTRY_TEST_CLIENT_SPANS") != "0"
    )
    McpInstrumentor().instrument(capture_content=handle.capture_content)

    if os.environ.get("SENTRY_TEST_SERVER") == "crash":
        from mcp.server.stdio import stdio_server

        lowlevel = build_crash_server()

        async def run() -> None:
            async with stdio_server() as (read, write):
                await lowlevel.run(
                    read, write, lowlevel.create_initialization_options(), raise_exceptions=True
                )

        with contextlib.suppress(BaseException):  # the crash is the point; exit so Sentry flushes
            anyio.run(run)
        return
    build_server().run("stdio")


if __name__ == "__main__":
    main()
