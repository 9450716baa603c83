"""mcp-otel → Sentry: MCP spans in Sentry's MCP Insights, linked errors and release-health sessions.

Install with the ``sentry`` extra (``pip install "mcp-otel[sentry]"``), then::

    import sentry_sdk
    from sentry_sdk.integrations.mcp import MCPIntegration

    import mcp_otel.sentry
    from mcp_otel import McpInstrumentor

    sentry_sdk.init(dsn="...", traces_sample_rate=1.0, release="my-server@1.0.0",
                    disabled_integrations=[MCPIntegration()])
    mcp_sentry = mcp_otel.sentry.setup()
    McpInstrumentor().instrument(capture_content=mcp_sentry.capture_content)

Everything goes through the client ``sentry_sdk.init`` created (DSN or Spotlight, sampling, release,
environment, ``before_send*``, ``ignore_errors``). :func:`setup` wires four parts, each usable on its own:

- spans: :class:`SentrySpanProcessor` (MCP spans → Sentry transactions and spans, or streamed segments and
  spans with ``trace_lifecycle="stream"``) or, with ``otlp=True``,
  :class:`SentryOtlpSpanProcessor` for sentry-sdk's ``OTLPIntegration`` (``sentry.op`` on the OTLP spans);
- errors: :class:`ErrorCapture` (each tool/handler exception → one error event, linked to its span);
- release health: :class:`ReleaseHealth` (each MCP session → one Sentry session);
- trace context: :class:`SentryMetaPropagator` (``sentry-trace`` + ``baggage`` in ``params._meta``, read when
  there is no ``traceparent`` and written next to it, as Sentry JS 11.17 reads and writes them).
- logs: :class:`SentryLogs` (mcp-otel's log records → Sentry Logs, linked to their span, with
  ``sentry_sdk.init(enable_logs=True)``; ``docs/logs.md``).

See ``docs/sentry.md`` for the mapping table and the recommended ``sentry_sdk.init`` settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from mcp_otel.sentry.errors import ErrorCapture
from mcp_otel.sentry.fact_keys import AuthClientName
from mcp_otel.sentry.health import ReleaseHealth
from mcp_otel.sentry.logs import SentryLogs
from mcp_otel.sentry.mapping import (
    OP_MCP_CLIENT,
    ORIGIN,
    MappingOptions,
    SentrySpan,
    is_mcp_span,
    map_span,
    sentry_attributes,
    sentry_name,
    sentry_op,
)
from mcp_otel.sentry.mechanism import MECHANISM
from mcp_otel.sentry.options import SentryMcpOptions
from mcp_otel.sentry.otlp import (
    SentryOtlpSpanExporter,
    SentryOtlpSpanProcessor,
    otlp_endpoint,
    otlp_exporter,
)
from mcp_otel.sentry.processor import SentrySpanProcessor
from mcp_otel.sentry.propagation import SentryMetaPropagator
from mcp_otel.telemetry import add_meta_propagator, remove_meta_propagator

__all__ = [
    "MECHANISM",
    "OP_MCP_CLIENT",
    "ORIGIN",
    "ErrorCapture",
    "MappingOptions",
    "McpSentry",
    "ReleaseHealth",
    "SentryLogs",
    "SentryMcpOptions",
    "SentryOtlpSpanExporter",
    "SentryMetaPropagator",
    "SentryOtlpSpanProcessor",
    "SentrySpan",
    "SentrySpanProcessor",
    "is_mcp_span",
    "map_span",
    "otlp_endpoint",
    "otlp_exporter",
    "sentry_attributes",
    "sentry_name",
    "sentry_op",
    "setup",
]


@dataclass
class McpSentry:
    """What :func:`setup` installed; :meth:`close` removes it again.

    Attributes:
        options: the settings shared by all parts.
        processor: the span processor added to the tracer provider.
        errors: the error capture (``None`` when disabled).
        health: the release-health listener (``None`` when disabled).
        propagator: the ``sentry-trace`` / ``baggage`` ``_meta`` propagator (``None`` when disabled).
        logs: the Sentry Logs listener (``None`` when disabled).
    """

    options: SentryMcpOptions
    processor: SpanProcessor
    errors: ErrorCapture | None
    health: ReleaseHealth | None
    propagator: SentryMetaPropagator | None = None
    logs: SentryLogs | None = None

    @property
    def capture_content(self) -> bool:
        """Whether Sentry may receive tool arguments or results (resolved against the current client).

        Pass it to ``McpInstrumentor().instrument(capture_content=...)``: mcp-otel records content on spans
        only when asked, and Sentry can only receive what the spans carry.
        """
        resolved = self.options.resolve()
        return resolved.record_inputs or resolved.record_outputs

    def close(self) -> None:
        """Stop sending: disable the span processor, remove the listeners and the ``_meta`` propagator (the
        Sentry client stays)."""
        if self.propagator is not None:
            remove_meta_propagator(self.propagator)
        self.processor.shutdown()
        if self.errors is not None:
            self.errors.uninstall()
        if self.health is not None:
            self.health.uninstall()
        if self.logs is not None:
            self.logs.uninstall()


def setup(
    tracer_provider: TracerProvider | None = None,
    *,
    record_inputs: bool | None = None,
    record_outputs: bool | None = None,
    send_user_info: bool | None = None,
    resource_uri_in_name: bool | None = None,
    auth_client_name: AuthClientName | None = None,
    capture_errors: bool = True,
    release_health: bool = True,
    client_sessions: bool = False,
    drop_sentry_mcp_events: bool = True,
    otlp: bool = False,
    client_spans: bool = True,
    sentry_trace: bool = True,
    logs: bool = True,
) -> McpSentry:
    """Connect mcp-otel to the Sentry client (``sentry_sdk.init``, before or after this call).

    Args:
        tracer_provider: the SDK provider mcp-otel's spans go to (default: the global one; an SDK
            ``TracerProvider`` is created and made global when there is none).
        record_inputs: send tool arguments / prompt variables (default: ``data_collection`` ``mcp.inputs``,
            else ``gen_ai.inputs``, else ``send_default_pii``; see :mod:`mcp_otel.sentry.options`).
        record_outputs: send tool results (default: ``data_collection`` ``mcp.outputs``, else
            ``gen_ai.outputs``, else ``send_default_pii``).
        send_user_info: send client address/port, the resource URI attribute and the session distinct id
            (default: ``send_default_pii`` or ``data_collection.user_info``).
        resource_uri_in_name: name ``resources/*`` spans with the URI (``True``) or by the method alone
            (``False``); default: Sentry JS 11.17's rule, with the URI for transactions, without it in span
            streaming mode and on the OTLP path.
        auth_client_name: ``(access_token) -> str | None``: the display name Sentry gets as
            ``mcp.auth.client.name`` for a request whose OAuth access token the server's auth verified (the
            SDK's ``mcp.server.auth.provider.AccessToken``); default: the token's ``client_id``. A resolver
            that raises or returns ``None`` gives no name (Sentry JS 11.17's ``getOAuthClientName``).
        capture_errors: capture tool and handler exceptions as error events.
        release_health: report MCP sessions as release-health sessions.
        client_sessions: also report MCP sessions this process opens as a client.
        drop_sentry_mcp_events: drop the duplicate spans and error events of sentry-sdk's ``MCPIntegration``
            (better: disable it, see ``docs/sentry.md``), in transaction and in span streaming mode.
        otlp: spans go to Sentry over OTLP (``OTLPIntegration``): add :class:`SentryOtlpSpanProcessor`
            instead of :class:`SentrySpanProcessor`.
        client_spans: also send the requests this process sends as an MCP client (``mcp.client``);
            ``False``: only the messages it receives (SERVER spans) and the MCP spans nested in them (not
            applied on the OTLP path, which exports every span).
        sentry_trace: continue traces from ``sentry-trace`` + ``baggage`` in ``params._meta`` when it holds
            no ``traceparent``, and write both next to ``traceparent`` in what this process sends (Sentry JS
            11.17 reads and writes only these, unless its ``propagateTraceparent`` is on).
        logs: send mcp-otel's log records to Sentry Logs when the client has ``enable_logs`` (checked per
            record, so ``sentry_sdk.init`` may come later).
    """
    options = SentryMcpOptions(
        record_inputs=record_inputs,
        record_outputs=record_outputs,
        send_user_info=send_user_info,
        resource_uri_in_name=resource_uri_in_name,
        auth_client_name=auth_client_name,
    )
    provider = tracer_provider if tracer_provider is not None else _global_sdk_provider()
    processor: SpanProcessor
    if otlp:
        processor = SentryOtlpSpanProcessor(options)
    else:
        processor = SentrySpanProcessor(
            options, client_spans=client_spans, drop_sentry_mcp_events=drop_sentry_mcp_events
        )
    provider.add_span_processor(processor)
    errors = None
    if capture_errors:
        errors = ErrorCapture(options, drop_sentry_mcp_events=drop_sentry_mcp_events)
        errors.install()
    health = None
    if release_health:
        health = ReleaseHealth(options, client_sessions=client_sessions)
        health.install()
    propagator = None
    if sentry_trace:
        propagator = SentryMetaPropagator()
        add_meta_propagator(propagator)
    sentry_logs = None
    if logs:
        sentry_logs = SentryLogs(options)
        sentry_logs.install()
    return McpSentry(
        options=options,
        processor=processor,
        errors=errors,
        health=health,
        logs=sentry_logs,
        propagator=propagator,
    )


def _global_sdk_provider() -> TracerProvider:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider
    created = TracerProvider()
    trace.set_tracer_provider(created)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    return created
