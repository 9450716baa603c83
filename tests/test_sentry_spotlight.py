"""mcp-otel → Sentry against a real Sentry envelope receiver: Spotlight (npm ``@spotlightjs/spotlight``).

The ``spotlight`` fixture runs the Spotlight sidecar headless on 127.0.0.1 (a free port) and reads back the
envelopes it saved (``SPOTLIGHT_CAPTURE=1``). It installs the pinned package with npm into
``$MCP_OTEL_SPOTLIGHT_DIR`` (default ``<temp dir>/mcp-otel-spotlight-<version>``) when it is not there yet —
``.ci/run`` does that ahead of the tests — and skips only when npm itself is missing.

Two workarounds, both from the reference notes: Spotlight 4.11.8 answers every request with HTTP 500 when
``hono`` resolves to 4.13.x, so the install pins ``hono`` 4.12.25 with an npm override; and the CLI binds all
interfaces and starts its own telemetry to sentry.io, so it runs with a preloaded script that binds its server
to 127.0.0.1 and refuses outbound connections to anything but loopback.

Run ``python tests/test_sentry_spotlight.py install`` to install Spotlight without running tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import npm_packages

pytestmark = [pytest.mark.per_major, pytest.mark.xdist_group("spotlight")]

SPOTLIGHT_VERSION = "4.11.8"
HONO_VERSION = "4.12.25"
PACKAGE_JSON = {
    "private": True,
    "dependencies": {"@spotlightjs/spotlight": SPOTLIGHT_VERSION},
    "overrides": {"hono": HONO_VERSION},
}
DIR_ENV = "MCP_OTEL_SPOTLIGHT_DIR"
RUN_JS = Path("node_modules/@spotlightjs/spotlight/dist/run.js")
START_TIMEOUT = 60.0

#: Preloaded into Spotlight's node process: listen on 127.0.0.1 only, connect to loopback only.
LOOPBACK_ONLY_JS = r"""'use strict';
const net = require('net');
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined) args[0] = Object.assign({}, first, { host: '127.0.0.1' });
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  let host;
  if (options !== null && typeof options === 'object') {
    if (options.path !== undefined) return connect.apply(this, args);
    host = options.host;
  } else if (typeof options === 'number' || typeof options === 'string') {
    if (typeof options === 'string' && !/^\d+$/.test(options)) return connect.apply(this, args);
    host = typeof args[1] === 'string' ? args[1] : undefined;
  }
  if (host === undefined || LOOPBACK.has(host)) return connect.apply(this, args);
  const err = new Error('connection to ' + host + ' refused: loopback only');
  err.code = 'ECONNREFUSED';
  process.nextTick(() => this.destroy(err));
  return this;
};
"""


def spotlight_dir() -> Path:
    """Where Spotlight is (to be) installed: ``$MCP_OTEL_SPOTLIGHT_DIR``, else a directory in the temp dir."""
    return npm_packages.package_dir(DIR_ENV, f"mcp-otel-spotlight-{SPOTLIGHT_VERSION}")


def installed(directory: Path) -> bool:
    """Whether ``directory`` holds the pinned Spotlight with the hono override."""
    return (directory / RUN_JS).is_file() and npm_packages.installed_version(
        directory, "hono"
    ) == HONO_VERSION


def install(directory: Path) -> Path:
    """Install Spotlight into ``directory`` with npm (unless already there); return ``run.js``.

    Raises:
        FileNotFoundError: npm is not installed.
        subprocess.CalledProcessError: npm failed.
    """
    npm_packages.install(directory, PACKAGE_JSON, installed)
    return directory / RUN_JS


# -- the running sidecar ----------------------------------------------------------------------------------


@dataclass
class Spotlight:
    """A running Spotlight sidecar and the envelopes it saved."""

    port: int
    workdir: Path
    process: subprocess.Popen[str]

    @property
    def dsn(self) -> str:
        """A DSN whose envelopes go to Spotlight's ``/api/<id>/envelope/`` route."""
        return f"http://publickey@127.0.0.1:{self.port}/1"

    @property
    def stream_url(self) -> str:
        """The URL for ``sentry_sdk.init(spotlight=...)``."""
        return f"http://127.0.0.1:{self.port}/stream"

    def clear(self) -> None:
        """Forget the envelopes saved so far."""
        for path in self.workdir.glob("application_x_sentry_envelope-*.txt"):
            path.unlink()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/clear", method="DELETE")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=5).close()

    def items(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The items of every envelope saved so far, as ``{"type", "payload"}`` dicts (complete files)."""
        from sentry_sdk.envelope import Envelope

        out = []
        for path in sorted(self.workdir.glob("application_x_sentry_envelope-*.txt")):
            try:
                envelope = Envelope.deserialize(path.read_bytes())
                parsed = [
                    (str(i.type), i.payload.json or json.loads(i.payload.get_bytes())) for i in envelope.items
                ]
            except (ValueError, OSError, TypeError):
                continue  # still being written
            out.extend({"type": t, "payload": p} for t, p in parsed if type_ is None or t == type_)
        return out

    def wait_for(self, predicate: Callable[[Spotlight], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.1)
        raise AssertionError(
            f"Spotlight: condition not met in {timeout}s; got {[i['type'] for i in self.items()]}"
        )


@pytest.fixture(scope="module")
def spotlight() -> Iterator[Spotlight]:
    """Spotlight, installed if needed, running headless on 127.0.0.1 with envelope capture on."""
    pytest.importorskip("sentry_sdk")
    node = shutil.which("node")
    if shutil.which("npm") is None or node is None:
        pytest.skip("npm is not installed: cannot install or run Spotlight (@spotlightjs/spotlight)")
    run_js = install(spotlight_dir())
    with tempfile.TemporaryDirectory(prefix="spotlight-") as tmp:
        workdir = Path(tmp)
        preload = workdir / "loopback-only.cjs"
        preload.write_text(LOOPBACK_ONLY_JS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
        env.update(SPOTLIGHT_CAPTURE="1", NO_COLOR="1")
        process = subprocess.Popen(
            [node, "--require", str(preload), str(run_js), "server", "-p", "0"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            port = _wait_for_port(process)
            _wait_healthy(port)
            yield Spotlight(port, workdir, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_for_port(process: subprocess.Popen[str]) -> int:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, name="spotlight-output", daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"listening on (\d+)", line)
        if match:
            return int(match.group(1))
    raise RuntimeError("Spotlight did not start:\n" + "".join(seen))


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"Spotlight on port {port} never answered /health")


# -- the tests --------------------------------------------------------------------------------------------


def _server_transactions(spot: Spotlight) -> dict[str, dict[str, Any]]:
    out = {}
    for item in spot.items("transaction"):
        payload = item["payload"]
        if payload["contexts"]["trace"].get("op") == "mcp.server":
            out[payload["transaction"]] = payload
    return out


def _errors(spot: Spotlight) -> list[dict[str, Any]]:
    return [i["payload"] for i in spot.items("event") if i["payload"].get("exception")]


def _sessions(spot: Spotlight) -> list[dict[str, Any]]:
    return [i["payload"] for i in spot.items("session")]


def test_spotlight_is_loopback_only(spotlight: Spotlight) -> None:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=False).stdout
    if not out:
        pytest.skip("ss is not available")
    bound = [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(f":{spotlight.port}")]
    assert bound and all(addr.startswith("127.0.0.1:") for addr in bound), bound


def test_stdio_server_reports_to_spotlight(spotlight: Spotlight) -> None:
    """The example tools, prompt, resource and notifications, over stdio: what Spotlight received."""
    import anyio

    from support.compat import CLIENT_NAME
    from support.sentry_server import connect, tool_mechanism

    spotlight.clear()

    async def run() -> None:
        async with connect("stdio", spotlight.dsn) as conn:
            await conn.call_tool("add", {"a": 2, "b": 3})
            assert (await conn.call_tool("explode", {"text": "x"}))["isError"] is True
            await conn.get_prompt("greet", {"name": "Ada"})
            await conn.read_resource("demo://info")
            await conn.call_tool("logged", {"text": "x"})

    anyio.run(run)
    spotlight.wait_for(lambda s: bool(_sessions(s)) and "tools/call logged" in _server_transactions(s))
    server = _server_transactions(spotlight)
    for name in ("tools/call add", "tools/call explode", "prompts/get greet", "resources/read demo://info"):
        trace = server[name]["contexts"]["trace"]
        assert trace["origin"] == "auto.ai.mcp.otel"
        data = trace["data"]
        assert data["mcp.transport"] == "stdio" and data["network.transport"] == "pipe"
        assert data["mcp.method.name"] == name.split(" ")[0] and data["mcp.client.name"] == CLIENT_NAME
    explode = server["tools/call explode"]["contexts"]["trace"]
    assert explode["status"] == "internal_error" and explode["data"]["mcp.tool.result.is_error"] is True
    assert server["tools/call add"]["contexts"]["trace"]["status"] == "ok"
    logged = server["tools/call logged"]
    assert [s["op"] for s in logged["spans"]] == ["mcp.notification.server_to_client"]
    notifications = [
        i["payload"]["transaction"]
        for i in spotlight.items("transaction")
        if i["payload"]["contexts"]["trace"]["op"] == "mcp.notification.client_to_server"
    ]
    assert "notifications/initialized" in notifications

    (event,) = _errors(spotlight)
    assert event["exception"]["values"][-1]["mechanism"] == tool_mechanism("explode")
    assert (event["contexts"]["trace"]["trace_id"], event["contexts"]["trace"]["span_id"]) == (
        explode["trace_id"],
        explode["span_id"],
    )
    (session,) = _sessions(spotlight)
    assert session["status"] == "exited" and session["errors"] == 1


def _streamed_segments(spot: Spotlight) -> dict[str, dict[str, Any]]:
    out = {}
    for item in spot.items("span"):
        for span in item["payload"]["items"]:
            attributes = {k: v["value"] for k, v in span.get("attributes", {}).items()}
            if span["is_segment"] and attributes.get("sentry.op") == "mcp.server":
                out[span["name"]] = {**span, "attributes": attributes}
    return out


def test_stdio_server_streams_to_spotlight(spotlight: Spotlight) -> None:
    """Span streaming mode (``trace_lifecycle="stream"``) over stdio, sentry-sdk's MCPIntegration left on."""
    import anyio

    from mcp_otel.sentry.streaming import MIN_SENTRY_SDK, supported

    if not supported():
        pytest.skip(f"span streaming needs sentry-sdk >= {'.'.join(map(str, MIN_SENTRY_SDK))}")

    from support.compat import CLIENT_NAME
    from support.sentry_server import connect, tool_mechanism

    spotlight.clear()

    async def run() -> None:
        async with connect("stdio", spotlight.dsn, {"SENTRY_TEST_LIFECYCLE": "stream"}) as conn:
            await conn.call_tool("add", {"a": 2, "b": 3})
            assert (await conn.call_tool("explode", {"text": "x"}))["isError"] is True
            await conn.read_resource("demo://info")
            await conn.call_tool("logged", {"text": "x"})

    anyio.run(run)
    spotlight.wait_for(lambda s: bool(_sessions(s)) and "tools/call logged" in _streamed_segments(s))
    assert not spotlight.items("transaction")
    segments = _streamed_segments(spotlight)
    for name in ("tools/call add", "tools/call explode", "resources/read", "tools/call logged"):
        attributes = segments[name]["attributes"]
        assert attributes["sentry.origin"] == "auto.ai.mcp.otel"
        assert attributes["mcp.transport"] == "stdio" and attributes["network.transport"] == "pipe"
        assert attributes["mcp.client.name"] == CLIENT_NAME
    origins = {
        v["attributes"]["sentry.origin"]["value"]
        for item in spotlight.items("span")
        for v in item["payload"]["items"]
    }
    assert origins == {"auto.ai.mcp.otel"}  # sentry-sdk's MCPIntegration spans are ignored
    explode = segments["tools/call explode"]
    assert explode["status"] == "error"
    logged = segments["tools/call logged"]
    children = [
        v
        for item in spotlight.items("span")
        for v in item["payload"]["items"]
        if v.get("parent_span_id") == logged["span_id"]
    ]
    assert [c["name"] for c in children] == ["notifications/message"]
    (event,) = _errors(spotlight)
    assert event["exception"]["values"][-1]["mechanism"] == tool_mechanism("explode")
    assert (event["contexts"]["trace"]["trace_id"], event["contexts"]["trace"]["span_id"]) == (
        explode["trace_id"],
        explode["span_id"],
    )
    (session,) = _sessions(spotlight)
    assert session["status"] == "exited" and session["errors"] == 1


def _log_items(spot: Spotlight) -> list[dict[str, Any]]:
    """Every Sentry log item received, its attributes as plain values."""
    out = []
    for item in spot.items("log"):
        for log in item["payload"]["items"]:
            out.append({**log, "attributes": {k: v["value"] for k, v in log.get("attributes", {}).items()}})
    return out


def test_stdio_server_logs_to_spotlight(spotlight: Spotlight) -> None:
    """``enable_logs=True``: the tool's Python ``logging`` record and its MCP log notification reach Sentry
    Logs once each (sentry-sdk's own LoggingIntegration does not send the Python record again), linked to
    the tool's transaction, with the MCP attributes (OTel and Sentry names)."""
    import anyio

    from support.sentry_server import LOG_TEXT, LOGGER_NAME, PYTHON_LOG_TEXT, connect

    spotlight.clear()

    async def run() -> None:
        async with connect("stdio", spotlight.dsn, {"SENTRY_TEST_LOGS": "1"}) as conn:
            await conn.call_tool("logged", {"text": "x"})

    anyio.run(run)
    spotlight.wait_for(
        lambda s: (
            "tools/call logged" in _server_transactions(s)
            and {PYTHON_LOG_TEXT, LOG_TEXT} <= {log["body"] for log in _log_items(s)}
        )
    )
    trace = _server_transactions(spotlight)["tools/call logged"]["contexts"]["trace"]
    logs = [log for log in _log_items(spotlight) if log["body"] in (PYTHON_LOG_TEXT, LOG_TEXT)]
    assert sorted((log["level"], log["body"]) for log in logs) == [
        ("info", LOG_TEXT),
        ("warn", PYTHON_LOG_TEXT),
    ]
    for log in logs:
        assert (log["trace_id"], log["span_id"]) == (trace["trace_id"], trace["span_id"]), log
        attributes = log["attributes"]
        assert attributes["sentry.origin"] == "auto.ai.mcp.otel"
        assert attributes["mcp.method.name"] == "tools/call"
        assert attributes["gen_ai.tool.name"] == attributes["mcp.tool.name"] == "logged"
        assert attributes["mcp.server.name"] == "demo-weather"
    (python,) = [log for log in logs if log["body"] == PYTHON_LOG_TEXT]
    assert python["attributes"]["logger.name"] == LOGGER_NAME


def test_streamable_http_with_spotlight_option(spotlight: Spotlight) -> None:
    """``sentry_sdk.init(spotlight=...)`` without a DSN: in-process server over streamable HTTP."""
    import anyio
    import sentry_sdk
    from opentelemetry.sdk.trace import TracerProvider

    import mcp_otel.sentry
    from mcp_otel import McpInstrumentor
    from support.sentry_server import connect

    spotlight.clear()
    sentry_sdk.init(
        spotlight=spotlight.stream_url,
        release="mcp-otel-tests@1.0.0",
        traces_sample_rate=1.0,
        auto_enabling_integrations=False,
    )
    provider = TracerProvider()
    handle = mcp_otel.sentry.setup(provider)
    instrumentor = McpInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=handle.capture_content)
    try:

        async def run() -> None:
            async with connect("http", None) as conn:
                await conn.call_tool("echo", {"text": "hello"})
                await conn.call_tool("explode", {"text": "x"})

        anyio.run(run)
        sentry_sdk.flush(timeout=5.0)
        # without a DSN there is no transport, and sentry-sdk's flush() and close() skip the session flusher
        # (it sends every 60 s): flush it here
        sentry_sdk.get_client().session_flusher.flush()
    finally:
        instrumentor.uninstrument()
        handle.close()
        sentry_sdk.get_client().close(timeout=2.0)
        sentry_sdk.Scope.get_global_scope().set_client(None)
    # sessions reach Spotlight without a DSN only in newer sentry-sdk releases (2.66: yes, 2.45: no)
    sessions_reach_spotlight = tuple(int(p) for p in sentry_sdk.VERSION.split(".")[:2]) >= (2, 66)
    spotlight.wait_for(
        lambda s: (
            (bool(_sessions(s)) or not sessions_reach_spotlight)
            and "tools/call explode" in _server_transactions(s)
        )
    )
    echo = _server_transactions(spotlight)["tools/call echo"]["contexts"]["trace"]["data"]
    assert echo["mcp.transport"] == "http" and echo["network.transport"] == "tcp"
    assert echo["mcp.session.id"]
    # Spotlight mode without a DSN makes sentry-sdk send PII: content and user data follow it
    assert echo["mcp.request.argument.text"] == "hello" and echo["client.address"] == "127.0.0.1"
    # exactly one event for the failing tool (mcp 1.x also logs an unrelated SSE-writer error at shutdown)
    (event,) = [e for e in _errors(spotlight) if "RuntimeError" in json.dumps(e["exception"])]
    assert event["transaction"] == "tools/call explode"
    if sessions_reach_spotlight:
        assert _sessions(spotlight)[0]["status"] == "exited"


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        print(install(spotlight_dir()))
    else:
        sys.exit(f"usage: {sys.argv[0]} install   (installs Spotlight into ${DIR_ENV} or the temp dir)")
