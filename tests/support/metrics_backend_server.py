"""An instrumented MCP server that Prometheus scrapes: ``opentelemetry-exporter-prometheus`` on 127.0.0.1.

``python tests/metrics_backend_server.py --metrics-port-file F stdio`` serves MCP on stdin/stdout;
``... --metrics-port-file F http`` serves stateful streamable HTTP at ``http://127.0.0.1:PORT/mcp`` and prints
``ready PORT`` once it listens. The metrics endpoint and the HTTP server bind port 0 (no port is picked in
advance, so no other process can take it first); the metrics port is written to ``F`` (atomically) before MCP
is served. Both record ``mcp.client.name`` on the server's metrics (``metrics_client_name=True``).

Tools: ``file_search`` (sleeps ``delay_ms``, so the test knows the durations it caused), ``calculator``
(adds), ``subtract`` (always raises: a tool error), on mcp >= 2.3 ``approve`` (a multi-round-trip call: it
asks the client to confirm until round ``rounds``); resource ``docs://readme``; a completion handler that
answers argument ``code`` with the JSON-RPC error of that code (protocol errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

import anyio  # noqa: E402
from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from prometheus_client import start_http_server  # noqa: E402

from mcp_otel import McpInstrumentor  # noqa: E402

try:  # mcp >= 2.3: multi-round-trip requests (the tool's annotations are resolved in this module)
    from mcp.server.mcpserver import Context
    from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult

    MULTI_ROUND = True
except ImportError:
    MULTI_ROUND = False

SERVER_NAME = "metrics-demo"
README_URI = "docs://readme"
ERROR_ARGUMENT = "code"


def build_server() -> Any:
    """FastMCP (mcp 1.x) or MCPServer (2.x) with the tools, resource and completion handler above."""
    from support.compat import IS_MCP1, mcp_error

    if IS_MCP1:
        from mcp.server.fastmcp import FastMCP

        server: Any = FastMCP(SERVER_NAME)
    else:
        from mcp.server.mcpserver import MCPServer

        server = MCPServer(SERVER_NAME)

    @server.tool()
    async def file_search(query: str, delay_ms: int = 0) -> str:
        """Pretend to search files; takes ``delay_ms`` milliseconds."""
        await anyio.sleep(delay_ms / 1000)
        return f"found {query}"

    @server.tool()
    def calculator(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def subtract(a: int, b: int) -> int:
        """Broken on purpose: always fails (a tool error)."""
        raise ValueError("subtract is broken")

    if MULTI_ROUND:

        @server.tool()
        async def approve(rounds: int, ctx: Context[Any, Any]) -> str | InputRequiredResult:
            """Asks the client to confirm, once per round, until round ``rounds``."""
            done = int(ctx.request_state or 0)
            if done + 1 >= rounds:
                return f"approved after {rounds} rounds"
            schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            form = ElicitRequestFormParams(message="approve?", requested_schema=schema)
            requests = {"ok": ElicitRequest(params=form)}
            return InputRequiredResult(input_requests=requests, request_state=str(done + 1))

    @server.resource(README_URI)
    def readme() -> str:
        """Static text."""
        return "read me"

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any = None) -> Any:
        if argument.name == ERROR_ARGUMENT:
            raise mcp_error(int(argument.value), f"completion asked for {argument.value}")
        return None

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics-port-file", type=Path, required=True)
    parser.add_argument("transport", choices=("stdio", "http"))
    args = parser.parse_args()

    metrics_server, _ = start_http_server(0, addr="127.0.0.1")
    staged = args.metrics_port_file.with_suffix(".tmp")
    staged.write_text(str(metrics_server.server_address[1]))
    staged.replace(args.metrics_port_file)
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    McpInstrumentor().instrument(meter_provider=meter_provider, metrics_client_name=True)
    server = build_server()
    if args.transport == "stdio":
        server.run("stdio")
        return

    import uvicorn

    from support.harness import http_app

    app, _ = http_app(server, "http")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    uvicorn_server = uvicorn.Server(config)

    async def serve() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(uvicorn_server.serve)
            while not uvicorn_server.started:
                await anyio.sleep(0.02)
            port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
            print(f"ready {port}", flush=True)

    anyio.run(serve)


if __name__ == "__main__":
    main()
