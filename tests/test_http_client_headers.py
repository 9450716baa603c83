"""The HTTP requests an MCP client sends for its messages carry those messages' trace context (W3C headers of
the configured propagators), over streamable HTTP and SSE, on mcp 1.x (``httpx``) and 2.x (``httpx2``).

The client's HTTP client records every request it sends (``support.harness.HttpLog``): each POST carries the
``traceparent`` of the CLIENT span of the message in its body, a ``traceparent`` the user set as a default
header of their HTTP client is kept, and the SSE GET stream (no message's) carries none.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from support.compat import implementation
from support.harness import HttpLog, _connect_streams, http_streams, serve_http
from support.servers import build_demo
from support.spans import request_spans, to_dicts

pytestmark = pytest.mark.anyio

USER_TRACEPARENT = "00-11111111111111111111111111111111-2222222222222222-01"


def _sse_posts_have_a_seam() -> bool:
    import mcp.client.sse as sse

    return hasattr(sse, "request_within_origin")


async def _exchange(transport: str, log: HttpLog) -> Any:
    async with serve_http(transport, build_demo()) as url, contextlib.AsyncExitStack() as stack:
        conn = await _connect_streams(
            stack, transport, http_streams(transport, url, log), implementation(), mode="legacy"
        )
        await conn.list_tools()
        await conn.call_tool("add", {"a": 1, "b": 2})
    return conn


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_each_post_carries_its_message_client_span(
    instrumented: Any, span_exporter: Any, transport: str
) -> None:
    if transport == "sse" and not _sse_posts_have_a_seam():
        pytest.skip("this mcp's SSE client posts with client.post: no seam for the headers")
    log = HttpLog()
    await _exchange(transport, log)
    clients = request_spans(to_dicts(span_exporter.get_finished_spans()), "CLIENT")
    posts = [headers for method, headers in log.requests if method == "POST"]
    parents = {(s["trace_id"], s["span_id"]) for s in clients}
    # every request of the exchange (initialize, tools/list, tools/call) was POSTed with its span's context
    carried = [tuple(headers["traceparent"].split("-")[1:3]) for headers in posts if "traceparent" in headers]
    assert {s["name"] for s in clients} == {"initialize", "tools/list", "tools/call add"}
    assert parents <= set(carried), (carried, parents)
    gets = [headers for method, headers in log.requests if method == "GET"]
    assert all("traceparent" not in headers for headers in gets), gets


async def test_a_traceparent_the_user_set_is_kept(instrumented: Any, span_exporter: Any) -> None:
    log = HttpLog(default_headers={"traceparent": USER_TRACEPARENT})
    await _exchange("http", log)
    posts = [headers for method, headers in log.requests if method == "POST"]
    assert posts and {headers["traceparent"] for headers in posts} == {USER_TRACEPARENT}
