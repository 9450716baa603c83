"""``mcp-otel demo`` end to end and ``python -m mcp_otel.bootstrap``, each in a real subprocess."""

from __future__ import annotations

import http.server
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mcp_otel.bootstrap import BootstrapError, create_telemetry, otlp_endpoints, otlp_logs_endpoint
from mcp_otel.spanfile import read_spans
from mcp_otel.version import __version__

pytestmark = [pytest.mark.per_major]

SRC = Path(__file__).resolve().parent.parent / "src"
TIMEOUT = 120


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return env


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=_env(), timeout=TIMEOUT, cwd=cwd
    )


# python -m mcp_otel.bootstrap

PROBE_SCRIPT = """\
import json, sys
from opentelemetry import trace
from mcp_otel import McpInstrumentor

report = {"argv": sys.argv, "name": __name__, "path0": sys.path[0],
          "instrumented": McpInstrumentor().is_instrumented_by_opentelemetry}
with open(sys.argv[1], "w") as fh:
    json.dump(report, fh)
with trace.get_tracer("probe").start_as_current_span("probe work", attributes={"probe": 1}):
    pass
"""


def test_bootstrap_runs_script_instrumented_with_its_argv(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "probe_server.py"
    script.parent.mkdir()
    script.write_text(PROBE_SCRIPT)
    spans_file, report_file = tmp_path / "spans.jsonl", tmp_path / "report.json"

    proc = _run(
        "-m", "mcp_otel.bootstrap", "--spans-file", str(spans_file), "--", str(script), str(report_file), "x"
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(report_file.read_text()) == {
        "argv": [str(script), str(report_file), "x"],
        "name": "__main__",
        "path0": str(script.parent),
        "instrumented": True,
    }
    spans = list(read_spans(spans_file))
    assert [(s["name"], s["attributes"], s["resource"]["service.name"]) for s in spans] == [
        ("probe work", {"probe": 1}, "probe_server")
    ]


def test_bootstrap_service_name_option(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(PROBE_SCRIPT)
    spans_file = tmp_path / "spans.jsonl"

    options = ["--spans-file", str(spans_file), "--service-name", "weather"]
    proc = _run("-m", "mcp_otel.bootstrap", *options, "--", str(script), str(tmp_path / "report.json"))

    assert proc.returncode == 0, proc.stderr
    assert [s["resource"]["service.name"] for s in read_spans(spans_file)] == ["weather"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_bootstrap_shuts_providers_down_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM (how a stdio client stops its server) shuts the providers down, then the process dies of it."""
    marker = tmp_path / "shutdown-called"
    script = tmp_path / "waiting_server.py"
    script.write_text(
        textwrap.dedent(f"""\
            import sys, threading
            from opentelemetry import trace
            from opentelemetry.sdk.trace import SpanProcessor

            class Marker(SpanProcessor):
                def shutdown(self):
                    open({str(marker)!r}, "w").close()

            trace.get_tracer_provider().add_span_processor(Marker())
            with trace.get_tracer("t").start_as_current_span("before sigterm"):
                pass
            print("ready", flush=True)
            threading.Event().wait()
        """)
    )
    spans_file = tmp_path / "spans.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_otel.bootstrap", "--spans-file", str(spans_file), "--", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        assert not marker.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.communicate()
    assert marker.exists()
    assert [s["name"] for s in read_spans(spans_file)] == ["before sigterm"]


def test_bootstrap_rejects_missing_script(tmp_path: Path) -> None:
    proc = _run(
        "-m", "mcp_otel.bootstrap", "--spans-file", str(tmp_path / "s"), "--", str(tmp_path / "nope.py")
    )
    assert proc.returncode == 2
    assert proc.stderr.endswith(f"error: script not found: {tmp_path / 'nope.py'}\n")
    assert not (tmp_path / "s").exists()


def test_bootstrap_needs_a_destination_and_a_script(tmp_path: Path) -> None:
    no_destination = _run("-m", "mcp_otel.bootstrap", "--", "server.py")
    assert no_destination.returncode == 2
    assert no_destination.stderr.endswith("error: one of the arguments --spans-file --otlp is required\n")
    no_script = _run("-m", "mcp_otel.bootstrap", "--spans-file", str(tmp_path / "s"))
    assert no_script.returncode == 2
    assert no_script.stderr.endswith(
        "error: give the script to run after '--', e.g. -- server.py [args...]\n"
    )


def test_otlp_endpoints() -> None:
    assert otlp_endpoints("http://localhost:4318") == (
        "http://localhost:4318/v1/traces",
        "http://localhost:4318/v1/metrics",
    )
    assert otlp_endpoints("https://collector:4318/prefix/v1/traces/") == (
        "https://collector:4318/prefix/v1/traces",
        "https://collector:4318/prefix/v1/metrics",
    )
    with pytest.raises(BootstrapError, match="needs an http"):
        otlp_endpoints("localhost:4318")
    assert (
        otlp_logs_endpoint("https://collector:4318/prefix/v1/traces/")
        == "https://collector:4318/prefix/v1/logs"
    )


def test_command_env_exports_log_records_like_the_spans() -> None:
    """``--otlp``: logs to ``/v1/logs`` over HTTP; without it, ``OTEL_LOGS_EXPORTER`` follows the traces
    exporter where a logs exporter of that name exists, and a value the user set is kept."""
    from mcp_otel.autostart import command_env

    env = command_env({}, otlp="http://127.0.0.1:4318")
    assert (env["OTEL_LOGS_EXPORTER"], env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"]) == (
        "otlp",
        "http://127.0.0.1:4318/v1/logs",
    )
    assert env["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] == "http/protobuf"
    assert command_env({})["OTEL_LOGS_EXPORTER"] == "otlp"
    assert command_env({"OTEL_TRACES_EXPORTER": "console,zipkin"})["OTEL_LOGS_EXPORTER"] == "console"
    assert command_env({"OTEL_TRACES_EXPORTER": "zipkin"})["OTEL_LOGS_EXPORTER"] == "none"
    assert command_env({"OTEL_LOGS_EXPORTER": "none"})["OTEL_LOGS_EXPORTER"] == "none"


def test_create_telemetry_without_otlp_exporter_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(
        BootstrapError, match=r"--otlp needs the opentelemetry-exporter-otlp-proto-http package"
    ):
        create_telemetry(otlp="http://localhost:4318")
    with pytest.raises(BootstrapError, match="exactly one of"):
        create_telemetry()


# mcp-otel demo


def test_demo_reports_a_missing_server(tmp_path: Path) -> None:
    proc = _run("-m", "mcp_otel.cli", "demo", "--server", str(tmp_path / "missing.py"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"mcp-otel demo: error: server script not found: {tmp_path / 'missing.py'}\n"


def test_demo_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    server = tmp_path / "broken_server.py"
    server.write_text('raise RuntimeError("cannot bind the frobnicator")\n')

    proc = _run("-m", "mcp_otel.cli", "demo", "--server", str(server))

    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert (
        lines[0] == "mcp-otel demo: error: the server did not start or the session failed: Connection closed"
    )
    assert lines[1] == "server stderr:"
    assert lines[-1] == "  | RuntimeError: cannot bind the frobnicator"


DURATION = re.compile(r"  \d+\.\d\d ms  ")
SPAN_LINE = re.compile(r"^(?P<indent> *)- (?P<body>.*)$")


def _parse_tree(text: str) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Split ``render_tree`` output into ``[(trace header, [(span line, detail lines)])]``.

    Span lines are stripped of indentation and have their duration replaced by ``<ms>``; detail lines (the
    attribute line, exception lines) are stripped.
    """
    traces: list[tuple[str, list[tuple[str, list[str]]]]] = []
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("trace "):
            traces.append((line, []))
            continue
        match = SPAN_LINE.match(line)
        if match:
            body, count = DURATION.subn("  <ms>  ", match["body"])
            assert count == 1, line
            traces[-1][1].append((body, []))
        else:
            traces[-1][1][-1][1].append(line.strip())
    return traces


EXPECTED_SERVER_SPANS = [
    # (name, status, attributes after mcp.protocol.version, exception lines) in the order the client sends;
    # {id} stands for the JSON-RPC request id, which counts up from the first request's.
    ("initialize", "UNSET", " request.id={id}", []),
    ("notifications/initialized", "UNSET", "", []),
    ("tools/list", "UNSET", " request.id={id}", []),
    ("tools/call add", "UNSET", " request.id={id}", []),
    (
        "tools/call fail",
        "ERROR",
        " request.id={id} error.type=tool_error",
        [
            "! exception: ValueError: forecast backend unavailable: demo",
            # the tool's own Python logging record, in its span (mcp 2.1+ logs the failure too: not compared)
            "~ log WARN demo_server: forecast backend unavailable: demo",
        ],
    ),
    ("prompts/get greet", "UNSET", " request.id={id}", []),
    ("resources/read", "UNSET", " request.id={id} resource=demo://info", []),
]


def test_demo_prints_the_server_spans_of_every_request() -> None:
    proc = _run("-m", "mcp_otel.cli", "demo")
    assert proc.returncode == 0, proc.stderr
    header, blank, *tree = proc.stdout.splitlines()
    assert blank == ""
    traces = _parse_tree("\n".join(tree))

    # The client's root span comes first, once.
    spans = [span for _, members in traces for span in members]
    assert spans[0] == ("mcp-otel demo  INTERNAL  <ms>  UNSET", [])
    assert [line for line, _ in spans].count("mcp-otel demo  INTERNAL  <ms>  UNSET") == 1
    for trace_header, members in traces:
        assert re.fullmatch(
            rf"trace [0-9a-f]{{32}} \({len(members)} spans?(, \d+ log records?)?\)", trace_header
        )

    # A server span in the trace of the client's root span got there by context propagation: it is nested
    # under a client span and marked as having a remote parent. Otherwise it is the root of its own trace.
    server: list[tuple[str, list[str], str]] = []
    for _, members in traces:
        marker = "  [remote parent]" if members[0][0].startswith("mcp-otel demo  ") else ""
        server += [(line, details, marker) for line, details in members if line.split("  ")[1] == "SERVER"]

    # The header counts spans by process: those in the server's spans file and the client's own.
    protocol = re.search(r", protocol (\d{4}-\d\d-\d\d), ", header)
    counts = re.search(r", (\d+) server spans, (\d+) client spans, (\d+) log records?$", header)
    assert protocol and counts, header
    assert header == (
        f"mcp-otel demo: mcp {importlib.metadata.version('mcp')}, protocol {protocol[1]}, transport stdio, "
        f"server {SRC.parent / 'examples' / 'demo_server.py'}, "
        f"{counts[1]} server spans, {counts[2]} client spans, {counts[3]} log record"
        + ("" if counts[3] == "1" else "s")
    )
    assert int(counts[1]) >= len(server) and int(counts[1]) + int(counts[2]) == len(spans)
    first_id = re.search(r" request\.id=(\d+)", server[0][1][0]) if server and server[0][1] else None
    assert first_id, server
    request_id = int(first_id[1])
    common = (
        f"client=mcp-otel-demo/{__version__} transport=stdio network.transport=pipe protocol={protocol[1]}"
    )
    expected = []
    for (name, status, attributes, exceptions), (_, _, marker) in zip(
        EXPECTED_SERVER_SPANS, server, strict=True
    ):
        if "{id}" in attributes:
            attributes = attributes.format(id=request_id)
            request_id += 1
        expected.append((f"{name}  SERVER  <ms>  {status}{marker}", [common + attributes, *exceptions]))
    sdk_logs = re.compile(r"~ log \S+ mcp\.")  # the SDK's own records (which differ per version)
    shown = [(line, [d for d in details if not sdk_logs.match(d)]) for line, details, _ in server]
    assert shown == expected


class _OtlpSink(http.server.ThreadingHTTPServer):
    """A minimal OTLP/HTTP receiver: records (path, body) of every POST and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.requests.append((self.path, body))  # before answering: the exporter waits for the answer
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_demo_exports_both_processes_over_otlp() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    logs_service = pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
    sink = _OtlpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{sink.server_address[1]}"
        proc = _run("-m", "mcp_otel.cli", "demo", "--otlp", url)
    finally:
        sink.shutdown()
        sink.server_close()

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout
    assert re.fullmatch(
        r"mcp-otel demo: mcp \S+, protocol \S+, transport stdio, server \S+demo_server\.py", lines[0]
    )
    printed = re.fullmatch(rf"exported the spans of trace ([0-9a-f]{{32}}) to {re.escape(url)}", lines[1])
    assert printed, lines[1]
    assert lines[2] == "  services: mcp-otel-demo-client (client), mcp-otel-demo-server (server)"

    spans: dict[str, list[tuple[str, str]]] = {}
    logs: list[tuple[str, str]] = []
    for path, body in sink.requests:
        if path == "/v1/logs":
            logs_request = logs_service.ExportLogsServiceRequest()
            logs_request.ParseFromString(body)
            logs += [
                (scope_logs.scope.name, record.body.string_value)
                for resource_logs in logs_request.resource_logs
                for scope_logs in resource_logs.scope_logs
                for record in scope_logs.log_records
            ]
        if path != "/v1/traces":
            assert path in ("/v1/metrics", "/v1/logs")
            continue
        request = trace_service.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            (service,) = [
                a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
            ]
            for scope_spans in resource_spans.scope_spans:
                spans.setdefault(service, []).extend((s.name, s.trace_id.hex()) for s in scope_spans.spans)
    assert set(spans) == {"mcp-otel-demo-client", "mcp-otel-demo-server"}
    assert sorted(name for name, _ in spans["mcp-otel-demo-server"]) == sorted(
        name for name, *_ in EXPECTED_SERVER_SPANS
    )
    assert ("mcp-otel demo", printed[1]) in spans["mcp-otel-demo-client"]
    # the fail tool's own log record went to /v1/logs too (mcp 2.1+ adds the SDK's record of the failure)
    assert [r for r in logs if not r[0].startswith("mcp.")] == [
        ("demo_server", "forecast backend unavailable: demo")
    ]
    assert {name for name, _ in spans["mcp-otel-demo-client"]} <= {"mcp-otel demo"} | {
        name for name, *_ in EXPECTED_SERVER_SPANS
    }


def test_demo_gives_up_on_a_server_that_does_not_answer(tmp_path: Path) -> None:
    server = tmp_path / "silent_server.py"
    server.write_text("import threading\nthreading.Event().wait()\n")

    proc = _run("-m", "mcp_otel.cli", "demo", "--server", str(server), "--timeout", "0.5")

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "mcp-otel demo: error: no result within 0.5 s\nserver stderr:\n  (empty)\n"


@pytest.mark.parametrize("command", ["demo", "trace"])
def test_a_failed_export_is_one_line_and_status_1(command: str) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    url = "http://127.0.0.1:1"
    args = (
        ["--", sys.executable, str(SRC.parent / "examples" / "demo_server.py")] if command == "trace" else []
    )
    env = {**_env(), "OTEL_EXPORTER_OTLP_TIMEOUT": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_otel.cli", command, "--otlp", url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"mcp-otel {command}: error: exporting the spans to {url} failed: "), (
        proc.stderr
    )
    assert "Connection refused" in proc.stderr
