"""mcp 2.x server requests: ``ServerRunner._on_request`` and the SDK's own OpenTelemetry.

- ``ServerRunner._on_request`` sees every inbound request of every transport and protocol era
  (``initialize``, ``server/discover``, custom methods …) outside the SDK's middleware chain: its operation
  is current while the chain runs, and it reads the wire result or the exception the dispatcher turns into
  an error.
- ``MCPServer.call_tool`` sees the exception a tool raised before ``MCPServer`` turns it into ``isError``.
- ``mcp.shared._otel._tracer`` is replaced with a tracer that creates and attaches nothing, so the SDK's
  spans never stack on ours while its ``_meta`` injection keeps working (it injects the current span:
  ours); the SDK's server ``OpenTelemetryMiddleware`` passes straight to the next handler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from mcp_otel.hooks.common import NAMED_METHODS, access_token_of, guarded, original_exception
from mcp_otel.hooks.factory import Args, Kwargs, Seam
from mcp_otel.hooks.lazy import LazyModule, cancelled_exception
from mcp_otel.hooks.v2.sessions import SessionState, peer, server_peer
from mcp_otel.model import (
    INITIALIZE,
    INPUT_REQUIRED_METHODS,
    MEMORY,
    PROMPTS_GET,
    SUBSCRIPTIONS_LISTEN,
    TOOLS_CALL,
    Message,
    Session,
    is_sessionless,
)
from mcp_otel.semconv.attributes import (
    JSONRPC_REQUEST_ID,
    McpOtelResultTypeValues,
    McpOtelSubscriptionEndValues,
)
from mcp_otel.telemetry import Operation, active_client_request, active_operation, active_request
from mcp_otel.telemetry.exception_text import (
    ExceptionText,
    ScrubbingSpan,
    guarded_record_exception,
    status_description,
)
from mcp_otel.telemetry.rounds import carried_round
from mcp_otel.transport import transport_of

exceptions = LazyModule("mcp.shared.exceptions")
pydantic = LazyModule("pydantic")
_INTERNAL_ERROR = -32603
_INVALID_PARAMS = -32602
_INPUT_REQUIRED = McpOtelResultTypeValues.INPUT_REQUIRED.value
_GRACEFUL = McpOtelSubscriptionEndValues.GRACEFUL.value
_CANCELLED = McpOtelSubscriptionEndValues.CANCELLED.value
_LOST = McpOtelSubscriptionEndValues.LOST.value
# Requests the SDK makes to itself (mcp 2.0.x lists tools to validate a stateless tools/call).
_internal: ContextVar[bool] = ContextVar("mcp_otel_sdk_internal", default=False)


def request_args(dctx: Any, method: str, params: Any = None, *_: Any, **__: Any) -> tuple[Any, str, Any]:
    """``(dctx, method, params)`` of ``_on_request`` / ``_on_notify`` (either side)."""
    return dctx, method, params


class ServerRequests:
    """Describes and records the requests an mcp 2.x server receives."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    def describe(self, runner: Any, args: Args, kwargs: Kwargs) -> Message | None:
        """The message of one ``ServerRunner._on_request`` call (``None`` for the SDK's own requests)."""
        if _internal.get():
            return None
        dctx, method, params = args if len(args) == 3 else request_args(*args, **kwargs)
        default = MEMORY if getattr(dctx.transport, "kind", None) == "direct" else None
        metadata = getattr(dctx, "message_metadata", None)
        http_request = getattr(metadata, "request_context", None)
        transport = transport_of(http_request, default)
        name = uri = carrier = round_ = None
        if params:
            if method in NAMED_METHODS:
                value = params.get("name")
                name = value if isinstance(value, str) else None
            value = params.get("uri")
            uri = value if isinstance(value, str) else None
            meta = params.get("_meta")
            carrier = meta if isinstance(meta, Mapping) else None
            if method in INPUT_REQUIRED_METHODS and ("requestState" in params or "inputResponses" in params):
                round_ = carried_round(carrier)  # a retried round of a multi-round-trip request (0: unknown)
        if method == INITIALIZE and params:
            session = Session(
                client=peer(params.get("clientInfo")),
                server=server_peer(runner.server),
                protocol_version=params.get("protocolVersion"),
                session_id=runner.connection.session_id or transport.session_id,
            )
        else:
            session = self.state.session_for(runner, transport)
        return Message(
            method=method,
            request_id=dctx.request_id,
            name=name,
            uri=uri,
            carrier=carrier,
            session=session,
            transport=transport,
            arguments=(lambda: params.get("arguments")) if params else None,
            http_headers=getattr(http_request, "headers", None) if http_request is not None else None,
            access_token=access_token_of(http_request),
            session_key=runner.connection,
            round=round_,
        )

    def outcome(self, op: Operation, runner: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
        """Record the wire result (a dict) of a request."""
        if not isinstance(result, (dict, Mapping)):  # dict first: the usual case, no ABC check
            return
        method = op.method
        if method in INPUT_REQUIRED_METHODS:
            if result.get("resultType") == _INPUT_REQUIRED:  # not an error, and not a tool or prompt result
                requests = result.get("inputRequests")
                round_ = op.message.round  # None: not a retry, so the first round
                asked = len(requests) if isinstance(requests, Mapping) else 0
                op.set_input_required(asked, 1 if round_ is None else round_)
                return
            if op.message.round is not None:
                op.set_final_round()
        if method == TOOLS_CALL:
            content = result.get("content")
            op.set_result(
                result.get("isError") is True,
                lambda: _tool_result_content(result),
                len(content) if isinstance(content, list) else count(content),
                content,
            )
        elif method == PROMPTS_GET:
            op.set_prompt_result(
                count(result.get("messages")),
                lambda: result.get("description"),
                lambda: result.get("messages"),
            )
        elif method == INITIALIZE:  # the SDK committed the negotiated session state after the chain
            op.update_session(self.state.session_for(runner, op.message.transport).attributes())
        elif method == SUBSCRIPTIONS_LISTEN:  # the server closed the channel with its final result
            op.end_channel(_GRACEFUL)

    def failure(self, op: Operation, runner: Any, args: Args, kwargs: Kwargs, exc: BaseException) -> None:
        """Record the exception a request raised as the error the dispatcher answers with."""
        if isinstance(exc, exceptions.MCPError):
            op.set_error_response(exc.error.code, exc.error.message)
        elif isinstance(exc, pydantic.ValidationError):
            op.set_error_response(_INVALID_PARAMS, "Invalid request parameters")
        elif isinstance(exc, cancelled_exception()):
            # A notifications/cancelled, the caller's task going away (in-process), or a closed response
            # stream (stateless HTTP): the request did not complete. A listen channel ends that way.
            if op.method == SUBSCRIPTIONS_LISTEN:
                op.end_channel(_CANCELLED)
            else:  # a notification's reason (JSON-RPC transports), else none
                op.record_cancelled(self.state.cancel_reasons.take(request_args(*args, **kwargs)[0]))
        elif isinstance(exc, Exception):
            op.set_exception(original_exception(exc))
            dctx = request_args(*args, **kwargs)[0]
            op.set_error_response(_unmapped_error_code(op, dctx), str(exc))
            if op.method == SUBSCRIPTIONS_LISTEN:
                op.end_channel(_LOST, op.error_type, str(exc))


def _unmapped_error_code(op: Operation, dctx: Any) -> int:
    """The code the SDK answers an unmapped handler exception with: 0 on handshake-era JSON-RPC streams
    (v1 compatibility); -32603 on the 2026-07-28 protocol (on every transport: the modern entries map it
    themselves) and off JSON-RPC streams (direct dispatch, single-exchange HTTP)."""
    if is_sessionless(op.message.session.protocol_version):
        return _INTERNAL_ERROR
    return 0 if getattr(dctx.transport, "kind", None) == "jsonrpc" else _INTERNAL_ERROR


def count(items: Any) -> int | None:
    """The number of items of a result's ``content`` / ``messages`` list (``None`` when it is not one)."""
    return len(items) if isinstance(items, (list, tuple)) else None


def _tool_result_content(result: Mapping[str, Any]) -> Any:
    structured = result.get("structuredContent")
    return structured if structured is not None else result.get("content")


async def call_tool(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
    """``MCPServer.call_tool``: record the exception a tool raised before it becomes ``isError``."""
    try:
        return await wrapped(*args, **kwargs)
    except Exception as exc:
        request = active_request()
        if request is not None and not isinstance(exc, exceptions.MCPError):
            guarded("v2.tool_exception", request.record_exception, original_exception(exc))
        raise


async def sdk_internal(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
    """Requests the SDK makes to itself while this runs are not received requests: no span, no point."""
    token = _internal.set(True)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _internal.reset(token)


def skip_sdk_middleware(original: Any) -> Any:
    """``own`` mode: the SDK's OpenTelemetry middleware's ``__call__`` replaced by a pass-through.

    The middleware only makes spans, which are silenced: it would extract ``_meta`` a second time and build
    attributes for a span that is never recorded. The replacement returns ``call_next(ctx)``'s awaitable as
    is, so it adds no frame to the request's await chain; a call it does not recognise goes to ``original``.
    """

    def passthrough(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ctx, call_next = _middleware_args(*args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        return call_next(ctx)

    return passthrough


def _middleware_args(ctx: Any, call_next: Any) -> tuple[Any, Any]:
    return ctx, call_next


class _NoSpan:
    """The context manager of :func:`dispatcher_span`: the invalid span, nothing attached."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return INVALID_SPAN

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def dispatcher_span(name: str, *args: Any, **kwargs: Any) -> _NoSpan:
    """``own`` mode: the replacement of the dispatcher's ``otel_span`` (its outbound request span).

    The span is silenced, so nothing is created and the current context is left alone; the request id the
    dispatcher allocated is handed to the CLIENT operation of ours that is current.
    """
    if kwargs.get("kind") is SpanKind.CLIENT:
        attributes = kwargs.get("attributes")
        request_id = attributes.get(JSONRPC_REQUEST_ID) if isinstance(attributes, dict) else None
        op = active_client_request()
        if request_id is not None and op is not None:
            guarded("v2.request_id", op.set_request_id, request_id)
    return _NO_SPAN


class SilentTracer(trace.Tracer):
    """A tracer whose spans are the invalid span and which never changes the current context.

    Put in place of the mcp SDK's module tracer so its middleware and dispatcher spans disappear while our
    span stays current (a ``NoOpTracer`` would attach a non-recording span carrying the remote parent).
    """

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        """Return the invalid span (records nothing)."""
        return INVALID_SPAN

    @contextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        """Yield the invalid span without attaching anything to the context.

        The dispatcher's CLIENT span is opened once the request id is allocated: that id is handed to the
        CLIENT span of ours that is current.
        """
        if kwargs.get("kind") is SpanKind.CLIENT:
            request_id = (kwargs.get("attributes") or {}).get(JSONRPC_REQUEST_ID)
            op = active_client_request()
            if request_id is not None and op is not None:
                guarded("v2.request_id", op.set_request_id, request_id)
        yield INVALID_SPAN


class EnrichingTracer(trace.Tracer):
    """``enrich`` mode: the SDK's own tracer, whose spans the current mcp-otel operation adopts.

    The SDK keeps creating (and naming, parenting, ending) its spans; the mcp-otel operation that is waiting
    for one of the same kind adds its attributes to it. The exception text the SDK writes to its spans (status
    descriptions, ``exception`` events) follows mcp-otel's ``exception_text`` setting: the SDK gets a
    :class:`~mcp_otel.telemetry.exception_text.ScrubbingSpan`, and an exception escaping the span is recorded
    here as the SDK would record it.
    """

    def __init__(self, tracer: trace.Tracer, rules: ExceptionText | None = None) -> None:
        self._tracer = tracer
        self._rules = rules if rules is not None and not rules.passthrough else None

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        """Delegate to the SDK's tracer."""
        return self._tracer.start_span(name, *args, **kwargs)

    @contextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        """Delegate to the SDK's tracer and let the waiting mcp-otel operation adopt the span."""
        rules = self._rules if not args else None  # the SDK passes keywords only
        record = set_status = False
        if rules is not None:
            record = kwargs.pop("record_exception", True)
            set_status = kwargs.pop("set_status_on_exception", True)
            kwargs.update(record_exception=False, set_status_on_exception=False)
        with self._tracer.start_as_current_span(name, *args, **kwargs) as span:
            op = active_operation()
            if op is not None and op.pending_adoption and op.kind is kwargs.get("kind"):
                guarded("v2.adopt", op.adopt_span, span)
            if rules is None:
                yield span
                return
            try:
                yield ScrubbingSpan(span, rules)
            except Exception as exc:  # what the SDK tracer does (record_exception, set_status_on_exception)
                if span.is_recording():
                    if record:
                        guarded_record_exception(rules, span, exc)
                    if set_status:
                        description = status_description(rules, f"{type(exc).__name__}: {exc}")
                        span.set_status(Status(StatusCode.ERROR, description))
                raise


def seams(state: SessionState) -> list[Seam]:
    """The server-request seam."""
    requests = ServerRequests(state)
    return [
        Seam(
            "mcp.server.runner",
            "ServerRunner._on_request",
            SpanKind.SERVER,
            requests.describe,
            outcome=requests.outcome,
            failure=requests.failure,
        )
    ]
