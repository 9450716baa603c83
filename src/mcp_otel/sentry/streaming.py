"""sentry-sdk's span streaming mode (``sentry_sdk.init(trace_lifecycle="stream")``): streamed MCP spans.

What the transaction path sends as a transaction is sent as a *segment* (``is_segment: true``), its child
spans as child spans of that segment: the same trace and span ids, parents, start and end times, op, name,
origin and attributes (``sentry.op``, ``sentry.origin`` and ``sentry.segment.name.source`` are attributes in
this mode). They go through sentry-sdk's public streaming API, ``sentry_sdk.traces.start_span``, so
``ignore_spans``, ``traces_sample_rate`` / ``traces_sampler`` (with ``sampling_context["mcp"]``) and
``before_send_span`` apply as to any streamed span.

``start_span`` takes neither span ids nor a start time: mcp-otel sets the span id and the start time of the
span it just started through two private slots of ``sentry_sdk.traces.StreamedSpan`` (``_span_id`` and
``_start_timestamp``). :func:`supported` checks that they exist; without them (a sentry-sdk without span
streaming, or a future one that renamed them) nothing is sent and a warning is logged once.
:data:`MIN_SENTRY_SDK` is the oldest release tested.

sentry-sdk's own ``MCPIntegration`` streams its spans through the same API; :func:`ignore_sentry_mcp_spans`
adds an ``ignore_spans`` rule for its origin (``auto.ai.mcp``) to the client's options, which is how
``drop_sentry_mcp_events`` holds in this mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sentry_sdk

from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.facts import SpanFacts
from mcp_otel.sentry.mapping import STATUS_OK, MappingOptions, SentrySpan, is_mcp_span, map_span

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

_log = logging.getLogger("mcp_otel.sentry")

MIN_SENTRY_SDK = (2, 75, 0)
"""The oldest sentry-sdk whose span streaming mode mcp-otel is tested with (extra ``sentry-streaming``)."""

STREAM_STATUS_OK = "ok"
"""Status of a streamed span that did not fail."""
STREAM_STATUS_ERROR = "error"
"""Status of a failed streamed span (streamed spans know only ``ok`` and ``error``)."""

SENTRY_MCP_SPANS_RULE: Mapping[str, Any] = {
    "attributes": {sentry.SENTRY_ORIGIN: sentry.SENTRY_ORIGIN_AUTO_AI_MCP}
}
"""The ``ignore_spans`` rule that drops the streamed spans of sentry-sdk's ``MCPIntegration``."""

_PRIVATE_SLOTS = ("_span_id", "_start_timestamp")


def _span_streaming_check() -> Callable[[Any], bool] | None:
    try:
        from sentry_sdk.tracing_utils import has_span_streaming_enabled
    except ImportError:  # sentry-sdk without span streaming
        return None
    return has_span_streaming_enabled


_has_span_streaming_enabled = _span_streaming_check()
_last_mode: tuple[Any, Any, Any, bool] | None = None


def streaming_enabled(options: Mapping[str, Any] | None) -> bool:
    """Whether a Sentry client with ``options`` runs in span streaming mode (``trace_lifecycle="stream"``, top
    level or in ``_experiments``: sentry-sdk's own ``has_span_streaming_enabled`` decides)."""
    global _last_mode
    if options is None or _has_span_streaming_enabled is None:
        return False
    lifecycle, experiments = options.get("trace_lifecycle"), options.get("_experiments")
    last = _last_mode
    if last is not None and last[0] is options and last[1] == lifecycle and last[2] is experiments:
        return last[3]  # asked once per exported span: a client's options rarely change
    enabled = bool(_has_span_streaming_enabled(options))
    _last_mode = (options, lifecycle, experiments, enabled)
    return enabled


def supported() -> bool:
    """Whether the installed sentry-sdk has the streaming API and the two slots mcp-otel sets."""
    try:
        from sentry_sdk.traces import StreamedSpan, start_span  # noqa: F401
    except ImportError:
        return False
    slots = getattr(StreamedSpan, "__slots__", ())
    return all(name in slots for name in _PRIVATE_SLOTS)


class StreamedSender:
    """Sends a finished MCP span and the MCP spans that ended inside it as one streamed segment.

    Args:
        sampling_context: builds ``sampling_context["mcp"]`` (what ``traces_sampler`` sees) for a segment.
    """

    def __init__(self, sampling_context: Callable[[ReadableSpan, SentrySpan], dict[str, Any]]) -> None:
        self._sampling_context = sampling_context
        self._supported = supported()
        self._warned = False

    def send(
        self,
        span: ReadableSpan,
        children: list[Any],
        options: MappingOptions,
        facts: SpanFacts,
        baggage: Any = None,
    ) -> None:
        """Stream ``span`` as a segment; ``children`` are nodes with ``.span`` and ``.children``; ``facts``
        holds what the core's facts gave for each span (consumed here); ``baggage``: the frozen Sentry
        baggage its trace was continued with (the segment's dynamic sampling context)."""
        kept = facts.pop(span)
        if not self._supported:
            if not self._warned:
                self._warned = True
                _log.warning(
                    "mcp-otel: this sentry-sdk's span streaming API lacks what mcp-otel needs (sentry-sdk "
                    ">= %s is tested); MCP spans are not sent. Use the OTLP path (setup(otlp=True)).",
                    ".".join(map(str, MIN_SENTRY_SDK)),
                )
            for child in children:
                _discard(child, facts)
            return
        from sentry_sdk.traces import NoOpStreamedSpan, start_span

        mapped = map_span(span, options, kept)
        with sentry_sdk.new_scope() as scope:
            # a propagation context of the OTel trace on a forked scope: the user's scopes stay as they are
            scope.set_new_propagation_context()
            propagation = scope.get_active_propagation_context()
            propagation.trace_id = mapped.trace_id
            propagation.parent_span_id = mapped.parent_span_id
            propagation.parent_sampled = mapped.parent_sampled
            if baggage is not None:
                propagation.baggage = baggage
            if callable(sentry_sdk.get_client().options.get("traces_sampler")):  # only a sampler reads it
                sentry_sdk.Scope.set_custom_sampling_context({"mcp": self._sampling_context(span, mapped)})
            attributes = stream_attributes(mapped, segment=True, copy=False)  # mapped is ours alone
            segment = start_span(mapped.name, attributes=attributes, parent_span=None, active=False)
            if isinstance(segment, NoOpStreamedSpan):  # not sampled, or ignored (ignore_spans)
                segment.end()
                for child in children:
                    _discard(child, facts)
                return
            _place(segment, mapped)
            for child in children:
                _add_child(segment, child, options, start_span, NoOpStreamedSpan, facts)
            segment.end(end_timestamp=_end(mapped))


def _add_child(
    parent: Any,
    node: Any,
    options: MappingOptions,
    start_span: Callable[..., Any],
    noop: type[Any],
    facts: SpanFacts,
) -> None:
    kept = facts.pop(node.span)
    if not is_mcp_span(node.span):
        return
    mapped = map_span(node.span, options, kept)
    child = start_span(
        mapped.name, attributes=stream_attributes(mapped, copy=False), parent_span=parent, active=False
    )
    if isinstance(child, noop):
        child.end()
        for grandchild in node.children:
            _discard(grandchild, facts)
        return
    _place(child, mapped)
    for grandchild in node.children:
        _add_child(child, grandchild, options, start_span, noop, facts)
    child.end(end_timestamp=_end(mapped))


def _discard(node: Any, facts: SpanFacts) -> None:
    """Drop the facts of a tree that is not sent."""
    facts.pop(node.span)
    for child in node.children:
        _discard(child, facts)


def _place(span: Any, mapped: SentrySpan) -> None:
    """The OTel span id, start time and status on a streamed span just started (private slots, see above)."""
    span._span_id = mapped.span_id
    if mapped.start is not None:
        span._start_timestamp = mapped.start
    span.status = STREAM_STATUS_OK if mapped.status == STATUS_OK else STREAM_STATUS_ERROR


def _end(mapped: SentrySpan) -> datetime | None:
    return mapped.end


def stream_attributes(mapped: SentrySpan, *, segment: bool = False, copy: bool = True) -> dict[str, Any]:
    """The attributes of a streamed MCP span: the mapped data, ``sentry.op``, ``sentry.origin`` and, on a
    segment, ``sentry.segment.name.source`` (``copy=False``: added to ``mapped.data`` itself)."""
    attributes = dict(mapped.data) if copy else mapped.data
    attributes[sentry.SENTRY_OP] = mapped.op
    attributes[sentry.SENTRY_ORIGIN] = mapped.origin
    if segment:
        attributes[sentry.SENTRY_SEGMENT_NAME_SOURCE] = mapped.source
    return attributes


def ignore_sentry_mcp_spans(options: MutableMapping[str, Any]) -> None:
    """Add :data:`SENTRY_MCP_SPANS_RULE` to a client's ``ignore_spans`` (kept: the user's rules)."""
    rules = options.get("ignore_spans")
    if rules is None:
        rules = (options.get("_experiments") or {}).get("ignore_spans")
    rules = list(rules or ())
    if not any(rule is SENTRY_MCP_SPANS_RULE for rule in rules):
        options["ignore_spans"] = [*rules, SENTRY_MCP_SPANS_RULE]


def stop_ignoring_sentry_mcp_spans(options: MutableMapping[str, Any]) -> None:
    """Remove :data:`SENTRY_MCP_SPANS_RULE` from a client's ``ignore_spans`` again."""
    rules = options.get("ignore_spans")
    if rules and any(rule is SENTRY_MCP_SPANS_RULE for rule in rules):
        options["ignore_spans"] = [rule for rule in rules if rule is not SENTRY_MCP_SPANS_RULE]
