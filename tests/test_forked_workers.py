"""``mcp_otel.forked_workers.set_process_ids``: the resource a forked worker shares with its tracers.

The whole path (gunicorn's forked workers under ``mcp-otel run``) is tested in ``test_multi_worker.py``.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import PROCESS_PARENT_PID, PROCESS_PID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_otel.forked_workers import set_process_ids

MASTER_PID = 1


def test_a_tracer_created_before_gets_the_new_pid() -> None:
    resource = Resource(
        {SERVICE_NAME: "weather", PROCESS_PID: MASTER_PID, PROCESS_PARENT_PID: 0}, "https://s"
    )
    provider = TracerProvider(resource=resource)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    assert set_process_ids(provider.resource) is True
    tracer.start_span("after fork").end()

    (span,) = exporter.get_finished_spans()
    assert dict(span.resource.attributes) == {
        SERVICE_NAME: "weather",
        PROCESS_PID: os.getpid(),
        PROCESS_PARENT_PID: os.getppid(),
    }
    assert span.resource.schema_url == "https://s"
    assert provider.resource is resource


def test_a_resource_without_pid_is_left_as_it_is() -> None:
    resource = Resource({SERVICE_NAME: "weather"})

    assert set_process_ids(resource) is False
    assert dict(resource.attributes) == {SERVICE_NAME: "weather"}
    assert set_process_ids(object()) is False
