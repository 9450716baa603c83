"""The runnable examples, each run for real in a subprocess against an OTLP/HTTP receiver on 127.0.0.1.

- ``examples/otlp_setup.py``: one in-memory call of the demo server, exported over OTLP (traces and metrics).
- ``examples/client.py``: the instrumented client and the demo server over stdio, both exporting: one trace.
- ``examples/http_server.py``: streamable HTTP under uvicorn, called by the SDK client, stopped by SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http", reason="needs opentelemetry-exporter-otlp-proto-http"
)
pytest.importorskip("uvicorn", reason="needs uvicorn")

from support.otlp_receiver import OtlpReceiver, running_receiver  # noqa: E402

pytestmark = [pytest.mark.per_major]

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
TIMEOUT = 90


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_receiver() as server:
        yield server


def _env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    src = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "60000"  # the final flush at shutdown exports the points
    env.update(extra)
    return env


def _run(script: str, receiver: OtlpReceiver, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=_env(receiver),
        timeout=TIMEOUT,
        cwd=REPO_ROOT,
    )


def _one(spans: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name and s["kind"] == kind and s["scope"] == "mcp_otel"]
    assert len(found) == 1, f"{kind} {name!r}: {[(s['kind'], s['name']) for s in spans]}"
    return found[0]


def test_otlp_setup(receiver: OtlpReceiver) -> None:
    proc = _run("otlp_setup.py", receiver)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "add(2, 3) = 5"
    assert lines[1].startswith("exported trace ") and lines[1].endswith(f" to {receiver.url}")
    trace_id = lines[1].split()[2]
    spans = receiver.spans()
    server = _one(spans, "tools/call add", "SERVER")
    assert server["trace_id"] == trace_id
    assert server["service"] == "mcp-otel-example"
    assert server["attributes"]["gen_ai.tool.name"] == "add"
    assert server["attributes"]["mcp.transport"] == "memory"
    assert "mcp.server.operation.duration" in receiver.metric_names()


def test_client_and_stdio_server_share_one_trace(receiver: OtlpReceiver) -> None:
    proc = _run("client.py", receiver, "--city", "Oslo")

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["add(2, 3) = 5", "forecast(Oslo) = Sunny in Oslo, 21 °C"]
    trace_id = lines[2].split()[2]
    spans = receiver.wait_for_spans(lambda s: sum(x["kind"] == "SERVER" for x in s) >= 3)
    for name in ("tools/call add", "tools/call forecast"):
        client = _one(spans, name, "CLIENT")
        server = _one(spans, name, "SERVER")
        assert (client["service"], server["service"]) == ("demo-client", "demo-weather")
        assert client["trace_id"] == server["trace_id"] == trace_id
        assert server["parent_span_id"] == client["span_id"]
        assert client["attributes"]["mcp.transport"] == server["attributes"]["mcp.transport"] == "stdio"
        assert server["attributes"]["network.transport"] == "pipe"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_server(receiver: OtlpReceiver) -> None:
    from support.compat import implementation
    from support.harness import connect_http

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "http_server.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(receiver),
        cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"serving MCP at http://127.0.0.1:{port}/mcp\n"
        _wait_listening(port)

        async def call() -> tuple[Any, str | None]:
            async with connect_http("http", f"http://127.0.0.1:{port}/mcp", implementation()) as conn:
                result = await conn.call_tool("add", {"a": 2, "b": 3})
            return result, conn.session_id

        result, session_id = anyio.run(call)
        assert result["content"][0]["text"] == "5"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    server = _one(receiver.spans(), "tools/call add", "SERVER")
    attributes = server["attributes"]
    assert server["service"] == "demo-weather-http"
    assert attributes["mcp.transport"] == "http"
    assert attributes["network.transport"] == "tcp"
    assert attributes["client.address"] == "127.0.0.1"
    assert session_id and attributes["mcp.session.id"] == attributes["session.id"] == session_id


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")
