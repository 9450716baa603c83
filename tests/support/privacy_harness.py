"""What the privacy tests share: providers of their own, Sentry at a local receiver, leak search.

``conftest.py`` registers the fixtures (``telemetry``, ``sentry``, ``sentry_with_logs``); ``test_privacy.py``
and ``test_exception_text_privacy.py`` use them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_otel import McpInstrumentor
from mcp_otel.spanfile import log_record_to_dict


def leaks(data: Iterable[Any], secrets: Iterable[str]) -> list[str]:
    """Where any of ``secrets`` occurs in ``data`` (JSON values: spans, points, envelopes), as excerpts."""
    out = []
    for item in data:
        text = json.dumps(item, default=str)
        for secret in secrets:
            if secret in text:
                at = text.index(secret)
                out.append(text[max(0, at - 150) : at + len(secret) + 30])
    return out


@pytest.fixture
def telemetry() -> Iterator[dict[str, Any]]:
    """Providers of this test's own (Sentry's processor goes on the tracer provider): ``tracer_provider``,
    ``meter_provider``, ``logger_provider``, ``spans`` (the exporter), ``metrics`` (the reader) and ``logs``
    (the log record exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    yield {
        "tracer_provider": provider,
        "meter_provider": meter_provider,
        "logger_provider": logger_provider,
        "spans": exporter,
        "metrics": reader,
        "logs": logs,
    }
    logger_provider.shutdown()
    meter_provider.shutdown()
    provider.shutdown()


@pytest.fixture
def sentry(telemetry: dict[str, Any]) -> Iterator[Any]:
    """``sentry_sdk.init`` (no PII, the default) at a local receiver + ``mcp_otel.sentry.setup``."""
    yield from _sentry(telemetry)


@pytest.fixture
def sentry_with_logs(telemetry: dict[str, Any]) -> Iterator[Any]:
    """:func:`sentry` with Sentry Logs on (``enable_logs=True``): mcp-otel's log records become log items."""
    yield from _sentry(telemetry, enable_logs=True)


def _sentry(telemetry: dict[str, Any], **options: Any) -> Iterator[Any]:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    import mcp_otel.sentry
    from support.sentry_receiver import SentryReceiver

    with SentryReceiver() as receiver:
        sentry_sdk.init(
            dsn=receiver.dsn,
            release="privacy@1.0.0",
            traces_sample_rate=1.0,
            auto_enabling_integrations=False,
            **options,
        )
        handle = mcp_otel.sentry.setup(telemetry["tracer_provider"])
        try:
            yield receiver
        finally:
            handle.close()
            sentry_sdk.get_client().close(timeout=2.0)
            sentry_sdk.Scope.get_global_scope().set_client(None)


def instrumented(telemetry: dict[str, Any], **options: Any) -> McpInstrumentor:
    """An ``McpInstrumentor`` instrumented with the ``telemetry`` fixture's providers and ``options``."""
    instrumentor = McpInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry["tracer_provider"],
        meter_provider=telemetry["meter_provider"],
        logger_provider=telemetry["logger_provider"],
        **options,
    )
    return instrumentor


def log_records(telemetry: dict[str, Any]) -> list[dict[str, Any]]:
    """The log records the ``telemetry`` fixture's provider exported (:func:`log_record_to_dict` dicts)."""
    return [log_record_to_dict(record) for record in telemetry["logs"].get_finished_logs()]


def sentry_items(receiver: Any) -> list[Any]:
    """What the Sentry receiver got, after a flush, less sentry-sdk's own error logs of ``mcp.*`` loggers.

    Not mcp-otel's: mcp 1.x logs ``Error in message router`` with the traceback when a streamable HTTP session
    shuts down, and sentry-sdk (``include_local_variables=True`` by default) attaches the frames' local
    variables, message contents included. See "Privacy" in the README for the setting that stops it.
    """
    import sentry_sdk

    sentry_sdk.flush(timeout=5.0)
    receiver.wait_for(lambda r: bool(r.items("transaction")))
    return [item for item in receiver.items() if not _sdk_error_log(item)]


def _sdk_error_log(item: Any) -> bool:
    payload = item.payload if isinstance(item.payload, dict) else {}
    values = (payload.get("exception") or {}).get("values") or []
    logging_mechanism = any((v.get("mechanism") or {}).get("type") == "logging" for v in values)
    return item.type == "event" and logging_mechanism and str(payload.get("logger", "")).startswith("mcp.")
