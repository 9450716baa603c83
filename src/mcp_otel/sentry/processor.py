"""``SentrySpanProcessor``: finished MCP spans → Sentry transactions and spans, through the user's client.

Every MCP message this process receives (a SERVER span: a request or notification it handles) becomes a
Sentry transaction, as in Sentry's JavaScript SDK, even when an in-process client's span is its parent; so
does every other MCP span without a running MCP parent. MCP spans this process sends while handling one (a
server→client request or notification sent while a tool runs) become child spans of its transaction. Trace
and span ids are the OTel ones, so Sentry errors and other services' spans join the same trace. With
``client_spans=False`` only what this process receives (SERVER spans) and the MCP spans nested in them are
sent: an MCP host's own client requests stay out of Sentry.

The transactions are started with ``Scope.start_transaction`` and finished with explicit timestamps, so
everything the user configured on the client applies: DSN or Spotlight, ``traces_sample_rate`` /
``traces_sampler`` (a remote parent's sampled flag is inherited, as Sentry does), ``release``,
``environment``, scope data, event processors and ``before_send_transaction``. When the client runs in span
streaming mode (``trace_lifecycle="stream"``), the same tree goes out as a streamed segment and its spans
(:mod:`mcp_otel.sentry.streaming`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import sentry_sdk
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind
from sentry_sdk.tracing import Span as SentrySdkSpan
from sentry_sdk.tracing import Transaction

from mcp_otel._guard import log_failure_once
from mcp_otel.semconv import attributes as attr
from mcp_otel.sentry.facts import SpanFacts
from mcp_otel.sentry.mapping import DEFAULT_SCOPES, MappingOptions, SentrySpan, is_mcp_span, map_span
from mcp_otel.sentry.options import SentryMcpOptions
from mcp_otel.sentry.propagation import incoming_baggage
from mcp_otel.sentry.streaming import (
    StreamedSender,
    ignore_sentry_mcp_spans,
    stop_ignoring_sentry_mcp_spans,
    streaming_enabled,
)

_RECEIVED = (SpanKind.SERVER, SpanKind.CONSUMER)
SHUTDOWN_FLUSH_MILLIS = 2000
"""At most this long (ms) :meth:`SentrySpanProcessor.shutdown` waits for the Sentry client to flush."""
MAX_OPEN_SPANS = 10_000
"""At most this many running MCP spans are tracked for nesting; beyond that, spans become transactions."""


@dataclass
class _Finished:
    span: ReadableSpan
    children: list[_Finished] = field(default_factory=list)
    baggage: Any = None  # the Sentry baggage its trace was continued with (``sentry-trace`` in ``_meta``)


class SentrySpanProcessor(SpanProcessor):
    """An OpenTelemetry span processor that sends mcp-otel's MCP spans to Sentry as transactions and spans.

    Add it to the SDK ``TracerProvider`` mcp-otel uses (``mcp_otel.sentry.setup()`` does). It sends nothing
    while no Sentry client is active, and it never raises into the instrumented code.

    Args:
        options: what content and user data to send (default: follow the Sentry client's settings).
        scopes: instrumentation scopes whose spans are mapped (default: mcp-otel's ``mcp_otel`` and mcp 2.x's
            ``mcp-python-sdk``, which mcp-otel enriches with ``sdk_spans="enrich"``).
        client_spans: also send the MCP requests this process sends as a client outside a request it
            handles (``mcp.client`` transactions); ``False``: only received messages and what they send.
        drop_sentry_mcp_events: in span streaming mode, add an ``ignore_spans`` rule for the spans of
            sentry-sdk's own ``MCPIntegration`` to the client's options (removed by :meth:`shutdown`).
    """

    def __init__(
        self,
        options: SentryMcpOptions | None = None,
        *,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        client_spans: bool = True,
        drop_sentry_mcp_events: bool = False,
    ) -> None:
        self.options = options or SentryMcpOptions()
        self.scopes = frozenset(scopes)
        self.client_spans = client_spans
        self.drop_sentry_mcp_events = drop_sentry_mcp_events
        self.enabled = True
        self._lock = threading.Lock()
        self._open: dict[int, list[_Finished]] = {}
        self._baggage: dict[int, Any] = {}  # span id → incoming Sentry baggage of a running SERVER span
        self._streamed = StreamedSender(_sampling_context)
        self._ruled_options: Any = None  # the client options that carry our ignore_spans rule
        # what the vendor-neutral spans leave out (transport kind, result shape …), until the span is mapped
        self.facts = SpanFacts(auth_client_names=self.options.auth_client_name)
        self.facts.install()

    # -- SpanProcessor ------------------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        """Remember a running MCP span, so MCP spans that end inside it become its Sentry child spans."""
        try:
            if not self.enabled or not self._is_ours(span):
                return
            if self.drop_sentry_mcp_events and span.kind is SpanKind.SERVER:
                self._ignore_sentry_mcp_spans()  # before sentry-sdk's MCPIntegration starts its span
            context = span.get_span_context()
            parent = span.parent
            with self._lock:
                # without client spans, a client span is sent only inside a received request
                if (
                    not self.client_spans
                    and span.kind not in _RECEIVED
                    and (parent is None or parent.is_remote or parent.span_id not in self._open)
                ):
                    return
                if len(self._open) < MAX_OPEN_SPANS:
                    self._open[context.span_id] = []
                    if parent is not None and parent.is_remote:
                        baggage = incoming_baggage(parent_context)
                        if baggage is not None:
                            self._baggage[context.span_id] = baggage
        except Exception:
            log_failure_once("sentry.processor.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        """Send a finished MCP span (with the MCP spans that ended inside it), or keep it for its parent."""
        try:
            if not self._is_ours(span):
                return
            context = span.get_span_context()
            node: _Finished | None = None
            with self._lock:
                children = self._open.pop(context.span_id, None) if context is not None else None
                node = _Finished(span, children or [])
                if self._baggage and context is not None:
                    node.baggage = self._baggage.pop(context.span_id, None)
                parent = span.parent
                entry = span.kind in _RECEIVED  # received: its own transaction
                if parent is not None and not parent.is_remote and not entry:
                    siblings = self._open.get(parent.span_id)
                    if siblings is not None:
                        siblings.append(node)
                        return
            if not self.client_spans and not entry:
                self._forget(node)
                return  # not received, not inside a received request
            if self.enabled and is_mcp_span(span):
                self._send(node)
            else:
                self._forget(node)
        except Exception:
            log_failure_once("sentry.processor.on_end")

    def shutdown(self) -> None:
        """Stop sending, flush what was sent to the Sentry client (span streaming batches spans, see
        :mod:`mcp_otel.sentry.streaming`) and forget running spans (the client is the user's: not closed)."""
        if self.enabled:
            try:
                client = sentry_sdk.get_client()
                if client.is_active():
                    client.flush(timeout=SHUTDOWN_FLUSH_MILLIS / 1000)
            except Exception:  # noqa: S110 - the user's transport failing: its own close reports it
                pass
        self.enabled = False
        self.facts.uninstall()
        with self._lock:
            self._open.clear()
            self._baggage.clear()
        ruled, self._ruled_options = self._ruled_options, None
        if ruled is not None:
            stop_ignoring_sentry_mcp_spans(ruled)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the Sentry client's transport (at most ``timeout_millis``)."""
        try:
            client = sentry_sdk.get_client()
            if client.is_active():
                client.flush(timeout=timeout_millis / 1000)
        except Exception:
            log_failure_once("sentry.processor.force_flush")
        return True

    # -- sending ------------------------------------------------------------------------------------------

    def _is_ours(self, span: ReadableSpan) -> bool:
        scope = span.instrumentation_scope
        return scope is not None and scope.name in self.scopes

    def _ignore_sentry_mcp_spans(self) -> None:
        client = sentry_sdk.get_client()
        options = client.options if client.is_active() else None
        if options is None or options is self._ruled_options:
            return
        if streaming_enabled(options):
            ignore_sentry_mcp_spans(options)
            self._ruled_options = options

    def _forget(self, node: _Finished) -> None:
        """Drop the facts kept for a tree that is not sent."""
        self.facts.pop(node.span)
        for child in node.children:
            self._forget(child)

    def _send(self, node: _Finished) -> None:
        client = sentry_sdk.get_client()
        if not client.is_active():
            self._forget(node)
            return
        options = self.options.resolve(client)
        if streaming_enabled(client.options):
            self._streamed.send(node.span, node.children, options, self.facts, node.baggage)
            return
        mapped = map_span(node.span, options, self.facts.pop(node.span))
        scope = sentry_sdk.Scope.get_current_scope()
        transaction = Transaction(
            name=mapped.name,
            op=mapped.op,
            source=mapped.source,
            origin=mapped.origin,
            trace_id=mapped.trace_id,
            span_id=mapped.span_id,
            parent_span_id=mapped.parent_span_id,
            parent_sampled=mapped.parent_sampled,
            same_process_as_parent=not mapped.parent_is_remote,
            start_timestamp=mapped.start,
            baggage=node.baggage,
        )
        started = scope.start_transaction(
            transaction,
            instrumenter=client.options.get("instrumenter", "sentry"),
            custom_sampling_context={"mcp": _sampling_context(node.span, mapped)},
        )
        if not isinstance(started, Transaction) or not started.sampled:
            for child in node.children:
                self._forget(child)
            return
        _fill(started, mapped)
        instrumenter = client.options.get("instrumenter", "sentry")
        for child in node.children:
            _add_child(started, child, options, instrumenter, self.facts)
        started.finish(scope=scope, end_timestamp=mapped.end)


def _add_child(
    parent: SentrySdkSpan, node: _Finished, options: MappingOptions, instrumenter: str, facts: SpanFacts
) -> None:
    kept = facts.pop(node.span)
    if not is_mcp_span(node.span):
        return
    mapped = map_span(node.span, options, kept)
    child = parent.start_child(
        instrumenter=instrumenter,
        op=mapped.op,
        name=mapped.name,
        origin=mapped.origin,
        span_id=mapped.span_id,
        start_timestamp=mapped.start,
    )
    _fill(child, mapped)
    for grandchild in node.children:
        _add_child(child, grandchild, options, instrumenter, facts)
    child.finish(end_timestamp=mapped.end)


def _fill(span: SentrySdkSpan, mapped: SentrySpan) -> None:
    update = getattr(span, "update_data", None)  # sentry-sdk >= 2.2x: one call instead of one per key
    if update is not None:
        update(mapped.data)
    else:  # pragma: no cover - older sentry-sdk
        for key, value in mapped.data.items():
            span.set_data(key, value)
    span.set_status(mapped.status)


def _sampling_context(span: ReadableSpan, mapped: SentrySpan) -> dict[str, Any]:
    """What ``traces_sampler`` sees under ``sampling_context["mcp"]``."""
    attributes = span.attributes or {}
    return {
        "op": mapped.op,
        "name": mapped.name,
        "method": attributes.get(attr.MCP_METHOD_NAME),
        "span_kind": span.kind.name.lower(),
    }
