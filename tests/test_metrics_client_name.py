"""``mcp.client.name`` on the server's duration metrics: off by default, on with ``metrics_client_name``, and
capped at ``metrics_client_name_limit`` distinct names (then ``_OTHER``). In-process and HTTP servers (the
test's reader holds the server's points)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import metrics as m
from mcp_otel.semconv.signals import CLIENT_NAME_OTHER
from support import feature_client, feature_server
from support.compat import implementation
from support.harness import TRANSPORTS, serve_http
from support.metrics import metric_points

pytestmark = pytest.mark.anyio

CLIENT_NAMES = ("claude-code", "vscode", "cursor", "scraper-bot")
#: Transports whose server runs in the test process.
LOCAL_TRANSPORTS = [t for t in ("memory", "http") if t in TRANSPORTS]


async def _sessions(transport: str, tmp_path: Path, names: tuple[str, ...]) -> None:
    """One session per client name against one server: ``add`` called once each."""
    server = feature_server.build_server()
    if transport == "memory":
        for name in names:
            async with feature_client.connect(
                transport, tmp_path, server=server, client_info=implementation(name)
            ) as c:
                await c.call_tool("add", {"a": 1, "b": 2})
        return
    async with serve_http(transport, server) as url:
        for name in names:
            async with feature_client.connect(
                transport, tmp_path, client_info=implementation(name), url=url
            ) as c:
                await c.call_tool("add", {"a": 1, "b": 2})


def _client_names(points: list[dict[str, Any]], metric: str, method: str | None = None) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for p in points:
        if p["name"] == metric and (method is None or p["attributes"][attr.MCP_METHOD_NAME] == method):
            out[p["attributes"].get(attr.MCP_CLIENT_NAME)] += p["count"]
    return out


@pytest.mark.parametrize("transport", LOCAL_TRANSPORTS)
async def test_client_name_is_off_by_default(
    instrumented: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    await _sessions(transport, tmp_path, CLIENT_NAMES[:2])
    points = metric_points(metric_reader)
    assert points
    assert all(attr.MCP_CLIENT_NAME not in p["attributes"] for p in points)


@pytest.mark.parametrize("transport", LOCAL_TRANSPORTS)
async def test_client_name_capped_on_server_metrics(
    instrument: Any, metric_reader: Any, transport: str, tmp_path: Path
) -> None:
    """Limit 2: the first two names as sent, the other two as ``_OTHER``; on the operation points of every
    method (``initialize`` included) and on the session points; never on the client's own metrics."""
    instrument(metrics_client_name=True, metrics_client_name_limit=2)
    await _sessions(transport, tmp_path, CLIENT_NAMES)
    points = metric_points(metric_reader)
    expected = Counter({"claude-code": 1, "vscode": 1, CLIENT_NAME_OTHER: 2})
    for method in ("initialize", "tools/call"):
        assert _client_names(points, m.MCP_SERVER_OPERATION_DURATION, method) == expected, method
    assert _client_names(points, m.MCP_SERVER_SESSION_DURATION) == expected
    assert set(_client_names(points, m.MCP_CLIENT_OPERATION_DURATION)) == {None}
    assert attr.MCP_CLIENT_NAME in m.MCP_SERVER_OPERATION_DURATION_EXTENSION_ATTRIBUTES
    assert attr.MCP_CLIENT_NAME in m.MCP_SERVER_SESSION_DURATION_EXTENSION_ATTRIBUTES


async def test_client_name_from_the_environment(
    instrument: Any, metric_reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_MCP_METRICS_CLIENT_NAME", "true")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_MCP_METRICS_CLIENT_NAME_LIMIT", "1")
    instrument()
    await _sessions("memory", tmp_path, CLIENT_NAMES[:3])
    points = metric_points(metric_reader)
    expected = Counter({"claude-code": 1, CLIENT_NAME_OTHER: 2})
    assert _client_names(points, m.MCP_SERVER_OPERATION_DURATION, "tools/call") == expected
