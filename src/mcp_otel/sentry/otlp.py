"""Sentry's OTLP ingestion path: MCP spans that carry ``sentry.op`` and Sentry's MCP attributes themselves.

Sentry (Relay) keeps a span's ``sentry.op`` attribute and infers no MCP op from OTel attributes, so spans sent
over OTLP (sentry-sdk's ``OTLPIntegration`` or any OTLP exporter pointed at Sentry) need it on the span:

- :class:`SentryOtlpSpanProcessor` adds ``sentry.op``, ``sentry.origin``, ``mcp.tool.name`` and
  ``mcp.prompt.name`` when an MCP span starts, and, while it runs, the Sentry keys and events the telemetry
  core's facts give (``mcp.transport``, ``mcp.tool.result.*``, ``mcp.prompt.result.*``, ``mcp.progress`` /
  ``mcp.cancelled`` events: :class:`~mcp_otel.sentry.facts.LiveSpanFacts`). That is what MCP Insights needs,
  and it works with the exporter ``OTLPIntegration`` sets up, which exports the spans as they are (so these
  spans carry Sentry's keys next to the OTel ones).
- :class:`SentryOtlpSpanExporter` wraps the exporter and applies the full
  :func:`~mcp_otel.sentry.mapping.map_span` mapping at export time, later and in batches: Sentry's name, every
  Sentry attribute (``mcp.request.id``, ``mcp.tool.result.is_error`` … from the span and from the facts kept
  for it in a :class:`~mcp_otel.sentry.facts.SpanFacts` side table), the ``mcp.progress`` / ``mcp.cancelled``
  events and the content / user-data gating. Use it (with
  ``OTLPIntegration(setup_otlp_traces_exporter=False)``) when the spans should be exactly what the
  transaction path sends; :func:`otlp_exporter` builds one for the DSN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sentry_sdk
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mcp_otel._guard import log_failure_once
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.facts import LiveSpanFacts, SpanFacts, sentry_events
from mcp_otel.sentry.mapping import DEFAULT_SCOPES, SentrySpan, is_mcp_span, map_span
from mcp_otel.sentry.options import SentryMcpOptions

START_KEYS = (sentry.SENTRY_MCP_TOOL_NAME, sentry.SENTRY_MCP_PROMPT_NAME)
"""Sentry keys that are final when an MCP span starts (the rest is known only at its end)."""
OTLP_TRACES_PATH = "integration/otlp/v1/traces/"
"""Path of Sentry's OTLP traces endpoint under ``/api/<project>/``."""


def otlp_attributes(mapped: SentrySpan) -> dict[str, Any]:
    """The attributes of an OTLP span sent to Sentry: the mapped data, ``sentry.op`` and ``sentry.origin``."""
    attributes = dict(mapped.data)
    attributes[sentry.SENTRY_OP] = mapped.op
    attributes[sentry.SENTRY_ORIGIN] = mapped.origin
    return attributes


class SentryOtlpSpanProcessor(SpanProcessor):
    """Adds ``sentry.op``, ``sentry.origin``, ``mcp.tool.name`` and ``mcp.prompt.name`` to MCP spans at start.

    Register it on the ``TracerProvider`` whose spans go to Sentry over OTLP. It changes nothing else and
    never raises into the instrumented code.

    Args:
        options: mapping settings (only the op and the start keys are written here).
        scopes: instrumentation scopes whose spans are marked (default: mcp-otel's ``mcp_otel`` and mcp 2.x's
            ``mcp-python-sdk``, which mcp-otel enriches with ``sdk_spans="enrich"``).
    """

    def __init__(
        self, options: SentryMcpOptions | None = None, *, scopes: tuple[str, ...] = DEFAULT_SCOPES
    ) -> None:
        self.options = options or SentryMcpOptions()
        self.scopes = frozenset(scopes)
        self.enabled = True
        # the Sentry keys of the core's facts, on the running span
        self.facts = LiveSpanFacts(auth_client_names=self.options.auth_client_name)
        self.facts.install()

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        """Mark an MCP span for Sentry."""
        try:
            if not self.enabled:
                return
            scope = span.instrumentation_scope
            if scope is None or scope.name not in self.scopes or not is_mcp_span(span):
                return
            mapped = map_span(span, self.options.resolve())
            attributes: dict[str, Any] = {sentry.SENTRY_OP: mapped.op, sentry.SENTRY_ORIGIN: mapped.origin}
            for key in START_KEYS:
                if key in mapped.data:
                    attributes[key] = mapped.data[key]
            span.set_attributes(attributes)
            self.facts.track(span)  # the core's facts about it are written on it while it runs
        except Exception:
            log_failure_once("sentry.otlp.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        """Stop writing facts on ``span``: an ended span is read-only."""
        try:
            self.facts.untrack(span)
        except Exception:
            log_failure_once("sentry.otlp.on_end")

    def shutdown(self) -> None:
        """Stop marking spans."""
        self.enabled = False
        self.facts.uninstall()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing buffered: always ``True``."""
        return True


class SentryOtlpSpanExporter(SpanExporter):
    """Wraps an OTLP span exporter: MCP spans are exported as Sentry maps them (name, attributes, gating).

    Other spans pass through unchanged.

    Args:
        exporter: the exporter to Sentry's OTLP endpoint (see :func:`otlp_exporter`).
        options: what content and user data to send (default: follow the Sentry client).
        scopes: instrumentation scopes whose spans are mapped (default: mcp-otel's ``mcp_otel`` and mcp 2.x's
            ``mcp-python-sdk``, which mcp-otel enriches with ``sdk_spans="enrich"``).
    """

    def __init__(
        self,
        exporter: SpanExporter,
        options: SentryMcpOptions | None = None,
        *,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.exporter = exporter
        self.options = options or SentryMcpOptions()
        self.scopes = frozenset(scopes)
        # what the vendor-neutral spans leave out, until the span is exported
        self.facts = SpanFacts(auth_client_names=self.options.auth_client_name)
        self.facts.install()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Map the MCP spans of ``spans`` and hand everything to the wrapped exporter."""
        try:
            mapping = self.options.resolve(streamed=True)  # OTLP spans are span-v2 spans in Sentry
            batch = [self._map(span, mapping) for span in spans]
        except Exception:
            log_failure_once("sentry.otlp.export")
            batch = list(spans)
        return self.exporter.export(batch)

    def _map(self, span: ReadableSpan, mapping: Any) -> ReadableSpan:
        kept = self.facts.pop(span)
        scope = span.instrumentation_scope
        if scope is None or scope.name not in self.scopes or not is_mcp_span(span):
            return span
        mapped = map_span(span, mapping, kept)
        return ReadableSpan(
            name=mapped.name,
            context=span.get_span_context(),
            parent=span.parent,
            resource=span.resource,
            attributes=otlp_attributes(mapped),
            events=sentry_events(span.events),
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def shutdown(self) -> None:
        """Shut the wrapped exporter down (and stop keeping facts)."""
        self.facts.uninstall()
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return bool(self.exporter.force_flush(timeout_millis))


def otlp_endpoint(dsn: str | None = None) -> tuple[str, dict[str, str]]:
    """Sentry's OTLP traces URL and auth header for ``dsn`` (default: the current client's DSN).

    ``https://KEY@o1.ingest.sentry.io/42`` → ``https://o1.ingest.sentry.io/api/42/integration/otlp/v1/traces/``
    and ``{"X-Sentry-Auth": "Sentry sentry_key=KEY, sentry_version=7, sentry_client=mcp-otel/<version>"}``.

    Raises:
        ValueError: no DSN given and the Sentry client has none.
    """
    from sentry_sdk.utils import Dsn

    from mcp_otel.version import __version__

    if dsn is None:
        client_dsn = (
            sentry_sdk.get_client().options.get("dsn") if sentry_sdk.get_client().is_active() else None
        )
        if not client_dsn:
            raise ValueError("no DSN: pass one, or call sentry_sdk.init(dsn=...) first")
        dsn = str(client_dsn)
    parsed = Dsn(dsn)
    url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}api/{parsed.project_id}/{OTLP_TRACES_PATH}"
    header = f"Sentry sentry_key={parsed.public_key}, sentry_version=7, sentry_client=mcp-otel/{__version__}"
    return url, {"X-Sentry-Auth": header}


def otlp_exporter(dsn: str | None = None, options: SentryMcpOptions | None = None) -> SentryOtlpSpanExporter:
    """An OTLP/HTTP exporter to Sentry's endpoint for ``dsn``, wrapped in :class:`SentryOtlpSpanExporter`.

    Needs ``opentelemetry-exporter-otlp-proto-http``. Put it behind a ``BatchSpanProcessor``.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint, headers = otlp_endpoint(dsn)
    return SentryOtlpSpanExporter(OTLPSpanExporter(endpoint=endpoint, headers=headers), options)
