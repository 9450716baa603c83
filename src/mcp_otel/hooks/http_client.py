"""HTTP client propagation: the HTTP requests the SDK's client sends for a message carry the message's trace
context, mcp 1.x (httpx) and 2.x (httpx2), streamable HTTP and SSE.

mcp-otel puts the context of a message's CLIENT span into its ``params._meta``. The SDK's HTTP transports then
POST the message from a writer task: on mcp 1.x a task of its own (its context is not the sender's, so an
HTTP client instrumentation's span would not nest under the MCP span), on 2.x in the sender's context. Around
each POST of a message (and the GET that resumes one), the context the message carries is made current —
an installed HTTP client instrumentation (contrib's httpx on 1.x) then opens its span under the MCP CLIENT
span — and its W3C headers (``traceparent``, ``tracestate``, ``baggage``: the configured propagators of
``opentelemetry.propagate``) are added to the request, so gateways, proxies and the server's HTTP server span
continue the trace. A header the caller set (on the request or as a default header of their HTTP client) is
never replaced, and mcp-otel's own baggage entries (session id, round) stay in ``_meta``. Nothing here can
fail a request: every step is guarded.

Seams: streamable HTTP ``StreamableHTTPTransport._handle_post_request`` / ``_handle_resumption_request``
and the header builders they call (``_prepare_headers``; ``_prepare_request_headers`` in older 1.x); SSE
the ``request_within_origin`` its POST writer calls (not in mcp releases whose SSE writer calls
``client.post``, such as 1.15).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.patching import Patch
from mcp_otel.telemetry import parent_context
from mcp_otel.telemetry.rounds import without_round

# The context of the message being POSTed in this task, and its HTTP client's default headers.
_posting: ContextVar[tuple[otel_context.Context, Any] | None] = ContextVar("mcp_otel_http_post", default=None)


def _carrier(message: Any) -> Mapping[str, Any] | None:
    """``params._meta`` of a JSON-RPC message (mcp 1.x ``JSONRPCMessage``, 2.x model, or its JSON dict)."""
    root = getattr(message, "root", message)
    params = root.get("params") if isinstance(root, Mapping) else getattr(root, "params", None)
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    return meta if isinstance(meta, Mapping) else None


def message_context(message: Any) -> otel_context.Context | None:
    """The trace context a message carries in ``params._meta`` (without mcp-otel's baggage), or ``None``."""
    carrier = _carrier(message)
    ctx = parent_context(carrier) if carrier else None
    return without_round(ctx) if ctx is not None else None


def add_headers(
    headers: MutableMapping[str, Any], ctx: otel_context.Context, defaults: Mapping[str, Any] | None
) -> None:
    """Inject ``ctx`` with the configured propagators into ``headers``, keeping every header already set there
    or in the HTTP client's ``defaults`` (names compare case-insensitively)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    if not carrier:
        return
    taken = {str(name).lower() for name in headers}
    if defaults:
        taken.update(str(name).lower() for name in defaults)
    for name, value in carrier.items():
        if name.lower() not in taken:
            headers[name] = value


async def post_for_message(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``StreamableHTTPTransport._handle_post_request(ctx)`` (and the resumption GET): run with the message's
    context current and marked for the header builder."""
    attached = token = None
    try:
        request = args[0] if args else kwargs["ctx"]
        ctx = message_context(request.session_message.message)
        if ctx is not None:
            attached = otel_context.attach(ctx)
            token = _posting.set((ctx, getattr(request.client, "headers", None)))
    except Exception:
        log_failure_once("http_client.post")
    try:
        return await wrapped(*args, **kwargs)
    finally:
        try:
            if token is not None:
                _posting.reset(token)
            if attached is not None:
                otel_context.detach(attached)
        except Exception:
            log_failure_once("http_client.post.detach")


def headers_for_message(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The streamable HTTP transport's header builder: the message's W3C headers added while one is POSTed."""
    headers = wrapped(*args, **kwargs)
    posting = _posting.get()
    if posting is not None:
        try:
            add_headers(headers, *posting)
        except Exception:
            log_failure_once("http_client.headers")
    return headers


async def sse_post(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``request_within_origin(client, "POST", url, json=message)`` of the SSE client's writer."""
    attached = None
    try:
        client = args[0] if args else kwargs.get("client")
        ctx = message_context(kwargs.get("json"))
        if ctx is not None:
            headers = dict(kwargs.get("headers") or {})
            add_headers(headers, ctx, getattr(client, "headers", None))
            kwargs = {**kwargs, "headers": headers}
            attached = otel_context.attach(ctx)
    except Exception:
        log_failure_once("http_client.sse")
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if attached is not None:
            try:
                otel_context.detach(attached)
            except Exception:
                log_failure_once("http_client.sse.detach")


def http_client_patches() -> list[Patch]:
    """The seams of both mcp generations (a name missing from the installed mcp is skipped)."""
    transport = "mcp.client.streamable_http"
    return [
        Patch(transport, "StreamableHTTPTransport._handle_post_request", post_for_message),
        Patch(transport, "StreamableHTTPTransport._handle_resumption_request", post_for_message),
        Patch(transport, "StreamableHTTPTransport._prepare_headers", headers_for_message),
        Patch(transport, "StreamableHTTPTransport._prepare_request_headers", headers_for_message),
        Patch("mcp.client.sse", "request_within_origin", sse_post),
    ]
