"""Notification spans in both directions, progress events and cancellation, on every transport.

Each notification gets a CLIENT span on the sender and a SERVER span on the receiver, named by its method,
with ``mcp.method.name`` and ``mcp_otel.notification.direction``; the receiver's span is the child of the
sender's (``_meta`` propagation), and notifications a tool sends are in the tool call's trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv.signals import CANCELLED, EVENT_CANCELLED, EVENT_PROGRESS
from support import feature_client, feature_server
from support.compat import IS_MCP1, MCP_VERSION
from support.spans import Span, assert_child, children, describe, find, only

pytestmark = pytest.mark.anyio

PROGRESS = "notifications/progress"
MESSAGE = "notifications/message"
UPDATED = "notifications/resources/updated"
TOOLS_CHANGED = "notifications/tools/list_changed"


def _skip_modern(transport: str, what: str) -> None:
    if feature_client.modern(transport):
        pytest.skip(f"mcp 2.x {transport} speaks the sessionless 2026-07-28 protocol: {what}")


def _assert_notification(span: Span, method: str, kind: str, direction: str) -> None:
    attrs = span["attributes"]
    assert span["name"] == method and span["kind"] == kind, span
    assert attrs.get(feature_client.METHOD) == method, span
    assert attrs.get(feature_client.DIRECTION) == direction, span
    assert feature_client.REQUEST_ID not in attrs, span
    assert span["status"] == "UNSET", span


def _assert_pairs(spans: list[Span], method: str, direction: str, count: int) -> list[Span]:
    """``count`` CLIENT spans ``method`` on the sender, each the parent of one receiver SERVER span."""
    senders = find(spans, method, "CLIENT")
    receivers = find(spans, method, "SERVER")
    assert len(senders) == count and len(receivers) == count, describe(spans)
    for sender in senders:
        _assert_notification(sender, method, "CLIENT", direction)
        got = children(receivers, sender)
        assert len(got) == 1, (
            f"{method}: receiver SERVER spans are not children of the sender's CLIENT span "
            f"{sender['span_id']}: parents {[(r['trace_id'], r['parent_span_id']) for r in receivers]}"
        )
        _assert_notification(got[0], method, "SERVER", direction)
    return senders


async def test_initialized_notification(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``notifications/initialized``: CLIENT on the client, SERVER (its child) on the server."""
    _skip_modern(transport, "no initialize handshake, so no notifications/initialized")
    async with feature_client.connect(transport, tmp_path) as conn:
        await feature_client.wait_for_spans(
            span_exporter, conn, lambda x: bool(find(x, "notifications/initialized", "SERVER"))
        )
    spans = feature_client.collect(span_exporter, conn)
    _assert_pairs(spans, "notifications/initialized", feature_client.TO_SERVER, 1)


async def test_roots_list_changed_notification(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``notifications/roots/list_changed`` sent with ``ClientSession.send_roots_list_changed``."""
    _skip_modern(
        transport,
        "no client-to-server notifications (the direct path drops them, stateless HTTP acks and drops)",
    )
    method = "notifications/roots/list_changed"
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.session.send_roots_list_changed()
        await feature_client.wait_for_spans(span_exporter, conn, lambda x: bool(find(x, method, "SERVER")))
    spans = feature_client.collect(span_exporter, conn)
    _assert_pairs(spans, method, feature_client.TO_SERVER, 1)


async def test_log_message_from_a_tool(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``notifications/message`` a tool logs: CLIENT child of the tool's SERVER span, then received."""
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await conn.call_tool("progress", {}, progress_callback=conn.inbox.on_progress)
        await feature_client.wait_for_spans(span_exporter, conn, lambda x: bool(find(x, MESSAGE, "SERVER")))
    assert conn.inbox.logs == [feature_server.LOG_TEXT]
    spans = feature_client.collect(span_exporter, conn)
    tool = only(spans, "tools/call progress", "SERVER")
    (sender,) = _assert_pairs(spans, MESSAGE, feature_client.TO_CLIENT, 1)
    assert_child(sender, tool)


def _skip_unscoped_progress(transport: str) -> None:
    if transport == "http-stateless" and not feature_server.progress_is_request_scoped():
        pytest.skip(
            f"mcp {MCP_VERSION}: FastMCP Context.report_progress sends progress without related_request_id, "
            "i.e. on the standalone GET stream, which stateless streamable HTTP does not have (dropped)"
        )


async def test_progress_from_a_tool(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """Progress a tool reports: ``mcp_otel.progress`` events (current/total) on its SERVER span, and one
    CLIENT ``notifications/progress`` span per step, children of that span."""
    _skip_unscoped_progress(transport)
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await conn.call_tool("progress", {}, progress_callback=conn.inbox.on_progress)
    steps = [float(step) for step in range(1, feature_server.PROGRESS_STEPS + 1)]
    assert [p for p, _ in conn.inbox.progress] == steps
    spans = feature_client.collect(span_exporter, conn)
    tool = only(spans, "tools/call progress", "SERVER")
    events = [e for e in tool["events"] if e["name"] == EVENT_PROGRESS]
    assert [e["attributes"].get(attr.MCP_OTEL_PROGRESS_CURRENT) for e in events] == steps, tool["events"]
    assert {e["attributes"].get(attr.MCP_OTEL_PROGRESS_TOTAL) for e in events} == {
        feature_server.PROGRESS_STEPS
    }
    senders = find(spans, PROGRESS, "CLIENT")
    assert len(senders) == feature_server.PROGRESS_STEPS, describe(spans)
    for sender in senders:
        _assert_notification(sender, PROGRESS, "CLIENT", feature_client.TO_CLIENT)
        assert_child(sender, tool)


async def test_progress_received_by_the_client(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """Each ``notifications/progress`` the client receives gets a SERVER span, child of the sender's span."""
    if transport == "direct":
        pytest.skip(
            "mcp 2.x direct dispatch hands progress to the caller's callback in-process: no "
            "notifications/progress message reaches the client"
        )
    _skip_unscoped_progress(transport)
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await conn.call_tool("progress", {}, progress_callback=conn.inbox.on_progress)
        await feature_client.wait_for_spans(
            span_exporter, conn, lambda x: len(find(x, PROGRESS, "SERVER")) >= feature_server.PROGRESS_STEPS
        )
    spans = feature_client.collect(span_exporter, conn)
    _assert_pairs(spans, PROGRESS, feature_client.TO_CLIENT, feature_server.PROGRESS_STEPS)


async def test_resource_updated_and_list_changed_from_a_tool(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``notifications/resources/updated`` (with ``mcp.resource.uri``) and
    ``notifications/tools/list_changed`` sent from a tool, received in the tool call's trace."""
    _skip_modern(
        transport,
        "no standalone server→client channel; resource and list changes reach subscriptions/listen only",
    )
    if transport == "http-stateless":
        pytest.skip(
            "mcp 1.x stateless streamable HTTP: notifications not tied to a request go to the standalone GET "
            "stream, which a stateless server does not keep (dropped)"
        )
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await conn.call_tool("notify")
        await feature_client.wait_for_spans(
            span_exporter,
            conn,
            lambda x: bool(find(x, UPDATED, "SERVER")) and bool(find(x, TOOLS_CHANGED, "SERVER")),
        )
    assert UPDATED in conn.inbox.notifications and TOOLS_CHANGED in conn.inbox.notifications
    spans = feature_client.collect(span_exporter, conn)
    tool = only(spans, "tools/call notify", "SERVER")
    for method in (UPDATED, TOOLS_CHANGED):
        (sender,) = _assert_pairs(spans, method, feature_client.TO_CLIENT, 1)
        assert_child(sender, tool)
    for span in find(spans, UPDATED, "CLIENT") + find(spans, UPDATED, "SERVER"):
        assert span["attributes"].get(feature_client.RESOURCE_URI_KEY) == feature_server.RESOURCE_URI, span


def _skip_cancel(transport: str) -> None:
    if IS_MCP1 and transport == "http-stateless":
        pytest.skip(
            "mcp 1.x stateless streamable HTTP: notifications/cancelled arrives in a new POST served by a "
            "fresh ServerSession that does not know the request; closing the stream does not stop the handler"
        )


async def test_cancelled_request_span(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """A tool call the client cancels (``notifications/cancelled``; on 2026-07-28 connections the caller's
    cancellation itself): its SERVER span ends with ``error.type=cancelled``, ERROR and an
    ``mcp_otel.cancelled`` event."""
    _skip_cancel(transport)
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await feature_client.call_and_cancel(conn)
        await feature_client.wait_for_spans(
            span_exporter, conn, lambda x: bool(find(x, "tools/call wait", "SERVER"))
        )
    spans = feature_client.collect(span_exporter, conn)
    span = only(spans, "tools/call wait", "SERVER")
    assert span["attributes"].get(feature_client.ERROR_TYPE) == CANCELLED, span
    assert span["status"] == "ERROR", span
    assert [e["name"] for e in span["events"]].count(EVENT_CANCELLED) == 1, span["events"]
    # the client's reason (1.x: the test's; 2.x: the SDK's, on the transports that send the notification)
    reason = feature_client.cancel_reason_delivered(transport)
    (event,) = [e["attributes"] for e in span["events"] if e["name"] == EVENT_CANCELLED]
    assert event == ({attr.MCP_OTEL_CANCELLED_REASON: reason} if reason else {}), span["events"]
    assert span["status_description"] == reason, span


async def test_cancel_notification_spans(
    instrumented: Any, span_exporter: Any, transport: str, tmp_path: Path
) -> None:
    """``notifications/cancelled``: CLIENT span on the client, SERVER span (its child) on the server."""
    _skip_cancel(transport)
    if transport == "direct":
        pytest.skip(
            "mcp 2.x direct dispatch cancels the handler with the caller's task: no notifications/cancelled"
        )
    _skip_modern(transport, "notification POSTs are acknowledged and dropped; cancelling closes the response")
    method = "notifications/cancelled"
    async with feature_client.connect(transport, tmp_path) as conn:
        await conn.list_tools()
        await feature_client.call_and_cancel(conn)
        await feature_client.wait_for_spans(span_exporter, conn, lambda x: bool(find(x, method, "SERVER")))
    spans = feature_client.collect(span_exporter, conn)
    _assert_pairs(spans, method, feature_client.TO_SERVER, 1)
