"""``mcp-otel run``: replace this process by a command whose Python processes are all instrumented.

``mcp-otel run [--otlp URL | --spans-file PATH] [--service-name NAME] -- COMMAND [ARG ...]`` is what goes
in an MCP host's config in front of a server. It builds the environment of
:func:`mcp_otel.autostart.command_env` and ``exec``-s the command: the server *is* the process the host
started, with the same stdin, stdout and stderr (nothing in between, nothing written to stdout), its own exit
status, and the signals the host sends. Each Python interpreter the command starts sets up telemetry before
the server's code runs and flushes it at exit and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["command_kind", "exec_command", "run_instrumented", "with_this_python"]

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?(\.exe)?|uv|uvx|pipx|py")
_BARE_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
_SHELL = re.compile(r"(ba|da|z|k|c|tc|fi)?sh")


def with_this_python(command: Sequence[str]) -> list[str]:
    """``command`` with a bare ``python``/``python3``/``python3.X`` replaced by this interpreter (the one
    mcp-otel is installed in), as ``mcp-otel trace -- python server.py`` means; paths are kept as given."""
    first = command[0] if command else ""
    if _BARE_PYTHON.fullmatch(first):
        return [sys.executable, *command[1:]]
    return list(command)


def _shebang(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return ""
    return first[2:].decode("utf-8", "replace").strip() if first.startswith(b"#!") else ""


def command_kind(command: Sequence[str], path: str | None = None) -> str:
    """Whether ``command`` starts Python: ``"python"`` (an interpreter, ``uv``/``uvx``, a ``.py`` file or a
    script with a python shebang, i.e. console scripts), ``"shell"`` (a shell or shell script: it may start
    Python) or ``"other"`` (a binary or another interpreter, e.g. ``node``: its Python children only).

    Args:
        command: the argv; only ``command[0]`` is looked at.
        path: the ``PATH`` to resolve ``command[0]`` with (default: this process's).
    """
    found = shutil.which(command[0], path=path) or command[0]
    name = Path(found).name
    if _PYTHON.fullmatch(name) or name.endswith(".py"):
        return "python"
    if _SHELL.fullmatch(name):
        return "shell"
    shebang = _shebang(found)
    words = shebang.split()
    interpreter = Path(words[0]).name if words else ""
    if interpreter == "env" and len(words) > 1:
        interpreter = Path(words[-1] if words[1] == "-S" else words[1]).name
    if "python" in shebang:
        return "python"
    if _SHELL.fullmatch(interpreter):
        return "shell"
    return "other"


def exec_command(command: Sequence[str], env: Mapping[str, str], *, prog: str = "mcp-otel run") -> int:
    """Replace this process by ``command`` with ``env`` (on Windows: run it and return its exit status).

    A command that starts no Python process gets a one-line notice on stderr and runs unchanged.

    Returns:
        Only when the command cannot be started: 127 (not found) or 126 (not executable), with one line on
        stderr; on Windows, the command's exit status.
    """
    if shutil.which(command[0], path=env.get("PATH")) is None:
        print(f"{prog}: error: command not found: {command[0]}", file=sys.stderr)
        return 127
    if command_kind(command, env.get("PATH")) == "other":
        print(
            f"{prog}: {command[0]} is not a Python program: it runs unchanged, without MCP spans (Python "
            "processes it starts are instrumented)",
            file=sys.stderr,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if sys.platform == "win32":  # no exec: wait for it and pass its status on
            return subprocess.call(list(command), env=dict(env))
        os.execvpe(command[0], list(command), dict(env))
    except FileNotFoundError:
        print(f"{prog}: error: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"{prog}: error: permission denied: {command[0]}", file=sys.stderr)
        return 126
    raise AssertionError("unreachable: execvpe returned")  # pragma: no cover


def run_instrumented(
    command: Sequence[str],
    *,
    otlp: str | None = None,
    spans_file: str | None = None,
    service_name: str | None = None,
) -> int:
    """``mcp-otel run``: replace this process by ``command`` with every Python process it starts instrumented.

    Args:
        command: the server command and its arguments (a bare ``python`` is this interpreter).
        otlp: export spans and metrics to this OTLP/HTTP endpoint.
        spans_file: append spans to this JSON Lines file instead.
        service_name: ``service.name`` of the processes (default: the script's name).

    Returns:
        Only when the command cannot be started: 127 (not found), 126 (not executable) or 2 (invalid
        ``otlp``), with one line on stderr; on Windows, the command's exit status.
    """
    from mcp_otel.autostart import command_env

    try:
        env = command_env(os.environ, spans_file=spans_file, otlp=otlp, service_name=service_name)
    except Exception as exc:  # BootstrapError: an invalid --otlp URL (or no SDK to check it with)
        print(f"mcp-otel run: error: {exc}", file=sys.stderr)
        return 2
    return exec_command(with_this_python(command), env)
