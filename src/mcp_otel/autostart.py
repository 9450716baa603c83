"""Tracing for every Python process of a command: the environment that turns it on, and the set-up it runs.

:func:`command_env` returns the environment for a command (``mcp-otel run``, ``trace`` and ``demo`` use it):
:data:`SITECUSTOMIZE_DIR` first on ``PYTHONPATH``, and the destination. Every Python interpreter that inherits
it imports mcp-otel's ``sitecustomize`` before the program's code, which calls :func:`start`:

- with :data:`SPANS_FILE_ENV` set, spans go to that JSON Lines file as each one ends
  (:func:`mcp_otel.bootstrap.create_telemetry`) and ``McpInstrumentor`` is enabled;
- otherwise it does what ``opentelemetry-instrument`` does
  (:func:`opentelemetry.instrumentation.auto_instrumentation.initialize`): the SDK configured from the
  standard ``OTEL_*`` variables (exporters, endpoint, headers, service name, resource attributes, sampler)
  and every installed instrumentation, mcp-otel's among them (``OTEL_INSTRUMENTATION_MCP_*`` apply).

A console exporter (``OTEL_*_EXPORTER=console``) prints to stderr, never to stdout, which is a stdio server's
MCP channel (:mod:`mcp_otel.console_exporters`). Each process gets a ``process.pid`` resource attribute (a
forked child, e.g. a gunicorn worker, its own: :mod:`mcp_otel.forked_workers`); its spans, metrics and log
records are flushed at exit and on SIGTERM; the first failed export is reported in one line on stderr and the
program keeps running (:class:`mcp_otel.export_failures.ExportFailureReporter`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp_otel.export_failures import ExportFailureReporter

__all__ = [
    "PROCESSES_FILE_ENV",
    "SITECUSTOMIZE_DIR",
    "SPANS_FILE_ENV",
    "ExportFailureReporter",
    "ProcessIdDetector",
    "command_env",
    "default_service_name",
    "read_processes",
    "start",
]

SITECUSTOMIZE_DIR = Path(__file__).resolve().parent / "_autostart"
"""The directory holding mcp-otel's ``sitecustomize.py`` (and nothing else), put first on ``PYTHONPATH``."""

SPANS_FILE_ENV = "MCP_OTEL_SPANS_FILE"
"""Environment variable: write spans to this JSON Lines file instead of configuring from ``OTEL_*``."""

PROCESSES_FILE_ENV = "MCP_OTEL_PROCESSES_FILE"
"""Environment variable: each process appends one JSON line here saying whether it was instrumented."""

_PID_DETECTOR = "mcp_otel_process_pid"
_DETECTORS_ENV = "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"
_started = False
_start_lock = threading.Lock()


def command_env(
    base: Mapping[str, str],
    *,
    spans_file: str | Path | None = None,
    otlp: str | None = None,
    service_name: str | None = None,
    processes_file: str | Path | None = None,
) -> dict[str, str]:
    """The environment that instruments every Python process of a command.

    Args:
        base: the environment to start from (usually ``os.environ``); it is not modified.
        spans_file: write spans to this JSON Lines file (metrics are not exported).
        otlp: export spans, metrics and log records over OTLP/HTTP to this endpoint (base URL or
            ``…/v1/traces``).
        service_name: ``service.name`` of the processes (``OTEL_SERVICE_NAME``); by default the script,
            module or console script name.
        processes_file: where each process records whether it was instrumented (:func:`read_processes`).

    Returns:
        A new environment. Without ``spans_file`` and ``otlp`` the standard ``OTEL_*`` variables of ``base``
        apply, with OTLP over HTTP/protobuf and log records exported like the spans unless they say otherwise.

    Raises:
        mcp_otel.bootstrap.BootstrapError: when ``otlp`` is not an http(s) URL.
    """
    env = dict(base)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITECUSTOMIZE_DIR)]
    env["PYTHONPATH"] = os.pathsep.join([str(SITECUSTOMIZE_DIR), *paths])
    for key in (SPANS_FILE_ENV, PROCESSES_FILE_ENV, "MCP_OTEL_MISSING_REPORTED"):
        env.pop(key, None)
    if spans_file is not None:  # absolute: the command may change directory (uv run --directory)
        env[SPANS_FILE_ENV] = str(Path(spans_file).absolute())
    elif otlp is not None:
        from mcp_otel.bootstrap import otlp_endpoints, otlp_logs_endpoint

        traces_url, metrics_url = otlp_endpoints(otlp)
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_LOGS_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=traces_url,
            OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=metrics_url,
            OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=otlp_logs_endpoint(otlp),
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_LOGS_PROTOCOL="http/protobuf",
        )
    if spans_file is None:
        # mcp-otel[sdk] brings the OTLP/HTTP exporter only (the distro's default is gRPC). Log records (those
        # mcp-otel makes: docs/logs.md) go where the spans go unless OTEL_LOGS_EXPORTER says otherwise.
        env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        env.setdefault(
            "OTEL_LOGS_EXPORTER", _logs_exporter_like_traces(env.get("OTEL_TRACES_EXPORTER", "otlp"))
        )
    if service_name:
        env["OTEL_SERVICE_NAME"] = service_name
    if processes_file is not None:
        env[PROCESSES_FILE_ENV] = str(Path(processes_file).absolute())
    return env


_LOGS_EXPORTERS = frozenset({"otlp", "otlp_proto_http", "otlp_proto_grpc", "console", "none"})


def _logs_exporter_like_traces(traces: str) -> str:
    """``OTEL_LOGS_EXPORTER`` for ``OTEL_TRACES_EXPORTER=traces``: the same exporters where a logs exporter of
    that name exists (``otlp``, ``console``), else ``none``."""
    names = [name.strip() for name in traces.split(",") if name.strip() in _LOGS_EXPORTERS]
    return ",".join(names) or "none"


def read_processes(path: str | Path) -> list[dict[str, Any]]:
    """The records processes wrote to a :data:`PROCESSES_FILE_ENV` file: ``pid``, ``executable``, ``status``
    (``instrumented``, ``missing`` when ``mcp_otel`` cannot be imported, ``failed``) and ``detail``."""
    p = Path(path)
    if not p.exists():
        return []
    lines = p.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def default_service_name(orig_argv: list[str] | None = None) -> str:
    """``service.name`` for a process that has none configured: its module (``python -m pkg`` → ``pkg``),
    script stem (``server.py``) or console script name (``mcp-server-time``); ``python`` otherwise.

    Args:
        orig_argv: the interpreter's command line (default ``sys.orig_argv``; ``sys.argv`` is not complete
            yet while ``sitecustomize`` runs).
    """
    argv = list(sys.orig_argv if orig_argv is None else orig_argv)[1:]
    takes_value = {"-W", "-X", "--check-hash-based-pycs"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" and i + 1 < len(argv):
            return argv[i + 1]
        if arg == "-c" or arg == "-":
            return "python"
        if arg in takes_value:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return Path(arg).stem or "python"
    return "python"


class ProcessIdDetector:
    """Resource detector (entry point ``mcp_otel_process_pid``): only ``process.pid``, unlike the SDK's
    ``process`` detector, whose command line may hold secrets (``--auth-token …``)."""

    def __init__(self, raise_on_error: bool = False) -> None:
        self.raise_on_error = raise_on_error

    def detect(self) -> Any:
        """The resource ``{"process.pid": os.getpid()}``."""
        from opentelemetry.sdk.resources import PROCESS_PID, Resource

        return Resource({PROCESS_PID: os.getpid()})


@contextmanager
def _temporary_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` while the SDK reads its configuration, so child processes do not inherit them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _setup_env() -> dict[str, str]:
    from importlib.metadata import entry_points

    values: dict[str, str] = {}
    attributes = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in attributes:
        values["OTEL_SERVICE_NAME"] = default_service_name()
    if entry_points(group="opentelemetry_resource_detector", name=_PID_DETECTOR):
        detectors = [d.strip() for d in os.environ.get(_DETECTORS_ENV, "otel").split(",") if d.strip()]
        if _PID_DETECTOR not in detectors:
            values[_DETECTORS_ENV] = ",".join([*detectors, _PID_DETECTOR])
    return values


def _start_spans_file(path: str) -> Callable[[], None]:
    from opentelemetry import _logs, metrics, trace

    from mcp_otel.bootstrap import create_telemetry, instrument

    telemetry = create_telemetry(spans_file=path)
    trace.set_tracer_provider(telemetry.tracer_provider)
    metrics.set_meter_provider(telemetry.meter_provider)
    _logs.set_logger_provider(telemetry.logger_provider)
    instrument(telemetry)
    return telemetry.shutdown


def _start_configured() -> Callable[[], None]:
    from importlib.metadata import entry_points

    from opentelemetry import _logs, metrics, trace
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    if not entry_points(group="opentelemetry_configurator"):
        raise RuntimeError(
            "no OpenTelemetry SDK configurator (opentelemetry-distro) is installed: install 'mcp-otel[sdk]'"
        )
    initialize()

    def flush() -> None:  # the SDK shuts its providers down at exit itself; SIGTERM skips that
        for provider in (
            trace.get_tracer_provider(),
            metrics.get_meter_provider(),
            _logs.get_logger_provider(),
        ):
            force_flush = getattr(provider, "force_flush", None)
            if callable(force_flush):
                force_flush()

    return flush


def _record(status: str, detail: str = "") -> None:
    path = os.environ.get(PROCESSES_FILE_ENV)
    if not path:
        return
    line = {"pid": os.getpid(), "executable": sys.executable, "status": status, "detail": detail}
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError:
        pass


def start() -> None:
    """Set up telemetry in this process as the environment says (see the module docstring). Runs once per
    process; never raises: a failure is one line on stderr and the program runs uninstrumented."""
    global _started
    with _start_lock:
        if _started:
            return
        _started = True
    try:
        with _temporary_env(_setup_env()):
            spans_file = os.environ.get(SPANS_FILE_ENV)
            flush = _start_spans_file(spans_file) if spans_file else _start_configured()
        from mcp_otel.console_exporters import redirect_to_stderr
        from mcp_otel.forked_workers import install_fork_handler
        from mcp_otel.shutdown import install_shutdown_hooks

        install_shutdown_hooks(flush)
        install_fork_handler(flush)  # gunicorn forks its workers from this process
        redirect_to_stderr()  # OTEL_*_EXPORTER=console: never onto a stdio server's MCP channel
        if not spans_file:
            ExportFailureReporter().install()
    except Exception as exc:  # never stop the program from starting
        detail = f"{sys.executable}: {exc}"
        sys.stderr.write(f"mcp-otel: telemetry is not set up in this process: {detail}\n")
        _record("failed", detail)
        return
    _record("instrumented", default_service_name())
