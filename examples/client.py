"""An instrumented MCP client calling the demo server (``examples/demo_server.py``) over stdio.

Both processes are traced into the same OTLP/HTTP backend, so one trace shows the client's CLIENT spans
and, under them, the server's SERVER spans (the trace context travels in each request's ``params._meta``)::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/client.py [--city Paris]

The client sets up telemetry with :mod:`otlp_setup`; the server runs under ``python -m mcp_otel.bootstrap
--otlp`` with the same endpoint. Works on mcp 1.x (``ClientSession``) and 2.x (``Client``). Prints the tool
results and the trace id. Needs ``pip install mcp-otel[instruments,sdk]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio
from opentelemetry import trace
from otlp_setup import endpoint, setup_telemetry

HERE = Path(__file__).resolve().parent


def server_parameters() -> Any:
    """How to start the demo server: under the mcp-otel bootstrap, exporting where this client exports."""
    from mcp import StdioServerParameters

    args = ["-m", "mcp_otel.bootstrap", "--otlp", endpoint(), "--service-name", "demo-weather", "--"]
    return StdioServerParameters(command=sys.executable, args=[*args, str(HERE / "demo_server.py")])


async def run(city: str) -> list[str]:
    """Call the demo server's ``add`` and ``forecast`` tools; return the texts they answered."""
    from mcp.client.stdio import stdio_client

    params = server_parameters()
    calls = [("add", {"a": 2, "b": 3}), ("forecast", {"city": city})]
    answers: list[str] = []
    try:  # mcp 2.x
        from mcp import Client  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # mcp 1.x
        from mcp import ClientSession

        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for name, arguments in calls:
                result = await session.call_tool(name, arguments)
                answers.append(str(result.content[0].text))
        return answers
    async with Client(stdio_client(params), mode="legacy") as client:
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            answers.append(str(result.content[0].text))
    return answers


def main(argv: list[str] | None = None) -> None:
    """Parse ``--city``, call the server under a root span, flush the spans, print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", default="Paris", help="city for the forecast tool (default: Paris)")
    args = parser.parse_args(argv)

    telemetry = setup_telemetry("demo-client")
    try:
        with trace.get_tracer("examples.client").start_as_current_span("client example") as span:
            added, forecast = anyio.run(run, args.city)
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        telemetry.shutdown()
    print(f"add(2, 3) = {added}")
    print(f"forecast({args.city}) = {forecast}")
    print(f"exported trace {trace_id} to {endpoint()}")


if __name__ == "__main__":
    main()
