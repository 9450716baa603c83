"""OpenTelemetry SDK setup for an MCP server or client: traces and metrics over OTLP/HTTP, then mcp-otel.

Import it first thing in your program (``examples/http_server.py`` and ``examples/client.py`` do)::

    from otlp_setup import setup_telemetry

    telemetry = setup_telemetry("weather-mcp")  # before building MCP servers or sessions
    ...
    telemetry.shutdown()  # flush at exit

The endpoint comes from the standard variables, read by the OTLP exporters themselves:
``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4318``; ``/v1/traces`` and ``/v1/metrics`` are
appended) or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, plus
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``. mcp-otel's own options are
``OTEL_INSTRUMENTATION_MCP_*`` variables (see the README's configuration table).

Run on its own, it sends the spans of one in-memory call of the demo server (``examples/demo_server.py``)::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/otlp_setup.py

Needs ``pip install mcp-otel[instruments,sdk]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcp_otel import McpInstrumentor

DEFAULT_ENDPOINT = "http://localhost:4318"


@dataclass
class Telemetry:
    """The providers :func:`setup_telemetry` installed."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        """Flush pending spans and metric points, then shut the providers down."""
        McpInstrumentor().uninstrument()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def endpoint() -> str:
    """The OTLP/HTTP base endpoint in use (``OTEL_EXPORTER_OTLP_ENDPOINT`` or the default)."""
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_ENDPOINT)


def setup_telemetry(service_name: str = "mcp-server") -> Telemetry:
    """Install global SDK providers exporting over OTLP/HTTP and instrument MCP with them.

    Args:
        service_name: ``service.name``, unless ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` set one.
    """
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint from the env
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    McpInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return Telemetry(tracer_provider, meter_provider)


async def _call_demo_in_memory() -> str:
    """One ``tools/call add`` against the demo server, in the same process (mcp 1.x and 2.x)."""
    from demo_server import build_server

    server = build_server()  # after setup_telemetry(): servers are built instrumented
    try:  # mcp 2.x
        from mcp import Client  # type: ignore[attr-defined,unused-ignore]

        async with Client(server) as client:
            result = await client.call_tool("add", {"a": 2, "b": 3})
    except ImportError:  # mcp 1.x
        from mcp.shared.memory import create_connected_server_and_client_session

        lowlevel = getattr(server, "_mcp_server", server)  # mcp 1.15 takes the lowlevel Server only
        async with create_connected_server_and_client_session(lowlevel) as session:
            result = await session.call_tool("add", {"a": 2, "b": 3})
    return str(result.content[0].text)


def main() -> None:
    """Set up telemetry, make one in-memory call to the demo server, flush, say where the spans went."""
    import anyio

    telemetry = setup_telemetry("mcp-otel-example")
    try:
        tracer = trace.get_tracer("examples.otlp_setup")
        with tracer.start_as_current_span("otlp_setup example") as span:
            answer = anyio.run(_call_demo_in_memory)
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        telemetry.shutdown()
    print(f"add(2, 3) = {answer}")
    print(f"exported trace {trace_id} to {endpoint()}")


if __name__ == "__main__":
    main()
