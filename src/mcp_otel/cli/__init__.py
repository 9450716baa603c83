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

The commands live in :mod:`mcp_otel.cli.demo`, :mod:`mcp_otel.cli.trace` and :mod:`mcp_otel.runner`; what
``demo`` and ``trace`` share (the stdio client, the client's telemetry and session) in
:mod:`mcp_otel.cli.stdio_client` and :mod:`mcp_otel.cli.client_session`; the options in
:mod:`mcp_otel.cli.arguments`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mcp_otel.cli.arguments import build_parser
from mcp_otel.cli.demo import (
    DEMO_CLIENT_NAME,
    DEMO_CLIENT_SERVICE,
    DEMO_ROOT_SPAN,
    DEMO_SERVER_SERVICE,
    find_demo_server,
    run_demo,
)
from mcp_otel.cli.errors import DemoError, TraceError
from mcp_otel.cli.stdio_client import mcp_major_version
from mcp_otel.cli.trace import TRACE_CLIENT_NAME, TRACE_CLIENT_SERVICE, TRACE_ROOT_SPAN, run_trace

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
    parser = build_parser()
    args = parser.parse_args(argv)
    command = list(getattr(args, "server_command", None) or [])
    if command[:1] == ["--"]:
        command = command[1:]
    if args.command in ("trace", "run") and not command:
        parser.error(f"{args.command}: give the server command after '--', e.g. -- python server.py")
    if args.command == "run":
        from mcp_otel.runner import run_instrumented

        return run_instrumented(
            command, otlp=args.otlp, spans_file=args.spans_file, service_name=args.service_name
        )
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
