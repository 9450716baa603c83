"""The span data Sentry gets for an MCP span: the OTel attributes plus the Sentry keys, gated per option.

:func:`sentry_attributes` is the attribute half of :func:`~mcp_otel.sentry.mapping.map_span` (the rules are
listed there and in ``docs/sentry.md``); :class:`MappingOptions` says which content and user data may go out.
It runs once per exported span, so the per-key gate is cached and scalar values skip the ABC checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mcp_otel.model import PROMPTS_GET, TOOLS_CALL
from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from mcp_otel.semconv import signals
from mcp_otel.semconv.signals import TOOL_ERROR

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
        # a single content item's details (Sentry JS 11.17 sends them only with recordOutputs)
        sentry.SENTRY_MCP_TOOL_RESULT_MIME_TYPE,
        sentry.SENTRY_MCP_TOOL_RESULT_URI,
        sentry.SENTRY_MCP_TOOL_RESULT_NAME,
        sentry.SENTRY_MCP_TOOL_RESULT_DATA_SIZE,
        sentry.SENTRY_MCP_TOOL_RESULT_RESOURCE_URI,
        sentry.SENTRY_MCP_TOOL_RESULT_RESOURCE_MIME_TYPE,
    }
)
_INPUT_KEYS = frozenset({attr.GEN_AI_TOOL_CALL_ARGUMENTS, sentry.SENTRY_MCP_LOGGING_MESSAGE})
# the indexed keys of several result items: ``mcp.tool.result.<i>.*`` / ``mcp.prompt.result.<i>.*``
_INDEXED_PREFIXES = tuple(
    template.split(signals.SENTRY_MCP_RESULT_KEY_PLACEHOLDER)[0]
    for template in (signals.SENTRY_MCP_TOOL_RESULT_KEY_CONTENT, signals.SENTRY_MCP_PROMPT_RESULT_KEY_CONTENT)
)
_INDEXED_TYPE_SUFFIX = signals.SENTRY_MCP_TOOL_RESULT_KEY_CONTENT_TYPE.split(
    signals.SENTRY_MCP_RESULT_KEY_PLACEHOLDER
)[1]
_RESOURCES_READ = attr.McpMethodNameValues.RESOURCES_READ.value
_INITIALIZED = attr.McpMethodNameValues.NOTIFICATIONS_INITIALIZED.value
_URI_ARGUMENT = _ARGUMENT_PREFIX + "uri"  # Sentry's mcp.request.argument.uri of resources/read
_READY = {
    sentry.SENTRY_MCP_LIFECYCLE_PHASE: sentry.SENTRY_MCP_LIFECYCLE_PHASE_INITIALIZATION_COMPLETE,
    sentry.SENTRY_MCP_PROTOCOL_READY: 1,
}


@dataclass(frozen=True)
class MappingOptions:
    """What :func:`~mcp_otel.sentry.mapping.map_span` may send, resolved against the Sentry client.

    See :class:`~mcp_otel.sentry.options.SentryMcpOptions`.

    Attributes:
        record_inputs: send tool arguments and prompt variables (``mcp.request.argument.<key>`` and the OTel
            ``gen_ai.tool.call.arguments`` / ``gen_ai.prompt.variable.<key>``) and log notification data
            (``mcp.logging.message``). They exist only when mcp-otel captured them (``capture_content``).
        record_outputs: send tool results (``mcp.tool.result.content``, the content items' details
            ``mcp.tool.result.mime_type`` … and ``mcp.tool.result.<i>.*`` except their types, and
            ``gen_ai.tool.call.result``) and prompt results (``mcp.prompt.result.description``,
            ``.message_role`` / ``.message_content``, ``mcp.prompt.result.<i>.*``).
        send_user_info: send ``client.address``, ``client.port`` and ``mcp.resource.uri`` (Sentry's
            ``send_default_pii`` / ``data_collection.user_info``).
        resource_uri_in_name: name ``resources/read`` spans ``resources/read {uri}`` (Sentry JS 11.17's
            rule for transactions); off: ``resources/read`` (its rule for streamed spans).
    """

    record_inputs: bool = False
    record_outputs: bool = False
    send_user_info: bool = False
    resource_uri_in_name: bool = True


DEFAULT_OPTIONS = MappingOptions()
"""The defaults: no content, no user data, Sentry's resource naming."""


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
        # the tool_result fact gives the result's isError; other spans (mcp 2.x's own) get it inferred
        if not isinstance(attributes.get(sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR), bool):
            if attributes.get(attr.ERROR_TYPE) == TOOL_ERROR:
                data[sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR] = True
            elif ended and not failed and attr.RPC_RESPONSE_STATUS_CODE not in attributes:
                data[sentry.SENTRY_MCP_TOOL_RESULT_IS_ERROR] = False
        if options.record_inputs:
            _tool_arguments(data, attributes.get(attr.GEN_AI_TOOL_CALL_ARGUMENTS))
        if options.record_outputs and sentry.SENTRY_MCP_TOOL_RESULT_CONTENT not in data:
            # a span without the fact (another instrumentation's): the OTel result as Sentry's content
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
    elif key in _OUTPUT_KEYS or _is_indexed_output_key(key):
        gate = _OUTPUT
    elif key in _USER_INFO_KEYS:
        gate = _USER_INFO
    else:
        gate = _ALWAYS
    if len(_GATES) < _MAX_GATES:
        _GATES[key] = gate
    return gate


def _is_input_key(key: str) -> bool:
    return key in _INPUT_KEYS or key.startswith(_PROMPT_VARIABLE_PREFIX) or key.startswith(_ARGUMENT_PREFIX)


def _is_indexed_output_key(key: str) -> bool:
    """``mcp.tool.result.<i>.*`` / ``mcp.prompt.result.<i>.*``, except an item's type (sent always)."""
    for prefix in _INDEXED_PREFIXES:
        if key.startswith(prefix):
            index = key[len(prefix) :].split(".", 1)[0]
            return index.isdigit() and not key.endswith(_INDEXED_TYPE_SUFFIX)
    return False


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


def _scheme(uri: str) -> str | None:
    try:
        scheme = urlsplit(uri).scheme
    except ValueError:
        return None
    return scheme or None
