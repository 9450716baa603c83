"""Exporters that append finished spans and log records to a JSON Lines file, and their readers.

The demo, ``mcp-otel trace`` and the subprocess tests use them to collect spans and log records from an MCP
server that runs in another process (a stdio subprocess) without a collector. Both signals may share one file:
a log record's line has ``"signal": "log"``, and each reader skips the other's lines. Needs
``opentelemetry-sdk`` (the ``sdk`` extra).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """Return one finished span as a JSON-serialisable dict.

    Keys: ``name``, ``kind`` (``SERVER``, ``CLIENT``, …), ``trace_id``/``span_id``/``parent_span_id`` (hex
    strings, ``parent_span_id`` ``None`` for a root), ``parent_is_remote``, ``start_ns``/``end_ns``
    (nanoseconds since the epoch), ``status`` (``UNSET``/``OK``/``ERROR``), ``status_description``,
    ``attributes``, ``events`` (name, attributes) and ``links`` (trace and span ids), ``scope``
    (instrumentation scope name) and ``resource``.
    """
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x") if ctx else None,
        "span_id": format(ctx.span_id, "016x") if ctx else None,
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "parent_is_remote": bool(parent.is_remote) if parent else False,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "status_description": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
        "links": [
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
            }
            for link in span.links
        ],
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "resource": dict(span.resource.attributes) if span.resource else {},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, bytes)):
        return list(value) if isinstance(value, tuple) else value.decode("utf-8", "replace")
    return value


LOG_SIGNAL = "log"
"""The ``signal`` value of a log record's line (span lines have no ``signal`` key)."""


def log_record_to_dict(item: Any) -> dict[str, Any]:
    """Return one exported log record (the SDK's ``ReadableLogRecord``, or ``LogData`` before SDK 1.35) as a
    JSON-serialisable dict.

    Keys: ``signal`` (``"log"``), ``trace_id``/``span_id`` (hex strings, ``None`` outside any span),
    ``timestamp_ns`` (nanoseconds since the epoch), ``severity_number`` (int), ``severity_text``, ``body``,
    ``attributes``, ``scope`` (the instrumentation scope: the Python logger's name, or ``mcp_otel``) and
    ``resource``.
    """
    record = getattr(item, "log_record", item)
    resource = getattr(item, "resource", None) or getattr(record, "resource", None)
    scope = getattr(item, "instrumentation_scope", None)
    severity = getattr(record, "severity_number", None)
    trace_id, span_id = getattr(record, "trace_id", 0) or 0, getattr(record, "span_id", 0) or 0
    return {
        "signal": LOG_SIGNAL,
        "trace_id": format(trace_id, "032x") if trace_id else None,
        "span_id": format(span_id, "016x") if span_id else None,
        "timestamp_ns": getattr(record, "timestamp", None) or getattr(record, "observed_timestamp", None),
        "severity_number": severity.value if severity is not None else 0,
        "severity_text": getattr(record, "severity_text", None),
        "body": getattr(record, "body", None),
        "attributes": dict(getattr(record, "attributes", None) or {}),
        "scope": scope.name if scope is not None else None,
        "resource": dict(resource.attributes) if resource is not None else {},
    }


def _append(path: Path, lock: threading.Lock, data: bytes) -> bool:
    """Append ``data`` to ``path`` in one ``O_APPEND`` write (a loop if the OS takes less); False on error."""
    try:
        with lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = 0
                while written < len(data):  # a regular file takes it in one write; loop if not
                    written += os.write(fd, data[written:])
            finally:
                os.close(fd)
    except OSError:
        return False
    return True


class JsonLinesSpanExporter(SpanExporter):
    """Append each exported span as one JSON object per line to ``path``.

    Args:
        path: file to append to (created if missing). Each batch is one ``write`` to a file opened with
            ``O_APPEND``, so several processes (a launcher and its server, uvicorn workers) can share the
            file without mixing lines, and another process can read it as soon as the batch is exported.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans``; returns ``SUCCESS``, or ``FAILURE`` when the file cannot be written."""
        data = "".join(json.dumps(span_to_dict(s), default=_jsonable) + "\n" for s in spans).encode()
        return SpanExportResult.SUCCESS if _append(self._path, self._lock, data) else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Nothing to release: the file is opened per batch."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Spans are written synchronously, so there is never anything pending."""
        return True


def _lines(path: str | Path) -> Iterator[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            if line.endswith("\n") and line.strip():
                yield json.loads(line)


def read_spans(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the span dicts written by :class:`JsonLinesSpanExporter` to ``path`` (none if it is missing).

    A last line without its newline is a batch another process is still writing: it is left for the next read.
    Log record lines (:class:`JsonLinesLogExporter`) are skipped.
    """
    return (line for line in _lines(path) if line.get("signal") != LOG_SIGNAL)


def read_log_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the log record dicts (:func:`log_record_to_dict`) written to ``path``; span lines are skipped."""
    return (line for line in _lines(path) if line.get("signal") == LOG_SIGNAL)


# The SDK's log exporter base class and result: ``LogRecordExporter`` since SDK 1.35, ``LogExporter`` before.
_log_export: Any = importlib.import_module("opentelemetry.sdk._logs.export")
_LogExporterBase: Any = getattr(_log_export, "LogRecordExporter", None) or _log_export.LogExporter
_LogResult: Any = getattr(_log_export, "LogRecordExportResult", None) or _log_export.LogExportResult


class JsonLinesLogExporter(_LogExporterBase):  # type: ignore[misc]
    """Append each exported log record as one JSON object per line (:func:`log_record_to_dict`) to ``path``.

    Args:
        path: file to append to (created if missing); it may be the spans file of a
            :class:`JsonLinesSpanExporter` (one ``O_APPEND`` write per batch, as there).
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()

    def export(self, batch: Sequence[Any]) -> Any:
        """Write ``batch``; returns ``SUCCESS``, or ``FAILURE`` when the file cannot be written."""
        data = "".join(json.dumps(log_record_to_dict(r), default=_jsonable) + "\n" for r in batch).encode()
        return _LogResult.SUCCESS if _append(self._path, self._lock, data) else _LogResult.FAILURE

    def shutdown(self) -> None:
        """Nothing to release: the file is opened per batch."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Log records are written synchronously, so there is never anything pending."""
        return True
