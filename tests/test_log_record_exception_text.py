"""What mcp-otel records of a Python record logged with its exception, per ``exception_text``.

OpenTelemetry's ``LoggingHandler`` translates a copy of the record: without ``exc_info`` (it would write the
exception as raised), with ``exception.type`` / ``.message`` / ``.stacktrace`` as the setting and the
``content_redactor`` say (the span event's format, without ``exception.escaped``); ``full`` without a redactor
leaves the exception to the handler. The body is scrubbed unless ``full`` and then redacted. The record the
application's own handlers see keeps its message, arguments and exception.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from mcp_otel.semconv import attributes as attr
from support import log_server
from support.harness import ServerSpec, open_client

pytestmark = pytest.mark.anyio

SCRIPT = Path(log_server.__file__).resolve()
SECRET = log_server.SECRET
REDACTED_ERROR = log_server.FAILING_ERROR.replace(SECRET, log_server.REDACTED)


@pytest.fixture
def failing_record(instrument: Any, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """``record(**options)``: instrument with ``options``, call ``failing`` in memory, return the server's
    exported record of ``logger.exception`` as a dict (body, attributes)."""
    provider = LoggerProvider()
    exporter = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))

    async def record(**options: Any) -> dict[str, Any]:
        instrument(logger_provider=provider, **options)
        spec = ServerSpec(log_server.build_server, SCRIPT, name=log_server.SERVER_NAME)
        with caplog.at_level(logging.ERROR, logger=log_server.LOGGER_NAME):
            async with open_client("memory", spec) as conn:
                await conn.call_tool("failing", {})
        # the application's handlers saw the record as logged
        (seen,) = [r for r in caplog.records if r.name == log_server.LOGGER_NAME]
        assert (seen.msg, seen.args) == (log_server.FAILING_LOG, (SECRET,))
        assert seen.exc_info is not None and str(seen.exc_info[1]) == log_server.FAILING_ERROR
        (found,) = [
            r.log_record
            for r in exporter.get_finished_logs()
            if r.instrumentation_scope.name == log_server.LOGGER_NAME
        ]
        return {"body": found.body, "attributes": dict(found.attributes or {})}

    yield record
    provider.shutdown()


def _exception(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record["attributes"].items() if k.startswith("exception.")}


async def test_scrubbed_by_default(failing_record: Any) -> None:
    record = await failing_record()
    assert record["body"] == log_server.FAILING_LOG % SECRET  # no credential shape: scrubbing keeps it
    exception = _exception(record)
    assert set(exception) == {attr.EXCEPTION_TYPE, attr.EXCEPTION_MESSAGE, attr.EXCEPTION_STACKTRACE}
    assert exception[attr.EXCEPTION_TYPE] == "ConnectionError"
    assert exception[attr.EXCEPTION_MESSAGE] == "login with token=REDACTED refused"
    stacktrace = exception[attr.EXCEPTION_STACKTRACE]
    assert stacktrace.startswith("Traceback (most recent call last)") and SECRET not in stacktrace
    assert stacktrace.endswith("ConnectionError: login with token=REDACTED refused\n")


async def test_full_without_a_redactor_is_the_handlers_own(failing_record: Any) -> None:
    record = await failing_record(exception_text="full")
    assert record["body"] == log_server.FAILING_LOG % SECRET
    exception = _exception(record)
    assert exception[attr.EXCEPTION_TYPE] == "ConnectionError"
    assert exception[attr.EXCEPTION_MESSAGE] == log_server.FAILING_ERROR
    assert exception[attr.EXCEPTION_STACKTRACE].endswith(f"ConnectionError: {log_server.FAILING_ERROR}\n")


async def test_full_with_a_redactor_redacts_body_and_exception(failing_record: Any) -> None:
    record = await failing_record(exception_text="full", content_redactor=log_server.redact)
    assert record["body"] == log_server.FAILING_LOG % log_server.REDACTED
    exception = _exception(record)
    assert exception[attr.EXCEPTION_MESSAGE] == REDACTED_ERROR
    stacktrace = exception[attr.EXCEPTION_STACKTRACE]
    assert SECRET not in stacktrace and stacktrace.endswith(f"ConnectionError: {REDACTED_ERROR}\n")


async def test_type_keeps_the_message_and_the_exception_type(failing_record: Any) -> None:
    record = await failing_record(exception_text="type", content_redactor=log_server.redact)
    assert record["body"] == log_server.FAILING_LOG % log_server.REDACTED
    assert _exception(record) == {attr.EXCEPTION_TYPE: "ConnectionError"}
