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


def server_request_spans(spans: Iterable[Span]) -> list[Span]:
    """mcp-otel SERVER spans of requests (notifications excluded), in start order."""
    out = [
        s
        for s in ours(spans)
        if s["kind"] == "SERVER"
        and not str(s["attributes"].get("mcp.method.name", "")).startswith("notifications/")
    ]
    return sorted(out, key=lambda s: s["start_ns"])


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
