"""mcp-otel's ``sitecustomize``: sets up tracing in every Python process a wrapped command starts.

``mcp-otel run``, ``trace`` and ``demo`` put this file's directory first on ``PYTHONPATH``; Python imports
``sitecustomize`` at start-up, before the program's own code, in every interpreter that inherits the variable
(console scripts, ``python -m``, ``uv run``, shell wrappers, child processes). This file is plain standard
library code, because the interpreter may belong to another environment: when that environment cannot import
``mcp_otel`` it says so in one line on stderr and the program runs unchanged. Then the ``sitecustomize`` that
this one shadows (e.g. the distribution's) is imported, as if this one were not there.
"""

import json
import os
import sys

_MISSING_REPORTED = "MCP_OTEL_MISSING_REPORTED"
_PROCESSES_FILE = "MCP_OTEL_PROCESSES_FILE"


def _record_missing(exc: BaseException) -> None:
    """Say once per process tree that this interpreter has no mcp_otel, and how to add it."""
    detail = f"{sys.executable} cannot import mcp_otel ({exc})"
    if not os.environ.get(_MISSING_REPORTED):
        os.environ[_MISSING_REPORTED] = "1"  # children of this process do not repeat it
        sys.stderr.write(
            f"mcp-otel: {detail}: this process runs without MCP spans; install 'mcp-otel[sdk]' into its "
            "environment (uvx --with 'mcp-otel[sdk]' ..., uv run --with 'mcp-otel[sdk]' ...)\n"
        )
    path = os.environ.get(_PROCESSES_FILE)
    if path:
        try:
            line = {"pid": os.getpid(), "executable": sys.executable, "status": "missing", "detail": detail}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
        except OSError:
            pass


def _chain() -> None:
    """Import the next ``sitecustomize`` on ``sys.path`` (the one this file shadows), if there is one."""
    mine = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401  (the next one on sys.path)
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
        if mine is not None:
            sys.modules["sitecustomize"] = mine


def _main() -> None:
    directory = os.path.dirname(os.path.abspath(__file__))
    # This directory holds nothing else; child processes still get it through PYTHONPATH.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != directory]
    try:
        from mcp_otel import autostart
    except ImportError as exc:
        _record_missing(exc)
    else:
        autostart.start()
    _chain()


_main()
