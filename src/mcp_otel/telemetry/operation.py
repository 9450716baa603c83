"""One in-flight MCP request or notification: its span's lifecycle, its context and its duration point.

Follows the OpenTelemetry MCP semantic conventions: span name ``{mcp.method.name} {target}``, SERVER spans on
the side that processes a message, CLIENT spans on the side that sends it, and one
``mcp.{client,server}.operation.duration`` point (seconds) when it ends. How it ended (results, errors) is
recorded by :class:`~mcp_otel.telemetry.outcome.OperationOutcome`, its base class.
"""

from __future__ import annotations

import weakref
from contextvars import Token
from time import perf_counter
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind

from mcp_otel import listeners
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL, Attributes, Message
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import (
    LOG_RECORD_ATTRIBUTES,
    SERVER_NON_ERROR_CODES,
    SERVER_NON_ERROR_CODES_2026_07_28,
)
from mcp_otel.session_ids import needs_own_id
from mcp_otel.telemetry.active import ReadOnlyOperation, _active, active_client_request
from mcp_otel.telemetry.capture import capture_arguments
from mcp_otel.telemetry.exception_text import ExceptionText, guarded_record_exception
from mcp_otel.telemetry.outcome import OperationOutcome

if TYPE_CHECKING:
    from mcp_otel.telemetry.core import Telemetry

_EXECUTE_TOOL = attr.GenAiOperationNameValues.EXECUTE_TOOL.value
_CLIENT_NAME = attr.MCP_CLIENT_NAME  # a metric extension: semconv_metrics.*_EXTENSION_ATTRIBUTES
_NO_CODES: frozenset[int] = frozenset()
# the conventions' exclusions and mcp-otel's decision for the codes the 2026-07-28 revision added
_SERVER_NON_ERROR_CODES = SERVER_NON_ERROR_CODES | SERVER_NON_ERROR_CODES_2026_07_28


class Operation(OperationOutcome):
    """One in-flight request: its span (SERVER or CLIENT), its outcome and its duration.

    Hooks call :meth:`activate` / :meth:`deactivate` around the handler (server) or the send (client),
    report the outcome with :meth:`set_result` (a tool result), :meth:`set_prompt_result`,
    :meth:`set_error_response` or :meth:`set_exception`, then :meth:`end`.

    An operation may own child operations: a multi-round-trip call (:mod:`mcp_otel.telemetry.rounds`) is its
    first request's operation, held open (:meth:`hold`) until the SDK's driver got the final result; each
    later round is an ordinary request operation whose :attr:`owner` it is (it records no metric point: the
    owner records the one point of the call). Without an owner nothing of this costs anything.
    """

    __slots__ = (
        "_attrs",
        "_adopt",
        "_client_name",
        "_ctx_token",
        "_delivered",
        "_exception_type",
        "_held",
        "_histogram",
        "_log_mark",
        "_metric_keys",
        "_non_error_codes",
        "_opened_here",
        "_own_session_id",
        "_parent",
        "_recording",
        "_start",
        "_telemetry",
        "_token",
        "__weakref__",
        "key",
        "kind",
        "message",
        "method",
        "owner",
        "span",
    )
    _log_mark: tuple[bool, int] | None

    def __init__(
        self,
        telemetry: Telemetry,
        message: Message,
        kind: SpanKind,
        parent: otel_context.Context | None,
        links: tuple[Link, ...],
        adopt: bool = False,
        owner: Operation | None = None,
    ) -> None:
        self._telemetry = telemetry
        self.kind = kind
        self.message = message
        self.method = method = message.method
        session = message.session
        config = telemetry.config
        if kind is SpanKind.SERVER:
            self._histogram = telemetry.server_duration
            self._metric_keys = telemetry.server_metric_keys
            self._non_error_codes = _SERVER_NON_ERROR_CODES
            self._client_name = telemetry.session_client_name(session) if config.metrics_client_name else None
        else:
            self._histogram = telemetry.client_duration
            self._metric_keys = telemetry.client_metric_keys
            self._non_error_codes = _NO_CODES
            self._client_name = None  # the client's own name is not the segment the extension is for
        self.owner = owner  # the logical call this request is a round of
        if owner is not None:
            self._histogram = None  # the logical call records the call's one point
        self._held = False
        self._delivered = 0
        name = message.name
        attrs: Attributes = {attr.MCP_METHOD_NAME: method}
        span_name = method
        if name is not None:
            span_name = f"{method} {name}"
            if method == TOOLS_CALL:
                attrs[attr.GEN_AI_TOOL_NAME] = name
                attrs[attr.GEN_AI_OPERATION_NAME] = _EXECUTE_TOOL
            elif method == PROMPTS_GET:
                attrs[attr.GEN_AI_PROMPT_NAME] = name
        elif message.uri is not None and config.resource_uri_in_span_name:
            span_name = f"{method} {message.uri}"
        if message.direction is not None:
            attrs[attr.MCP_OTEL_NOTIFICATION_DIRECTION] = message.direction
        # the metric point needs these too; both dicts are cached per session / transport
        attrs.update(session.attributes())
        attrs.update(message.transport.attributes())
        if telemetry.renames:  # OTEL_SEMCONV_STABILITY_OPT_IN selected a rename
            config.semconv_keys.rename(attrs)
        self._attrs = attrs
        self._own_session_id: str | None = None
        self._opened_here = False
        if config.session_id_attribute and needs_own_id(message, attrs):
            sending = kind is SpanKind.CLIENT
            sender = None if sending else active_client_request()  # an in-process peer
            peer_id = sender.own_session_id if sender is not None else None
            self._own_session_id, self._opened_here = telemetry.session_ids.for_message(
                message, sending, peer_id
            )
        self._parent = parent
        self._adopt = adopt
        if adopt:  # ``enrich``: the SDK's span, created inside the call, is adopted by adopt_span()
            self.span = INVALID_SPAN
            self._recording = False
        else:
            # passed at start so samplers see them, and validated once; ids and the URI stay off ``_attrs``
            # (none of them belongs on a metric point)
            span_only = self._span_only_attributes()
            self.span = span = telemetry.tracer.start_span(
                span_name,
                context=parent,
                kind=kind,
                attributes={**attrs, **span_only} if span_only else attrs,
                links=links,
            )
            self._recording = recording = span.is_recording()
            if recording and config.capture_content and message.arguments is not None:
                capture_arguments(config, span, method, message.arguments())
            if recording and listeners.fact_receivers:
                self.hand_start_facts()
        self._exception_type: str | None = None
        self._token: Token[weakref.ref[Operation] | None] | None = None
        self._ctx_token: object | None = None
        self.key: Any = None  # the SDK object this request belongs to (hooks match responses with it)
        self._start = perf_counter()

    def _span_only_attributes(self) -> Attributes | None:
        """What only spans get (the JSON-RPC id, ``session.id``, the resource URI), or ``None``."""
        attrs, message = self._attrs, self.message
        extra: Attributes | None = None
        session_id = attrs.get(attr.MCP_SESSION_ID)
        if session_id is not None and self._telemetry.config.session_id_attribute:
            extra = {attr.SESSION_ID: session_id}
        elif self._own_session_id is not None:
            extra = {attr.SESSION_ID: self._own_session_id}
        if message.request_id is not None:
            if extra is None:
                extra = {}
            extra[attr.JSONRPC_REQUEST_ID] = str(message.request_id)
        if message.uri is not None:
            if extra is None:
                extra = {}
            extra[attr.MCP_RESOURCE_URI] = message.uri
        if message.round:  # 0: a later round of unknown number
            if extra is None:
                extra = {}
            extra[attr.MCP_OTEL_REQUEST_ROUND] = message.round
        return extra

    def log_attributes(self) -> Attributes:
        """The attributes of a log record made while this operation runs (a new dict).

        What its metric point carries, less the outcome (the low-cardinality request attributes of
        :data:`~mcp_otel.semconv.signals.LOG_RECORD_ATTRIBUTES`), plus the session's identity attributes and
        ids (``mcp.session.id``, ``session.id``): a log record is not aggregated, so ids cost nothing there.
        """
        attrs = self._attrs
        out: Attributes = {k: v for k, v in attrs.items() if k in LOG_RECORD_ATTRIBUTES}
        out.update(self.message.session.attributes())
        session_id = attrs.get(attr.MCP_SESSION_ID)
        if session_id is not None and self._telemetry.config.session_id_attribute:
            out[attr.SESSION_ID] = session_id
        elif self._own_session_id is not None:
            out[attr.SESSION_ID] = self._own_session_id
        return out

    def repeats_log(self, from_notification: bool, text: str) -> bool:
        """Whether a log record of ``text`` repeats this request's previous one from the other source (a
        Python ``logging`` record and an MCP log notification of the same text: one event logged both ways).

        Remembers one record (a hash), never a list: the repeat is recognised right after its twin.
        """
        mark = (from_notification, hash(text))
        previous = getattr(self, "_log_mark", None)  # unset until the request logs: nothing to pay before
        if previous is not None and previous[0] is not from_notification and previous[1] == mark[1]:
            self._log_mark = None
            return True
        self._log_mark = mark
        return False

    @property
    def own_session_id(self) -> str | None:
        """The ``session.id`` mcp-otel made (or took from the peer) for a session without a protocol id."""
        return self._own_session_id

    @property
    def carried_session_id(self) -> str | None:
        """:attr:`own_session_id` when this is a message this process sends in a session it opened (the
        client side): the id the message carries to the peer in its baggage."""
        if self.kind is SpanKind.CLIENT and self._opened_here:
            return self._own_session_id
        return None

    @property
    def pending_adoption(self) -> bool:
        """True for an ``enrich``-mode operation whose SDK span has not been created yet."""
        return self._adopt and self.span is INVALID_SPAN

    def adopt_span(self, span: Span) -> None:
        """``enrich`` mode: make the SDK's span this operation's span and add mcp-otel's attributes to it.

        The SDK keeps ownership: it ends the span; outcomes known only after it ended stay off the span
        (they still reach the metric point).
        """
        self.span = span
        self._recording = span.is_recording()
        if self._recording:
            span.set_attributes(self._attrs)
            span_only = self._span_only_attributes()
            if span_only:
                span.set_attributes(span_only)
            config = self._telemetry.config
            if config.capture_content and self.message.arguments is not None:
                capture_arguments(config, span, self.method, self.message.arguments())
            if listeners.fact_receivers:
                self.hand_start_facts()

    def activate(self) -> None:
        """Make the span current (handler spans and outbound calls nest under it); this the active request.

        In ``enrich`` mode only the latter: the SDK makes its own span current.
        """
        if not self._adopt:
            ctx = trace.set_span_in_context(self.span, self._parent)
            self._ctx_token = otel_context.attach(ctx)
        self._token = _active.set(weakref.ref(self))

    def deactivate(self) -> None:
        """Undo :meth:`activate` (same task and context)."""
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        if self._ctx_token is not None:
            otel_context.detach(self._ctx_token)  # type: ignore[arg-type]
            self._ctx_token = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute on the span (and keep it for the metric point)."""
        self._attrs[key] = value
        if self._live():
            self.span.set_attribute(key, value)

    def set_request_id(self, request_id: str | int) -> None:
        """Record the JSON-RPC id once the SDK allocated it (client side)."""
        self.message.request_id = request_id
        if self._live():
            self.span.set_attribute(attr.JSONRPC_REQUEST_ID, str(request_id))

    def update_session(self, session_attributes: Attributes) -> None:
        """Add session attributes learned while the request ran (``initialize``)."""
        if self._telemetry.renames:
            session_attributes = dict(session_attributes)
            self._telemetry.config.semconv_keys.rename(session_attributes)
        self._attrs.update(session_attributes)
        if self.kind is SpanKind.SERVER and self._client_name is None:
            client_name = session_attributes.get(_CLIENT_NAME)
            if isinstance(client_name, str):
                self._client_name = self._telemetry.metric_client_name(client_name)
        if self._live():
            self.span.set_attributes(session_attributes)
            session_id = session_attributes.get(attr.MCP_SESSION_ID)
            if session_id is not None and self._telemetry.config.session_id_attribute:
                self.span.set_attribute(attr.SESSION_ID, session_id)

    @property
    def exception_text(self) -> ExceptionText:
        """The rules exception text follows (``exception_text`` setting, ``content_redactor``)."""
        return self._telemetry.exception_text

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event for ``exc`` (which the SDK may turn into a result or error response);
        its message and stack trace follow :attr:`exception_text` (scrubbed by default)."""
        if self._live():
            guarded_record_exception(self._telemetry.exception_text, self.span, exc)
        if listeners.registered:
            listeners.notify("on_exception", ReadOnlyOperation(self), exc)

    def set_exception(self, exc: BaseException) -> None:
        """Record an exception that escaped the handler; the next error response is typed by its class."""
        self._exception_type = type(exc).__qualname__
        self.record_exception(exc)

    def hold(self) -> None:
        """Keep the operation open past :meth:`end` (a multi-round-trip call's first request, whose driver
        goes on): :meth:`end_held` ends it."""
        self._held = True

    def end_held(self) -> None:
        """End an operation :meth:`hold` kept open (no-op when it was not held or already ended)."""
        if self._held:
            self._held = False
            self.end()

    def count_delivered(self, count: int = 1) -> None:
        """Count events a long-lived channel (``subscriptions/listen``) delivered."""
        self._delivered += count

    def end(self) -> None:
        """End the span and record the operation duration point (seconds); deferred while held."""
        if self._held:
            return
        duration = perf_counter() - self._start
        if not self._adopt:
            self.span.end()
        if listeners.registered:
            listeners.notify("on_operation_end", ReadOnlyOperation(self))
        histogram = self._histogram
        if histogram is not None:
            attrs = self._attrs
            point = {k: attrs[k] for k in self._metric_keys if k in attrs}
            if self._client_name is not None:
                point[_CLIENT_NAME] = self._client_name
            histogram.record(duration, point)
