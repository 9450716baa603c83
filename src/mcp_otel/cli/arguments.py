"""The ``mcp-otel`` argument parser: the ``demo``, ``trace`` and ``run`` commands and their options."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcp_otel.version import __version__

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``mcp-otel [--version] COMMAND ...``; the chosen command is ``args.command``, and the
    server command of ``trace`` and ``run`` is ``args.server_command`` (possibly starting with ``--``)."""
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
