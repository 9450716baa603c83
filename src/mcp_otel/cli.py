"""The ``mcp-otel`` command line.

``mcp-otel demo [--server PATH] [--otlp URL] [--timeout SECONDS] [--verbose]`` starts the example server
(``examples/demo_server.py``, shipped in the wheel as ``mcp_otel/demo_server.py``) as a real stdio
subprocess with mcp-otel's ``sitecustomize`` (:mod:`mcp_otel.autostart`), drives it with the official MCP
client (initialize, ``tools/list``, ``tools/call add``, ``tools/call fail``, ``prompts/get greet``,
``resources/read demo://info``) while the client process is instrumented too, then prints the spans of both
processes as a tree (:func:`mcp_otel.tree.render_tree`), or exports them to an OTLP/HTTP endpoint with
``--otlp``.

``mcp-otel trace [--otlp URL] [--call TOOL [--args JSON]] [--timeout SECONDS] [--verbose] -- COMMAND...``
runs any stdio MCP server command — every Python process it starts (console scripts, ``python -m``,
``uv run``, shell wrappers, their children) is instrumented through the same ``sitecustomize``; a command
that starts none shows only the client's spans — connects to it as an instrumented client, performs
``initialize`` and every list method the server has the capability for (``tools/list``, ``prompts/list``,
``resources/list``, ``resources/templates/list``), optionally calls one tool, and prints the trace tree the
same way (:func:`run_trace`).

``mcp-otel run [--otlp URL | --spans-file PATH] [--service-name NAME] -- COMMAND...`` execs the command
with that environment, for production (:mod:`mcp_otel.runner`).

With ``--otlp``, a failed export makes ``demo`` and ``trace`` exit with status 1 and one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from mcp_otel.version import __version__

__all__ = [
    "TRACE_CLIENT_NAME",
    "TRACE_CLIENT_SERVICE",
    "TRACE_ROOT_SPAN",
    "TraceError",
    "run_trace",
    "DEMO_CLIENT_NAME",
    "DEMO_CLIENT_SERVICE",
    "DEMO_ROOT_SPAN",
    "DEMO_SERVER_SERVICE",
    "DemoError",
    "find_demo_server",
    "main",
    "mcp_major_version",
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

TRACE_ROOT_SPAN = "mcp-otel trace"
"""Name of the client-side span that encloses a ``mcp-otel trace`` session."""

TRACE_CLIENT_NAME = "mcp-otel-trace"
"""``clientInfo.name`` that ``mcp-otel trace`` sends in ``initialize``."""

TRACE_CLIENT_SERVICE = "mcp-otel-trace-client"
"""``service.name`` of the ``mcp-otel trace`` client."""

_PACKAGE_DIR = Path(__file__).resolve().parent
_STDERR_TAIL_LINES = 30


class DemoError(Exception):
    """The demo could not run: server not found or failed to start, a call failed or returned a wrong
    result, or the time limit passed. The message says which."""


class TraceError(Exception):
    """``mcp-otel trace`` could not run: bad arguments, the server did not start, a request failed or the
    time limit passed. The message says which."""


def mcp_major_version() -> int:
    """Return the major version of the installed ``mcp`` distribution (1 or 2).

    Raises:
        DemoError: when ``mcp`` is not installed.
    """
    try:
        return int(importlib.metadata.version("mcp").split(".")[0])
    except importlib.metadata.PackageNotFoundError as exc:
        raise DemoError("the demo needs the mcp package: pip install 'mcp-otel[instruments]'") from exc


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


@asynccontextmanager
async def _connect(params: Any, errlog: TextIO, client_info: Any) -> AsyncIterator[tuple[Any, str]]:
    """Start the stdio server described by ``params``; yield an initialized client and the protocol version.

    The only place that depends on the mcp major version. Both yield an object with ``list_tools``,
    ``call_tool``, ``get_prompt`` and ``read_resource``: mcp 1.x a ``ClientSession`` on ``stdio_client``
    streams, initialized here; mcp 2.x a ``Client`` over the ``stdio_client`` transport in ``legacy`` mode
    (the ``initialize`` handshake rather than ``server/discover``), which initializes on entry.
    """
    from mcp.client.stdio import stdio_client

    if mcp_major_version() >= 2:
        from mcp import Client  # type: ignore[attr-defined,unused-ignore]  # mcp 2.x only

        async with Client(
            stdio_client(params, errlog=errlog), mode="legacy", client_info=client_info
        ) as client:
            yield client, str(client.protocol_version)
    else:
        from mcp import ClientSession

        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, client_info=client_info) as session,
        ):
            initialized: Any = await session.initialize()  # InitializeResult (1.x field names)
            yield session, str(initialized.protocolVersion)


def _is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


def _first_text(result: Any) -> str:
    for item in getattr(result, "content", None) or getattr(result, "contents", None) or ():
        text = getattr(item, "text", None)
        if text is not None:
            return str(text)
    return ""


async def _drive(params: Any, errlog: TextIO) -> str:
    """Run the demo requests against the server and check their results (raises :class:`DemoError`).

    Returns the negotiated protocol version.
    """
    from mcp.types import Implementation

    client_info = Implementation(name=DEMO_CLIENT_NAME, version=__version__)
    async with _connect(params, errlog, client_info) as (client, protocol_version):
        tools = {tool.name for tool in (await client.list_tools()).tools}
        if not {"add", "fail"} <= tools:
            raise DemoError(
                f"the server does not offer the demo tools add and fail (it has: {sorted(tools)})"
            )
        added = await client.call_tool("add", {"a": 2, "b": 3})
        if _is_error(added) or _first_text(added) != "5":
            raise DemoError(f"tools/call add returned {added!r}, expected 5")
        failed = await client.call_tool("fail", {"reason": "demo"})
        if not _is_error(failed):
            raise DemoError(f"tools/call fail returned {failed!r}, expected an isError result")
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        if not prompt.messages:
            raise DemoError("prompts/get greet returned no messages")
        resource = await client.read_resource("demo://info")
        if not _first_text(resource):
            raise DemoError("resources/read demo://info returned no text")
    return protocol_version


def _leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside ``exc`` (anyio wraps task failures in exception groups)."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or not inner or not isinstance(inner[0], BaseException):
            return exc
        exc = inner[0]


def _tail(log: IO[str]) -> str:
    log.flush()
    log.seek(0)
    lines = log.read().splitlines()[-_STDERR_TAIL_LINES:]
    return "\n".join("  | " + line for line in lines) if lines else "  (empty)"


@dataclass
class _ClientTelemetry:
    tracer_provider: Any
    meter_provider: Any
    memory: Any  # InMemorySpanExporter, or None when exporting over OTLP
    reporter: Any = None  # ExportFailureReporter when exporting over OTLP

    def shutdown(self, otlp: str | None, prog: str) -> str | None:
        """Flush and shut down; return the one-line span export failure (endpoint and reason), if any.

        A failed metric export alone (a traces-only backend such as Phoenix) is a warning on stderr.
        """
        try:
            self.tracer_provider.shutdown()
            self.meter_provider.shutdown()
        finally:
            if self.reporter is not None:
                self.reporter.uninstall()
        failures = {} if self.reporter is None else self.reporter.failures
        if "spans" in failures:
            return f"exporting the spans to {otlp} failed: {failures['spans']}"
        if "metrics" in failures:
            print(
                f"{prog}: warning: exporting the metrics to {otlp} failed (the spans were exported): "
                f"{failures['metrics']}",
                file=sys.stderr,
            )
        return None


def _client_telemetry(otlp: str | None, service_name: str = DEMO_CLIENT_SERVICE) -> _ClientTelemetry:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mcp_otel.autostart import ExportFailureReporter
    from mcp_otel.bootstrap import BootstrapError, create_telemetry

    if otlp is not None:
        try:
            telemetry = create_telemetry(otlp=otlp, service_name=service_name)
        except BootstrapError as exc:
            raise DemoError(str(exc)) from exc
        reporter = ExportFailureReporter(quiet=True).install()
        return _ClientTelemetry(telemetry.tracer_provider, telemetry.meter_provider, None, reporter)
    resource = Resource.create({SERVICE_NAME: service_name})
    tracer_provider = TracerProvider(resource=resource)
    memory = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    return _ClientTelemetry(tracer_provider, MeterProvider(resource=resource), memory)


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
    import anyio
    from mcp import StdioServerParameters
    from opentelemetry.trace import SpanKind

    from mcp_otel.autostart import command_env
    from mcp_otel.spanfile import read_spans, span_to_dict
    from mcp_otel.tree import render_tree

    out = sys.stdout if out is None else out
    server = server if server is not None else find_demo_server()
    if server is None:
        raise DemoError("cannot find the demo server (reinstall mcp-otel or pass --server PATH)")
    if not server.is_file():
        raise DemoError(f"server script not found: {server}")
    mcp_major_version()  # raises DemoError when mcp is missing
    mcp_version = importlib.metadata.version("mcp")
    try:
        from mcp_otel import McpInstrumentor
    except ImportError as exc:
        raise DemoError(f"cannot import mcp_otel.McpInstrumentor: {exc}") from exc

    telemetry = _client_telemetry(otlp)
    with tempfile.TemporaryDirectory(prefix="mcp-otel-demo-") as tmp:
        spans_file = Path(tmp) / "server-spans.jsonl"
        env = command_env(
            os.environ,
            spans_file=None if otlp is not None else spans_file,
            otlp=otlp,
            service_name=DEMO_SERVER_SERVICE,
        )
        params = StdioServerParameters(command=sys.executable, args=[str(server)], env=env)

        instrumentor = McpInstrumentor()
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        tracer = telemetry.tracer_provider.get_tracer("mcp_otel.cli", __version__)
        with (Path(tmp) / "server-stderr.log").open("w+", encoding="utf-8", errors="replace") as errlog:
            try:
                with tracer.start_as_current_span(DEMO_ROOT_SPAN, kind=SpanKind.INTERNAL) as root:
                    trace_id = format(root.get_span_context().trace_id, "032x")

                    async def session() -> str:
                        with anyio.fail_after(timeout):
                            return await _drive(params, errlog)

                    protocol_version = anyio.run(session)
            except Exception as exc:
                leaf = _leaf(exc)
                if isinstance(leaf, DemoError):
                    reason = str(leaf)
                elif isinstance(leaf, TimeoutError):
                    reason = f"no result within {timeout:g} s"
                else:
                    reason = (
                        f"the server did not start or the session failed: {str(leaf) or type(leaf).__name__}"
                    )
                raise DemoError(f"{reason}\nserver stderr:\n{_tail(errlog)}") from exc
            finally:
                instrumentor.uninstrument()
                export_failure = telemetry.shutdown(otlp, "mcp-otel demo")
            server_log = _tail(errlog)
        if export_failure is not None:
            raise DemoError(export_failure)

        header = (
            f"mcp-otel demo: mcp {mcp_version}, protocol {protocol_version}, transport stdio, server {server}"
        )
        if telemetry.memory is None:
            print(f"{header}\nexported the spans of trace {trace_id} to {otlp}", file=out)
            print(f"  services: {DEMO_CLIENT_SERVICE} (client), {DEMO_SERVER_SERVICE} (server)", file=out)
        else:
            server_spans = list(read_spans(spans_file))
            client_spans = [span_to_dict(span) for span in telemetry.memory.get_finished_spans()]
            counts = f"{len(server_spans)} server spans, {len(client_spans)} client spans"
            print(f"{header}, {counts}\n", file=out)
            print(render_tree([*client_spans, *server_spans]), end="", file=out)
        if verbose:
            print(f"\nserver stderr:\n{server_log}", file=out)
    return 0


# --- mcp-otel trace


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
    async with _connect(params, errlog, client_info) as (client, protocol_version):
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
            status = "isError" if _is_error(result) else "ok"
            lines.append(f"tools/call {name}: {status}: {_first_text(result)[:200]}")
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
    import anyio
    from mcp import StdioServerParameters
    from opentelemetry.trace import SpanKind

    from mcp_otel.autostart import command_env, read_processes
    from mcp_otel.bootstrap import BootstrapError
    from mcp_otel.runner import with_this_python
    from mcp_otel.spanfile import read_spans, span_to_dict
    from mcp_otel.tree import render_tree

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
    from mcp_otel import McpInstrumentor

    try:
        telemetry = _client_telemetry(otlp, TRACE_CLIENT_SERVICE)
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

        instrumentor = McpInstrumentor()
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        tracer = telemetry.tracer_provider.get_tracer("mcp_otel.cli", __version__)
        with (Path(tmp) / "server-stderr.log").open("w+", encoding="utf-8", errors="replace") as errlog:
            try:
                with tracer.start_as_current_span(TRACE_ROOT_SPAN, kind=SpanKind.INTERNAL) as root:
                    trace_id = format(root.get_span_context().trace_id, "032x")

                    async def session() -> tuple[str, list[str], Any]:
                        with anyio.fail_after(timeout):
                            return await _explore(params, errlog, tool_call)

                    protocol_version, lines, _ = anyio.run(session)
            except Exception as exc:
                leaf = _leaf(exc)
                if isinstance(leaf, TimeoutError):
                    reason = f"no result within {timeout:g} s"
                else:
                    reason = (
                        f"the server did not start or a request failed: {str(leaf) or type(leaf).__name__}"
                    )
                raise TraceError(f"{reason}\nserver stderr:\n{_tail(errlog)}") from exc
            finally:
                instrumentor.uninstrument()
                export_failure = telemetry.shutdown(otlp, "mcp-otel trace")
            server_log = _tail(errlog)
        if export_failure is not None:
            raise TraceError(export_failure)
        processes = read_processes(processes_file)
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
            client_spans = [span_to_dict(span) for span in telemetry.memory.get_finished_spans()]
            print(f"{len(server_spans)} server spans, {len(client_spans)} client spans\n", file=out)
            print(render_tree([*client_spans, *server_spans]), end="", file=out)
        if verbose:
            print(f"\nserver stderr:\n{server_log}", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-otel", description="OpenTelemetry for MCP servers and clients."
    )
    parser.add_argument("--version", action="version", version=f"mcp-otel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the example server over stdio, call it, print the spans of client and server",
        description="Start examples/demo_server.py as a stdio subprocess under mcp-otel, drive it with the "
        "MCP client (initialize, tools/list, tools/call add and fail, prompts/get, resources/read) and print "
        "the spans of both processes as a tree.",
    )
    demo.add_argument(
        "--server", type=Path, metavar="PATH", help="server script (default: examples/demo_server.py)"
    )
    demo.add_argument(
        "--otlp", metavar="URL", help="export the spans to this OTLP/HTTP endpoint instead of printing"
    )
    demo.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="time limit (default: 60)"
    )
    demo.add_argument("-v", "--verbose", action="store_true", help="also print the server's stderr")
    trace = commands.add_parser(
        "trace",
        help="run any stdio MCP server command, explore it as a client, print the spans",
        description="Run a stdio MCP server command under mcp-otel (a Python server under the bootstrap, "
        "anything else as it is), connect as an instrumented client, initialize, run every list method the "
        "server supports, optionally call one tool, and print the spans as a tree.",
        usage="mcp-otel trace [-h] [--otlp URL] [--call TOOL [--args JSON]] [--timeout SECONDS] [-v] "
        "-- COMMAND [ARG ...]",
    )
    trace.add_argument(
        "--otlp", metavar="URL", help="export the spans to this OTLP/HTTP endpoint instead of printing"
    )
    trace.add_argument("--call", metavar="TOOL", help="call this tool after listing")
    trace.add_argument("--args", metavar="JSON", help="the tool's arguments, a JSON object (default {})")
    trace.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="time limit (default: 60)"
    )
    trace.add_argument("-v", "--verbose", action="store_true", help="also print the server's stderr")
    trace.add_argument(
        "server_command", nargs=argparse.REMAINDER, metavar="COMMAND", help="the server command, after '--'"
    )
    run = commands.add_parser(
        "run",
        help="run a server command with all its Python processes instrumented (for MCP host configs)",
        description="Replace this process by COMMAND, with every Python process it starts instrumented "
        "before its code runs: same stdin/stdout/stderr, exit status and signals. Without --otlp or "
        "--spans-file the standard OTEL_* variables say where telemetry goes (OTLP/HTTP to "
        "localhost:4318 by default), as with opentelemetry-instrument.",
        usage="mcp-otel run [-h] [--otlp URL | --spans-file PATH] [--service-name NAME] -- COMMAND [ARG ...]",
    )
    destination = run.add_mutually_exclusive_group()
    destination.add_argument(
        "--otlp", metavar="URL", help="export spans and metrics to this OTLP/HTTP endpoint"
    )
    destination.add_argument("--spans-file", metavar="PATH", help="append spans to this JSON Lines file")
    run.add_argument("--service-name", metavar="NAME", help="service.name (default: the script's name)")
    run.add_argument(
        "server_command", nargs=argparse.REMAINDER, metavar="COMMAND", help="the server command, after '--'"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcp-otel`` console script.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 when the demo or the trace fails (the reason is printed on stderr);
        ``run`` does not return (the command replaces this process) unless the command cannot be started
        (127 not found, 126 not executable, 2 invalid ``--otlp``).

    Raises:
        SystemExit: status 2 for invalid arguments, 0 for ``--help``/``--version``.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command = list(getattr(args, "server_command", None) or [])
    if command[:1] == ["--"]:
        command = command[1:]
    if args.command in ("trace", "run") and not command:
        parser.error(f"{args.command}: give the server command after '--', e.g. -- python server.py")
    if args.command == "run":
        from mcp_otel.autostart import command_env
        from mcp_otel.runner import exec_command, with_this_python

        try:
            env = command_env(
                os.environ, spans_file=args.spans_file, otlp=args.otlp, service_name=args.service_name
            )
        except Exception as exc:  # BootstrapError: an invalid --otlp URL (or no SDK to check it with)
            print(f"mcp-otel run: error: {exc}", file=sys.stderr)
            return 2
        return exec_command(with_this_python(command), env)
    if args.command == "trace":
        try:
            return run_trace(
                command,
                otlp=args.otlp,
                call=args.call,
                arguments=args.args,
                timeout=args.timeout,
                verbose=args.verbose,
            )
        except TraceError as exc:
            print(f"mcp-otel trace: error: {exc}", file=sys.stderr)
            return 1
    if args.command == "demo":
        try:
            return run_demo(args.server, otlp=args.otlp, timeout=args.timeout, verbose=args.verbose)
        except DemoError as exc:
            print(f"mcp-otel demo: error: {exc}", file=sys.stderr)
            return 1
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
