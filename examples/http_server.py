"""The demo server (``examples/demo_server.py``) over streamable HTTP, under uvicorn, instrumented in code.

::

    export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318
    python examples/http_server.py [--port 8000] [--stateless]

Serves MCP at ``http://127.0.0.1:PORT/mcp`` (stateful sessions, ``Mcp-Session-Id``, unless ``--stateless``)
until interrupted (Ctrl-C / SIGTERM), then flushes its telemetry. Each request gets a SERVER span with the
session id (``mcp.session.id`` and ``session.id``), the peer address and the HTTP protocol version; telemetry
is set up by :mod:`otlp_setup` (OTLP/HTTP, configured by the standard ``OTEL_*`` variables). Works on mcp 1.x
(``FastMCP``) and 2.x (``MCPServer``). Needs ``pip install mcp-otel[instruments,sdk] uvicorn``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from otlp_setup import setup_telemetry

HOST = "127.0.0.1"
PATH = "/mcp"


def build_app(stateless: bool = False) -> Any:
    """The demo server's streamable-HTTP ASGI app (build it after :func:`otlp_setup.setup_telemetry`)."""
    from demo_server import build_server

    server = build_server()
    if stateless:
        try:  # mcp 2.x
            return server.streamable_http_app(stateless_http=True)
        except TypeError:  # mcp 1.x: a server setting
            server.settings.stateless_http = True
    return server.streamable_http_app()


def _exit(signum: int, frame: Any) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted, then flush the spans and metric points."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (default: 8000)")
    parser.add_argument("--stateless", action="store_true", help="no MCP sessions (one request each)")
    args = parser.parse_args(argv)

    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal: exit normally so the
    # telemetry is flushed below instead of the process dying of the signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit)
    telemetry = setup_telemetry("demo-weather-http")
    try:
        app = build_app(args.stateless)
        print(f"serving MCP at http://{HOST}:{args.port}{PATH}", flush=True)
        uvicorn.run(app, host=HOST, port=args.port, log_level="warning")
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
