"""A minimal OTLP/HTTP receiver for tests: ``http.server`` on 127.0.0.1 and the opentelemetry-proto decoder.

``OtlpReceiver`` accepts ``POST /v1/traces``, ``POST /v1/metrics`` and ``POST /v1/logs`` (protobuf bodies, as
the ``opentelemetry-exporter-otlp-proto-http`` exporters send them), keeps every body and answers ``200``.
:meth:`OtlpReceiver.spans` and :meth:`OtlpReceiver.log_records` decode the trace and log exports into plain
dicts for assertions;
:func:`running_receiver` starts one on a free port and stops it afterwards. Point a process at it with
``OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.traces_url``).
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
LOGS_PATH = "/v1/logs"
KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class _Handler(http.server.BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.posts.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class OtlpReceiver(http.server.ThreadingHTTPServer):
    """Keeps every OTLP/HTTP export request it gets (``posts``: ``(path, body)`` pairs)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.posts: list[tuple[str, bytes]] = []

    @property
    def url(self) -> str:
        """The base endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def traces_url(self) -> str:
        """The traces endpoint (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return self.url + TRACES_PATH

    def _bodies(self, path: str) -> list[bytes]:
        with self.lock:
            return [body for p, body in self.posts if p == path]

    def spans(self) -> list[dict[str, Any]]:
        """Every received span, in arrival order: name, kind, status, ids (hex), ``service`` (the resource's
        ``service.name``), ``resource`` (all its attributes), instrumentation ``scope``, attributes, event
        names and ``links`` (trace and span ids)."""
        out = []
        for body in self._bodies(TRACES_PATH):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append(
                            {
                                "name": span.name,
                                "kind": KINDS[span.kind],
                                "status": STATUSES[span.status.code],
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "service": resource.get("service.name"),
                                "resource": resource,
                                "scope": scope_spans.scope.name,
                                "attributes": {a.key: _value(a.value) for a in span.attributes},
                                "events": [e.name for e in span.events],
                                "links": [
                                    {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                                    for link in span.links
                                ],
                            }
                        )
        return out

    def log_records(self) -> list[dict[str, Any]]:
        """Every received log record, in arrival order: ids (hex, ``""`` when none), severity number and text,
        body, ``service``, ``scope`` (the Python logger's name, or ``mcp_otel``) and attributes."""
        out = []
        for body in self._bodies(LOGS_PATH):
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            for resource_logs in request.resource_logs:
                resource = {a.key: _value(a.value) for a in resource_logs.resource.attributes}
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        out.append(
                            {
                                "trace_id": record.trace_id.hex(),
                                "span_id": record.span_id.hex(),
                                "severity_number": record.severity_number,
                                "severity_text": record.severity_text,
                                "body": _value(record.body),
                                "service": resource.get("service.name"),
                                "scope": scope_logs.scope.name,
                                "attributes": {a.key: _value(a.value) for a in record.attributes},
                            }
                        )
        return out

    def metric_names(self) -> set[str]:
        """Names of every received metric."""
        names = set()
        for body in self._bodies(METRICS_PATH):
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    names.update(m.name for m in scope_metrics.metrics)
        return names

    def wait_for_spans(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """The received spans once ``done(spans)`` holds (or when ``timeout`` seconds passed: check them)."""
        deadline = time.monotonic() + timeout
        spans = self.spans()
        while not done(spans) and time.monotonic() < deadline:
            time.sleep(0.05)
            spans = self.spans()
        return spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextlib.contextmanager
def running_receiver() -> Iterator[OtlpReceiver]:
    """An :class:`OtlpReceiver` serving on a free port of 127.0.0.1 for the duration of the block."""
    server = OtlpReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
