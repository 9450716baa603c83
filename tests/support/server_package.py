"""A small MCP server *package*, built and installed into a temporary virtualenv as users install servers.

``weather-mcp-pkg`` (module ``weather_mcp``, hatchling build) has console scripts:

- ``weather-mcp``: a stdio server (tools ``add``, which logs ``adding A and B`` at INFO to the ``weather``
  logger, and ``pid``); exits with ``WEATHER_MCP_EXIT_STATUS``
  (default 0) when its client closes stdin;
- ``weather-mcp-child``: starts ``python -m weather_mcp`` as a child process with the same stdio and exits
  with its status (a launcher, as some servers have);

and ``weather_mcp.http:app``, the same server as a stateless streamable-HTTP ASGI app (``uvicorn --workers``).
It does not import mcp-otel.

:func:`make_server_venv` builds the virtualenv with ``uv``: a ``.pth`` file makes the test environment's
packages (mcp, mcp-otel, the OpenTelemetry SDK) importable there, and the package is installed with
``uv pip install`` (its console scripts get the venv's interpreter in their shebang).
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_NAME = "weather-mcp-pkg"

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "weather-mcp-pkg"
version = "1.0.0"
dependencies = [{dependencies}]

[project.scripts]
weather-mcp = "weather_mcp:main"
weather-mcp-child = "weather_mcp:main_child"

[tool.hatch.build.targets.wheel]
packages = ["weather_mcp"]
"""

INIT = '''\
"""A tiny weather MCP server (stdio), on mcp 1.x FastMCP or 2.x MCPServer."""

import logging
import os
import subprocess
import sys

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server


_log = logging.getLogger("weather")
_log.setLevel(logging.INFO)


def build_server():
    server = _Server("weather")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers (and log it: INFO, so nothing reaches stderr without a handler)."""
        _log.info("adding %s and %s", a, b)
        return a + b

    @server.tool()
    def pid() -> int:
        """The process id of the process that serves this call."""
        return os.getpid()

    return server


def main():
    build_server().run("stdio")
    sys.exit(int(os.environ.get("WEATHER_MCP_EXIT_STATUS", "0")))


def main_child():
    sys.exit(subprocess.call([sys.executable, "-m", "weather_mcp"]))
'''

MAIN = """\
from weather_mcp import main

main()
"""

HTTP = '''\
"""The weather server as a stateless streamable-HTTP ASGI app: ``uvicorn weather_mcp.http:app``."""

from weather_mcp import build_server

_server = build_server()
try:  # mcp 2.x
    app = _server.streamable_http_app(stateless_http=True)
except TypeError:  # mcp 1.x: a server setting
    _server.settings.stateless_http = True
    app = _server.streamable_http_app()
'''


@dataclass
class ServerVenv:
    """The virtualenv and the package source it was installed from."""

    root: Path
    source: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


def uv_or_skip() -> str:
    """The ``uv`` executable, or skip the test (CI installs it next to nox)."""
    found = shutil.which("uv")
    if found is None:
        pytest.skip("needs uv on PATH (CI installs it with nox)")
    return found


def write_package(directory: Path, dependencies: list[str] | None = None) -> Path:
    """Write the package source under ``directory``; returns its root."""
    root = directory / PACKAGE_NAME
    (root / "weather_mcp").mkdir(parents=True)
    deps = ", ".join(f'"{d}"' for d in (dependencies or []))
    (root / "pyproject.toml").write_text(PYPROJECT.format(dependencies=deps))
    (root / "weather_mcp" / "__init__.py").write_text(INIT)
    (root / "weather_mcp" / "__main__.py").write_text(MAIN)
    (root / "weather_mcp" / "http.py").write_text(HTTP)
    return root


def make_server_venv(directory: Path, python: str) -> ServerVenv:
    """Create ``directory/venv`` for ``python`` with the test environment's packages visible and the server
    package installed (no dependencies: they come through the ``.pth`` file)."""
    uv = uv_or_skip()
    source = write_package(directory)
    venv = directory / "venv"
    subprocess.run([uv, "venv", "-q", "--python", python, str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # addsitedir, not a bare path: the test environment's own .pth files (an editable install) apply too
    test_site = sysconfig.get_paths()["purelib"]
    (site / "test_environment.pth").write_text(f"import site; site.addsitedir({test_site!r})\n")
    subprocess.run(
        [uv, "pip", "install", "-q", "--no-deps", "--python", str(venv / "bin" / "python"), str(source)],
        check=True,
        timeout=300,
    )
    return ServerVenv(venv, source)


def shell_wrapper(directory: Path, target: Path) -> Path:
    """A ``#!/bin/sh`` script that execs ``target`` with its arguments (as hosts' wrapper scripts do)."""
    script = directory / "start-weather.sh"
    script.write_text(
        textwrap.dedent(f"""\
            #!/bin/sh
            # a wrapper as people write them: set things up, then run the real server
            export WEATHER_MCP_WRAPPED=1
            exec "{target}" "$@"
        """)
    )
    script.chmod(0o755)
    return script
