"""The telemetry core: turns version-neutral :mod:`mcp_otel.model` messages into spans and metric points.

Follows the OpenTelemetry MCP semantic conventions (semantic-conventions-genai ``docs/gen-ai/mcp.md``):
span name ``{mcp.method.name} {target}``; SERVER spans on the side that processes a message, CLIENT spans on
the side that sends it; status and ``error.type`` rules (every JSON-RPC error code counts on the client, the
server skips the caller's mistakes; ``tool_error`` for ``CallToolResult.isError``); and the
``mcp.{client,server}.operation.duration`` histograms (seconds).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind, Status, StatusCode, Tracer

from mcp_otel import listeners
from mcp_otel._guard import log_failure_once
from mcp_otel.config import McpOtelConfig
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL, Attributes, Message, Session, Transport
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import metrics as semconv_metrics
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import (
    CANCELLED,
    CLIENT_NAME_OTHER,
    EVENT_MCP_CANCELLED,
    EVENT_MCP_PROGRESS,
    SERVER_NON_ERROR_CODES,
    TOOL_ERROR,
)
from mcp_otel.session_ids import SessionIds, needs_own_id, with_session_id, without_session_id

_EXECUTE_TOOL = attr.GenAiOperationNameValues.EXECUTE_TOOL.value
_CLIENT_NAME = sentry.SENTRY_MCP_CLIENT_NAME  # a metric extension: semconv_metrics.*_EXTENSION_ATTRIBUTES
_NO_CODES: frozenset[int] = frozenset()

# A weak reference: copies of the context made while a request ran (timers, idle worker threads, background
# tasks the handler started) must not keep its Operation, its span and its session alive after it ended.
_active: ContextVar[weakref.ref[Operation] | None] = ContextVar("mcp_otel_active_operation", default=None)


def active_operation() -> Operation | None:
    """The request whose span mcp-otel made current in this context (server handler or client send)."""
    ref = _active.get()
    return ref() if ref is not None else None


def active_request() -> Operation | None:
    """The server request whose handler runs in this context, if any."""
    op = active_operation()
    return op if op is not None and op.kind is SpanKind.SERVER else None


def active_client_request() -> Operation | None:
    """The client request being sent in this context, if any."""
    op = active_operation()
    return op if op is not None and op.kind is SpanKind.CLIENT else None


class OperationView(Protocol):
    """What listeners see of an operation (:mod:`mcp_otel.listeners`): read-only.

    :class:`Operation` has these members; listeners get a :class:`ReadOnlyOperation` in front of it, so they
    cannot start, end or re-type the operation the hooks are running.
    """

    @property
    def kind(self) -> SpanKind:
        """``SpanKind.SERVER`` (a message this process handles) or ``SpanKind.CLIENT`` (one it sends)."""

    @property
    def method(self) -> str:
        """The JSON-RPC method."""

    @property
    def message(self) -> Message:
        """The message, as the hooks described it."""

    @property
    def span(self) -> Span:
        """The operation's span (the invalid span when not recording)."""

    @property
    def error_type(self) -> str | None:
        """The ``error.type`` recorded so far (``None`` while the operation has not failed)."""


class ReadOnlyOperation:
    """An :class:`OperationView` of one :class:`Operation`, handed to listeners."""

    __slots__ = ("_op",)

    def __init__(self, op: Operation) -> None:
        self._op = op

    @property
    def kind(self) -> SpanKind:
        """See :class:`OperationView`."""
        return self._op.kind

    @property
    def method(self) -> str:
        """See :class:`OperationView`."""
        return self._op.method

    @property
    def message(self) -> Message:
        """See :class:`OperationView`."""
        return self._op.message

    @property
    def span(self) -> Span:
        """See :class:`OperationView`."""
        return self._op.span

    @property
    def error_type(self) -> str | None:
        """See :class:`OperationView`."""
        return self._op.error_type


class Telemetry:
    """Creates MCP spans and metric points with one tracer, one meter and one configuration.

    Args:
        tracer: the tracer for MCP spans (instrumentation scope ``mcp_otel``).
        meter: the meter for the MCP duration histograms.
        config: the resolved :class:`~mcp_otel.config.McpOtelConfig`.
    """

    def __init__(self, tracer: Tracer, meter: Meter, config: McpOtelConfig) -> None:
        self.tracer = tracer
        self.config = config
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

    def start_server_request(self, message: Message) -> Operation | None:
        """Start the SERVER span of a received request; ``None`` when its method is excluded.

        The parent is the W3C context carried in ``params._meta`` when it holds a valid one — and then the
        ambient span (e.g. the HTTP server span) becomes a link — else the ambient context, else the
        ``traceparent`` HTTP header of the request that carried the message. Call :meth:`Operation.activate`
        around the handler to make it current.
        """
        if message.method in self.config.excluded_methods:
            return None
        parent = parent_context(message.carrier)
        ambient = trace.get_current_span().get_span_context()
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
        return Operation(self, message, SpanKind.SERVER, parent, links, self.adopt_sdk_spans)

    def start_client_request(self, message: Message) -> Operation | None:
        """Start the CLIENT span of a request or notification this process sends (child of the current span).

        The conventions give the sender of a notification a CLIENT span too, and its receiver a SERVER span
        (:meth:`start_server_request`); ``message.direction`` records which way a notification travelled.
        """
        if message.method in self.config.excluded_methods:
            return None
        return Operation(self, message, SpanKind.CLIENT, None, (), self.adopt_sdk_spans)

    def capture(self, key: str, value: Any) -> str | None:
        """Serialise one content value for attribute ``key``: JSON, then the redactor, then truncation.

        Returns ``None`` when the redactor dropped it — or failed, or the value could not be serialised: a
        value the user's redactor did not see is never recorded. Only called when content capture is on.
        """
        try:
            text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
            redactor = self.config.content_redactor
            if redactor is not None:
                redacted = redactor(key, text)
                if redacted is None:
                    return None
                text = str(redacted)
        except Exception:
            log_failure_once("content capture (serialiser or content_redactor)")
            return None
        return text[: self.config.max_content_length]


def parent_context(carrier: Mapping[str, Any] | None) -> otel_context.Context | None:
    """The context extracted from a ``_meta`` carrier with the global propagators, or ``None``.

    ``None`` (use the ambient context) when the carrier is missing or holds no valid span context.
    """
    if not carrier:
        return None
    try:
        ctx = propagate.extract(carrier)
    except (TypeError, ValueError, AttributeError):
        return None
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    return without_session_id(ctx)  # the peer's session id grouped this session; it travels no further


def inject(meta: MutableMapping[str, Any]) -> None:
    """Inject the current context into a ``_meta`` dict with the global propagators, keeping existing keys.

    A ``traceparent`` (or any other key) the caller already put there is never overwritten. When the message
    being sent belongs to a session this process opened and mcp-otel gave an id (stdio, 2026-07-28), the
    injected baggage carries that id too: only in this message, the caller's context is left as it is.
    """
    carrier: dict[str, str] = {}
    op = active_client_request()
    carried = op.carried_session_id if op is not None else None
    propagate.inject(carrier, context=with_session_id(carried) if carried is not None else None)
    for key, value in carrier.items():
        if key not in meta:
            meta[key] = value


class Operation:
    """One in-flight request: its span (SERVER or CLIENT), its outcome and its duration.

    Hooks call :meth:`activate` / :meth:`deactivate` around the handler (server) or the send (client),
    report the outcome with :meth:`set_result` (a tool result), :meth:`set_prompt_result`,
    :meth:`set_error_response` or :meth:`set_exception`, then :meth:`end`.
    """

    __slots__ = (
        "_attrs",
        "_adopt",
        "_client_name",
        "_ctx_token",
        "_exception_type",
        "_histogram",
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
        "span",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        message: Message,
        kind: SpanKind,
        parent: otel_context.Context | None,
        links: tuple[Link, ...],
        adopt: bool = False,
    ) -> None:
        self._telemetry = telemetry
        self.kind = kind
        self.message = message
        self.method = method = message.method
        if kind is SpanKind.SERVER:
            self._histogram = telemetry.server_duration
            self._metric_keys = semconv_metrics.MCP_SERVER_OPERATION_DURATION_ATTRIBUTES
            self._non_error_codes = SERVER_NON_ERROR_CODES
            self._client_name = telemetry.session_client_name(message.session)
        else:
            self._histogram = telemetry.client_duration
            self._metric_keys = semconv_metrics.MCP_CLIENT_OPERATION_DURATION_ATTRIBUTES
            self._non_error_codes = _NO_CODES
            self._client_name = None  # the client's own name is not the segment the extension is for
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
        elif message.uri is not None and telemetry.config.resource_uri_in_span_name:
            span_name = f"{method} {message.uri}"
        if message.direction is not None:
            attrs[attr.MCP_OTEL_NOTIFICATION_DIRECTION] = message.direction
        # the metric point needs these too; both dicts are cached per session / transport
        attrs.update(message.session.attributes())
        attrs.update(message.transport.attributes())
        self._attrs = attrs
        self._own_session_id: str | None = None
        self._opened_here = False
        if telemetry.config.session_id_attribute and needs_own_id(message, attrs):
            sending = kind is SpanKind.CLIENT
            sender = None if sending else active_client_request()  # an in-process peer
            peer_id = sender.own_session_id if sender is not None else None
            self._own_session_id, self._opened_here = telemetry.session_ids.for_message(
                message, sending, peer_id
            )
        self._parent = parent
        self._adopt = adopt
        if adopt:  # ``enrich``: the SDK's span, created inside the call, is adopted by adopt_span()
            self.span: Span = INVALID_SPAN
            self._recording = False
        else:
            # passed at start so samplers see them, and set (and validated) once
            self.span = telemetry.tracer.start_span(
                span_name, context=parent, kind=kind, attributes=attrs, links=links
            )
            self._recording = self.span.is_recording()
            if self._recording:
                self._decorate(self.span.set_attributes)
        self._exception_type: str | None = None
        self._token: Token[weakref.ref[Operation] | None] | None = None
        self._ctx_token: object | None = None
        self.key: Any = None  # the SDK object this request belongs to (hooks match responses with it)
        self._start = time.perf_counter()

    def _decorate(self, set_attributes: Callable[[Attributes], None]) -> None:
        """Put what only recording spans get (ids, URI, content) on the span with ``set_attributes``.

        They stay out of ``_attrs``: none of them belongs on a metric point.
        """
        attrs, message, config = self._attrs, self.message, self._telemetry.config
        extra: Attributes = {}
        session_id = attrs.get(attr.MCP_SESSION_ID)
        if session_id is not None and config.session_id_attribute:
            extra[attr.SESSION_ID] = session_id
        elif self._own_session_id is not None:
            extra[attr.SESSION_ID] = self._own_session_id
        if message.request_id is not None:
            extra[attr.JSONRPC_REQUEST_ID] = str(message.request_id)
        if message.uri is not None:
            extra[attr.MCP_RESOURCE_URI] = message.uri
        if extra:
            set_attributes(extra)
        if config.capture_content and message.arguments is not None:
            self._capture_arguments(message.arguments)

    def _live(self) -> bool:
        """Whether the span takes updates: recording, and (an adopted SDK span) not yet ended by the SDK."""
        return self._recording and (not self._adopt or getattr(self.span, "end_time", None) is None)

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
            self._decorate(span.set_attributes)

    def _capture_arguments(self, arguments: Callable[[], Any]) -> None:
        args = arguments()
        if args is None:
            return
        telemetry = self._telemetry
        # A raw 2.x request may carry arguments of any JSON type: record as sent, iterate a mapping only.
        is_mapping = isinstance(args, Mapping)
        if self.method == TOOLS_CALL:
            value = telemetry.capture(attr.GEN_AI_TOOL_CALL_ARGUMENTS, dict(args) if is_mapping else args)
            if value is not None:
                self.span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, value)
        elif self.method == PROMPTS_GET and is_mapping:
            for key, raw in args.items():
                full_key = f"{attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE}.{key}"
                value = telemetry.capture(full_key, raw)
                if value is not None:
                    self.span.set_attribute(full_key, value)

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
        if self._live():
            self.span.set_attribute(attr.JSONRPC_REQUEST_ID, str(request_id))

    def update_session(self, session_attributes: Attributes) -> None:
        """Add session attributes learned while the request ran (``initialize``)."""
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

    def set_result(
        self,
        is_tool_error: bool,
        result: Callable[[], Any] | None = None,
        content_count: int | None = None,
    ) -> None:
        """Record a successful JSON-RPC result of ``tools/call``.

        The result's shape is recorded on a recording ``tools/call`` span whatever the content setting:
        ``mcp.tool.result.is_error`` and, when given, ``mcp.tool.result.content_count`` (Sentry's MCP keys;
        no content is read).

        With content capture on, the result is read: ``gen_ai.tool.call.result`` (a success) or
        ``mcp.tool.result.content`` (an ``isError`` result: its error text, which OTel does not record), and
        ``mcp.tool.result.content_type`` of a single-item result (Sentry's keys).

        Args:
            is_tool_error: the result is a ``CallToolResult`` with ``isError`` → ``error.type=tool_error``
                and ERROR status (no description: the error text is tool output, recorded only on opt-in).
            result: a callable returning the tool result's JSON value (its ``structuredContent``, else its
                content blocks); called only when content capture is on.
            content_count: the number of content items of the result (``len(result.content)``).
        """
        live = self._live()
        if self.method == TOOLS_CALL and live:
            self.span.set_attribute(sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR, is_tool_error)
            if content_count is not None:
                self.span.set_attribute(sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT, content_count)
        if is_tool_error:
            self._attrs[attr.ERROR_TYPE] = TOOL_ERROR
            if live:
                self.span.set_attribute(attr.ERROR_TYPE, TOOL_ERROR)
                self.span.set_status(Status(StatusCode.ERROR))
        if result is not None and live and self._telemetry.config.capture_content:
            self._capture_result(is_tool_error, result())

    def _capture_result(self, is_tool_error: bool, value: Any) -> None:
        key = sentry.SENTRY_MCP_TOOL_RESULT_CONTENT if is_tool_error else attr.GEN_AI_TOOL_CALL_RESULT
        text = self._telemetry.capture(key, value)
        if text is not None:
            self.span.set_attribute(key, text)
        content_type = _single_item_type(value)
        if content_type is not None:
            self.span.set_attribute(sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_TYPE, content_type)

    def set_prompt_result(
        self,
        message_count: int | None,
        description: Callable[[], Any] | None = None,
        messages: Callable[[], Any] | None = None,
    ) -> None:
        """Record the shape of a ``prompts/get`` result on a recording span.

        Args:
            message_count: the number of messages (``mcp.prompt.result.message_count``), always recorded.
            description: a callable returning the result's description; called only when content capture is
                on (``mcp.prompt.result.description`` is prompt output), through the redactor and truncation.
            messages: a callable returning the result's messages (a sequence of ``PromptMessage`` objects or
                their JSON dicts); called only when content capture is on: a single-message result records
                ``mcp.prompt.result.message_role`` and ``.message_content`` (redacted, truncated).
        """
        if not self._live():
            return
        if message_count is not None:
            self.span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT, message_count)
        if not self._telemetry.config.capture_content:
            return
        if description is not None:
            text = description()
            if isinstance(text, str) and text:
                value = self._telemetry.capture(sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION, text)
                if value is not None:
                    self.span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION, value)
        if messages is not None:
            self._capture_single_message(messages())

    def _capture_single_message(self, messages: Any) -> None:
        if not isinstance(messages, (list, tuple)) or len(messages) != 1:
            return  # Sentry's keys describe a single-message result
        role = _field(messages[0], "role")
        if isinstance(role, str):
            self.span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE, role)
        content = _field(messages[0], "content")
        text = _field(content, "text")
        value = self._telemetry.capture(
            sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT, text if isinstance(text, str) else _json(content)
        )
        if value is not None:
            self.span.set_attribute(sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT, value)

    def set_error_response(self, code: int, message: str | None) -> None:
        """Record a JSON-RPC error response with ``code``.

        Sets ``rpc.response.status_code``. On a SERVER span, the codes the conventions say a server must not
        count (parse error, invalid request, method not found, invalid params, resource not found) leave the
        status UNSET and no ``error.type``; every other code — and every code on a CLIENT span — sets
        ``error.type`` (the exception class when an exception caused it, else the code) and ERROR.
        """
        code_text = str(code)
        self._attrs[attr.RPC_RESPONSE_STATUS_CODE] = code_text
        if self._live():
            self.span.set_attribute(attr.RPC_RESPONSE_STATUS_CODE, code_text)
        if code in self._non_error_codes:
            return
        self.set_error(self._exception_type or code_text, message)

    def set_error(self, error_type: str, description: str | None = None) -> None:
        """Mark the operation failed with ``error.type=error_type`` and ERROR status."""
        self._attrs[attr.ERROR_TYPE] = error_type
        if self._live():
            self.span.set_attribute(attr.ERROR_TYPE, error_type)
            self.span.set_status(Status(StatusCode.ERROR, description))

    def add_event(self, name: str, attributes: Attributes) -> None:
        """Add a span event (progress, cancellation) to the span."""
        if self._live():
            self.span.add_event(name, attributes)

    def record_progress(self, progress: float, total: float | None) -> None:
        """Add an ``mcp.progress`` event (``mcp.progress.current`` / ``.total``) for this request."""
        if self._live():
            event: Attributes = {sentry.SENTRY_MCP_PROGRESS_CURRENT: progress}
            if total is not None:
                event[sentry.SENTRY_MCP_PROGRESS_TOTAL] = total
            self.span.add_event(EVENT_MCP_PROGRESS, event)

    def record_cancelled(self, reason: str | None) -> None:
        """Record that the peer cancelled this request: an ``mcp.cancelled`` event, ``error.type=cancelled``
        and ERROR status (the operation did not complete)."""
        if self._live():
            event: Attributes = {sentry.SENTRY_MCP_CANCELLED_REASON: reason} if reason else {}
            self.span.add_event(EVENT_MCP_CANCELLED, event)
        self.set_error(CANCELLED, reason)

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event for ``exc`` (which the SDK may turn into a result or error response)."""
        if self._live():
            self.span.record_exception(exc)
        if listeners.listeners():
            listeners.notify("on_exception", ReadOnlyOperation(self), exc)

    @property
    def error_type(self) -> str | None:
        """The ``error.type`` recorded so far (``None`` while the operation has not failed)."""
        value = self._attrs.get(attr.ERROR_TYPE)
        return value if isinstance(value, str) else None

    def set_exception(self, exc: BaseException) -> None:
        """Record an exception that escaped the handler; the next error response is typed by its class."""
        self._exception_type = type(exc).__qualname__
        self.record_exception(exc)

    def end(self) -> None:
        """End the span and record the operation duration point (seconds)."""
        duration = time.perf_counter() - self._start
        if not self._adopt:
            self.span.end()
        if listeners.listeners():
            listeners.notify("on_operation_end", ReadOnlyOperation(self))
        histogram = self._histogram
        if histogram is not None:
            attrs = self._attrs
            point = {k: attrs[k] for k in self._metric_keys if k in attrs}
            if self._client_name is not None:
                point[_CLIENT_NAME] = self._client_name
            histogram.record(duration, point)


def _field(value: Any, name: str) -> Any:
    """``value[name]`` of a JSON dict, or ``value.name`` of an SDK (pydantic) object."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _json(value: Any) -> Any:
    """A JSON-compatible form of an SDK (pydantic) object, for :meth:`Telemetry.capture`."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if callable(dump) else value


def _single_item_type(value: Any) -> str | None:
    """The ``type`` of the only content block of a result's blocks (``None``: structured or several)."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        kind = _field(value[0], "type")
        return kind if isinstance(kind, str) else None
    return None
