"""``sentry-trace`` + ``baggage`` in ``params._meta`` (``mcp_otel.sentry.propagation``), without a transport.

The rules of Sentry JS 11.17's ``tracePropagation.ts``: continue from ``sentry-trace`` (+ ``baggage``) when
there is no ``traceparent``, write both next to ``traceparent``; the incoming baggage becomes the dynamic
sampling context of the transaction or segment. ``tests/test_sentry_js_interop.py`` runs the same against
Sentry JS itself over stdio.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import sentry_sdk  # noqa: E402
from opentelemetry import baggage as otel_baggage  # noqa: E402
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel.semconv import attributes as attr  # noqa: E402
from mcp_otel.sentry.propagation import SentryMetaPropagator, incoming_baggage  # noqa: E402
from mcp_otel.telemetry import add_meta_propagator, inject, parent_context, remove_meta_propagator  # noqa: E402
from support.sentry_receiver import CapturingTransport  # noqa: E402

#: sentry-sdk >= 2.66 builds a head-of-trace dynamic sampling context for a given trace id
HEAD_BAGGAGE = hasattr(sentry_sdk.tracing_utils.Baggage, "populate_from_propagation_context")
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
OTHER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
JS_BAGGAGE = (
    f"sentry-trace_id={TRACE_ID},sentry-public_key=jskey,sentry-release=js%401.0.0,"
    "sentry-sample_rate=1,sentry-sampled=true,sentry-sample_rand=0.25,vendor=kept"
)


@pytest.fixture
def client() -> Iterator[list[Any]]:
    """An active Sentry client (org 42) whose envelopes land in the returned list."""
    CapturingTransport.envelopes = []
    sentry_sdk.init(
        dsn="http://pykey@o42.ingest.sentry.io/1",  # the transport below keeps everything in-process
        transport=CapturingTransport,
        traces_sample_rate=1.0,
        release="py@1.0.0",
        environment="test",
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    try:
        yield CapturingTransport.envelopes
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.Scope.get_global_scope().set_client(None)


@pytest.fixture
def registered() -> Iterator[SentryMetaPropagator]:
    propagator = SentryMetaPropagator()
    add_meta_propagator(propagator)
    try:
        yield propagator
    finally:
        remove_meta_propagator(propagator)


def _remote(ctx: otel_context.Context | None) -> trace.SpanContext:
    assert ctx is not None
    span_context = trace.get_current_span(ctx).get_span_context()
    assert span_context.is_valid and span_context.is_remote
    return span_context


@pytest.mark.parametrize(
    ("header", "sampled"),
    [(f"{TRACE_ID}-{SPAN_ID}-1", True), (f"{TRACE_ID}-{SPAN_ID}-0", False), (f"{TRACE_ID}-{SPAN_ID}", True)],
    ids=["sampled", "not sampled", "deferred"],
)
def test_extract_keeps_ids_and_sampled_flag(header: str, sampled: bool) -> None:
    span_context = _remote(SentryMetaPropagator().extract({"sentry-trace": header}))
    assert format_trace_id(span_context.trace_id) == TRACE_ID
    assert format_span_id(span_context.span_id) == SPAN_ID
    assert span_context.trace_flags.sampled is sampled


@pytest.mark.parametrize("header", ["", "nonsense", "0" * 32 + "-" + "0" * 16 + "-1", f"{TRACE_ID}--1"])
def test_extract_ignores_invalid_headers(header: str) -> None:
    ctx = SentryMetaPropagator().extract({"sentry-trace": header}, context=otel_context.Context())
    assert not trace.get_current_span(ctx).get_span_context().is_valid


def test_extract_freezes_the_sentry_baggage() -> None:
    ctx = SentryMetaPropagator().extract({"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "baggage": JS_BAGGAGE})
    baggage = incoming_baggage(ctx)
    assert baggage is not None and not baggage.mutable
    assert baggage.sentry_items["public_key"] == "jskey" and baggage.sentry_items["release"] == "js@1.0.0"
    plain = SentryMetaPropagator().extract({"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "baggage": "vendor=x"})
    assert incoming_baggage(plain) is None  # no Sentry items: nothing to continue


def test_a_trace_of_another_organisation_is_not_continued(client: list[Any]) -> None:
    if getattr(getattr(sentry_sdk.get_client(), "parsed_dsn", None), "org_id", None) is None:
        pytest.skip("this sentry-sdk does not parse the org id of a DSN")
    carrier = {"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "baggage": "sentry-org_id=7,sentry-trace_id=x"}
    ctx = SentryMetaPropagator().extract(carrier, context=otel_context.Context())
    assert not trace.get_current_span(ctx).get_span_context().is_valid
    same = {"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "baggage": "sentry-org_id=42"}
    _remote(SentryMetaPropagator().extract(same))


def test_parent_context_falls_back_to_sentry_trace_only_without_traceparent(
    registered: SentryMetaPropagator,
) -> None:
    only_sentry = {"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1"}
    assert format_trace_id(_remote(parent_context(only_sentry)).trace_id) == TRACE_ID
    both = {"traceparent": f"00-{OTHER_TRACE_ID}-00f067aa0ba902b7-01", **only_sentry}
    assert format_trace_id(_remote(parent_context(both)).trace_id) == OTHER_TRACE_ID
    remove_meta_propagator(registered)
    assert parent_context(only_sentry) is None  # not registered: W3C only


def _inject_under_a_span(meta: dict[str, Any], *, w3c_baggage: bool = False) -> trace.SpanContext:
    provider = TracerProvider()
    span = provider.get_tracer("test").start_span("client")
    ctx = trace.set_span_in_context(span)
    if w3c_baggage:
        ctx = otel_baggage.set_baggage("tenant", "acme", ctx)
    token = otel_context.attach(ctx)
    try:
        inject(meta)
    finally:
        otel_context.detach(token)
        span.end()
    return span.get_span_context()


def test_inject_writes_sentry_trace_and_baggage_next_to_traceparent(
    client: list[Any], registered: SentryMetaPropagator
) -> None:
    meta: dict[str, Any] = {}
    span_context = _inject_under_a_span(meta, w3c_baggage=True)
    trace_id, span_id = format_trace_id(span_context.trace_id), format_span_id(span_context.span_id)
    assert meta["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    assert meta["sentry-trace"] == f"{trace_id}-{span_id}-1"
    members = dict(m.split("=", 1) for m in meta["baggage"].split(","))
    assert members["tenant"] == "acme"  # the W3C propagator's member, kept
    if not HEAD_BAGGAGE:
        assert not any(key.startswith("sentry-") for key in members)  # sentry-sdk < 2.66: sentry-trace only
        return
    assert members["sentry-trace_id"] == trace_id and members["sentry-public_key"] == "pykey"
    assert members["sentry-release"] == "py%401.0.0" and members["sentry-environment"] == "test"


def test_inject_leaves_a_callers_trace_context_alone(
    client: list[Any], registered: SentryMetaPropagator
) -> None:
    meta: dict[str, Any] = {"traceparent": f"00-{OTHER_TRACE_ID}-00f067aa0ba902b7-01"}
    _inject_under_a_span(meta)
    assert set(meta) == {"traceparent"}
    sentry_only: dict[str, Any] = {"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "progressToken": 1}
    _inject_under_a_span(sentry_only)
    assert sentry_only["sentry-trace"] == f"{TRACE_ID}-{SPAN_ID}-1" and "baggage" not in sentry_only


def test_inject_without_a_sentry_client_writes_w3c_only(registered: SentryMetaPropagator) -> None:
    meta: dict[str, Any] = {}
    _inject_under_a_span(meta)
    assert set(meta) == {"traceparent"}


def test_a_continued_request_carries_the_incoming_dsc(
    client: list[Any], registered: SentryMetaPropagator
) -> None:
    """The Sentry transaction of a request continued from ``sentry-trace``: parent, trace and DSC."""
    provider = TracerProvider()
    handle = mcp_otel.sentry.setup(provider, capture_errors=False, release_health=False, sentry_trace=False)
    try:
        ctx = parent_context({"sentry-trace": f"{TRACE_ID}-{SPAN_ID}-1", "baggage": JS_BAGGAGE})
        span = provider.get_tracer("mcp_otel").start_span(
            "tools/call add",
            kind=SpanKind.SERVER,
            context=ctx,
            attributes={attr.MCP_METHOD_NAME: "tools/call", attr.GEN_AI_TOOL_NAME: "add"},
        )
        span.end()
        sentry_sdk.flush()
    finally:
        handle.close()
    (envelope,) = [e for e in client if any(i.type == "transaction" for i in e.items)]
    transaction = envelope.items[0].payload.json
    assert transaction["contexts"]["trace"]["trace_id"] == TRACE_ID
    assert transaction["contexts"]["trace"]["parent_span_id"] == SPAN_ID
    dsc = envelope.headers["trace"]
    assert dsc["public_key"] == "jskey" and dsc["release"] == "js@1.0.0" and dsc["sample_rand"] == "0.25"
