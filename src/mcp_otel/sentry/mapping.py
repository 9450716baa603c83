"""The one OTel → Sentry mapping of MCP spans, shared by the transaction path and the OTLP path.

:func:`map_span` turns a finished (or running) mcp-otel span into a :class:`SentrySpan`: Sentry op, name,
origin, status and the attribute set Sentry's MCP Insights reads (the OTel keys are kept, the Sentry keys are
added next to them, content and user data are kept or removed per :class:`MappingOptions`). Both
:class:`~mcp_otel.sentry.processor.SentrySpanProcessor` (Sentry transactions and spans) and
:mod:`mcp_otel.sentry.otlp` (``sentry.op`` and Sentry attributes on OTLP spans) call it, so both paths send
the same data.

The rules (see ``docs/sentry.md`` for the table):

- op: notifications (``mcp_otel.notification.direction``) → ``mcp.notification.client_to_server`` /
  ``mcp.notification.server_to_client``; SERVER spans → ``mcp.server``; CLIENT spans → ``mcp.client``.
- name: ``{method} {tool}`` / ``{method} {prompt}``; ``resources/read|subscribe|unsubscribe {uri}`` unless
  ``resource_uri_in_name`` is off; else ``{method}``; fallbacks ``MCP server operation`` /
  ``MCP notification`` / ``MCP client operation`` (Sentry's name templates).
- status: ``internal_error`` for OTel ERROR spans (tool errors included), ``ok`` otherwise.
- attributes: every attribute of the span (mcp-otel records ``mcp.tool.result.is_error``,
  ``mcp.tool.result.content_count`` and ``mcp.prompt.result.message_count`` itself), plus ``mcp.tool.name``,
  ``mcp.prompt.name``, ``mcp.request.id`` (string), ``mcp.transport``, ``network.transport``,
  ``mcp.tool.result.is_error`` (from ``error.type`` when the span lacks it), ``mcp.resource.protocol``,
  ``mcp.lifecycle.phase`` / ``mcp.protocol.ready`` on ``notifications/initialized``;
  ``mcp.request.argument.<key>`` (``.uri`` of ``resources/read``), ``mcp.tool.result.content`` and
  ``mcp.prompt.result.description`` / ``.message_role`` / ``.message_content`` only with ``record_inputs``
  / ``record_outputs`` (the OTel content keys are removed otherwise);
  ``client.address``, ``client.port`` and ``mcp.resource.uri`` only with ``send_user_info`` (as Sentry's
  JavaScript SDK gates them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from mcp_otel.instrumentor import SCOPE_NAME
from mcp_otel.model import PROMPTS_GET, TOOLS_CALL
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv.signals import TOOL_ERROR

SDK_SCOPE = "mcp-python-sdk"
"""Instrumentation scope of mcp 2.x's own spans (kept and enriched with ``sdk_spans="enrich"``)."""

DEFAULT_SCOPES = (SCOPE_NAME, SDK_SCOPE)
"""Instrumentation scopes whose MCP spans the Sentry span processors map by default."""

ORIGIN = sentry.SENTRY_ORIGIN_AUTO_AI_MCP_OTEL
"""``sentry.origin`` of the spans and error events mcp-otel sends (``auto.ai.mcp.otel``)."""

OP_MCP_CLIENT = sentry.SENTRY_OP_MCP_CLIENT
"""Sentry op of a request this process sent as an MCP client (``mcp.client``; Sentry defines no client op;
MCP Insights selects ``mcp.server``, so client spans never count as server traffic)."""

STATUS_OK = "ok"
"""Sentry span status of a span that did not fail."""
STATUS_INTERNAL_ERROR = "internal_error"
"""Sentry span status of a failed span (OTel status ERROR: exceptions, JSON-RPC errors, tool errors)."""

SOURCE_ROUTE = "route"
"""Transaction source of a low-cardinality name (``tools/call get-weather``)."""
SOURCE_CUSTOM = "custom"
"""Transaction source of a name that carries a resource URI (high cardinality)."""

NAME_SERVER_FALLBACK = "MCP server operation"
"""Sentry's name for an ``mcp.server`` span without a method."""
NAME_NOTIFICATION_FALLBACK = "MCP notification"
"""Sentry's name for a notification span without a method."""
NAME_CLIENT_FALLBACK = "MCP client operation"
"""Name of a client span without a method."""

RESOURCE_METHODS = frozenset(
    {
        attr.McpMethodNameValues.RESOURCES_READ.value,
        attr.McpMethodNameValues.RESOURCES_SUBSCRIBE.value,
        attr.McpMethodNameValues.RESOURCES_UNSUBSCRIBE.value,
    }
)
"""Methods whose Sentry name carries the resource URI (``resources/read file:///docs/api.md``)."""

_TO_SERVER = attr.McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
_TO_CLIENT = attr.McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
_PIPE = attr.NetworkTransportValues.PIPE.value
_TCP = attr.NetworkTransportValues.TCP.value
_QUIC = attr.NetworkTransportValues.QUIC.value
_STDIO = sentry.SentryMcpTransportValues.STDIO.value
_HTTP = sentry.SentryMcpTransportValues.HTTP.value
_SSE = sentry.SentryMcpTransportValues.SSE.value
_UNKNOWN = sentry.SentryMcpTransportValues.UNKNOWN.value
_PROMPT_VARIABLE_PREFIX = attr.GEN_AI_PROMPT_VARIABLE_TEMPLATE + "."
_ARGUMENT_PREFIX = sentry.SENTRY_MCP_REQUEST_ARGUMENT_TEMPLATE + "."
_USER_INFO_KEYS = (attr.CLIENT_ADDRESS, attr.CLIENT_PORT, attr.MCP_RESOURCE_URI)
_OUTPUT_KEYS = frozenset(
    {
        attr.GEN_AI_TOOL_CALL_RESULT,
        sentry.SENTRY_MCP_TOOL_RESULT_CONTENT,
        sentry.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION,
        sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_ROLE,
        sentry.SENTRY_MCP_PROMPT_RESULT_MESSAGE_CONTENT,
    }
)
_RESOURCES_READ = attr.McpMethodNameValues.RESOURCES_READ.value
_INITIALIZED = attr.McpMethodNameValues.NOTIFICATIONS_INITIALIZED.value
_URI_ARGUMENT = _ARGUMENT_PREFIX + "uri"  # Sentry's mcp.request.argument.uri of resources/read
_READY = {
    sentry.SENTRY_MCP_LIFECYCLE_PHASE: sentry.SENTRY_MCP_LIFECYCLE_PHASE_INITIALIZATION_COMPLETE,
    sentry.SENTRY_MCP_PROTOCOL_READY: 1,
}


@dataclass(frozen=True)
class MappingOptions:
    """What :func:`map_span` may send, resolved against the Sentry client (see ``SentryMcpOptions``).

    Attributes:
        record_inputs: send tool arguments and prompt variables (``mcp.request.argument.<key>`` and the OTel
            ``gen_ai.tool.call.arguments`` / ``gen_ai.prompt.variable.<key>``). They exist only when mcp-otel
            captured them (``capture_content``).
        record_outputs: send tool results (``mcp.tool.result.content`` and ``gen_ai.tool.call.result``) and
            prompt result descriptions (``mcp.prompt.result.description``).
        send_user_info: send ``client.address``, ``client.port`` and ``mcp.resource.uri`` (Sentry's
            ``send_default_pii`` / ``data_collection.user_info``).
        resource_uri_in_name: name ``resources/read`` spans ``resources/read {uri}`` (Sentry's rule); off:
            the low-cardinality ``resources/read``.
    """

    record_inputs: bool = False
    record_outputs: bool = False
    send_user_info: bool = False
    resource_uri_in_name: bool = True


DEFAULT_OPTIONS = MappingOptions()
"""The defaults: no content, no user data, Sentry's resource naming."""


@dataclass(frozen=True)
class SentrySpan:
    """A span as Sentry sees it: what :func:`map_span` returns.

    Attributes:
        op: the Sentry op (``mcp.server`` …).
        name: the transaction name / span description.
        source: the transaction source (``route``, or ``custom`` when the name carries a URI).
        origin: :data:`ORIGIN`.
        status: ``ok`` or ``internal_error``.
        data: the span data / attributes (JSON-compatible values).
        trace_id: the OTel trace id, 32 hex digits.
        span_id: the OTel span id, 16 hex digits.
        parent_span_id: the parent's span id (local or remote), or ``None`` for a root span.
        parent_is_remote: the parent came from another process (``_meta`` / HTTP header).
        parent_sampled: the remote parent's sampled flag (``None`` without a remote parent).
        start: the start time (UTC), ``None`` if unknown.
        end: the end time (UTC), ``None`` while the span runs.
    """

    op: str
    name: str
    source: str
    origin: str
    status: str
    data: dict[str, Any]
    trace_id: str
    span_id: str
    parent_span_id: str | None
    parent_is_remote: bool
    parent_sampled: bool | None
    start: datetime | None
    end: datetime | None


def is_mcp_span(span: ReadableSpan) -> bool:
    """Whether ``span`` describes an MCP message (it has ``mcp.method.name``)."""
    attributes = span.attributes
    return attributes is not None and isinstance(attributes.get(attr.MCP_METHOD_NAME), str)


def map_span(span: ReadableSpan, options: MappingOptions = DEFAULT_OPTIONS) -> SentrySpan:
    """Map one MCP span to Sentry: op, name, status, ids, times and attributes.

    Args:
        span: a finished span, or a running one (its attributes so far).
        options: what content and user data may be sent.

    Returns:
        The Sentry view of ``span``; :func:`is_mcp_span` tells whether it is an MCP span at all.
    """
    attributes: Mapping[str, Any] = span.attributes or {}
    kind = span.kind
    failed = span.status.status_code is StatusCode.ERROR
    op = sentry_op(kind, attributes)
    name, source = sentry_name(op, attributes, options)
    context = span.get_span_context()
    parent = span.parent
    if context is not None and context.is_valid:
        trace_id, span_id = format_trace_id(context.trace_id), format_span_id(context.span_id)
    else:  # a span without a context cannot be sent; keep the shape
        trace_id, span_id = "0" * 32, "0" * 16
    return SentrySpan(
        op=op,
        name=name,
        source=source,
        origin=ORIGIN,
        status=STATUS_INTERNAL_ERROR if failed else STATUS_OK,
        data=sentry_attributes(attributes, failed, options, ended=span.end_time is not None),
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=format_span_id(parent.span_id) if parent is not None and parent.is_valid else None,
        parent_is_remote=bool(parent is not None and parent.is_remote),
        parent_sampled=parent.trace_flags.sampled if parent is not None and parent.is_remote else None,
        start=_time(span.start_time),
        end=_time(span.end_time),
    )


def sentry_op(kind: SpanKind, attributes: Mapping[str, Any]) -> str:
    """The Sentry op of an MCP span of ``kind`` with ``attributes``."""
    direction = attributes.get(attr.MCP_OTEL_NOTIFICATION_DIRECTION)
    if direction == _TO_SERVER:
        return sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER
    if direction == _TO_CLIENT:
        return sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT
    method = attributes.get(attr.MCP_METHOD_NAME)
    if isinstance(method, str) and method.startswith("notifications/"):
        # a notification span of another instrumentation: received → client→server (the server's view)
        if kind in (SpanKind.SERVER, SpanKind.CONSUMER):
            return sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER
        return sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT
    if kind is SpanKind.CLIENT or kind is SpanKind.PRODUCER:
        return OP_MCP_CLIENT
    return sentry.SENTRY_OP_MCP_SERVER


def sentry_name(
    op: str, attributes: Mapping[str, Any], options: MappingOptions = DEFAULT_OPTIONS
) -> tuple[str, str]:
    """The Sentry name of an MCP span and its transaction source (``route`` / ``custom``)."""
    method = attributes.get(attr.MCP_METHOD_NAME)
    method = method if isinstance(method, str) and method else None
    if op in (sentry.SENTRY_OP_NOTIFICATION_CLIENT_TO_SERVER, sentry.SENTRY_OP_NOTIFICATION_SERVER_TO_CLIENT):
        return (method or NAME_NOTIFICATION_FALLBACK), SOURCE_ROUTE
    if method is None:
        return (NAME_CLIENT_FALLBACK if op == OP_MCP_CLIENT else NAME_SERVER_FALLBACK), SOURCE_ROUTE
    target = _string(attributes, attr.GEN_AI_TOOL_NAME, sentry.SENTRY_MCP_TOOL_NAME)
    if target is None:
        target = _string(attributes, attr.GEN_AI_PROMPT_NAME, sentry.SENTRY_MCP_PROMPT_NAME)
    if target is not None:
        return f"{method} {target}", SOURCE_ROUTE
    uri = attributes.get(attr.MCP_RESOURCE_URI)
    if options.resource_uri_in_name and method in RESOURCE_METHODS and isinstance(uri, str) and uri:
        return f"{method} {uri}", SOURCE_CUSTOM
    return method, SOURCE_ROUTE


def sentry_attributes(
    attributes: Mapping[str, Any],
    failed: bool,
    options: MappingOptions = DEFAULT_OPTIONS,
    *,
    ended: bool = True,
) -> dict[str, Any]:
    """The span data Sentry gets: the OTel attributes plus the Sentry keys, gated per ``options``.

    Args:
        attributes: the span's OTel attributes.
        failed: the span's status is ERROR.
        options: what content and user data may be sent.
        ended: the span has ended (a running ``tools/call`` has no ``mcp.tool.result.is_error`` yet).
    """
    data: dict[str, Any] = {}
    allowed = (True, options.record_inputs, options.record_outputs, options.send_user_info)
    for key, value in attributes.items():
        gate = _GATES.get(key)
        if gate is None:
            gate = _gate(key)
        if allowed[gate]:
            data[key] = _json_value(value)
    method = attributes.get(attr.MCP_METHOD_NAME)
    _copy(data, attributes, attr.GEN_AI_TOOL_NAME, sentry.SENTRY_MCP_TOOL_NAME)
    _copy(data, attributes, attr.GEN_AI_PROMPT_NAME, sentry.SENTRY_MCP_PROMPT_NAME)
    request_id = attributes.get(attr.JSONRPC_REQUEST_ID)
    if request_id is not None and sentry.SENTRY_MCP_REQUEST_ID not in data:
        data[sentry.SENTRY_MCP_REQUEST_ID] = str(request_id)
    _transport(data, attributes)
    uri = attributes.get(attr.MCP_RESOURCE_URI)
    if isinstance(uri, str) and sentry.SENTRY_MCP_RESOURCE_PROTOCOL not in data:
        scheme = _scheme(uri)
        if scheme:
            data[sentry.SENTRY_MCP_RESOURCE_PROTOCOL] = scheme
    if method == TOOLS_CALL:
        # mcp-otel records the result's isError itself; other spans (mcp 2.x's own) get it inferred
        if not isinstance(attributes.get(sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR), bool):
            if attributes.get(attr.ERROR_TYPE) == TOOL_ERROR:
                data[sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR] = True
            elif ended and not failed and attr.RPC_RESPONSE_STATUS_CODE not in attributes:
                data[sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR] = False
        if options.record_inputs:
            _tool_arguments(data, attributes.get(attr.GEN_AI_TOOL_CALL_ARGUMENTS))
        if options.record_outputs:
            result = attributes.get(attr.GEN_AI_TOOL_CALL_RESULT)
            if isinstance(result, str):
                data[sentry.SENTRY_MCP_TOOL_RESULT_CONTENT] = result
    elif method == PROMPTS_GET and options.record_inputs:
        for key, value in attributes.items():
            if key.startswith(_PROMPT_VARIABLE_PREFIX):
                data[_ARGUMENT_PREFIX + key[len(_PROMPT_VARIABLE_PREFIX) :]] = _argument_text(value)
    elif method == _RESOURCES_READ and options.record_inputs:
        if isinstance(uri, str):
            data[_URI_ARGUMENT] = uri
    elif method == _INITIALIZED:
        data.update(_READY)
    return data


_ALWAYS, _INPUT, _OUTPUT, _USER_INFO = 0, 1, 2, 3
_GATES: dict[str, int] = {}
_MAX_GATES = 4096  # argument keys come from requests: bound the cache


def _gate(key: str) -> int:
    """Which option lets attribute ``key`` through (an index into ``allowed``), cached per key."""
    if _is_input_key(key):
        gate = _INPUT
    elif key in _OUTPUT_KEYS:
        gate = _OUTPUT
    elif key in _USER_INFO_KEYS:
        gate = _USER_INFO
    else:
        gate = _ALWAYS
    if len(_GATES) < _MAX_GATES:
        _GATES[key] = gate
    return gate


def _is_input_key(key: str) -> bool:
    return (
        key == attr.GEN_AI_TOOL_CALL_ARGUMENTS
        or key.startswith(_PROMPT_VARIABLE_PREFIX)
        or key.startswith(_ARGUMENT_PREFIX)
    )


def _copy(data: dict[str, Any], attributes: Mapping[str, Any], source: str, target: str) -> None:
    value = attributes.get(source)
    if value is not None and target not in data:
        data[target] = _json_value(value)


def _transport(data: dict[str, Any], attributes: Mapping[str, Any]) -> None:
    """Fill ``mcp.transport`` and ``network.transport`` (Sentry requires both) from each other."""
    network = attributes.get(attr.NETWORK_TRANSPORT)
    mcp_transport = data.get(sentry.SENTRY_MCP_TRANSPORT)
    if not isinstance(mcp_transport, str):
        if network == _PIPE:
            mcp_transport = _STDIO
        elif network in (_TCP, _QUIC) and attributes.get(attr.NETWORK_PROTOCOL_NAME) == "http":
            mcp_transport = _HTTP
        else:
            mcp_transport = _UNKNOWN
        data[sentry.SENTRY_MCP_TRANSPORT] = mcp_transport
    if network is None:
        if mcp_transport == _STDIO:
            data[attr.NETWORK_TRANSPORT] = _PIPE
        elif mcp_transport in (_HTTP, _SSE):
            data[attr.NETWORK_TRANSPORT] = _TCP


def _tool_arguments(data: dict[str, Any], raw: Any) -> None:
    """``mcp.request.argument.<key>`` from the captured ``gen_ai.tool.call.arguments`` JSON object.

    A truncated or redacted capture that no longer parses as an object yields no per-key attributes.
    """
    if not isinstance(raw, str):
        return
    try:
        arguments = json.loads(raw)
    except ValueError:
        return
    if not isinstance(arguments, dict):
        return
    for key, value in arguments.items():
        data[_ARGUMENT_PREFIX + str(key)] = _argument_text(value)


def _argument_text(value: Any) -> str:
    """An argument as sentry-python writes it: strings unchanged, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(_json_value(value), default=str, ensure_ascii=False)


_SCALARS = frozenset({str, bool, int, float})


def _json_value(value: Any) -> Any:
    if type(value) in _SCALARS:  # nearly every attribute: skip the (slow) ABC check below
        return value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return value


def _string(attributes: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _scheme(uri: str) -> str | None:
    try:
        scheme = urlsplit(uri).scheme
    except ValueError:
        return None
    return scheme or None


def _time(nanoseconds: int | None) -> datetime | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, timezone.utc)
