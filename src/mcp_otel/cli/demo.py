"""``mcp-otel demo``: run the example server instrumented, drive it with the instrumented MCP client, and
print the spans of both processes as a tree (or export them over OTLP)."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from mcp_otel.cli.client_session import client_telemetry, run_session
from mcp_otel.cli.errors import DemoError
from mcp_otel.cli.stdio_client import connect, first_text, is_error, mcp_major_version
from mcp_otel.version import __version__

__all__ = [
    "DEMO_CLIENT_NAME",
    "DEMO_CLIENT_SERVICE",
    "DEMO_ROOT_SPAN",
    "DEMO_SERVER_SERVICE",
    "find_demo_server",
    "run_demo",
]

DEMO_ROOT_SPAN = "mcp-otel demo"
"""Name of the client-side span that encloses the whole demo session."""

DEMO_CLIENT_NAME = "mcp-otel-demo"
"""``clientInfo.name`` the demo client sends in ``initialize`` (its version is the mcp-otel version)."""

DEMO_CLIENT_SERVICE = "mcp-otel-demo-client"
"""``service.name`` of the demo's client process."""

DEMO_SERVER_SERVICE = "mcp-otel-demo-server"
"""``service.name`` of the demo's server process."""

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mcp_otel/


def find_demo_server() -> Path | None:
    """Return ``examples/demo_server.py`` of the mcp-otel source tree this module runs from, else the copy
    installed with the package (``mcp_otel/demo_server.py`` in the wheel), else ``examples/demo_server.py``
    under the current directory, or ``None`` when none exists."""
    for candidate in (
        _PACKAGE_DIR.parent.parent / "examples" / "demo_server.py",
        _PACKAGE_DIR / "demo_server.py",
        Path.cwd() / "examples" / "demo_server.py",
    ):
        if candidate.is_file():
            return candidate
    return None


async def _drive(params: Any, errlog: TextIO) -> str:
    """Run the demo requests against the server and check their results (raises :class:`DemoError`).

    Returns the negotiated protocol version.
    """
    from mcp.types import Implementation

    client_info = Implementation(name=DEMO_CLIENT_NAME, version=__version__)
    async with connect(params, errlog, client_info) as (client, protocol_version):
        tools = {tool.name for tool in (await client.list_tools()).tools}
        if not {"add", "fail"} <= tools:
            raise DemoError(
                f"the server does not offer the demo tools add and fail (it has: {sorted(tools)})"
            )
        added = await client.call_tool("add", {"a": 2, "b": 3})
        if is_error(added) or first_text(added) != "5":
            raise DemoError(f"tools/call add returned {added!r}, expected 5")
        failed = await client.call_tool("fail", {"reason": "demo"})
        if not is_error(failed):
            raise DemoError(f"tools/call fail returned {failed!r}, expected an isError result")
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        if not prompt.messages:
            raise DemoError("prompts/get greet returned no messages")
        resource = await client.read_resource("demo://info")
        if not first_text(resource):
            raise DemoError("resources/read demo://info returned no text")
    return protocol_version


def run_demo(
    server: Path | None = None,
    *,
    otlp: str | None = None,
    timeout: float = 60.0,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run the demo: start the server instrumented (:mod:`mcp_otel.autostart`), drive it, print the span tree.

    Args:
        server: the server script (default: :func:`find_demo_server`); it must offer the demo server's tools
            ``add`` and ``fail``, prompt ``greet`` and resource ``demo://info``.
        otlp: export both processes' spans to this OTLP/HTTP endpoint instead of printing the tree.
        timeout: limit in seconds for starting the server and all requests.
        verbose: also print the server's stderr after the tree.
        out: where to print (default ``sys.stdout``).

    Returns:
        0 on success.

    Raises:
        DemoError: when the server is missing, cannot start, a request fails or returns an unexpected
            result, ``timeout`` passes, or the OTLP export fails; the server's stderr tail is part of the
            message where useful.
    """
    from mcp import StdioServerParameters

    from mcp_otel.autostart import command_env
    from mcp_otel.spanfile import read_log_records, read_spans

    out = sys.stdout if out is None else out
    server = server if server is not None else find_demo_server()
    if server is None:
        raise DemoError("cannot find the demo server (reinstall mcp-otel or pass --server PATH)")
    if not server.is_file():
        raise DemoError(f"server script not found: {server}")
    mcp_major_version()  # raises DemoError when mcp is missing
    mcp_version = importlib.metadata.version("mcp")
    try:
        from mcp_otel import McpInstrumentor  # noqa: F401  (run_session enables it: fail early and clearly)
    except ImportError as exc:
        raise DemoError(f"cannot import mcp_otel.McpInstrumentor: {exc}") from exc

    telemetry = client_telemetry(otlp, DEMO_CLIENT_SERVICE)
    with tempfile.TemporaryDirectory(prefix="mcp-otel-demo-") as tmp:
        spans_file = Path(tmp) / "server-spans.jsonl"
        env = command_env(
            os.environ,
            spans_file=None if otlp is not None else spans_file,
            otlp=otlp,
            service_name=DEMO_SERVER_SERVICE,
        )
        params = StdioServerParameters(command=sys.executable, args=[str(server)], env=env)

        protocol_version, trace_id, server_log = run_session(
            telemetry,
            partial(_drive, params),
            root_span=DEMO_ROOT_SPAN,
            timeout=timeout,
            error=DemoError,
            failure="the session failed",
        )

        header = (
            f"mcp-otel demo: mcp {mcp_version}, protocol {protocol_version}, transport stdio, server {server}"
        )
        if telemetry.memory is None:
            print(f"{header}\nexported the spans of trace {trace_id} to {otlp}", file=out)
            print(f"  services: {DEMO_CLIENT_SERVICE} (client), {DEMO_SERVER_SERVICE} (server)", file=out)
        else:
            counts, tree = telemetry.span_tree(
                list(read_spans(spans_file)), list(read_log_records(spans_file))
            )
            print(f"{header}, {counts}\n", file=out)
            print(tree, end="", file=out)
        if verbose:
            print(f"\nserver stderr:\n{server_log}", file=out)
    return 0
