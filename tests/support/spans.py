"""Span helpers: every span a test looks at is a ``mcp_otel.spanfile.span_to_dict`` dict.

In-process spans (``InMemorySpanExporter``) and spans a subprocess wrote to a JSON Lines file then look
the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from mcp_otel.semconv.attributes import MCP_METHOD_NAME
from mcp_otel.spanfile import read_spans, span_to_dict

from .compat import OTEL_SCOPE, SDK_SCOPE

Span = dict[str, Any]


def to_dicts(spans: Iterable[ReadableSpan]) -> list[Span]:
    """SDK spans → dicts, JSON round-tripped so in-process and file spans compare alike (tuples → lists)."""
    return [json.loads(json.dumps(span_to_dict(s), default=list)) for s in spans]


def load_file(path: str | Path) -> list[Span]:
    return list(read_spans(path))


def wait_for_file_spans(
    path: str | Path, done: Callable[[list[Span]], bool], timeout: float = 15.0
) -> list[Span]:
    """Poll ``path`` until ``done(spans)`` holds (or ``timeout`` passes); return what is there then."""
    deadline = time.monotonic() + timeout
    spans = load_file(path)
    while not done(spans) and time.monotonic() < deadline:
        time.sleep(0.05)
        spans = load_file(path)
    return spans


def ours(spans: Iterable[Span]) -> list[Span]:
    """Spans from mcp-otel's tracer."""
    return [s for s in spans if s["scope"] == OTEL_SCOPE]


def sdk_spans(spans: Iterable[Span]) -> list[Span]:
    """Spans mcp 2.x's built-in instrumentation emitted."""
    return [s for s in spans if s["scope"] == SDK_SCOPE]


def is_notification(span: Span) -> bool:
    """Whether ``span`` is a notification's (its ``mcp.method.name`` starts with ``notifications/``)."""
    return str(span["attributes"].get(MCP_METHOD_NAME, "")).startswith("notifications/")


def request_spans(spans: Iterable[Span], kind: str) -> list[Span]:
    """mcp-otel spans of ``kind`` (``CLIENT``/``SERVER``) for requests, not notifications, in start order."""
    found = [s for s in ours(spans) if s["kind"] == kind and not is_notification(s)]
    return sorted(found, key=lambda s: s["start_ns"])


def server_request_spans(spans: Iterable[Span]) -> list[Span]:
    """mcp-otel SERVER spans of requests (notifications excluded), in start order."""
    return request_spans(spans, "SERVER")


def find(spans: Iterable[Span], name: str, kind: str) -> list[Span]:
    """mcp-otel spans called ``name`` of ``kind`` (``CLIENT``/``SERVER``), in start order."""
    found = [s for s in ours(spans) if s["name"] == name and s["kind"] == kind]
    return sorted(found, key=lambda s: s["start_ns"])


def only(spans: Iterable[Span], name: str, kind: str) -> Span:
    """The single mcp-otel span ``name`` of ``kind``; fails listing the spans otherwise."""
    spans = list(spans)
    found = find(spans, name, kind)
    assert len(found) == 1, f"expected one {kind} span {name!r}, got {len(found)}: {describe(spans)}"
    return found[0]


def children(
    spans: Iterable[Span], parent: Span, name: str | None = None, kind: str | None = None
) -> list[Span]:
    """Spans (any scope) whose parent is ``parent``, optionally filtered by name and kind."""
    return [
        s
        for s in spans
        if s["parent_span_id"] == parent["span_id"]
        and s["trace_id"] == parent["trace_id"]
        and (name is None or s["name"] == name)
        and (kind is None or s["kind"] == kind)
    ]


def assert_child(child: Span, parent: Span) -> None:
    """``child`` is a direct child of ``parent`` in the same trace."""
    assert child["trace_id"] == parent["trace_id"], (
        f"{child['kind']} {child['name']!r} is in trace {child['trace_id']}, "
        f"{parent['kind']} {parent['name']!r} in {parent['trace_id']}"
    )
    assert child["parent_span_id"] == parent["span_id"], (
        f"{child['kind']} {child['name']!r} has parent {child['parent_span_id']}, "
        f"expected {parent['kind']} {parent['name']!r} ({parent['span_id']})"
    )


def named(spans: Iterable[Span], name: str) -> list[Span]:
    return [s for s in spans if s["name"] == name]


def one(spans: Iterable[Span], name: str) -> Span:
    """The single span called ``name``; fails listing what is there otherwise."""
    spans = list(spans)
    found = named(spans, name)
    assert len(found) == 1, f"expected exactly one span {name!r}, got {len(found)}; spans: {describe(spans)}"
    return found[0]


def by_id(spans: Iterable[Span]) -> dict[str, Span]:
    return {s["span_id"]: s for s in spans}


def describe(spans: Sequence[Span] | Iterable[Span]) -> str:
    """A compact listing for assertion messages."""
    return "; ".join(
        f"{s['scope']}:{s['kind']}:{s['name']!r}[{s['status']}]"
        for s in sorted(spans, key=lambda s: s["start_ns"])
    )
