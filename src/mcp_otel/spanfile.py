"""A span exporter that appends finished spans to a JSON Lines file, and its reader.

The demo, ``mcp-otel trace`` and the subprocess tests use it to collect spans from an MCP server that runs
in another process (a stdio subprocess) without a collector. Needs ``opentelemetry-sdk`` (the ``sdk`` extra).
"""

from __future__ import annotations

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
    if isinstance(value, tuple):
        return list(value)
    return value


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
        try:
            with self._lock:
                fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    written = 0
                    while written < len(data):  # a regular file takes it in one write; loop if not
                        written += os.write(fd, data[written:])
                finally:
                    os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: the file is opened per batch."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Spans are written synchronously, so there is never anything pending."""
        return True


def read_spans(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the span dicts written by :class:`JsonLinesSpanExporter` to ``path`` (none if it is missing).

    A last line without its newline is a batch another process is still writing: it is left for the next read.
    """
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            if line.endswith("\n") and line.strip():
                yield json.loads(line)
