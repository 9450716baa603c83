"""How an operation ended: the outcome half of :class:`~mcp_otel.telemetry.operation.Operation`.

Results (tool and prompt), JSON-RPC error responses, errors, cancellation and progress, following the OTel MCP
conventions' status and ``error.type`` rules. What the conventions have no key for — a result's shape, an
``isError`` result's text, progress and cancellation details — goes to listeners as facts
(:mod:`mcp_otel.facts`), built only when a listener is registered. Content is read only on opt-in
(:mod:`mcp_otel.telemetry.capture`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.trace import Span, Status, StatusCode

from mcp_otel import facts, listeners
from mcp_otel.model import TOOLS_CALL, Attributes, Message
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import CANCELLED, EVENT_CANCELLED, EVENT_PROGRESS, TOOL_ERROR
from mcp_otel.telemetry.active import ReadOnlyOperation
from mcp_otel.telemetry.capture import capture_tool_result, prompt_result_fact, tool_result_fact
from mcp_otel.telemetry.exception_text import guarded_text, status_description
from mcp_otel.telemetry.fact_fields import (
    NOTIFICATION_METHODS,
    content_items,
    notification_fields,
    prompt_messages,
)

if TYPE_CHECKING:
    from mcp_otel.telemetry.core import Telemetry
    from mcp_otel.telemetry.operation import Operation

_TOOL_ERROR_ATTRIBUTES: Attributes = {attr.ERROR_TYPE: TOOL_ERROR}

_INPUT_REQUIRED = attr.McpOtelResultTypeValues.INPUT_REQUIRED.value
_COMPLETE = attr.McpOtelResultTypeValues.COMPLETE.value
_LOST = attr.McpOtelSubscriptionEndValues.LOST.value


class OperationOutcome:
    """The outcome methods of :class:`~mcp_otel.telemetry.operation.Operation` (its only base class).

    Holds no state of its own: the attributes below are :class:`Operation`'s slots.
    """

    __slots__ = ()

    method: str
    message: Message
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

    def hand_fact(self, fact: str, value: Any) -> None:
        """Hand ``fact`` (:mod:`mcp_otel.facts`) to the registered listeners; callers check
        :data:`mcp_otel.listeners.fact_receivers` first (nothing is built when no one listens)."""
        listeners.notify_fact(ReadOnlyOperation(cast("Operation", self)), fact, value)

    def hand_start_facts(self) -> None:
        """Hand the facts known at the start to the listeners: :data:`mcp_otel.facts.TRANSPORT` (the
        transport's kind), :data:`~mcp_otel.facts.NOTIFICATION` (a notification's fields) and
        :data:`~mcp_otel.facts.ACCESS_TOKEN` (the request's verified OAuth access token)."""
        message = self.message
        kind = message.transport.kind
        if kind is not None:
            self.hand_fact(facts.TRANSPORT, kind)
        if message.access_token is not None:
            self.hand_fact(facts.ACCESS_TOKEN, message.access_token)
        if message.direction is not None and message.method in NOTIFICATION_METHODS:
            fields = notification_fields(self._telemetry.config, message.method, message.params)
            if fields is not None:
                if fields.reason:  # the peer's free text follows exception_text, as record_cancelled's
                    reason = guarded_text(
                        self._telemetry.exception_text, attr.MCP_OTEL_CANCELLED_REASON, fields.reason
                    )
                    fields = fields._replace(reason=reason)
                self.hand_fact(facts.NOTIFICATION, fields)

    def set_result(
        self,
        is_tool_error: bool,
        result: Callable[[], Any] | None = None,
        content_count: int | None = None,
        content: Any = None,
    ) -> None:
        """Record a successful JSON-RPC result of ``tools/call``.

        An ``isError`` result sets ``error.type=tool_error`` and ERROR status (no description: the error text
        is tool output). With content capture on, a success records ``gen_ai.tool.call.result`` (a JSON
        object, see :func:`~mcp_otel.telemetry.capture.as_object`). Listeners get the result's shape and, with
        content capture on, its text as the :data:`mcp_otel.facts.TOOL_RESULT` fact.

        Args:
            is_tool_error: the result is a ``CallToolResult`` with ``isError``.
            result: a callable returning the tool result's JSON value (its ``structuredContent``, else its
                content blocks); called only when content capture is on.
            content_count: the number of content items of the result (``len(result.content)``).
            content: the result's content items (SDK objects or JSON dicts), read only when a listener is
                registered (:func:`~mcp_otel.telemetry.fact_fields.content_items`).
        """
        live = self._live()
        if is_tool_error:
            self._attrs[attr.ERROR_TYPE] = TOOL_ERROR
        if not live:
            return
        if is_tool_error:
            self.span.set_attributes(_TOOL_ERROR_ATTRIBUTES)
            self.span.set_status(Status(StatusCode.ERROR))
        config = self._telemetry.config
        value = result() if result is not None and config.capture_content else None
        wanted = bool(listeners.fact_receivers) and self.method == TOOLS_CALL
        text = None
        if value is not None and not is_tool_error:
            text = capture_tool_result(config, self.span, value, wanted)
        if wanted:
            items = content_items(config, content)
            fact = tool_result_fact(config, is_tool_error, content_count, value, text, items)
            self.hand_fact(facts.TOOL_RESULT, fact)

    def set_prompt_result(
        self,
        message_count: int | None,
        description: Callable[[], Any] | None = None,
        messages: Callable[[], Any] | None = None,
    ) -> None:
        """Record a ``prompts/get`` result: nothing on the span (no convention describes it); listeners get
        its shape and, with content capture on, its description and single message as the
        :data:`mcp_otel.facts.PROMPT_RESULT` fact.

        Args:
            message_count: the number of messages.
            description: a callable returning the result's description; called only when content capture is
                on (and a listener is registered).
            messages: a callable returning the result's messages (``PromptMessage`` objects or their JSON
                dicts); called only when content capture is on (and a listener is registered).
        """
        if not listeners.fact_receivers or not self._live():
            return
        config = self._telemetry.config
        capture = config.capture_content
        listed = messages() if capture and messages is not None else None
        fact = prompt_result_fact(
            config,
            message_count,
            description() if capture and description is not None else None,
            listed,
            prompt_messages(config, listed),
        )
        self.hand_fact(facts.PROMPT_RESULT, fact)

    def set_error_response(self, code: int, message: str | None) -> None:
        """Record a JSON-RPC error response with ``code``.

        Sets ``rpc.response.status_code`` (or, on opt-in, ``rpc.status_code``: see
        :mod:`mcp_otel.semconv_stability`). On a SERVER span, the codes the conventions say a server must not
        count (parse error, invalid request, method not found, invalid params, resource not found) leave the
        status UNSET and no ``error.type``; every other code — and every code on a CLIENT span — sets
        ``error.type`` (the exception class when an exception caused it, else the code) and ERROR.
        """
        code_text = str(code)
        live = self._live()
        for key in self._telemetry.status_code_keys:  # OTEL_SEMCONV_STABILITY_OPT_IN: old, new or both keys
            self._attrs[key] = code_text
            if live:
                self.span.set_attribute(key, code_text)
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
        """Add an ``mcp_otel.progress`` event (``mcp_otel.progress.current`` / ``.total``, the numbers as the
        peer sent them) for this request; listeners get the :data:`mcp_otel.facts.PROGRESS` fact."""
        if self._live():
            event: Attributes = {attr.MCP_OTEL_PROGRESS_CURRENT: progress}
            if total is not None:
                event[attr.MCP_OTEL_PROGRESS_TOTAL] = total
            self.span.add_event(EVENT_PROGRESS, event)
            if listeners.fact_receivers:
                self.hand_fact(facts.PROGRESS, facts.Progress(progress, total))

    def record_cancelled(self, reason: str | None) -> None:
        """Record that the peer cancelled this request: an ``mcp_otel.cancelled`` event (with
        ``mcp_otel.cancelled.reason`` when given), ``error.type=cancelled`` and ERROR status (the operation
        did not complete); listeners get the :data:`mcp_otel.facts.CANCELLED` fact.

        The reason is the peer's free text, as an error message is: it follows the ``exception_text`` setting
        (credentials scrubbed by default, none in ``type`` mode; the redactor sees it under its key) on the
        event, the fact and the status description alike.
        """
        if self._live():
            rules = self._telemetry.exception_text
            text = guarded_text(rules, attr.MCP_OTEL_CANCELLED_REASON, reason) if reason else None
            event: Attributes = {attr.MCP_OTEL_CANCELLED_REASON: text} if text else {}
            self.span.add_event(EVENT_CANCELLED, event)
            if listeners.fact_receivers:
                self.hand_fact(facts.CANCELLED, text)
        self.set_error(CANCELLED, reason)  # the status description follows the same rules

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
