"""Test matrix: one virtualenv per supported mcp line, plus lint.

``nox`` runs everything (what CI runs, through ``.ci/run``); ``nox -l`` lists the sessions;
``nox -s tests-2.3 -- -k stdio`` runs one mcp version with extra pytest arguments; ``nox -s lint`` lints.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).resolve().parent

#: mcp pins per session, with what each era needs next to it.
MCP_MATRIX: dict[str, tuple[str, ...]] = {
    # mcp < 1.22 imports a private pydantic helper removed in pydantic 2.14.0
    "1.15": ("mcp==1.15.0", "pydantic<2.14"),
    "1.30": ("mcp==1.30.0", "pydantic<2.14"),
    "2.0": ("mcp==2.0.1",),
    "2.3": ("mcp==2.3.0",),
}
TEST_SESSIONS = [f"tests-{label}" for label in MCP_MATRIX]

nox.options.sessions = [*TEST_SESSIONS, "lint"]


#: Extras installed everywhere: ``sentry`` too, so the Sentry tests run instead of skipping themselves.
EXTRAS = "dev,sentry"


def _install(session: nox.Session, *pins: str) -> None:
    # Editable: the stdio server subprocesses (src/ on PYTHONPATH) run the same code as the tests.
    session.install("-e", f".[{EXTRAS}]", *pins)


def _tests(session: nox.Session, pins: tuple[str, ...]) -> None:
    _install(session, *pins)
    session.run("python", "-c", "import mcp, importlib.metadata as m; print('mcp', m.version('mcp'))")
    # pytest exit code 5 (no tests collected) fails the session like any other non-zero code.
    session.run("pytest", *session.posargs)


def _register(label: str, pins: tuple[str, ...]) -> None:
    @nox.session(name=f"tests-{label}")
    def tests(session: nox.Session) -> None:
        _tests(session, pins)

    tests.__doc__ = f"pytest against {' '.join(pins)}"


for _label, _pins in MCP_MATRIX.items():
    _register(_label, _pins)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check + format), mypy --strict, and the semconv drift check."""
    _install(session, *MCP_MATRIX["2.3"])
    session.run("ruff", "check", "src", "tests")
    session.run("ruff", "format", "--check", "src", "tests")
    session.run("mypy", "--strict")  # packages and options from [tool.mypy] in pyproject.toml
    if not (ROOT / "semconv" / "generate.py").exists():
        session.error("semconv/generate.py is missing: the semconv drift check cannot run")
    session.run("python", "semconv/generate.py", "--check")
