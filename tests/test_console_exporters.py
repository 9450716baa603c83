"""Console exporters never write to a stdio server's stdout, the MCP channel.

The demo server is run over stdio three ways with the same raw JSON-RPC exchange: plain, under
``opentelemetry-instrument`` (zero-code) and under ``mcp-otel run``, the last two with
``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` and ``OTEL_LOGS_EXPORTER`` set to ``console``. Its stdout
must be byte-identical to the plain run's; the spans, metric points and log records are printed to stderr,
after one warning line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "examples" / "demo_server.py"
BIN = Path(sys.executable).parent
TIMEOUT = 120
WARNING = (
    "mcp-otel: warning: OTEL_TRACES_EXPORTER=console, OTEL_METRICS_EXPORTER=console, "
    "OTEL_LOGS_EXPORTER=console would print to stdout, the MCP stdio channel; printing to stderr"
)
REQUESTS: list[dict[str, Any]] = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw-client", "version": "1.0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "forecast", "arguments": {"city": "Oslo"}},
    },
    {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 2, "b": 3}},
    },
]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCP_OTEL_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def _exchange(argv: list[str], env: dict[str, str]) -> tuple[bytes, str]:
    """Send each request (reading the response before the next one), close stdin; stdout bytes, stderr."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    try:
        for message in REQUESTS:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
            if "id" in message:
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else b""
                out += line
        rest, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")
    return out + rest, err.decode(errors="replace")


CONSOLE = {
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "console",
    "OTEL_LOGS_EXPORTER": "console",
    "OTEL_SERVICE_NAME": "demo-console",
}


@pytest.mark.parametrize("launcher", ["opentelemetry-instrument", "mcp-otel run"])
def test_console_exporters_keep_stdio_byte_identical(launcher: str) -> None:
    plain, _ = _exchange([sys.executable, str(DEMO)], _env())
    prefix = (
        [str(BIN / "opentelemetry-instrument")]
        if launcher != "mcp-otel run"
        else [str(BIN / "mcp-otel"), "run", "--"]
    )
    instrumented, err = _exchange([*prefix, sys.executable, str(DEMO)], _env(**CONSOLE))

    assert instrumented == plain
    assert b'"result"' in plain and plain.count(b"\n") == 4  # four answers, nothing else
    assert err.count("mcp-otel: warning:") == 1, err
    assert WARNING in err.splitlines(), err
    # what the exporters printed, on stderr: a span, a metric point and the tool's log record
    assert '"name": "tools/call forecast"' in err, err[-3000:]
    assert '"name": "mcp.server.operation.duration"' in err, err[-3000:]
    assert '"body": "looking up the forecast for Oslo"' in err, err[-3000:]
