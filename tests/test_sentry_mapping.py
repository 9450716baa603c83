"""The OTel → Sentry mapping of MCP spans, table-tested (no MCP server, no network).

One row per rule of ``mcp_otel.sentry.mapping.map_span``: op, name, source, status and the attributes Sentry
gets, under the default options and with each opt-in. Also the option resolution against the Sentry client,
the OTLP attribute set and the release-health outcome rules.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import sentry_sdk  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from opentelemetry.sdk.util.instrumentation import InstrumentationScope  # noqa: E402
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags  # noqa: E402

from mcp_otel.semconv import attributes as attr  # noqa: E402
from mcp_otel.semconv import sentry_compat as sc  # noqa: E402
from mcp_otel.sentry import health  # noqa: E402
from mcp_otel.sentry.mapping import (  # noqa: E402
    ORIGIN,
    MappingOptions,
    map_span,
)
from mcp_otel.sentry.options import SentryMcpOptions  # noqa: E402
from mcp_otel.sentry.otlp import SentryOtlpSpanExporter, otlp_attributes, otlp_endpoint  # noqa: E402

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
PARENT_ID = 0x00F067AA0BA902B7
ALL = MappingOptions(record_inputs=True, record_outputs=True, send_user_info=True)
LOW_CARDINALITY = MappingOptions(resource_uri_in_name=False)
CANARY = "canary-7f3a"

SERVER_SESSION = {
    attr.MCP_PROTOCOL_VERSION: "2025-06-18",
    attr.MCP_SESSION_ID: "sess-1",
    attr.MCP_CLIENT_NAME: "claude-desktop",
    attr.MCP_CLIENT_VERSION: "1.2.3",
    attr.MCP_SERVER_NAME: "demo-weather",
}
HTTP = {
    attr.NETWORK_TRANSPORT: "tcp",
    attr.NETWORK_PROTOCOL_NAME: "http",
    attr.CLIENT_ADDRESS: "10.1.2.3",
    attr.CLIENT_PORT: 50123,
}
STDIO = {attr.NETWORK_TRANSPORT: "pipe"}


def make_span(
    kind: SpanKind,
    attributes: dict[str, Any],
    *,
    error: bool = False,
    ended: bool = True,
    parent: SpanContext | None = None,
    name: str = "ignored by the mapping",
    scope: str = "mcp_otel",
) -> ReadableSpan:
    """A finished OTel span as mcp-otel would export it."""
    return ReadableSpan(
        name=name,
        context=SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)),
        parent=parent,
        attributes=attributes,
        kind=kind,
        status=Status(StatusCode.ERROR) if error else Status(StatusCode.UNSET),
        start_time=1_795_000_000_000_000_000,
        end_time=1_795_000_000_250_000_000 if ended else None,
        instrumentation_scope=InstrumentationScope(scope),
    )


@dataclass
class Row:
    """One mapping case: a span in, the Sentry view out."""

    id: str
    kind: SpanKind
    attributes: dict[str, Any]
    op: str
    name: str
    source: str = "route"
    status: str = "ok"
    error: bool = False
    options: MappingOptions = field(default_factory=MappingOptions)
    data: dict[str, Any] = field(default_factory=dict)  # must be present with these values
    absent: tuple[str, ...] = ()  # must not be present
    facts: dict[str, Any] = field(default_factory=dict)  # the Sentry data the core's facts gave the span


def tool_call(**extra: Any) -> dict[str, Any]:
    return {
        attr.MCP_METHOD_NAME: "tools/call",
        attr.GEN_AI_TOOL_NAME: "get-weather",
        attr.GEN_AI_OPERATION_NAME: "execute_tool",
        attr.JSONRPC_REQUEST_ID: "7",
        **SERVER_SESSION,
        **STDIO,
        **extra,
    }


ARGS = json.dumps({"city": CANARY, "days": 3})
RESULT = json.dumps({"forecast": CANARY})

ROWS = [
    Row(
        "tool call",
        SpanKind.SERVER,
        tool_call(),
        op="mcp.server",
        name="tools/call get-weather",
        data={
            attr.MCP_METHOD_NAME: "tools/call",
            sc.SENTRY_MCP_TOOL_NAME: "get-weather",
            attr.GEN_AI_TOOL_NAME: "get-weather",
            sc.SENTRY_MCP_REQUEST_ID: "7",
            attr.JSONRPC_REQUEST_ID: "7",
            sc.SENTRY_MCP_TRANSPORT: "stdio",
            attr.NETWORK_TRANSPORT: "pipe",
            sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False,
            attr.MCP_CLIENT_NAME: "claude-desktop",
            attr.MCP_CLIENT_VERSION: "1.2.3",
            attr.MCP_SERVER_NAME: "demo-weather",
            attr.MCP_PROTOCOL_VERSION: "2025-06-18",
            attr.MCP_SESSION_ID: "sess-1",
        },
    ),
    Row(
        "tool error (isError) is internal_error",
        SpanKind.SERVER,
        tool_call(**{attr.ERROR_TYPE: "tool_error"}),
        error=True,
        op="mcp.server",
        name="tools/call get-weather",
        status="internal_error",
        data={sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: True, attr.ERROR_TYPE: "tool_error"},
    ),
    Row(
        "tool exception answered with a JSON-RPC error: no is_error",
        SpanKind.SERVER,
        tool_call(**{attr.ERROR_TYPE: "RuntimeError", attr.RPC_RESPONSE_STATUS_CODE: "-32603"}),
        error=True,
        op="mcp.server",
        name="tools/call get-weather",
        status="internal_error",
        absent=(sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR,),
    ),
    Row(
        "caller mistake (-32602) stays ok",
        SpanKind.SERVER,
        tool_call(**{attr.RPC_RESPONSE_STATUS_CODE: "-32602"}),
        op="mcp.server",
        name="tools/call get-weather",
        absent=(sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR,),
    ),
    Row(
        "content is dropped by default",
        SpanKind.SERVER,
        tool_call(**{attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS, attr.GEN_AI_TOOL_CALL_RESULT: RESULT}),
        op="mcp.server",
        name="tools/call get-weather",
        absent=(
            attr.GEN_AI_TOOL_CALL_ARGUMENTS,
            attr.GEN_AI_TOOL_CALL_RESULT,
            "mcp.request.argument.city",
            sc.SENTRY_MCP_TOOL_RESULT_CONTENT,
        ),
    ),
    Row(
        "content with inputs and outputs recorded",
        SpanKind.SERVER,
        tool_call(**{attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS, attr.GEN_AI_TOOL_CALL_RESULT: RESULT}),
        options=ALL,
        op="mcp.server",
        name="tools/call get-weather",
        data={
            attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS,
            "mcp.request.argument.city": CANARY,
            "mcp.request.argument.days": "3",
            attr.GEN_AI_TOOL_CALL_RESULT: RESULT,
            sc.SENTRY_MCP_TOOL_RESULT_CONTENT: RESULT,
        },
    ),
    Row(
        "inputs only",
        SpanKind.SERVER,
        tool_call(**{attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS, attr.GEN_AI_TOOL_CALL_RESULT: RESULT}),
        options=MappingOptions(record_inputs=True),
        op="mcp.server",
        name="tools/call get-weather",
        data={"mcp.request.argument.city": CANARY},
        absent=(attr.GEN_AI_TOOL_CALL_RESULT, sc.SENTRY_MCP_TOOL_RESULT_CONTENT),
    ),
    Row(
        "truncated arguments: no per-key attributes",
        SpanKind.SERVER,
        tool_call(**{attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS[:12]}),
        options=ALL,
        op="mcp.server",
        name="tools/call get-weather",
        data={attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS[:12]},
        absent=("mcp.request.argument.city",),
    ),
    Row(
        "prompt",
        SpanKind.SERVER,
        {
            attr.MCP_METHOD_NAME: "prompts/get",
            attr.GEN_AI_PROMPT_NAME: "analyze-code",
            attr.JSONRPC_REQUEST_ID: "8",
            "gen_ai.prompt.variable.language": CANARY,
            **STDIO,
        },
        op="mcp.server",
        name="prompts/get analyze-code",
        data={sc.SENTRY_MCP_PROMPT_NAME: "analyze-code", sc.SENTRY_MCP_REQUEST_ID: "8"},
        absent=("gen_ai.prompt.variable.language", "mcp.request.argument.language"),
    ),
    Row(
        "prompt variables with inputs recorded",
        SpanKind.SERVER,
        {
            attr.MCP_METHOD_NAME: "prompts/get",
            attr.GEN_AI_PROMPT_NAME: "analyze-code",
            "gen_ai.prompt.variable.language": CANARY,
        },
        options=ALL,
        op="mcp.server",
        name="prompts/get analyze-code",
        data={"gen_ai.prompt.variable.language": CANARY, "mcp.request.argument.language": CANARY},
    ),
    Row(
        "resource read: URI in the name, attribute gated",
        SpanKind.SERVER,
        {
            attr.MCP_METHOD_NAME: "resources/read",
            attr.MCP_RESOURCE_URI: "file:///docs/api.md",
            attr.JSONRPC_REQUEST_ID: "9",
            **HTTP,
        },
        op="mcp.server",
        name="resources/read file:///docs/api.md",
        source="route",
        data={
            sc.SENTRY_MCP_RESOURCE_PROTOCOL: "file",
            sc.SENTRY_MCP_TRANSPORT: "http",
            attr.NETWORK_TRANSPORT: "tcp",
        },
        absent=(attr.MCP_RESOURCE_URI, attr.CLIENT_ADDRESS, attr.CLIENT_PORT),
    ),
    Row(
        "resource read with user info",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "resources/read", attr.MCP_RESOURCE_URI: "file:///docs/api.md", **HTTP},
        options=ALL,
        op="mcp.server",
        name="resources/read file:///docs/api.md",
        source="route",
        data={
            attr.MCP_RESOURCE_URI: "file:///docs/api.md",
            attr.CLIENT_ADDRESS: "10.1.2.3",
            attr.CLIENT_PORT: 50123,
        },
    ),
    Row(
        "resource read, low-cardinality name",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "resources/read", attr.MCP_RESOURCE_URI: "file:///docs/api.md"},
        options=LOW_CARDINALITY,
        op="mcp.server",
        name="resources/read",
    ),
    Row(
        "resource subscribe carries the URI too",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "resources/subscribe", attr.MCP_RESOURCE_URI: "demo://x"},
        op="mcp.server",
        name="resources/subscribe demo://x",
        source="route",
    ),
    Row(
        "initialize",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "initialize", attr.JSONRPC_REQUEST_ID: "0", **SERVER_SESSION, **STDIO},
        op="mcp.server",
        name="initialize",
        data={sc.SENTRY_MCP_REQUEST_ID: "0", attr.MCP_CLIENT_NAME: "claude-desktop"},
    ),
    Row(
        "notification received by the server",
        SpanKind.SERVER,
        {
            attr.MCP_METHOD_NAME: "notifications/initialized",
            attr.MCP_OTEL_NOTIFICATION_DIRECTION: "client_to_server",
        },
        op="mcp.notification.client_to_server",
        name="notifications/initialized",
        absent=(sc.SENTRY_MCP_REQUEST_ID,),
    ),
    Row(
        "notification sent by the server",
        SpanKind.CLIENT,
        {
            attr.MCP_METHOD_NAME: "notifications/message",
            attr.MCP_OTEL_NOTIFICATION_DIRECTION: "server_to_client",
        },
        op="mcp.notification.server_to_client",
        name="notifications/message",
    ),
    Row(
        "notification sent by the client",
        SpanKind.CLIENT,
        {
            attr.MCP_METHOD_NAME: "notifications/cancelled",
            attr.MCP_OTEL_NOTIFICATION_DIRECTION: "client_to_server",
        },
        op="mcp.notification.client_to_server",
        name="notifications/cancelled",
    ),
    Row(
        "notification of another instrumentation (no direction attribute), received",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "notifications/progress"},
        op="mcp.notification.client_to_server",
        name="notifications/progress",
    ),
    Row(
        "client request",
        SpanKind.CLIENT,
        tool_call(),
        op="mcp.client",
        name="tools/call get-weather",
        data={sc.SENTRY_MCP_TOOL_NAME: "get-weather"},
    ),
    Row(
        "server→client request handled by the client (SERVER span)",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "sampling/createMessage", attr.JSONRPC_REQUEST_ID: "1"},
        op="mcp.server",
        name="sampling/createMessage",
    ),
    Row(
        "no method: Sentry's fallback name",
        SpanKind.SERVER,
        {},
        op="mcp.server",
        name="MCP server operation",
    ),
    Row(
        "transport derived from network.transport when mcp.transport is missing",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "tools/list", attr.NETWORK_TRANSPORT: "pipe"},
        op="mcp.server",
        name="tools/list",
        data={sc.SENTRY_MCP_TRANSPORT: "stdio"},
    ),
    Row(
        "HTTP transport derived from tcp + http",
        SpanKind.SERVER,
        {
            attr.MCP_METHOD_NAME: "tools/list",
            attr.NETWORK_TRANSPORT: "tcp",
            attr.NETWORK_PROTOCOL_NAME: "http",
        },
        op="mcp.server",
        name="tools/list",
        data={sc.SENTRY_MCP_TRANSPORT: "http"},
    ),
    Row(
        "in-memory transport (a fact) stays memory, no network.transport invented",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "tools/list"},
        facts={sc.SENTRY_MCP_TRANSPORT: "memory"},
        op="mcp.server",
        name="tools/list",
        data={sc.SENTRY_MCP_TRANSPORT: "memory"},
        absent=(attr.NETWORK_TRANSPORT,),
    ),
    Row(
        "unknown transport",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "tools/list"},
        op="mcp.server",
        name="tools/list",
        data={sc.SENTRY_MCP_TRANSPORT: "unknown"},
        absent=(attr.NETWORK_TRANSPORT,),
    ),
    Row(
        "sse transport (a fact) gets tcp",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "tools/list"},
        facts={sc.SENTRY_MCP_TRANSPORT: "sse"},
        op="mcp.server",
        name="tools/list",
        data={attr.NETWORK_TRANSPORT: "tcp"},
    ),
    Row(
        "result shape from the facts is kept: is_error as recorded, content_count",
        SpanKind.SERVER,
        tool_call(),
        facts={sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False, sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 2},
        op="mcp.server",
        name="tools/call get-weather",
        data={sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR: False, sc.SENTRY_MCP_TOOL_RESULT_CONTENT_COUNT: 2},
    ),
    Row(
        "prompt result: message count always, description only with outputs",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "prompts/get", attr.GEN_AI_PROMPT_NAME: "analyze-code"},
        facts={
            sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 2,
            sc.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION: CANARY,
        },
        op="mcp.server",
        name="prompts/get analyze-code",
        data={sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 2},
        absent=(sc.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION,),
    ),
    Row(
        "prompt result description with outputs recorded",
        SpanKind.SERVER,
        {attr.MCP_METHOD_NAME: "prompts/get", attr.GEN_AI_PROMPT_NAME: "analyze-code"},
        facts={
            sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 1,
            sc.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION: CANARY,
        },
        options=MappingOptions(record_outputs=True),
        op="mcp.server",
        name="prompts/get analyze-code",
        data={
            sc.SENTRY_MCP_PROMPT_RESULT_MESSAGE_COUNT: 1,
            sc.SENTRY_MCP_PROMPT_RESULT_DESCRIPTION: CANARY,
        },
    ),
    Row(
        "cancelled request is an error",
        SpanKind.SERVER,
        tool_call(**{attr.ERROR_TYPE: "cancelled"}),
        error=True,
        op="mcp.server",
        name="tools/call get-weather",
        status="internal_error",
        absent=(sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR,),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_mapping_table(row: Row) -> None:
    mapped = map_span(make_span(row.kind, row.attributes, error=row.error), row.options, row.facts or None)
    assert (mapped.op, mapped.name, mapped.source, mapped.status) == (
        row.op,
        row.name,
        row.source,
        row.status,
    )
    assert mapped.origin == ORIGIN == "auto.ai.mcp.otel"
    for key, value in row.data.items():
        assert key in mapped.data, f"{key} missing from {mapped.data}"
        assert mapped.data[key] == value, key
    for key in row.absent:
        assert key not in mapped.data, f"{key} must not be sent: {mapped.data}"
    if row.options == MappingOptions():
        assert CANARY not in json.dumps(mapped.data), "default options leaked content"


def test_ids_times_and_parents() -> None:
    remote = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    mapped = map_span(make_span(SpanKind.SERVER, tool_call(), parent=remote))
    assert mapped.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert mapped.span_id == "b7ad6b7169203331"
    assert mapped.parent_span_id == "00f067aa0ba902b7"
    assert mapped.parent_is_remote and mapped.parent_sampled is True
    assert mapped.start is not None and mapped.end is not None
    assert (mapped.end - mapped.start).total_seconds() == pytest.approx(0.25)

    local = SpanContext(TRACE_ID, PARENT_ID, is_remote=False)
    mapped = map_span(make_span(SpanKind.SERVER, tool_call(), parent=local))
    assert not mapped.parent_is_remote and mapped.parent_sampled is None

    root = map_span(make_span(SpanKind.SERVER, tool_call()))
    assert root.parent_span_id is None and root.parent_sampled is None


def test_running_tool_call_has_no_is_error_yet() -> None:
    mapped = map_span(make_span(SpanKind.SERVER, tool_call(), ended=False))
    assert sc.SENTRY_MCP_TOOL_RESULT_IS_ERROR not in mapped.data
    assert mapped.end is None


def test_request_id_is_a_string_and_sequences_are_lists() -> None:
    mapped = map_span(
        make_span(SpanKind.SERVER, tool_call(**{attr.JSONRPC_REQUEST_ID: 42, "x.list": ("a", "b")}))
    )
    assert mapped.data[sc.SENTRY_MCP_REQUEST_ID] == "42"
    assert mapped.data["x.list"] == ["a", "b"]


# -- options resolved against the Sentry client ---------------------------------------------------------


class _Client:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def is_active(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("client_options", "overrides", "expected"),
    [
        ({}, {}, (False, False, False)),
        ({"send_default_pii": True}, {}, (True, True, True)),
        ({"send_default_pii": True}, {"record_inputs": False}, (False, True, True)),
        ({"send_default_pii": False}, {"record_outputs": True, "send_user_info": True}, (False, True, True)),
        (
            {
                "send_default_pii": False,
                "data_collection": {"user_info": True, "gen_ai": {"inputs": True, "outputs": False}},
            },
            {},
            (True, False, True),
        ),
        ({"send_default_pii": True, "data_collection": {"user_info": False}}, {}, (True, True, False)),
    ],
    ids=["defaults", "send_default_pii", "override-inputs", "overrides", "data_collection", "dc-user-info"],
)
def test_options_follow_the_client(
    client_options: dict[str, Any], overrides: dict[str, Any], expected: tuple[bool, bool, bool]
) -> None:
    resolved = SentryMcpOptions(**overrides).resolve(_Client(**client_options))
    assert (resolved.record_inputs, resolved.record_outputs, resolved.send_user_info) == expected


def test_options_without_a_client_are_the_safe_defaults() -> None:
    class Inactive:
        def is_active(self) -> bool:
            return False

    assert SentryMcpOptions().resolve(Inactive()) == MappingOptions()


# -- the OTLP path uses the same mapping ----------------------------------------------------------------


def test_otlp_attributes_carry_sentry_op_and_the_mapped_data() -> None:
    mapped = map_span(make_span(SpanKind.SERVER, tool_call(**{attr.GEN_AI_TOOL_CALL_ARGUMENTS: ARGS})))
    attributes = otlp_attributes(mapped)
    assert attributes[sc.SENTRY_OP] == "mcp.server"
    assert attributes[sc.SENTRY_ORIGIN] == ORIGIN
    assert {k: v for k, v in attributes.items() if k not in (sc.SENTRY_OP, sc.SENTRY_ORIGIN)} == mapped.data
    assert CANARY not in json.dumps(attributes)


def test_otlp_exporter_rewrites_mcp_spans_only() -> None:
    class Collect:
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def export(self, spans: Any) -> Any:
            self.spans.extend(spans)
            from opentelemetry.sdk.trace.export import SpanExportResult

            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 0) -> bool:
            return True

    inner = Collect()
    exporter = SentryOtlpSpanExporter(inner)  # type: ignore[arg-type]
    mcp = make_span(SpanKind.SERVER, {attr.MCP_METHOD_NAME: "resources/read", attr.MCP_RESOURCE_URI: "a://b"})
    other = make_span(SpanKind.INTERNAL, {"db.system": "sqlite"}, scope="user")
    exporter.export([mcp, other])
    first, second = inner.spans
    assert first.name == "resources/read"  # OTLP spans are span-v2 spans: the streaming rule (JS 11.17)
    assert first.attributes is not None and first.attributes[sc.SENTRY_OP] == "mcp.server"
    assert attr.MCP_RESOURCE_URI not in first.attributes
    assert second is other
    exporter.shutdown()  # stops its fact listener


def test_otlp_endpoint_from_dsn() -> None:
    url, headers = otlp_endpoint("https://abc123@o4501.ingest.us.sentry.io/4507")
    assert url == "https://o4501.ingest.us.sentry.io/api/4507/integration/otlp/v1/traces/"
    assert headers["X-Sentry-Auth"].startswith(
        "Sentry sentry_key=abc123, sentry_version=7, sentry_client=mcp-otel/"
    )
    url, _ = otlp_endpoint("http://key@127.0.0.1:8969/1")
    assert url == "http://127.0.0.1:8969/api/1/integration/otlp/v1/traces/"


def test_otlp_endpoint_needs_a_dsn() -> None:
    sentry_sdk.Scope.get_global_scope().set_client(None)
    with pytest.raises(ValueError, match="no DSN"):
        otlp_endpoint()


# -- release-health outcomes ------------------------------------------------------------------------------


def _group(*errors: Exception) -> BaseException:
    group: Any = getattr(builtins, "BaseExceptionGroup")  # noqa: B009 - Python 3.11+
    return group("group", list(errors))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("error", "errors", "expected"),
    [
        (None, 0, "exited"),
        (None, 2, "errored"),
        (RuntimeError("boom"), 0, "crashed"),
        (ConnectionResetError(), 0, "abnormal"),
        (EOFError(), 1, "abnormal"),
        (KeyboardInterrupt(), 0, "abnormal"),
    ],
    ids=["exited", "errored", "crashed", "connection-reset", "eof", "base-exception"],
)
def test_session_outcome(error: BaseException | None, errors: int, expected: str) -> None:
    assert health.outcome(error, errors) == expected


def test_transport_errors_in_groups() -> None:
    anyio = pytest.importorskip("anyio")
    if not hasattr(builtins, "BaseExceptionGroup"):
        pytest.skip("needs exception groups (Python 3.11+)")
    assert health.is_transport_error(_group(anyio.ClosedResourceError(), anyio.BrokenResourceError()))
    assert not health.is_transport_error(_group(anyio.ClosedResourceError(), RuntimeError()))
    assert health.outcome(_group(anyio.EndOfStream()), 0) == "abnormal"
    assert health.outcome(_group(RuntimeError()), 0) == "crashed"
