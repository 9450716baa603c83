"""The telemetry core: turns version-neutral :mod:`mcp_otel.model` objects into spans and metric points.

Follows the OpenTelemetry MCP semantic conventions (semantic-conventions-genai ``docs/gen-ai/mcp.md``):
span name ``{mcp.method.name} {target}``, SERVER span kind, status and ``error.type`` rules (JSON-RPC codes a
server does not count as errors, ``tool_error`` for ``CallToolResult.isError``), and the
``mcp.server.operation.duration`` histogram.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from mcp_otel.config import McpOtelConfig
from mcp_otel.model import Attributes, InboundRequest
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import metrics as semconv_metrics
from mcp_otel.semconv.signals import SERVER_NON_ERROR_CODES, TOOL_ERROR

_TOOLS_CALL = attr.McpMethodNameValues.TOOLS_CALL.value
_PROMPTS_GET = attr.McpMethodNameValues.PROMPTS_GET.value
_EXECUTE_TOOL = attr.GenAiOperationNameValues.EXECUTE_TOOL.value
_SERVER_METRIC_KEYS = semconv_metrics.MCP_SERVER_OPERATION_DURATION_ATTRIBUTES

_active_request: ContextVar[ServerRequest | None] = ContextVar("mcp_otel_active_request", default=None)


def active_request() -> ServerRequest | None:
    """The server request whose handler is running in the current context, if any."""
    return _active_request.get()


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
        self.server_duration: Histogram | None = (
            semconv_metrics.create_mcp_server_operation_duration(meter) if config.metrics else None
        )

    def start_server_request(self, request: InboundRequest) -> ServerRequest | None:
        """Start the SERVER span of an inbound request; ``None`` when its method is excluded.

        The parent is the W3C context carried in ``params._meta`` when it holds a valid one, else the ambient
        context. The span is not made current: call :meth:`ServerRequest.activate` around the handler.
        """
        method = request.method
        if method in self.config.excluded_methods:
            return None
        return ServerRequest(self, request)

    def capture(self, key: str, value: Any) -> str | None:
        """Serialise one content value for attribute ``key``: JSON, then the redactor, then truncation.

        Returns ``None`` when the redactor dropped it. Only called when content capture is on.
        """
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        redactor = self.config.content_redactor
        if redactor is not None:
            redacted = redactor(key, text)
            if redacted is None:
                return None
            text = str(redacted)
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
    return ctx


class ServerRequest:
    """One in-flight inbound request: its SERVER span, its outcome and its duration.

    Hooks call :meth:`activate` / :meth:`deactivate` around the handler, report the outcome with
    :meth:`set_result`, :meth:`set_error_response` or :meth:`set_exception`, then :meth:`end` once.
    """

    __slots__ = (
        "_attrs",
        "_exception_type",
        "_parent",
        "_recording",
        "_start",
        "_telemetry",
        "_token",
        "_ctx_token",
        "key",
        "method",
        "span",
    )

    def __init__(self, telemetry: Telemetry, request: InboundRequest) -> None:
        self._telemetry = telemetry
        self.method = method = request.method
        name = request.name
        attrs: Attributes = {attr.MCP_METHOD_NAME: method}
        span_name = method
        if name is not None:
            span_name = f"{method} {name}"
            if method == _TOOLS_CALL:
                attrs[attr.GEN_AI_TOOL_NAME] = name
                attrs[attr.GEN_AI_OPERATION_NAME] = _EXECUTE_TOOL
            elif method == _PROMPTS_GET:
                attrs[attr.GEN_AI_PROMPT_NAME] = name
        elif request.uri is not None and telemetry.config.resource_uri_in_span_name:
            span_name = f"{method} {request.uri}"
        self._parent = parent_context(request.carrier)
        self.span = span = telemetry.tracer.start_span(
            span_name, context=self._parent, kind=SpanKind.SERVER, attributes=attrs
        )
        self._recording = recording = span.is_recording()
        attrs.update(request.session.attributes())
        attrs.update(request.transport.attributes())
        if recording:
            if request.request_id is not None:
                attrs[attr.JSONRPC_REQUEST_ID] = str(request.request_id)
            if request.uri is not None:
                attrs[attr.MCP_RESOURCE_URI] = request.uri
            if telemetry.config.capture_content and request.arguments is not None:
                self._capture_arguments(request.arguments)
            span.set_attributes(attrs)
        self._attrs = attrs
        self._exception_type: str | None = None
        self._token: Token[ServerRequest | None] | None = None
        self._ctx_token: object | None = None
        self.key: object = None  # the SDK object this request belongs to (hooks match responses with it)
        self._start = time.perf_counter()

    def _capture_arguments(self, arguments: Callable[[], Mapping[str, Any] | None]) -> None:
        args = arguments()
        if args is None:
            return
        telemetry = self._telemetry
        if self.method == _TOOLS_CALL:
            value = telemetry.capture(attr.GEN_AI_TOOL_CALL_ARGUMENTS, dict(args))
            if value is not None:
                self.span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, value)
        elif self.method == _PROMPTS_GET:
            for key, raw in args.items():
                full_key = f"{attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE}.{key}"
                value = telemetry.capture(full_key, raw)
                if value is not None:
                    self.span.set_attribute(full_key, value)

    def activate(self) -> None:
        """Make the span current (handler spans nest under it) and this request the active one."""
        ctx = trace.set_span_in_context(self.span, self._parent)
        self._ctx_token = otel_context.attach(ctx)
        self._token = _active_request.set(self)

    def deactivate(self) -> None:
        """Undo :meth:`activate` (same task and context)."""
        if self._token is not None:
            _active_request.reset(self._token)
            self._token = None
        if self._ctx_token is not None:
            otel_context.detach(self._ctx_token)  # type: ignore[arg-type]
            self._ctx_token = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute on the span (and keep it for the metric point)."""
        self._attrs[key] = value
        if self._recording:
            self.span.set_attribute(key, value)

    def update_session(self, session_attributes: Attributes) -> None:
        """Add session attributes learned while the request ran (``initialize``)."""
        self._attrs.update(session_attributes)
        if self._recording:
            self.span.set_attributes(session_attributes)

    def set_result(self, is_tool_error: bool, result: Callable[[], Any] | None = None) -> None:
        """Record a successful JSON-RPC result.

        Args:
            is_tool_error: the result is a ``CallToolResult`` with ``isError`` → ``error.type=tool_error``
                and ERROR status (no description: the error text is tool output, recorded only on opt-in).
            result: a callable returning the tool result's JSON value; called only when content capture is on.
        """
        if is_tool_error:
            self._attrs[attr.ERROR_TYPE] = TOOL_ERROR
            if self._recording:
                self.span.set_attribute(attr.ERROR_TYPE, TOOL_ERROR)
                self.span.set_status(Status(StatusCode.ERROR))
        elif result is not None and self._recording and self._telemetry.config.capture_content:
            value = self._telemetry.capture(attr.GEN_AI_TOOL_CALL_RESULT, result())
            if value is not None:
                self.span.set_attribute(attr.GEN_AI_TOOL_CALL_RESULT, value)

    def set_error_response(self, code: int, message: str | None) -> None:
        """Record a JSON-RPC error response with ``code``.

        Sets ``rpc.response.status_code``; codes the conventions say a server must not count (parse error,
        invalid request, method not found, invalid params, resource not found) leave the status UNSET and no
        ``error.type``; any other code sets ``error.type`` (the exception class when an exception caused it,
        else the code) and ERROR with ``message``.
        """
        code_text = str(code)
        self._attrs[attr.RPC_RESPONSE_STATUS_CODE] = code_text
        if self._recording:
            self.span.set_attribute(attr.RPC_RESPONSE_STATUS_CODE, code_text)
        if code in SERVER_NON_ERROR_CODES:
            return
        error_type = self._exception_type or code_text
        self._attrs[attr.ERROR_TYPE] = error_type
        if self._recording:
            self.span.set_attribute(attr.ERROR_TYPE, error_type)
            self.span.set_status(Status(StatusCode.ERROR, message))

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event for ``exc`` (which the SDK may turn into a result or error response)."""
        if self._recording:
            self.span.record_exception(exc)

    def set_exception(self, exc: BaseException) -> None:
        """Record an exception that escaped the handler; the next error response is typed by its class."""
        self._exception_type = type(exc).__qualname__
        self.record_exception(exc)

    def end(self) -> None:
        """End the span and record the ``mcp.server.operation.duration`` point (seconds)."""
        duration = time.perf_counter() - self._start
        self.span.end()
        histogram = self._telemetry.server_duration
        if histogram is not None:
            attrs = self._attrs
            histogram.record(duration, {k: attrs[k] for k in _SERVER_METRIC_KEYS if k in attrs})
