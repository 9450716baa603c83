"""A streamable-HTTP MCP server under ``uvicorn --workers 2``, started through ``opentelemetry-instrument``
and through ``mcp-otel run``, and under ``gunicorn -k uvicorn_worker.UvicornWorker -w 2`` through
``mcp-otel run``: every worker exports its own spans, each with its own ``process.pid``.

uvicorn starts its workers as new interpreters (``multiprocessing`` spawn), so each one runs the
``sitecustomize`` and sets up its own SDK. The app is ``weather_mcp.http:app`` (stateless, so any worker can
answer any request) from :mod:`support.server_package`; its ``pid`` tool tells which worker answered. The test
calls it until both workers have answered, stops uvicorn with SIGINT and checks that the receiver got exactly
one SERVER span per call, from the worker that answered it: none lost, none duplicated.

At shutdown uvicorn's supervisor sends SIGTERM to its workers, and each worker, once it has shut down
gracefully, raises SIGTERM again with the default action: the process dies without running its exit
handlers. Under ``mcp-otel run`` the SIGTERM handler installed before uvicorn's flushes the spans then; under
``opentelemetry-instrument`` the spans still queued are lost, so that variant lets the batch processor
export them (100 ms schedule) and waits for them before stopping uvicorn.

gunicorn forks its workers from a master that ran the ``sitecustomize``: under ``mcp-otel run`` each worker
gets its own ``process.pid`` after the fork, and flushes when gunicorn's master stops it, with batches held
for 10 minutes as for uvicorn: SIGTERM to the master sends SIGTERM to the workers (uvicorn shuts down, then
raises SIGTERM again); SIGINT sends them SIGQUIT, on which uvicorn's worker only marks itself as exiting (it
flushes then) and serves on until the master kills it at the end of ``--graceful-timeout``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from support.harness import connect_http
from support.otlp_receiver import running_receiver
from support.server_package import ServerVenv, make_server_venv

pytest.importorskip("uvicorn", reason="needs uvicorn")
pytestmark = [
    pytest.mark.per_major,
    pytest.mark.xdist_group("multi-worker"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX process model"),
]

BIN = Path(sys.executable).parent
MAX_CALLS = 60
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server_venv(tmp_path_factory: pytest.TempPathFactory) -> ServerVenv:
    return make_server_venv(tmp_path_factory.mktemp("server-venv"), sys.executable)


@pytest.fixture(scope="module")
def gunicorn_venv(server_venv: ServerVenv) -> ServerVenv:
    """The server venv with gunicorn and uvicorn's gunicorn worker (uvicorn itself comes from the test
    environment, through the venv's ``.pth`` file)."""
    install = [shutil.which("uv") or "uv", "pip", "install", "-q", "--no-deps", "--python"]
    packages = [str(server_venv.python), "gunicorn", "uvicorn-worker"]
    done = subprocess.run([*install, *packages], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"gunicorn cannot be installed: {done.stderr.strip()[-500:]}")
    return server_venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"uvicorn exited with {proc.returncode}: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


async def _call_until_both_workers_answer(url: str) -> Counter[int]:
    """One client session (a new connection) per call, until two different pids have answered."""
    answered: Counter[int] = Counter()
    for _ in range(MAX_CALLS):
        async with connect_http("http-stateless", url) as conn:
            result = await conn.call_tool("pid", {})
        answered[int(result["content"][0]["text"])] += 1
        if len(answered) >= 2 and sum(answered.values()) >= 6:
            break
    return answered


def _uvicorn(server_venv: ServerVenv, port: int) -> list[str]:
    return [str(server_venv.python), "-m", "uvicorn", "weather_mcp.http:app", "--workers", "2"] + [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def _gunicorn(server_venv: ServerVenv, port: int) -> list[str]:
    gunicorn = str(server_venv.python.parent / "gunicorn")
    return [gunicorn, "-k", "uvicorn_worker.UvicornWorker", "-w", "2", "-b", f"127.0.0.1:{port}"] + [
        "--log-level",
        "warning",
        # as uvicorn's health check: setting up telemetry on two busy cores can take a while
        "--timeout",
        "120",
        # SIGINT: uvicorn's worker does not stop on the master's SIGQUIT; the master kills it after this
        "--graceful-timeout",
        "5",
        "weather_mcp.http:app",
    ]


def _launchers() -> dict[str, list[str]]:
    instrument = shutil.which("opentelemetry-instrument", path=str(BIN))
    return {
        "opentelemetry-instrument": [instrument] if instrument else [],
        "mcp-otel run": [str(BIN / "mcp-otel"), "run", "--service-name", "weather-http", "--"],
    }


@pytest.mark.parametrize("launcher", ["opentelemetry-instrument", "mcp-otel run"])
def test_every_worker_exports_its_own_spans(server_venv: ServerVenv, tmp_path: Path, launcher: str) -> None:
    prefix = _launchers()[launcher]
    if not prefix:
        pytest.fail("opentelemetry-instrument is not installed next to the test interpreter")
    port = _free_port()
    _check_workers(launcher, [*prefix, *_uvicorn(server_venv, port)], port, signal.SIGINT, tmp_path)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_every_forked_gunicorn_worker_exports_its_own_spans(
    gunicorn_venv: ServerVenv, tmp_path: Path, stop: signal.Signals
) -> None:
    port = _free_port()
    command = [*_launchers()["mcp-otel run"], *_gunicorn(gunicorn_venv, port)]
    _check_workers("mcp-otel run", command, port, stop, tmp_path)


def _check_workers(
    launcher: str, command: list[str], port: int, stop: signal.Signals, tmp_path: Path
) -> None:
    """Call the server until both workers answered, stop it with ``stop`` and check the spans received."""
    log = tmp_path / "server.log"
    with running_receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "PYTHONPATH"}
        env.update(
            OTEL_SERVICE_NAME="weather-http",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            # opentelemetry-instrument: the SDK's process detector; mcp-otel run adds process.pid itself
            OTEL_EXPERIMENTAL_RESOURCE_DETECTORS="otel,process" if launcher != "mcp-otel run" else "otel",
            # mcp-otel run: batches wait (10 minutes) for the flush at shutdown; see the module docstring
            OTEL_BSP_SCHEDULE_DELAY="600000" if launcher == "mcp-otel run" else "100",
            # uvicorn kills a worker that has not answered its health check within 5 s; setting up telemetry
            # on two busy cores can take longer (uvicorn before 0.36 has no check and ignores this)
            UVICORN_TIMEOUT_WORKER_HEALTHCHECK="120",
        )
        with log.open("wb") as out:
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        try:
            _wait_listening(proc, port, log)
            answered = anyio.run(_call_until_both_workers_answer, f"http://127.0.0.1:{port}/mcp")
            if launcher == "mcp-otel run":
                assert _calls(receiver.spans()) == []  # nothing exported before the shutdown
            else:
                receiver.wait_for_spans(lambda spans: len(_calls(spans)) >= sum(answered.values()))
            proc.send_signal(stop)
            status = proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        spans = receiver.spans()

    assert status == 0, log.read_text()
    assert len(answered) == 2, f"one worker answered all {sum(answered.values())} calls: {answered}"
    calls = _calls(spans)
    # none lost, none duplicated: one span per call, from the worker that answered it
    assert Counter(_pid(s) for s in calls) == answered, json.dumps(calls, default=str)[:2000]
    assert len({s["span_id"] for s in spans}) == len(spans)
    assert proc.pid not in answered
    assert {s["service"] for s in calls} == {"weather-http"}


def _calls(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if s["scope"] == "mcp_otel" and s["name"] == "tools/call pid"]


def _pid(span: dict[str, Any]) -> int:
    return int(span["resource"]["process.pid"])
