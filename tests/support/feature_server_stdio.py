"""Run the feature server over stdio, instrumented, writing its spans and metric points to files.

``python tests/support/feature_server_stdio.py --spans SPANS.jsonl --metrics METRICS.json``: spans and log
records are appended as they end (JSON Lines, ``mcp_otel.spanfile``); metric points are written when the
server stops (stdin closed) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

from mcp_otel import McpInstrumentor  # noqa: E402
from mcp_otel.spanfile import JsonLinesLogExporter, JsonLinesSpanExporter  # noqa: E402


def main(build_server: Callable[[], Any] | None = None) -> None:
    """Serve ``build_server()`` (default: the feature server) over stdio until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(args.spans)))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(JsonLinesLogExporter(args.spans)))
    McpInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
    )

    from support.feature_server import build_server as build_feature_server
    from support.metrics import metric_points

    written = False

    def dump(*_: Any) -> None:
        nonlocal written
        if written:
            return
        written = True
        points = metric_points(reader)
        Path(args.metrics).write_text(json.dumps(points))

    def on_term(*_: Any) -> None:
        dump()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    server = (build_server or build_feature_server)()
    try:
        server.run("stdio")
    finally:
        dump()


if __name__ == "__main__":
    main()
