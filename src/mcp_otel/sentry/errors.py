"""Error capture: each exception a tool or handler raises becomes exactly one Sentry error event.

:class:`ErrorCapture` is an mcp-otel listener. mcp-otel reports the exception objects a server's tools and
handlers raise — also those the SDK turns into an ``isError`` result (mcp 1.x ``FastMCP``, mcp 2.x
``MCPServer``) — and ErrorCapture captures each once through the user's Sentry client: mechanism
``auto.ai.mcp_server``, ``handled: false`` and the ``data`` of Sentry's JavaScript SDK
(:mod:`mcp_otel.sentry.mechanism`), the trace context of the request's span (trace id, span id, op,
origin and the span data as :func:`~mcp_otel.sentry.mapping.map_span` gates it), the transaction name of
that span. The client's ``ignore_errors``, ``sample_rate``, ``before_send`` and scope data apply.

No double capture: a global event processor (registered while an ErrorCapture is installed) drops

- error events of sentry-sdk's own ``MCPIntegration`` (mechanism ``mcp``): mcp-otel
  captures handler exceptions itself, with the OTel trace context;
- error events whose exception chain holds an exception mcp-otel captured (mcp 2.x logs the tool exception it
  converted, which ``LoggingIntegration`` would capture again);
- ``LoggingIntegration`` events from the ``mcp`` / ``fastmcp`` loggers logged inside a running request
  handler (mcp 1.x ``FastMCP`` logs before it re-raises; mcp-otel captures the exception next).

Any other event carrying an exception marks it as seen, and mcp-otel then does not capture it again (a tool
that calls ``sentry_sdk.capture_exception(e)`` and re-raises, ``OTLPIntegration(capture_exceptions=True)``).
Error events captured by user code while an MCP handler runs get the trace context of the MCP span when no
Sentry span is active, so they join its trace; and, unless inputs are recorded, their frame variables that
hold the request's arguments are replaced with ``[Filtered]``, as on mcp-otel's own events.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span, SpanKind, format_span_id, format_trace_id
from sentry_sdk.utils import event_from_exception

from mcp_otel._guard import log_failure_once
from mcp_otel.listeners import McpListener
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.sentry.mapping import (
    NAME_SERVER_FALLBACK,
    ORIGIN,
    STATUS_INTERNAL_ERROR,
    MappingOptions,
    map_span,
    sentry_op,
)
from mcp_otel.sentry.mechanism import SENTRY_PYTHON_MECHANISM, mechanism
from mcp_otel.sentry.options import SentryMcpOptions
from mcp_otel.telemetry import active_operation, active_request

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

    from mcp_otel.telemetry import OperationView as Operation  # listeners get a read-only view

HINT_KEY = "mcp_otel"
"""Key mcp-otel sets in the hint of its own error events (``before_send`` can read it)."""
FILTERED = "[Filtered]"
"""What a frame variable holding a request argument becomes when inputs are not recorded."""

_OURS = "captured"
_SEEN = "seen"
_MCP_LOGGERS = ("mcp", "fastmcp")
_SHORT_ARGUMENT = 4  # shorter argument strings are scrubbed only where a variable equals them

_lock = threading.Lock()
_captures: tuple[ErrorCapture, ...] = ()
_processor_installed = False
# Marks of exceptions seen or captured, by id (the user's exception objects are never changed): with a weak
# reference that removes the entry when the exception dies, or — built-in exception types support no weak
# references — a strong one, for the last MAX_STRONG_MARKS of them (the mark matters only while the request
# that raised runs: it keeps a later capture of the same exception from sending it twice).
_marks: dict[int, tuple[Callable[[], BaseException | None], str]] = {}
_strong_marks: OrderedDict[int, BaseException] = OrderedDict()
_marks_lock = threading.Lock()
MAX_STRONG_MARKS = 64
"""At most this many marked exceptions without weak-reference support are kept alive by their mark."""


class ErrorCapture(McpListener):
    """Listener that captures tool and handler exceptions as Sentry error events (see the module docs).

    Args:
        options: what span data may go on the events (default: follow the Sentry client).
        drop_sentry_mcp_events: drop the error events and spans of sentry-sdk's own ``MCPIntegration``
            while this capture is active (they would count every MCP request and error twice).
    """

    def __init__(
        self, options: SentryMcpOptions | None = None, *, drop_sentry_mcp_events: bool = True
    ) -> None:
        self.options = options or SentryMcpOptions()
        self.drop_sentry_mcp_events = drop_sentry_mcp_events

    def install(self) -> None:
        """Activate: register the listener with mcp-otel and the deduplicating event processor with Sentry."""
        global _captures, _processor_installed
        from mcp_otel import listeners

        with _lock:
            if self not in _captures:
                _captures = (*_captures, self)
            if not _processor_installed:
                _install_event_processor()
                _processor_installed = True
        listeners.add_listener(self)

    def uninstall(self) -> None:
        """Deactivate; the last active capture also removes the global event processor from sentry-sdk."""
        global _captures, _processor_installed
        from mcp_otel import listeners

        listeners.remove_listener(self)
        with _lock:
            _captures = tuple(item for item in _captures if item is not self)
            if not _captures and _processor_installed:
                _uninstall_event_processor()
                _processor_installed = False

    def on_exception(self, operation: Operation, exc: BaseException) -> None:
        """Capture ``exc``, raised by a tool or handler while the server request ``operation`` ran."""
        try:
            self._capture(operation, exc)
        except Exception:
            log_failure_once("sentry.errors.on_exception")

    def _capture(self, operation: Operation, exc: BaseException) -> None:
        if operation.kind is not SpanKind.SERVER or not isinstance(exc, Exception):
            return
        if _marked(exc) is not None:
            return  # captured already (by mcp-otel, or by another Sentry capture of the same exception)
        client = sentry_sdk.get_client()
        if not client.is_active():
            return
        _mark(exc, _OURS)
        options = self.options.resolve(client)
        event, hint = event_from_exception(
            exc, client_options=client.options, mechanism=mechanism(operation, exc, options)
        )
        trace_context, name = _trace_context(operation, options)
        if trace_context is not None:
            event["contexts"] = {"trace": trace_context}
        event["transaction"] = name
        if not options.record_inputs:
            _scrub_arguments(event, operation)
        hint[HINT_KEY] = True
        sentry_sdk.capture_event(event, hint=hint)


def _trace_context(operation: Operation, options: MappingOptions) -> tuple[dict[str, Any] | None, str]:
    """The ``contexts.trace`` of an error raised while ``operation`` ran, and its span's Sentry name.

    ``None`` as trace context when the operation has no valid span context (Sentry then uses the scope's).
    """
    span = operation.span
    if isinstance(span, ReadableSpan) and span.attributes:
        mapped = map_span(span, options)
        op, name, data, parent = mapped.op, mapped.name, mapped.data, mapped.parent_span_id
    else:  # not recorded by OTel: still linked by ids
        method = operation.method
        op = sentry_op(operation.kind, {attr.MCP_METHOD_NAME: method})
        target = operation.message.name
        name = f"{method} {target}" if target else (method or NAME_SERVER_FALLBACK)
        data, parent = None, None
    context = span.get_span_context()
    if not context.is_valid:
        return None, name
    trace_id = format_trace_id(context.trace_id)
    trace: dict[str, Any] = {
        "trace_id": trace_id,
        "span_id": format_span_id(context.span_id),
        "op": op,
        "origin": ORIGIN,
        "status": STATUS_INTERNAL_ERROR,
    }
    if parent is not None:
        trace["parent_span_id"] = parent
    if data is not None:
        trace["data"] = data
    dsc = _dynamic_sampling_context(trace_id)
    if dsc:
        trace["dynamic_sampling_context"] = dsc
    return trace, name


def _dynamic_sampling_context(trace_id: str) -> dict[str, str]:
    """A dynamic sampling context (envelope ``trace`` header) for an event in trace ``trace_id``."""
    client = sentry_sdk.get_client()
    options = client.options
    dsc = {"trace_id": trace_id}
    parsed = getattr(client, "parsed_dsn", None)
    public_key = getattr(parsed, "public_key", None)
    if public_key:
        dsc["public_key"] = str(public_key)
    for key in ("release", "environment"):
        value = options.get(key)
        if value:
            dsc[key] = str(value)
    return dsc


def _scrub_arguments(event: Event, operation: Operation) -> None:
    """Replace frame variables that hold a request argument with ``[Filtered]`` (inputs not recorded)."""
    arguments = operation.message.arguments
    values = _argument_strings(arguments() if arguments is not None else None)
    if not values:
        return
    long_values = [v for v in values if len(v) >= _SHORT_ARGUMENT]
    exact = values | {repr(v) for v in values}  # serialized frame variables are reprs: "'abc'"
    for frame in _frames(event):
        variables = frame.get("vars")
        if not isinstance(variables, dict):
            continue
        for key, value in list(variables.items()):
            text = value if isinstance(value, str) else repr(value)
            if text in exact or any(v in text for v in long_values):
                variables[key] = FILTERED


def _argument_strings(arguments: Any) -> set[str]:
    found: set[str] = set()
    stack = [arguments]
    while stack and len(found) < 256:
        value = stack.pop()
        if isinstance(value, str):
            if value:
                found.add(value)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def _frames(event: Event) -> Iterator[dict[str, Any]]:
    values = (event.get("exception") or {}).get("values") or []
    for value in values:
        frames = ((value or {}).get("stacktrace") or {}).get("frames") or []
        for frame in frames:
            if isinstance(frame, dict):
                yield frame
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in ((thread or {}).get("stacktrace") or {}).get("frames") or []:
            if isinstance(frame, dict):
                yield frame


# -- exception marks -------------------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during (causes, contexts, group members)."""
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < 64:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for linked in (item.__cause__, item.__context__):
            if linked is not None:
                stack.append(linked)
        members = getattr(item, "exceptions", None)
        if isinstance(members, (list, tuple)):
            stack.extend(m for m in members if isinstance(m, BaseException))


def _mark_of(exc: BaseException) -> str | None:
    entry = _marks.get(id(exc))
    return entry[1] if entry is not None and entry[0]() is exc else None


def _marked(exc: BaseException) -> str | None:
    """The strongest mark in ``exc``'s chain: ``captured`` (by mcp-otel), ``seen`` (by Sentry) or ``None``."""
    found: str | None = None
    for item in _chain(exc):
        mark = _mark_of(item)
        if mark == _OURS:
            return _OURS
        if mark == _SEEN:
            found = _SEEN
    return found


def _mark(exc: BaseException, mark: str) -> None:
    for item in _chain(exc):
        if _mark_of(item) == _OURS:
            continue
        ident = id(item)
        ref: Callable[[], BaseException | None]
        with _marks_lock:
            try:
                ref = weakref.ref(item, _forgetter(ident))
            except TypeError:  # a built-in exception type: held (and so its id) until evicted
                ref = _held(item)
                _strong_marks[ident] = item
                _strong_marks.move_to_end(ident)
                while len(_strong_marks) > MAX_STRONG_MARKS:
                    evicted, _ = _strong_marks.popitem(last=False)
                    _marks.pop(evicted, None)
            _marks[ident] = (ref, mark)


def _held(exc: BaseException) -> Callable[[], BaseException | None]:
    return lambda: exc


def _forgetter(ident: int) -> Callable[[weakref.ref[BaseException]], None]:
    return lambda dead: _forget(ident, dead)


def _forget(ident: int, dead: Callable[[], BaseException | None]) -> None:
    """Weak-reference callback: drop the mark of a collected exception (not a newer one with its id)."""
    entry = _marks.get(ident)
    if entry is not None and entry[0] is dead:
        _marks.pop(ident, None)


# -- the global event processor --------------------------------------------------------------------------


def _install_event_processor() -> None:
    """Register :func:`_event_processor` first among Sentry's global event processors.

    First, so that the events it drops never reach ``DedupeIntegration``, which would otherwise remember the
    dropped event's exception and then drop mcp-otel's own event for the same exception.
    """
    processors = getattr(sentry_sdk.scope, "global_event_processors", None)
    if isinstance(processors, list):
        processors.insert(0, _event_processor)
    else:  # pragma: no cover - every sentry-sdk 2.x has the list
        sentry_sdk.scope.add_global_event_processor(_event_processor)


def _uninstall_event_processor() -> None:
    """Remove :func:`_event_processor` from Sentry's global event processors (sentry-sdk has no API)."""
    processors = getattr(sentry_sdk.scope, "global_event_processors", None)
    if isinstance(processors, list):
        while _event_processor in processors:
            processors.remove(_event_processor)


def _event_processor(event: Event, hint: Hint) -> Event | None:
    """Deduplicate MCP error events and link user errors to the MCP span (see the module docs)."""
    captures = _captures
    if not captures:
        return event
    try:
        return _process(event, hint, captures[0])
    except Exception:
        log_failure_once("sentry.errors.event_processor")
        return event


def _process(event: Event, hint: Hint, capture: ErrorCapture) -> Event | None:
    kind = event.get("type")
    if kind == "transaction":
        if capture.drop_sentry_mcp_events:
            return _without_sentry_mcp_spans(event)
        return event
    if kind not in (None, "error", "default"):
        return event
    exc = _exception(hint)
    if hint.get(HINT_KEY):
        if exc is not None:
            _mark(exc, _OURS)
        return event
    if capture.drop_sentry_mcp_events and _mechanism(event) == SENTRY_PYTHON_MECHANISM:
        return None  # sentry-sdk's MCPIntegration: mcp-otel captures handler exceptions itself
    if exc is not None:
        if _marked(exc) == _OURS:
            return None
        record = hint.get("log_record")
        name = getattr(record, "name", None)
        if isinstance(name, str) and _is_mcp_logger(name) and active_request() is not None:
            return None  # the SDK logs a handler exception that mcp-otel captures when it propagates
        _mark(exc, _SEEN)
    operation = active_operation()
    if operation is not None:
        _link_to_mcp_span(event, operation, capture.drop_sentry_mcp_events)
        if not capture.options.resolve().record_inputs:
            _scrub_arguments(event, operation)
    return event


def _exception(hint: Hint) -> BaseException | None:
    exc_info = hint.get("exc_info")
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def _mechanism(event: Event) -> str | None:
    values = (event.get("exception") or {}).get("values") or []
    for value in reversed(values):
        mechanism = (value or {}).get("mechanism")
        if isinstance(mechanism, Mapping):
            kind = mechanism.get("type")
            return kind if isinstance(kind, str) else None
    return None


def _is_mcp_logger(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _MCP_LOGGERS)


def _without_sentry_mcp_spans(event: Event) -> Event | None:
    """Drop sentry-sdk MCPIntegration transactions and child spans (origin ``auto.ai.mcp``)."""
    origin = sentry.SENTRY_ORIGIN_AUTO_AI_MCP
    trace = (event.get("contexts") or {}).get("trace") or {}
    if trace.get("origin") == origin:
        return None
    spans = event.get("spans")
    if isinstance(spans, list) and any(isinstance(s, dict) and s.get("origin") == origin for s in spans):
        event["spans"] = [s for s in spans if not (isinstance(s, dict) and s.get("origin") == origin)]
    return event


def _link_to_mcp_span(event: Event, operation: Operation, replace_sentry_mcp: bool) -> None:
    """Give an error captured inside an MCP handler the MCP span's trace context.

    Only when no Sentry span is active — or the active one is sentry-sdk ``MCPIntegration``'s, whose spans
    are dropped (``replace_sentry_mcp``).
    """
    if _has_external_propagation_context():
        return
    current = sentry_sdk.get_current_span()
    if current is not None and not (
        replace_sentry_mcp and getattr(current, "origin", None) == sentry.SENTRY_ORIGIN_AUTO_AI_MCP
    ):
        return
    if current is None and _streamed_span_active():
        return
    span: Span = operation.span
    context = span.get_span_context()
    if not context.is_valid:
        return
    contexts = cast("dict[str, Any]", event.setdefault("contexts", {}))
    trace = dict(contexts.get("trace") or {})
    trace_id = format_trace_id(context.trace_id)
    for key in ("parent_span_id", "op", "description", "origin", "data", "status"):
        trace.pop(key, None)
    trace.update(trace_id=trace_id, span_id=format_span_id(context.span_id))
    trace["dynamic_sampling_context"] = _dynamic_sampling_context(trace_id)
    contexts["trace"] = trace


def _streamed_span_active() -> bool:
    """Span streaming mode: a sampled streamed span of the user's is active (ignored and unsampled spans —
    sentry-sdk ``MCPIntegration``'s among them with ``drop_sentry_mcp_events`` — are no-op spans)."""
    span = getattr(sentry_sdk.get_current_scope(), "streamed_span", None)
    return span is not None and getattr(span, "sampled", None) is True


def _has_external_propagation_context() -> bool:
    try:
        from sentry_sdk.scope import has_external_propagation_context
    except ImportError:  # sentry-sdk before OTLPIntegration
        return False
    return bool(has_external_propagation_context())
