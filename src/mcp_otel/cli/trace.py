"""``mcp-otel trace``: run any stdio MCP server command instrumented, explore it as an instrumented client
(every list method it has the capability for, optionally one tool call) and print the spans as a tree."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from mcp_otel.cli.client_session import client_telemetry, run_session
from mcp_otel.cli.errors import DemoError, TraceError
from mcp_otel.cli.stdio_client import connect, first_text, is_error, mcp_major_version
from mcp_otel.version import __version__

__all__ = ["TRACE_CLIENT_NAME", "TRACE_CLIENT_SERVICE", "TRACE_ROOT_SPAN", "run_trace"]

TRACE_ROOT_SPAN = "mcp-otel trace"
"""Name of the client-side span that encloses a ``mcp-otel trace`` session."""

TRACE_CLIENT_NAME = "mcp-otel-trace"
"""``clientInfo.name`` that ``mcp-otel trace`` sends in ``initialize``."""

TRACE_CLIENT_SERVICE = "mcp-otel-trace-client"
"""``service.name`` of the ``mcp-otel trace`` client."""

_METHOD_NOT_FOUND = -32601


def _capabilities(client: Any) -> Any:
    """The server's ``ServerCapabilities`` (mcp 2.x ``Client.server_capabilities``, 1.x session getter)."""
    getter = getattr(client, "get_server_capabilities", None)
    return getter() if callable(getter) else getattr(client, "server_capabilities", None)


async def _explore(
    params: Any, errlog: TextIO, call: tuple[str, dict[str, Any]] | None
) -> tuple[str, list[str], Any]:
    """Initialize, run every list method the server has the capability for, call the tool if asked.

    Returns the protocol version, one summary line per request and the tool result (``None`` without
    ``call``).
    """
    from mcp.types import Implementation

    client_info = Implementation(name=TRACE_CLIENT_NAME, version=__version__)
    lines: list[str] = []
    result: Any = None
    async with connect(params, errlog, client_info) as (client, protocol_version):
        caps = _capabilities(client)
        lists = (
            ("tools/list", "tools", "list_tools", "tools", "name"),
            ("prompts/list", "prompts", "list_prompts", "prompts", "name"),
            ("resources/list", "resources", "list_resources", "resources", "uri"),
            ("resources/templates/list", "resources", "list_resource_templates", "resourceTemplates", "uri"),
        )
        for method, capability, function, field, label in lists:
            if caps is not None and getattr(caps, capability, None) is None:
                lines.append(f"{method}: skipped (no {capability} capability)")
                continue
            try:
                listed = await getattr(client, function)()
            except Exception as exc:  # a capability advertised without its handler (mcp 1.x lowlevel)
                if getattr(getattr(exc, "error", None), "code", None) != _METHOD_NOT_FOUND:
                    raise
                lines.append(f"{method}: skipped (method not found)")
                continue
            items = getattr(listed, field, None)
            if items is None:
                items = getattr(listed, "resource_templates", None) or []
            names = [_label(item, label) for item in items]
            lines.append(f"{method}: {len(items)}" + (f" ({', '.join(names)})" if names else ""))
        if call is not None:
            name, arguments = call
            result = await client.call_tool(name, arguments)
            status = "isError" if is_error(result) else "ok"
            lines.append(f"tools/call {name}: {status}: {first_text(result)[:200]}")
    return protocol_version, lines, result


def _label(item: Any, field: str) -> str:
    """How a listed item is shown: its name, or its URI (template) for resources."""
    for key in (field, "uri_template", "uriTemplate", "name"):
        value = getattr(item, key, None)
        if value is not None:
            return str(value)
    return "?"


def run_trace(
    command: Sequence[str],
    *,
    otlp: str | None = None,
    call: str | None = None,
    arguments: str | None = None,
    timeout: float = 60.0,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run ``command`` (a stdio MCP server) under mcp-otel, explore it as a client, print the span tree.

    Every Python process the command starts is instrumented (:mod:`mcp_otel.autostart`). When none of them
    could load mcp-otel (not a Python server, or one in an environment without mcp-otel) a line on stderr
    says so and only the client's spans are shown.

    Args:
        command: the server command and its arguments, run as given.
        otlp: export both processes' spans to this OTLP/HTTP endpoint instead of printing the tree.
        call: a tool to call after listing.
        arguments: the tool's arguments, a JSON object (default ``{}``).
        timeout: limit in seconds for starting the server and all requests.
        verbose: also print the server's stderr.
        out: where to print (default ``sys.stdout``).

    Returns:
        0 on success (also when the tool answered with an ``isError`` result).

    Raises:
        TraceError: bad arguments, the server did not start, a request failed, ``timeout`` passed, or the
            OTLP export failed.
    """
    from mcp import StdioServerParameters

    from mcp_otel.autostart import command_env, read_processes
    from mcp_otel.bootstrap import BootstrapError
    from mcp_otel.runner import with_this_python
    from mcp_otel.spanfile import read_log_records, read_spans

    out = sys.stdout if out is None else out
    tool_call: tuple[str, dict[str, Any]] | None = None
    if arguments is not None and call is None:
        raise TraceError("--args needs --call TOOL")
    if call is not None:
        try:
            parsed = json.loads(arguments) if arguments is not None else {}
        except ValueError as exc:
            raise TraceError(f"--args is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise TraceError("--args must be a JSON object, e.g. '{\"a\": 2}'")
        tool_call = (call, parsed)
    try:
        mcp_major_version()
    except DemoError as exc:
        raise TraceError(str(exc)) from exc
    try:
        telemetry = client_telemetry(otlp, TRACE_CLIENT_SERVICE)
    except DemoError as exc:
        raise TraceError(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="mcp-otel-trace-") as tmp:
        spans_file = Path(tmp) / "server-spans.jsonl"
        processes_file = Path(tmp) / "processes.jsonl"
        try:
            env = command_env(
                os.environ,
                spans_file=None if otlp is not None else spans_file,
                otlp=otlp,
                processes_file=processes_file,
            )
        except BootstrapError as exc:
            raise TraceError(str(exc)) from exc
        argv = with_this_python(command)
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env)

        (protocol_version, lines, _), trace_id, server_log = run_session(
            telemetry,
            partial(_explore, params, call=tool_call),
            root_span=TRACE_ROOT_SPAN,
            timeout=timeout,
            error=TraceError,
            failure="a request failed",
        )
        traced = _report_processes(read_processes(processes_file), command)

        shown = " ".join(command)
        header = (
            f"mcp-otel trace: mcp {importlib.metadata.version('mcp')}, protocol {protocol_version}, {shown}"
        )
        print(header, file=out)
        for line in lines:
            print(f"  {line}", file=out)
        if telemetry.memory is None:
            print(f"exported the spans of trace {trace_id} to {otlp}", file=out)
        else:
            server_spans = list(read_spans(spans_file)) if traced else []
            server_logs = list(read_log_records(spans_file)) if traced else []
            counts, tree = telemetry.span_tree(server_spans, server_logs)
            print(f"{counts}\n", file=out)
            print(tree, end="", file=out)
        if verbose:
            print(f"\nserver stderr:\n{server_log}", file=out)
    return 0


def _report_processes(processes: list[dict[str, Any]], command: Sequence[str]) -> bool:
    """Say on stderr which processes of ``command`` sent no spans; return whether any was instrumented."""
    traced = any(p["status"] == "instrumented" for p in processes)
    for detail in dict.fromkeys(p["detail"] for p in processes if p["status"] == "failed"):
        print(f"mcp-otel trace: {detail}: no spans from that process", file=sys.stderr)
    missing = [p["detail"] for p in processes if p["status"] == "missing"]
    if not traced and missing:  # the server is the last one (build back-ends, launchers come first)
        print(
            f"mcp-otel trace: {missing[-1]}: only the client's spans are shown; install 'mcp-otel[sdk]' "
            "into that environment (e.g. uvx --with 'mcp-otel[sdk]' ...)",
            file=sys.stderr,
        )
    elif not traced:
        print(
            f"mcp-otel trace: no process of {command[0]} loaded mcp-otel (not a Python server, or one "
            "without mcp-otel in its environment): only the client's spans are shown",
            file=sys.stderr,
        )
    return traced
