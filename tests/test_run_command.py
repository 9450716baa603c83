"""``mcp-otel run`` and ``mcp-otel trace`` on a server *package*: console scripts, launchers, shell wrappers,
``python -m``, ``uv run`` and ``uvx``, each a real process tree.

The server is ``weather-mcp-pkg`` (:mod:`support.server_package`), installed with ``uv`` into a temporary
virtualenv. ``mcp-otel`` is the console script of the test environment, run without ``PYTHONPATH``: the
command's processes find mcp-otel's ``sitecustomize`` only through the environment ``run``/``trace`` give
them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from mcp_otel.spanfile import read_spans
from support.otlp_receiver import OtlpReceiver, running_receiver
from support.server_package import ServerVenv, make_server_venv, shell_wrapper, uv_or_skip, write_package

pytestmark = [
    pytest.mark.per_major,
    pytest.mark.xdist_group("run-command"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX process model (exec, signals)"),
]

TIMEOUT = 120
REPO_ROOT = Path(__file__).resolve().parents[1]
MCP_OTEL = str(Path(sys.executable).parent / "mcp-otel")

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
        "params": {"name": "add", "arguments": {"a": 2, "b": 3}},
    },
]


@pytest.fixture(scope="module")
def server_venv(tmp_path_factory: pytest.TempPathFactory) -> ServerVenv:
    return make_server_venv(tmp_path_factory.mktemp("server-venv"), sys.executable)


def _env(**extra: str) -> dict[str, str]:
    """This environment without OTEL_* settings or PYTHONPATH, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCP_OTEL_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def _readline(stream: IO[bytes], proc: subprocess.Popen[bytes]) -> bytes:
    line = stream.readline()
    if not line:
        raise AssertionError(
            f"the server closed stdout (exit {proc.poll()}): {proc.stderr.read() if proc.stderr else ''!r}"
        )
    return line


def _exchange(proc: subprocess.Popen[bytes]) -> bytes:
    """Send the raw JSON-RPC requests one by one (each response read before the next request); return the
    bytes the server wrote to stdout."""
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    for message in REQUESTS:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
        if "id" in message:
            out += _readline(proc.stdout, proc)
    return out


def _finish(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes, int]:
    """Close stdin (how a host stops a stdio server); return the rest of stdout, stderr, exit status."""
    rest, err = proc.communicate(timeout=TIMEOUT)
    return rest, err, proc.returncode


def _direct_exchange(server_venv: ServerVenv) -> bytes:
    proc = _start([str(server_venv.bin / "weather-mcp")], _env())
    out = _exchange(proc)
    rest, err, status = _finish(proc)
    assert (rest, status) == (b"", 0), err
    return out


def _server_spans(spans: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((s["name"], s["resource"]["process.pid"]) for s in spans if s["kind"] == "SERVER")


# --- mcp-otel run


def test_run_passes_stdio_through_byte_for_byte(server_venv: ServerVenv, tmp_path: Path) -> None:
    expected = _direct_exchange(server_venv)
    spans_file = tmp_path / "spans.jsonl"

    proc = _start(
        [MCP_OTEL, "run", "--spans-file", str(spans_file), "--", str(server_venv.bin / "weather-mcp")], _env()
    )
    out = _exchange(proc)
    rest, err, status = _finish(proc)

    assert out == expected
    assert rest == b""
    assert status == 0, err
    assert b"mcp-otel" not in err
    # exec: the server is the process the host started, so its process.pid is the pid the host knows
    assert _server_spans(list(read_spans(spans_file))) == [
        ("initialize", proc.pid),
        ("notifications/initialized", proc.pid),
        ("tools/call add", proc.pid),
        ("tools/list", proc.pid),
    ]
    assert {s["resource"]["service.name"] for s in read_spans(spans_file)} == {"weather-mcp"}


def test_run_forwards_the_exit_status(server_venv: ServerVenv, tmp_path: Path) -> None:
    env = _env(WEATHER_MCP_EXIT_STATUS="7")
    proc = _start(
        [
            MCP_OTEL,
            "run",
            "--spans-file",
            str(tmp_path / "s.jsonl"),
            "--",
            str(server_venv.bin / "weather-mcp"),
        ],
        env,
    )
    _exchange(proc)
    _, err, status = _finish(proc)
    assert status == 7, err


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_receiver() as server:
        yield server


def _stop_with(
    proc: subprocess.Popen[bytes], signum: int, before_signal: Callable[[], None] = lambda: None
) -> tuple[bytes, int]:
    """Run the exchange, wait, call ``before_signal``, send ``signum``; return stderr and the exit status."""
    try:
        _exchange(proc)
        time.sleep(0.5)
        before_signal()
        proc.send_signal(signum)
        _, err, status = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return err, status


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_flushes_spans_and_metrics_on_a_signal(
    server_venv: ServerVenv, receiver: OtlpReceiver, signum: int
) -> None:
    """Batching holds every span for 10 minutes: what reaches the receiver was flushed by the signal. The
    exit status is the server's own without mcp-otel (mcp 1.x ends normally on SIGINT, 2.x dies of it)."""
    server = str(server_venv.bin / "weather-mcp")
    _, expected_status = _stop_with(_start([server], _env()), signum)
    env = _env(OTEL_BSP_SCHEDULE_DELAY="600000", OTEL_METRIC_EXPORT_INTERVAL="600000")
    argv = [MCP_OTEL, "run", "--otlp", receiver.url, "--service-name", "weather-prod", "--", server]

    def nothing_exported_yet() -> None:
        assert receiver.spans() == []

    err, status = _stop_with(_start(argv, env), signum, nothing_exported_yet)

    assert status == expected_status, err
    assert signum == signal.SIGINT or status == -signum
    spans = receiver.spans()
    assert sorted((s["name"], s["kind"], s["service"]) for s in spans if s["scope"] == "mcp_otel") == [
        ("initialize", "SERVER", "weather-prod"),
        ("notifications/initialized", "SERVER", "weather-prod"),
        ("tools/call add", "SERVER", "weather-prod"),
        ("tools/list", "SERVER", "weather-prod"),
    ]
    assert "mcp.server.operation.duration" in receiver.metric_names()
    # the tool's Python logging record, over OTLP/HTTP /v1/logs, in the context of its SERVER span
    (call,) = [s for s in spans if s["name"] == "tools/call add" and s["scope"] == "mcp_otel"]
    # (mcp 1.x FastMCP.run() configures INFO logging: its SDK's "Processing request" records come too)
    tool_records = [r for r in receiver.log_records() if r["scope"] == "weather"]
    records = [(r["severity_text"], r["body"], r["service"]) for r in tool_records]
    assert records == [("INFO", "adding 2 and 3", "weather-prod")]
    (record,) = tool_records
    assert (record["trace_id"], record["span_id"]) == (call["trace_id"], call["span_id"])
    assert record["attributes"]["mcp.method.name"] == "tools/call"
    assert record["attributes"]["gen_ai.tool.name"] == "add"


def test_run_keeps_serving_when_the_export_fails(server_venv: ServerVenv) -> None:
    expected = _direct_exchange(server_venv)
    env = _env(OTEL_BSP_SCHEDULE_DELAY="50", OTEL_EXPORTER_OTLP_TIMEOUT="2")
    argv = [MCP_OTEL, "run", "--otlp", "http://127.0.0.1:1", "--", str(server_venv.bin / "weather-mcp")]
    proc = _start(argv, env)
    out = _exchange(proc)
    time.sleep(1.0)  # the first export attempt fails meanwhile
    out += _exchange(proc)  # and the server still answers
    rest, err, status = _finish(proc)

    assert out == expected * 2
    assert (rest, status) == (b"", 0)
    ours = [line for line in err.decode().splitlines() if "mcp-otel" in line or "export" in line.lower()]
    assert len(ours) == 1, err.decode()
    assert ours[0].startswith("mcp-otel: exporting telemetry to http://127.0.0.1:1/v1/traces failed: "), ours
    assert "Traceback" not in err.decode()


def test_run_a_non_python_command_unchanged_with_a_notice() -> None:
    data = bytes(range(256)) * 64
    proc = subprocess.run(
        [MCP_OTEL, "run", "--", "cat"], input=data, capture_output=True, env=_env(), timeout=TIMEOUT
    )
    assert proc.returncode == 0
    assert proc.stdout == data
    assert proc.stderr.decode() == (
        "mcp-otel run: cat is not a Python program: it runs unchanged, without MCP spans (Python processes "
        "it starts are instrumented)\n"
    )


def test_run_a_command_that_does_not_exist() -> None:
    proc = subprocess.run(
        [MCP_OTEL, "run", "--", "no-such-mcp-server"], capture_output=True, text=True, env=_env()
    )
    assert proc.returncode == 127
    assert proc.stderr == "mcp-otel run: error: command not found: no-such-mcp-server\n"


def test_run_an_interpreter_without_mcp_otel_says_so_in_one_line(tmp_path: Path) -> None:
    """Another virtualenv (no mcp-otel): one line that says how to fix it, no traceback, the program runs."""
    uv = uv_or_skip()
    venv = tmp_path / "bare-venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    script = "import subprocess, sys; sys.stdout.write('served'); "
    script += "sys.exit(subprocess.call([sys.executable, '-c', 'pass']))"
    proc = subprocess.run(
        [MCP_OTEL, "run", "--", str(python), "-c", script], capture_output=True, text=True, env=_env()
    )

    assert (proc.returncode, proc.stdout) == (0, "served")
    assert proc.stderr == (
        f"mcp-otel: {python} cannot import mcp_otel (No module named 'mcp_otel'): this process runs "
        "without MCP spans; install 'mcp-otel[sdk]' into its environment (uvx --with 'mcp-otel[sdk]' ..., "
        "uv run --with 'mcp-otel[sdk]' ...)\n"
    )  # once: the child process it started does not repeat it


# --- mcp-otel trace


SPAN_LINE = re.compile(
    r"^(?P<indent> *)- (?P<name>.+?)  (?P<kind>CLIENT|SERVER|INTERNAL)  \S+ ms  \S+(?P<rest>.*)$"
)


def _nesting(tree: str) -> list[tuple[str, str, str | None, bool]]:
    """(name, kind, parent "name KIND", remote parent) of every span line of a printed tree."""
    stack: list[tuple[int, str]] = []
    out = []
    for line in tree.splitlines():
        match = SPAN_LINE.match(line)
        if not match:
            continue
        depth = len(match["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        label = f"{match['name']} {match['kind']}"
        out.append(
            (
                match["name"],
                match["kind"],
                stack[-1][1] if stack else None,
                "[remote parent]" in match["rest"],
            )
        )
        stack.append((depth, label))
    return out


def _assert_server_spans_nested(stdout: str) -> None:
    spans = _nesting(stdout)
    server = [(name, parent, remote) for name, kind, parent, remote in spans if kind == "SERVER"]
    assert server == [
        ("initialize", "initialize CLIENT", True),
        ("notifications/initialized", "notifications/initialized CLIENT", True),
        ("tools/list", "tools/list CLIENT", True),
        ("prompts/list", "prompts/list CLIENT", True),  # FastMCP/MCPServer advertise every capability
        ("resources/list", "resources/list CLIENT", True),
        ("resources/templates/list", "resources/templates/list CLIENT", True),
        ("tools/call add", "tools/call add CLIENT", True),
    ], stdout
    assert spans[0][:3] == ("mcp-otel trace", "INTERNAL", None)
    assert len(re.findall(r"^trace [0-9a-f]{32} ", stdout, flags=re.MULTILINE)) == 1
    # the tool's log record, right under its SERVER span's attribute line
    lines = stdout.splitlines()
    (at,) = [i for i, line in enumerate(lines) if re.match(r"\s*- tools/call add  SERVER  ", line)]
    records = []
    for line in lines[at + 2 :]:
        if not line.strip().startswith("~ log "):
            break
        records.append(line.strip())
    # mcp 1.x FastMCP.run() configures INFO logging: its SDK's "Processing request" record comes too
    assert [r for r in records if " mcp." not in r] == ["~ log INFO weather: adding 2 and 3"], stdout


COMMANDS = {
    "console script": lambda v, tmp: [str(v.bin / "weather-mcp")],
    "launcher and child process": lambda v, tmp: [str(v.bin / "weather-mcp-child")],
    "shell wrapper": lambda v, tmp: [str(shell_wrapper(tmp, v.bin / "weather-mcp"))],
    "python -m": lambda v, tmp: [str(v.python), "-m", "weather_mcp"],
    "uv run": lambda v, tmp: [
        uv_or_skip(),
        "run",
        "--no-project",
        "--python",
        str(v.python),
        "-m",
        "weather_mcp",
    ],
}


@pytest.mark.parametrize("form", sorted(COMMANDS))
def test_trace_every_form_of_server_command(server_venv: ServerVenv, tmp_path: Path, form: str) -> None:
    command = COMMANDS[form](server_venv, tmp_path)
    argv = [MCP_OTEL, "trace", "--call", "add", "--args", '{"a": 2, "b": 3}', "--", *command]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "  tools/call add: ok: 5\n" in proc.stdout
    _assert_server_spans_nested(proc.stdout)


# --- uvx: the server in an isolated environment of its own


@pytest.fixture(scope="module")
def uvx_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """``uvx``, the server package (depending on this environment's mcp and pydantic versions, so uv's cache
    serves them) and a wheel of this mcp-otel checkout."""
    import importlib.metadata

    uv = uv_or_skip()
    uvx = Path(uv).with_name("uvx")
    if not uvx.exists():
        pytest.skip(f"needs uvx next to {uv}")
    directory = tmp_path_factory.mktemp("uvx")
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("mcp", "pydantic")]
    source = write_package(directory, pins)
    dist = directory / "dist"
    subprocess.run([uv, "build", "-q", "--wheel", "-o", str(dist), str(REPO_ROOT)], check=True, timeout=300)
    (wheel,) = dist.glob("mcp_otel-*.whl")
    return str(uvx), source, wheel


def test_trace_uvx_with_mcp_otel(uvx_setup: tuple[str, Path, Path]) -> None:
    uvx, source, wheel = uvx_setup
    command = [uvx, "--python", sys.executable, "--from", str(source)]
    command += ["--with", f"mcp-otel[sdk] @ {wheel.as_uri()}", "weather-mcp"]
    argv = [
        MCP_OTEL,
        "trace",
        "--timeout",
        "300",
        "--call",
        "add",
        "--args",
        '{"a": 2, "b": 3}',
        "--",
        *command,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=600)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    _assert_server_spans_nested(proc.stdout)


def test_trace_uvx_without_mcp_otel_says_how_to_fix_it(uvx_setup: tuple[str, Path, Path]) -> None:
    uvx, source, _ = uvx_setup
    command = [uvx, "--python", sys.executable, "--from", str(source), "weather-mcp"]
    argv = [MCP_OTEL, "trace", "--timeout", "300", "--", *command]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=600)

    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(
        r"mcp-otel trace: \S+/python3?\S* cannot import mcp_otel \(No module named 'mcp_otel'\): only the "
        r"client's spans are shown; install 'mcp-otel\[sdk\]' into that environment "
        r"\(e\.g\. uvx --with 'mcp-otel\[sdk\]' \.\.\.\)\n",
        proc.stderr,
    ), proc.stderr
    assert {kind for _, kind, _, _ in _nesting(proc.stdout)} == {"INTERNAL", "CLIENT"}
    assert "Traceback" not in proc.stderr


# --- configuration and the sitecustomize it shadows


def test_run_honours_the_standard_otel_variables(server_venv: ServerVenv, receiver: OtlpReceiver) -> None:
    server = str(server_venv.bin / "weather-mcp")
    env = _env(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="weather-env",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=ci",
        OTEL_INSTRUMENTATION_MCP_EXCLUDED_METHODS="tools/list",
        OTEL_BSP_SCHEDULE_DELAY="50",
    )
    proc = _start([MCP_OTEL, "run", "--", server], env)
    _exchange(proc)
    _, err, status = _finish(proc)
    assert status == 0, err
    spans = [s for s in receiver.spans() if s["scope"] == "mcp_otel"]
    assert sorted(s["name"] for s in spans) == ["initialize", "notifications/initialized", "tools/call add"]
    for span in spans:
        assert span["resource"]["service.name"] == "weather-env"
        assert span["resource"]["deployment.environment.name"] == "ci"
        assert span["resource"]["process.pid"] == proc.pid
    assert "mcp.server.operation.duration" in receiver.metric_names()

    sampled_out = _start([MCP_OTEL, "run", "--", server], {**env, "OTEL_TRACES_SAMPLER": "always_off"})
    _exchange(sampled_out)
    _, err, status = _finish(sampled_out)
    assert status == 0, err
    assert len([s for s in receiver.spans() if s["scope"] == "mcp_otel"]) == len(spans)


def test_an_existing_sitecustomize_still_runs(tmp_path: Path) -> None:
    """mcp-otel's sitecustomize shadows the one later on the path, and imports it after its own set-up."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text(
        "import os, sys\nsys.stderr.write('their sitecustomize: mcp_otel.autostart loaded: %s\\n' % "
        "('mcp_otel.autostart' in sys.modules))\n"
    )
    spans_file = tmp_path / "spans.jsonl"
    argv = [MCP_OTEL, "run", "--spans-file", str(spans_file), "--", sys.executable, "-c"]
    argv.append("import sitecustomize, sys; print(sitecustomize.__file__)")
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=_env(PYTHONPATH=str(theirs)), timeout=TIMEOUT
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        "their sitecustomize: mcp_otel.autostart loaded: False\n"  # in mcp-otel's own interpreter
        "their sitecustomize: mcp_otel.autostart loaded: True\n"  # in the command's, after mcp-otel's set-up
    )
    assert proc.stdout == f"{theirs / 'sitecustomize.py'}\n"


# --- a server installed from PyPI into the same environment (noxfile.py installs mcp-server-time)

PYPI_SERVER = ["mcp-server-time", "--local-timezone", "UTC"]
PYPI_CALL = ["--call", "get_current_time", "--args", '{"timezone": "UTC"}']


def pypi_server_env() -> dict[str, str]:
    """``_env()`` with this environment's scripts first on ``PATH``; skips without ``mcp-server-time``."""
    scripts = str(Path(sys.executable).parent)
    if not (Path(scripts) / PYPI_SERVER[0]).exists():
        pytest.skip(
            f"{PYPI_SERVER[0]} (PyPI) is not installed: nox installs it where a release runs on this mcp"
        )
    return _env(PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))


def test_trace_a_console_script_server_from_pypi() -> None:
    env = pypi_server_env()
    argv = [MCP_OTEL, "trace", *PYPI_CALL, "--", *PYPI_SERVER]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TIMEOUT)

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert '  tools/call get_current_time: ok: {\n  "timezone": "UTC",' in proc.stdout
    spans = _nesting(proc.stdout)
    server = [(name, parent, remote) for name, kind, parent, remote in spans if kind == "SERVER"]
    for name in ("initialize", "tools/list", "tools/call get_current_time"):
        assert (name, f"{name} CLIENT", True) in server, proc.stdout
    for name, parent, remote in server:  # every server span under the client span of its request
        assert (parent, remote) == (f"{name} CLIENT", True), proc.stdout


def test_demo_runs_from_an_installed_wheel(uvx_setup: tuple[str, Path, Path], tmp_path: Path) -> None:
    """Outside a clone: the wheel ships the demo server (``mcp_otel/demo_server.py``)."""
    import importlib.metadata

    uv = uv_or_skip()
    _, _, wheel = uvx_setup
    venv = tmp_path / "wheel-venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=TIMEOUT)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("mcp", "pydantic")]
    install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    subprocess.run([*install, f"mcp-otel[sdk] @ {wheel.as_uri()}", *pins], check=True, timeout=600)
    away = tmp_path / "elsewhere"
    away.mkdir()
    proc = subprocess.run(
        [str(venv / "bin" / "mcp-otel"), "demo"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=away,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert ", transport stdio, server " in proc.stdout
    assert "/mcp_otel/demo_server.py, 7 server spans, " in proc.stdout.splitlines()[0]


def test_run_rejects_an_invalid_otlp_url() -> None:
    argv = [MCP_OTEL, "run", "--otlp", "localhost:4318", "--", "true"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=TIMEOUT)
    assert proc.returncode == 2
    assert proc.stderr == (
        "mcp-otel run: error: --otlp needs an http(s) URL such as http://localhost:4318, "
        "got 'localhost:4318'\n"
    )


def test_run_spans_file_relative_to_where_run_started(tmp_path: Path) -> None:
    """The command changes directory (as ``uv run --directory`` does): spans still land in the file named."""
    code = "from opentelemetry import trace; trace.get_tracer('t').start_span('work').end()"
    shell = f"cd / && exec '{sys.executable}' -c \"{code}\""
    argv = [MCP_OTEL, "run", "--spans-file", "spans.jsonl", "--", "sh", "-c", shell]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert [s["name"] for s in read_spans(tmp_path / "spans.jsonl")] == ["work"]
