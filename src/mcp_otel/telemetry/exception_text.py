"""What leaves mcp-otel in exception text: span status descriptions, ``exception`` events, Sentry events.

:class:`ExceptionText` applies the ``exception_text`` setting (:mod:`mcp_otel.config`) and the user's
``content_redactor`` to each piece of text, and records ``exception`` span events with the same keys and
format as OpenTelemetry Python's ``Span.record_exception`` (``exception.type``, ``exception.message``,
``exception.stacktrace``, ``exception.escaped``; the stack trace from :func:`traceback.format_exception`).
:class:`ScrubbingSpan` puts the same rules in front of a span that other code writes to (the mcp 2.x SDK's
own spans in ``sdk_spans="enrich"`` mode).

Nothing here raises into the host: a failure is logged once and the piece of text is left out.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util.types import Attributes as OtelAttributes

from mcp_otel._guard import log_failure_once
from mcp_otel.config import (
    EXCEPTION_TEXT_FULL,
    EXCEPTION_TEXT_TYPE,
    ContentRedactor,
    McpOtelConfig,
)
from mcp_otel.model import Attributes
from mcp_otel.semconv import attributes as attr
from mcp_otel.telemetry.scrubbing import scrub

EXCEPTION_EVENT = "exception"
"""The span event name OpenTelemetry's ``Span.record_exception`` uses (the exceptions conventions)."""


class ExceptionText:
    """The exception-text rules of one configuration (``exception_text`` mode and ``content_redactor``).

    Args:
        mode: ``scrubbed`` (credentials replaced, :func:`~mcp_otel.telemetry.scrubbing.scrub`), ``full`` (as
            raised) or ``type`` (no text at all).
        redactor: the user's ``content_redactor``, called after scrubbing with the key ``exception.message``,
            ``exception.stacktrace`` or ``otel.status_description`` (``None`` from it drops the text).
    """

    __slots__ = ("mode", "_redactor", "passthrough")

    def __init__(self, mode: str, redactor: ContentRedactor | None = None) -> None:
        self.mode = mode
        self._redactor = redactor
        self.passthrough = mode == EXCEPTION_TEXT_FULL and redactor is None
        """True when text leaves as raised: spans are written to exactly as without mcp-otel."""

    @classmethod
    def of(cls, config: McpOtelConfig) -> ExceptionText:
        """The rules of ``config``."""
        return cls(config.exception_text, config.content_redactor)

    def text(self, key: str, raw: str) -> str | None:
        """``raw`` as it may be exported under ``key``: scrubbed (unless ``full``), then the redactor.

        ``None`` in ``type`` mode, when the redactor returns ``None``, or when the redactor fails (logged
        once): text the redactor did not see is never exported.
        """
        if self.mode == EXCEPTION_TEXT_TYPE:
            return None
        text = raw if self.mode == EXCEPTION_TEXT_FULL else scrub(raw)
        redactor = self._redactor
        if redactor is None:
            return text
        try:
            redacted = redactor(key, text)
        except Exception:
            log_failure_once("exception text (content_redactor)")
            return None
        return None if redacted is None else str(redacted)

    def free_text(self, raw: str) -> str:
        """Text that may hold exception text but is not only that (a log record's body): credentials
        scrubbed unless ``full``, never dropped (``type`` mode keeps the log message, scrubbed). The caller
        passes it to the redactor with its own key."""
        return raw if self.mode == EXCEPTION_TEXT_FULL else scrub(raw)

    def status_description(self, description: str | None) -> str | None:
        """A span status description (JSON-RPC error message, ``str(exception)`` …) as it may be exported."""
        if not description or self.passthrough:
            return description
        return self.text(attr.OTEL_STATUS_DESCRIPTION, description)

    def event_attributes(self, exc: BaseException, escaped: bool | None = False) -> Attributes:
        """The attributes of the ``exception`` event for ``exc``, in ``Span.record_exception``'s format
        (``escaped=None``: without ``exception.escaped``, as on a log record)."""
        cls = type(exc)
        module = cls.__module__
        attrs: Attributes = {
            attr.EXCEPTION_TYPE: f"{module}.{cls.__qualname__}"
            if module and module != "builtins"
            else cls.__qualname__
        }
        if self.mode != EXCEPTION_TEXT_TYPE:
            message = self.text(attr.EXCEPTION_MESSAGE, _str(exc))
            if message is not None:
                attrs[attr.EXCEPTION_MESSAGE] = message
            stacktrace = self.text(attr.EXCEPTION_STACKTRACE, _stacktrace(exc))
            if stacktrace is not None:
                attrs[attr.EXCEPTION_STACKTRACE] = stacktrace
        if escaped is not None:
            attrs[attr.EXCEPTION_ESCAPED] = str(escaped)
        return attrs

    def record_exception(
        self,
        span: Span,
        exc: BaseException,
        attributes: OtelAttributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Add the ``exception`` event for ``exc`` to ``span`` (``span.record_exception`` if passthrough)."""
        if self.passthrough:
            span.record_exception(exc, attributes, timestamp, escaped)
            return
        event = self.event_attributes(exc, escaped)
        if attributes:
            event.update(attributes)  # the caller's attributes win, as in the SDK
        span.add_event(EXCEPTION_EVENT, event, timestamp)


def status_description(rules: ExceptionText, description: str | None) -> str | None:
    """:meth:`ExceptionText.status_description`; on failure (logged once) ``None``."""
    try:
        return rules.status_description(description)
    except Exception:
        log_failure_once("exception text (status description)")
        return None


def guarded_text(rules: ExceptionText, key: str, raw: str) -> str | None:
    """:meth:`ExceptionText.text` (``raw`` as is when passthrough); on failure (logged once) ``None``."""
    if rules.passthrough:
        return raw
    try:
        return rules.text(key, raw)
    except Exception:
        log_failure_once("exception text")
        return None


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not cost the event
        return f"<unprintable {type(exc).__qualname__} object>"


def _stacktrace(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        return ""


class ScrubbingSpan(Span):
    """A span whose status descriptions and recorded exceptions go through :class:`ExceptionText` first.

    Handed to code mcp-otel does not own that writes exception text itself (the mcp 2.x SDK's middleware and
    dispatcher in ``enrich`` mode); everything else goes to the wrapped span.
    """

    def __init__(self, span: Span, rules: ExceptionText) -> None:
        self._span = span
        self._rules = rules

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the wrapped span's status, its description as :meth:`ExceptionText.status_description` says."""
        if isinstance(status, Status):
            if status.description:
                status = Status(status.status_code, status_description(self._rules, status.description))
        else:
            description = status_description(self._rules, description)
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: OtelAttributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Add the ``exception`` event to the wrapped span as :meth:`ExceptionText.record_exception` does."""
        guarded_record_exception(self._rules, self._span, exception, attributes, timestamp, escaped)

    def end(self, end_time: int | None = None) -> None:
        """End the wrapped span."""
        self._span.end(end_time)

    def get_span_context(self) -> SpanContext:
        """The wrapped span's context."""
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set attributes on the wrapped span."""
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute on the wrapped span."""
        self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: OtelAttributes = None, timestamp: int | None = None) -> None:
        """Add an event to the wrapped span."""
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: OtelAttributes = None) -> None:
        """Add a link to the wrapped span."""
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        """Rename the wrapped span."""
        self._span.update_name(name)

    def is_recording(self) -> bool:
        """Whether the wrapped span records."""
        return self._span.is_recording()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)


def guarded_record_exception(
    rules: ExceptionText,
    span: Span,
    exc: BaseException,
    attributes: OtelAttributes = None,
    timestamp: int | None = None,
    escaped: bool = False,
) -> None:
    """:meth:`ExceptionText.record_exception`, with any failure logged once instead of raised."""
    try:
        rules.record_exception(span, exc, attributes, timestamp, escaped)
    except Exception:
        log_failure_once("exception text (exception event)")


__all__ = [
    "EXCEPTION_EVENT",
    "ExceptionText",
    "ScrubbingSpan",
    "guarded_record_exception",
    "guarded_text",
    "status_description",
]
