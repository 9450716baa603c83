"""``mcp-otel trace -- COMMAND``: any stdio MCP server, explored by an instrumented client, printed as a tree.

Each test runs ``python -m mcp_otel.cli trace …`` in a real subprocess against ``examples/demo_server.py``
or the lowlevel test server, started as given with mcp-otel's ``sitecustomize`` on ``PYTHONPATH`` (both sides
traced), directly, through a shell, or with ``python -I`` (which ignores ``PYTHONPATH``: nothing loads
mcp-otel, only the client's spans).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_otel.runner import command_kind, with_this_python

pytestmark = [pytest.mark.per_major]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "examples" / "demo_server.py"
LOWLEVEL = Path(__file__).resolve().parent / "support" / "lowlevel_stdio.py"
LOG_SERVER = Path(__file__).resolve().parent / "support" / "log_server.py"
CHATTY = ("--call", "chatty", "--args", '{"city": "Paris"}', "--", "python", str(LOG_SERVER))
#: The data of the log server's error notification (``{"city": "Paris", "token": "sk-secret-token"}``) as its
#: log records carry it: a log body passes the ``exception_text`` rules (credentials scrubbed by default), and
#: ``"token": …`` is a credential; the Python record's ``token sk-secret-token`` is not one the scrubber knows
#: (an ``sk-`` key has 20 characters or more), so it stays.
ERROR_BODY = '{"city": "Paris", "token": "REDACTED"}'
#: The log records of a ``chatty`` call: (side, scope, severity text, body); the server's in order.
CHATTY_RECORDS = [
    ("server", "tests.log-server", "INFO", "looking up Paris"),
    ("server", "tests.log-server", "INFO", "forecast ready for Paris"),
    ("server", "mcp_otel", "error", ERROR_BODY),
    ("server", "tests.log-server", "ERROR", "token sk-secret-token rejected: " + "x" * 200),
    ("client", "mcp_otel", "info", "forecast ready for Paris"),
    ("client", "mcp_otel", "error", ERROR_BODY),
]
TIMEOUT = 120


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), base.get("PYTHONPATH")) if p)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mcp_otel.cli", "trace", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=TIMEOUT,
        cwd=REPO_ROOT,
    )


def _span_lines(output: str) -> list[tuple[str, str]]:
    """(name, kind) of every span line of the printed tree."""
    found = re.findall(r"^\s*- (.+?)  (CLIENT|SERVER|INTERNAL)  ", output, flags=re.MULTILINE)
    return [(name, kind) for name, kind in found]


def test_trace_a_python_server_with_a_tool_call() -> None:
    proc = _run("--call", "add", "--args", '{"a": 2, "b": 3}', "--", "python", str(DEMO))

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("mcp-otel trace: mcp ")
    for line in (
        "  tools/list: 3 (add, forecast, fail)",
        "  prompts/list: 1 (greet)",
        "  resources/list: 1 (demo://info)",
        "  resources/templates/list: 0",
        "  tools/call add: ok: 5",
    ):
        assert line + "\n" in out, out
    spans = _span_lines(out)
    assert spans[0] == ("mcp-otel trace", "INTERNAL")
    for method in (
        "initialize",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "tools/call add",
    ):
        assert spans.count((method, "CLIENT")) == 1, (method, out)
        assert spans.count((method, "SERVER")) == 1, (method, out)
    assert re.search(r"- tools/call add  SERVER .*\[remote parent\]", out), out
    assert "client=mcp-otel-trace/" in out
    assert len(re.findall(r"^trace [0-9a-f]{32} ", out, flags=re.MULTILINE)) == 1  # one trace


def test_trace_a_tool_error_is_reported_not_fatal() -> None:
    proc = _run("--call", "fail", "--args", '{"reason": "x"}', "--", sys.executable, str(DEMO))

    assert proc.returncode == 0, proc.stderr
    assert "  tools/call fail: isError: " in proc.stdout
    assert re.search(r"- tools/call fail  SERVER  \S+ ms  ERROR", proc.stdout), proc.stdout


def test_trace_skips_lists_the_server_has_no_capability_for() -> None:
    """The lowlevel test server has tools and prompts but no resources."""
    proc = _run("--", "python", str(LOWLEVEL))

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "  tools/list: 1 (work)\n" in out
    names = {name for name, _ in _span_lines(out)}
    assert "prompts/list" in names
    if "no resources capability" in out:
        assert "  resources/list: skipped (no resources capability)\n" in out
        assert "  resources/templates/list: skipped (no resources capability)\n" in out
        assert "resources/list" not in names
    else:  # mcp 1.15's lowlevel Server advertises resources without handlers: asked, -32601, skipped
        assert "  resources/list: skipped (method not found)\n" in out
        assert "  resources/templates/list: skipped (method not found)\n" in out
        assert "error.type=-32601" in out


def test_trace_a_server_started_by_a_shell_has_server_spans() -> None:
    command = f"exec {shlex.quote(sys.executable)} {shlex.quote(str(DEMO))}"
    proc = _run("--", "sh", "-c", command)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    spans = _span_lines(proc.stdout)
    assert spans.count(("tools/list", "CLIENT")) == spans.count(("tools/list", "SERVER")) == 1, proc.stdout
    assert re.search(r"- tools/list  SERVER .*\[remote parent\]", proc.stdout), proc.stdout


def test_trace_a_server_that_loads_no_mcp_otel_shows_the_client_spans() -> None:
    """``python -I`` ignores ``PYTHONPATH``: no process loads mcp-otel, and trace says so in one line."""
    proc = _run("--", "python", "-I", str(DEMO))

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        "mcp-otel trace: no process of python loaded mcp-otel (not a Python server, or one without "
        "mcp-otel in its environment): only the client's spans are shown\n"
    )
    assert "\n0 server spans, " in proc.stdout
    kinds = {kind for _, kind in _span_lines(proc.stdout)}
    assert kinds == {"INTERNAL", "CLIENT"}
    assert ("tools/list", "CLIENT") in _span_lines(proc.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--call", "add", "--args", "{not json", "--", "python", str(DEMO)], "--args is not valid JSON"),
        (["--call", "add", "--args", "[1, 2]", "--", "python", str(DEMO)], "--args must be a JSON object"),
        (["--args", "{}", "--", "python", str(DEMO)], "--args needs --call TOOL"),
    ],
)
def test_trace_rejects_bad_arguments(args: list[str], message: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"mcp-otel trace: error: {message}"), proc.stderr


def test_trace_needs_a_command() -> None:
    proc = _run("--")
    assert proc.returncode == 2
    assert "give the server command after '--'" in proc.stderr


def test_trace_a_server_that_fails_to_start() -> None:
    proc = _run("--timeout", "30", "--", "python", "-c", "import sys; sys.exit(3)")
    assert proc.returncode == 1
    assert proc.stderr.startswith("mcp-otel trace: error: "), proc.stderr


def test_with_this_python() -> None:
    assert with_this_python(["python", "s.py", "x"]) == [sys.executable, "s.py", "x"]
    assert with_this_python(["python3.11", "-m", "pkg"]) == [sys.executable, "-m", "pkg"]
    assert with_this_python(["/v/bin/python3", "-m", "pkg"]) == ["/v/bin/python3", "-m", "pkg"]
    assert with_this_python(["uvx", "server"]) == ["uvx", "server"]


def test_command_kind(tmp_path: Path) -> None:
    scripts = {
        "console": "#!/venv/bin/python3\nimport sys\n",
        "env-python": "#!/usr/bin/env python3\n",
        "wrapper": "#!/bin/sh\nexec python server.py\n",
        "env-bash": "#!/usr/bin/env bash\n",
        "node-cli": "#!/usr/bin/env node\n",
        "binary": "\x7fELF",
    }
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    path = str(tmp_path)
    kinds = {name: command_kind([name], path=path) for name in scripts}
    assert kinds == {
        "console": "python",
        "env-python": "python",
        "wrapper": "shell",
        "env-bash": "shell",
        "node-cli": "other",
        "binary": "other",
    }
    assert command_kind([sys.executable, "s.py"]) == "python"
    assert command_kind(["server.py"]) == "python"
    assert command_kind(["uvx", "mcp-server-time"]) == "python"
    assert command_kind(["sh", "-c", "python s.py"]) == "shell"


@pytest.fixture
def receiver() -> Iterator[Any]:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs the OTLP/HTTP exporter")
    from support.otlp_receiver import running_receiver

    with running_receiver() as server:
        yield server


def test_trace_otlp_exports_both_processes(receiver: Any) -> None:
    """Spans and log records of both processes over OTLP/HTTP: the server's records in its tool's span, the
    client's in the spans of the notifications it received, all in the trace of the tool call."""
    proc = _run("--otlp", receiver.url, *CHATTY)

    assert proc.returncode == 0, proc.stderr
    match = re.search(r"exported the spans of trace ([0-9a-f]{32}) to ", proc.stdout)
    assert match, proc.stdout
    spans = receiver.spans()
    calls = {(s["kind"], s["service"]) for s in spans if s["name"] == "tools/call chatty"}
    assert calls == {("CLIENT", "mcp-otel-trace-client"), ("SERVER", "log_server")}
    assert {s["trace_id"] for s in spans if s["name"] == "tools/call chatty"} == {match.group(1)}

    (tool,) = [s for s in spans if s["name"] == "tools/call chatty" and s["kind"] == "SERVER"]
    received = {s["span_id"] for s in spans if s["name"] == "notifications/message" and s["kind"] == "SERVER"}
    side = {"log_server": "server", "mcp-otel-trace-client": "client"}
    # mcp 1.x FastMCP.run() configures INFO logging: its SDK's own "Processing request" records are left out
    records = [r for r in receiver.log_records() if not r["scope"].startswith("mcp.")]
    got = [(side[r["service"]], r["scope"], r["severity_text"], r["body"]) for r in records]
    assert sorted(got) == sorted(CHATTY_RECORDS)
    for record in records:
        assert record["trace_id"] == match.group(1), record
        expected_spans = {tool["span_id"]} if record["service"] == "log_server" else received
        assert record["span_id"] in expected_spans, record


def test_trace_prints_the_log_records_of_both_sides_under_their_spans() -> None:
    proc = _run(*CHATTY)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.search(r"^\d+ server spans, \d+ client spans, \d+ log records$", proc.stdout, re.M), proc.stdout
    under: dict[str, list[str]] = {}
    span = ""
    for line in lines:
        found = re.match(r"\s*- (.+?)  (CLIENT|SERVER|INTERNAL)  ", line)
        if found:
            span = f"{found[1]} {found[2]}"
        elif line.strip().startswith("~ log ") and " mcp." not in line:  # not mcp 1.x's own INFO records
            under.setdefault(span, []).append(line.strip())
    tool = "\n".join(under.pop("tools/call chatty SERVER"))
    assert tool == "\n".join(
        [
            "~ log INFO tests.log-server: looking up Paris",
            "~ log INFO tests.log-server: forecast ready for Paris",
            f"~ log error notifications/message (backend): {ERROR_BODY}",
            "~ log ERROR tests.log-server: token sk-secret-token rejected: " + "x" * 200,
        ]
    )
    # the client's, each under the client's span of the notification it received
    assert sorted(under.pop("notifications/message SERVER")) == [
        f"~ log error notifications/message (backend): {ERROR_BODY}",
        "~ log info notifications/message: forecast ready for Paris",
    ]
    assert under == {}, under


def test_default_service_name() -> None:
    from mcp_otel.autostart import default_service_name

    assert default_service_name(["/v/bin/python", "-u", "-X", "dev", "/srv/weather_server.py", "--x"]) == (
        "weather_server"
    )
    assert default_service_name(["python3", "-m", "mcp_server_time", "--local-timezone", "UTC"]) == (
        "mcp_server_time"
    )
    assert default_service_name(["/v/bin/python", "/v/bin/mcp-server-fetch"]) == "mcp-server-fetch"
    assert default_service_name(["python", "-c", "pass"]) == "python"
    assert default_service_name(["python"]) == "python"
