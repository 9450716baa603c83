"""The :class:`Telemetry` object: one tracer, one meter and one configuration, which starts server and client
operations (:class:`~mcp_otel.telemetry.operation.Operation`) and records session durations."""

from __future__ import annotations

import threading
import time

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import Link, SpanKind, Tracer

from mcp_otel._guard import log_failure_once
from mcp_otel.config import McpOtelConfig
from mcp_otel.model import Attributes, Message, Session, Transport
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import metrics as semconv_metrics
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import CLIENT_NAME_OTHER
from mcp_otel.session_ids import SessionIds
from mcp_otel.telemetry.active import active_request
from mcp_otel.telemetry.exception_text import ExceptionText
from mcp_otel.telemetry.logs import LogSignal
from mcp_otel.telemetry.operation import Operation
from mcp_otel.telemetry.propagation import parent_context
from mcp_otel.telemetry.rounds import round_owner, without_round

_CLIENT_NAME = sentry.SENTRY_MCP_CLIENT_NAME  # a metric extension: semconv_metrics.*_EXTENSION_ATTRIBUTES


class Telemetry:
    """Creates MCP spans and metric points with one tracer, one meter and one configuration.

    Args:
        tracer: the tracer for MCP spans (instrumentation scope ``mcp_otel``).
        meter: the meter for the MCP duration histograms.
        config: the resolved :class:`~mcp_otel.config.McpOtelConfig`.
        logs: the log signal (``None`` when log records are switched off).
    """

    def __init__(
        self, tracer: Tracer, meter: Meter, config: McpOtelConfig, logs: LogSignal | None = None
    ) -> None:
        self.tracer = tracer
        self.config = config
        self.exception_text = ExceptionText.of(config)  # what exception text may leave (scrubbed by default)
        self.logs = logs
        self.adopt_sdk_spans = False  # set by the instrumentor: the mcp 2.x hook set in ``enrich`` mode
        self.server_duration: Histogram | None = None
        self.client_duration: Histogram | None = None
        self.server_session_duration: Histogram | None = None
        self.client_session_duration: Histogram | None = None
        if config.metrics:
            self.server_duration = semconv_metrics.create_mcp_server_operation_duration(meter)
            self.client_duration = semconv_metrics.create_mcp_client_operation_duration(meter)
            self.server_session_duration = semconv_metrics.create_mcp_server_session_duration(meter)
            self.client_session_duration = semconv_metrics.create_mcp_client_session_duration(meter)
        # the client names admitted to metric points (at most metrics_client_name_limit), when switched on
        self._client_names: dict[str, str] | None = (
            {} if config.metrics and config.metrics_client_name else None
        )
        self._client_names_lock = threading.Lock()
        self.session_ids = SessionIds()  # stdio and sessionless sessions (see mcp_otel.session_ids)

    def metric_client_name(self, name: str | None) -> str | None:
        """The ``mcp.client.name`` value for metric points of a client called ``name``.

        ``None`` when the option is off or the client sent no name; the name itself for the first
        ``metrics_client_name_limit`` distinct names; ``_OTHER`` for every later one (only admitted names
        are remembered, so a client sending endless names costs no memory).
        """
        names = self._client_names
        if names is None or not name:
            return None
        label = names.get(name)
        if label is not None:
            return label
        with self._client_names_lock:
            if name in names:
                return names[name]
            if len(names) < self.config.metrics_client_name_limit:
                names[name] = name
                return name
        return CLIENT_NAME_OTHER

    def session_client_name(self, session: Session) -> str | None:
        """:meth:`metric_client_name` of the session's client, computed once per session."""
        if self._client_names is None or session.client is None:
            return None
        label = session.metric_client_name
        if label is None:
            label = session.metric_client_name = self.metric_client_name(session.client.name)
        return label

    def record_session(
        self,
        kind: SpanKind,
        started: float,
        session: Session,
        transport: Transport,
        error: BaseException | None,
    ) -> None:
        """Record one ``mcp.{server,client}.session.duration`` point (seconds) for a session that closed.

        Args:
            kind: ``SpanKind.SERVER`` for the server side of the session, ``SpanKind.CLIENT`` for the client.
            started: ``time.perf_counter()`` when the session started.
            session: what the session negotiated (protocol version).
            transport: the session's transport (``network.*``, ``server.*`` on the client).
            error: the exception that ended the session, if any (its class becomes ``error.type``).
        """
        if kind is SpanKind.SERVER:
            histogram, keys = (
                self.server_session_duration,
                semconv_metrics.MCP_SERVER_SESSION_DURATION_ATTRIBUTES,
            )
        else:
            histogram, keys = (
                self.client_session_duration,
                semconv_metrics.MCP_CLIENT_SESSION_DURATION_ATTRIBUTES,
            )
        if histogram is None:
            return
        attrs: Attributes = {**session.attributes(), **transport.attributes()}
        if error is not None:
            attrs[attr.ERROR_TYPE] = type(error).__qualname__
        point = {k: attrs[k] for k in keys if k in attrs}
        if kind is SpanKind.SERVER:
            client_name = self.session_client_name(session)
            if client_name is not None:
                point[_CLIENT_NAME] = client_name
        histogram.record(time.perf_counter() - started, point)

    def start_server_request(
        self, message: Message, current: otel_context.Context | None = None
    ) -> Operation | None:
        """Start the SERVER span of a received request; ``None`` when its method is excluded.

        The parent is the W3C context carried in ``params._meta`` when it holds a valid one — and then the
        ambient span (e.g. the HTTP server span) becomes a link — else the ambient context, else the
        ``traceparent`` HTTP header of the request that carried the message. Call :meth:`Operation.activate`
        around the handler to make it current.

        Args:
            message: the received message.
            current: the current context, when the caller has it already (else it is read).
        """
        excluded = message.method in self.config.excluded_methods
        if excluded and message.log is None:
            return None
        parent = parent_context(message.carrier) if message.carrier else None
        ambient = trace.get_current_span(current).get_span_context()
        links: tuple[Link, ...] = ()
        if parent is not None:
            # in-process peers: the ambient span often is the parent itself, which needs no link
            if (
                ambient.is_valid
                and ambient.span_id != trace.get_current_span(parent).get_span_context().span_id
            ):
                links = (Link(ambient),)
        elif not ambient.is_valid and message.http_headers is not None:
            parent = parent_context(message.http_headers)
        if parent is not None and message.round is not None:  # a retried round: its baggage stops here
            parent = without_round(parent)
        if parent is None:
            parent = current  # the ambient context (``None``: read when the span starts)
        op = (
            None
            if excluded
            else Operation(self, message, SpanKind.SERVER, parent, links, self.adopt_sdk_spans)
        )
        if message.log is not None and self.logs is not None:  # a received log notification
            try:
                self.logs.received(message, op, parent)
            except Exception:  # the record is lost, never the span
                log_failure_once("log record of a received notifications/message")
        return op

    def start_client_request(
        self, message: Message, current: otel_context.Context | None = None
    ) -> Operation | None:
        """Start the CLIENT span of a request or notification this process sends (child of the current span).

        The conventions give the sender of a notification a CLIENT span too, and its receiver a SERVER span
        (:meth:`start_server_request`); ``message.direction`` records which way a notification travelled.
        ``current`` is the current context when the caller has it already (else it is read). A log
        notification becomes a log record in the context of the request that sends it. A later round of a
        multi-round-trip call is an operation owned by the call (:mod:`mcp_otel.telemetry.rounds`).
        """
        if message.log is not None and self.logs is not None:
            try:
                self.logs.sent(message, current, active_request())
            except Exception:  # the record is lost, never the span
                log_failure_once("log record of a sent notifications/message")
        if message.method in self.config.excluded_methods:
            return None
        owner = round_owner(message)
        return Operation(self, message, SpanKind.CLIENT, current, (), self.adopt_sdk_spans, owner)
