"""How an operation ended: the outcome half of :class:`~mcp_otel.telemetry.operation.Operation`.

Results (tool and prompt), JSON-RPC error responses, errors, cancellation and progress, following the OTel MCP
conventions' status and ``error.type`` rules and Sentry's result-shape keys. Content is read only on opt-in
(:mod:`mcp_otel.telemetry.capture`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from mcp_otel.model import TOOLS_CALL, Attributes
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import CANCELLED, EVENT_MCP_CANCELLED, EVENT_MCP_PROGRESS, TOOL_ERROR
from mcp_otel.telemetry.capture import capture_prompt_description, capture_single_message, capture_tool_result
from mcp_otel.telemetry.exception_text import status_description

if TYPE_CHECKING:
    from mcp_otel.telemetry.core import Telemetry

_INPUT_REQUIRED = attr.McpOtelResultTypeValues.INPUT_REQUIRED.value
_COMPLETE = attr.McpOtelResultTypeValues.COMPLETE.value
_LOST = attr.McpOtelSubscriptionEndValues.LOST.value


class OperationOutcome:
    """The outcome methods of :class:`~mcp_otel.telemetry.operation.Operation` (its only base class).

    Holds no state of its own: the attributes below are :class:`Operation`'s slots.
    """

    __slots__ = ()

    method: str
    span: Span
    _attrs: Attributes
    _telemetry: Telemetry
    _recording: bool
    _adopt: bool
    _exception_type: str | None
    _non_error_codes: frozenset[int]
    _delivered: int

    def _live(self) -> bool:
        """Whether the span takes updates: recording, and (an adopted SDK span) not yet ended by the SDK."""
        return self._recording and (not self._adopt or getattr(self.span, "end_time", None) is None)

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
        if is_tool_error:
            self._attrs[attr.ERROR_TYPE] = TOOL_ERROR
        if not live:
            return
        shape: Attributes = (
            {sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR: is_tool_error} if self.method == TOOLS_CALL else {}
        )
        if content_count is not None and shape:
            shape[sentry.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT] = content_count
        if is_tool_error:
            shape[attr.ERROR_TYPE] = TOOL_ERROR
            self.span.set_status(Status(StatusCode.ERROR))
        if shape:
            self.span.set_attributes(shape)
        if result is not None and self._telemetry.config.capture_content:
            capture_tool_result(self._telemetry.config, self.span, is_tool_error, result())

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
        config = self._telemetry.config
        if not config.capture_content:
            return
        if description is not None:
            capture_prompt_description(config, self.span, description())
        if messages is not None:
            capture_single_message(config, self.span, messages())

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
        """Mark the operation failed with ``error.type=error_type`` and ERROR status; the status description
        follows the ``exception_text`` setting (credentials scrubbed by default)."""
        self._attrs[attr.ERROR_TYPE] = error_type
        if self._live():
            self.span.set_attribute(attr.ERROR_TYPE, error_type)
            description = status_description(self._telemetry.exception_text, description)
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

    def set_input_required(self, request_count: int, round_: int | None = None) -> None:
        """Record a result of type ``input_required`` (an ``InputRequiredResult``: not an error).

        Sets ``mcp_otel.result.type`` (on the span and the metric point, so that dashboards count each logical
        call once) and ``mcp_otel.input_request.count``; no result attributes are read from it.

        Args:
            request_count: the number of input requests the result carried (0: state only).
            round_: the request's round, when the caller learned it only now (the first round, on a server).
        """
        self._attrs[attr.MCP_OTEL_RESULT_TYPE] = _INPUT_REQUIRED
        if self._live():
            shape: Attributes = {
                attr.MCP_OTEL_RESULT_TYPE: _INPUT_REQUIRED,
                attr.MCP_OTEL_INPUT_REQUEST_COUNT: request_count,
            }
            if round_:
                shape[attr.MCP_OTEL_REQUEST_ROUND] = round_
            self.span.set_attributes(shape)

    def set_final_round(self) -> None:
        """Mark the span of a multi-round-trip request's round that got the final result (``complete``)."""
        if self._live():
            self.span.set_attribute(attr.MCP_OTEL_RESULT_TYPE, _COMPLETE)

    def end_channel(self, end: str, error_type: str | None = None, description: str | None = None) -> None:
        """Record how a ``subscriptions/listen`` channel ended and how many events it delivered.

        Args:
            end: an ``mcp_otel.subscription.end`` value; only ``lost`` is an error (``error_type``, ERROR).
            error_type: ``error.type`` of a lost channel (the exception class or the JSON-RPC code).
            description: the status description of a lost channel.
        """
        if self._live():
            self.span.set_attributes(
                {attr.MCP_OTEL_SUBSCRIPTION_END: end, attr.MCP_OTEL_SUBSCRIPTION_EVENT_COUNT: self._delivered}
            )
        if end == _LOST:
            self.set_error(error_type or _LOST, description)

    @property
    def error_type(self) -> str | None:
        """The ``error.type`` recorded so far (``None`` while the operation has not failed)."""
        value = self._attrs.get(attr.ERROR_TYPE)
        return value if isinstance(value, str) else None
