"""Test matrix: one virtualenv per supported mcp line, plus lint.

``nox -j 2`` runs everything, two sessions at a time (what CI runs, through ``.ci/run``); ``nox -l`` lists
the sessions; ``nox -s tests-2.3 -- -k stdio`` runs one mcp version with extra pytest arguments;
``nox -s lint`` lints.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import nox
import tomllib

nox.needs_version = ">=2026.10.20"  # --parallel
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False
#: Every session may run next to another one: the README's test command (and so CI) runs ``nox -j 2``, two
#: sessions at a time, each in its own nox subprocess whose output is printed as one block when it ends. A
#: session alone leaves a core idle while it installs, starts its workers, waits on subprocesses and sockets,
#: and runs its last slow test. Plain ``nox`` (and ``nox -s …``) runs one session at a time, output live.
nox.options.allow_parallel = True
#: pytest-xdist workers per test session: two sessions run at once, so four workers (and their server
#: subprocesses) share the two cores.
XDIST_WORKERS = "2"

ROOT = Path(__file__).resolve().parent
LIFETIME_TESTS = "tests/test_session_lifetime.py"
SCOPE_ENV = "MCP_OTEL_TEST_SCOPE"

#: mcp pins per session, with what each era needs next to it.
MCP_MATRIX: dict[str, tuple[str, ...]] = {
    # mcp < 1.22 imports a private pydantic helper removed in pydantic 2.14.0
    "1.15": ("mcp==1.15.0", "pydantic<2.14", "pydantic-settings<2.12"),
    "1.30": ("mcp==1.30.0", "pydantic<2.14"),
    "2.0": ("mcp==2.0.1",),
    "2.3": ("mcp==2.3.0",),
}
#: Standalone fastmcp over an mcp line: (pins installed with their dependencies, pins installed over them with
#: --no-deps). fastmcp 4.1.6 needs certifi>=2026.10.19 (through fastmcp-slim[server]); where the index lacks
#: it, 4.1.2 brings the dependencies and 4.1.6 goes over it without them (docs/fastmcp.md).
FASTMCP_MATRIX: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fastmcp2": ((*MCP_MATRIX["1.30"], "fastmcp>=2.14,<2.15"), ()),
    "fastmcp3": ((*MCP_MATRIX["1.30"], "fastmcp>=3.4,<3.5"), ()),
    "fastmcp4": ((*MCP_MATRIX["2.3"], "fastmcp==4.1.2"), ("fastmcp==4.1.6", "fastmcp-slim==4.1.6")),
    "fastmcp4.2": ((*MCP_MATRIX["2.3"], "fastmcp>=4.2,<4.3"), ()),
}
FASTMCP_TESTS = ("tests/test_fastmcp.py", "tests/test_lifecycle.py")
#: A small MCP server from PyPI (console script, no credentials) that `mcp-otel trace` is tested on
#: (tests/test_run_command.py, tests/test_phoenix.py); pip picks the release that fits the pinned mcp.
#: Not with mcp 2.0: the release pip picks there (2026.7.10) imports a 1.x name (McpError) and cannot start.
PYPI_SERVER = "mcp-server-time"
NO_PYPI_SERVER = {"2.0"}
#: Arize Phoenix, in a virtualenv of its own (tests/test_phoenix.py, docs/phoenix.md).
PHOENIX = "arize-phoenix==20.26.1"
#: The oldest sentry-sdk of each Sentry path (the tests-* sessions get the newest): label → (sentry-sdk pin,
#: mcp line). 2.15: the sentry extra's floor (transactions); 2.45: the OTLP path's (OTLPIntegration), and an
#: MCPIntegration from before its "mcp" mechanism (2.69); 2.75: span streaming's (the sentry-streaming extra).
SENTRY_MATRIX: dict[str, tuple[str, str]] = {
    "2.15": ("sentry-sdk==2.15.0", "1.30"),
    "2.45": ("sentry-sdk==2.45.0", "1.30"),
    "2.75": ("sentry-sdk==2.75.0", "2.3"),
}
SENTRY_TESTS = "tests/test_sentry_*.py"
#: Spotlight's own receiver shows what sentry-sdk's Spotlight support sends, which changed between releases
#: (sessions and PII without a DSN): its tests run with the newest sentry-sdk only (the tests-* sessions).
SENTRY_FLOOR_SKIPPED = {"tests/test_sentry_spotlight.py"}
TEST_SESSIONS = [f"tests-{label}" for label in [*MCP_MATRIX, *FASTMCP_MATRIX]] + ["tests-phoenix"]
TEST_SESSIONS += [f"sentry-{label}" for label in SENTRY_MATRIX]
#: Which tests each mcp line runs (tests/conftest.py reads ``MCP_OTEL_TEST_SCOPE``): ``all`` every test;
#: ``major`` all but the version-independent ones (marker ``once``); ``seams`` also without the slow tests
#: whose seams are the same on every minor of a major (marker ``per_major``: CLIs, subprocess and install
#: heavy integrations, the benchmark smoke run, the 10,000-session lifetime test). Each major's newest line
#: runs those, so every seam is still tested on every major; a line not listed runs everything.
TEST_SCOPE = {"1.15": "seams", "1.30": "major", "2.0": "seams", "2.3": "all"}

#: The default sessions (the README's test command, CI), longest first: with two at a time, the long ones
#: start early and the short ones fill in around them. Add a session anywhere in the list; place it by how
#: long it runs (``nox`` prints each session's duration at the end).
nox.options.sessions = [
    "tests-2.3",
    "tests-1.30",
    "sdk-suite-2.3",
    "sdk-suite-1.30",
    *(s for s in TEST_SESSIONS if s not in ("tests-2.3", "tests-1.30")),
    "lint",
]


#: Extras installed everywhere: ``sentry`` too, so the Sentry tests run instead of skipping themselves.
EXTRAS = "dev,sentry"


def _install(session: nox.Session, *pins: str) -> None:
    # Editable: the stdio server subprocesses (src/ on PYTHONPATH) run the same code as the tests.
    session.install("-e", f".[{EXTRAS}]", *pins)


def _tests(session: nox.Session, pins: tuple[str, ...], scope: str, *extra: str) -> None:
    _install(session, *pins, *extra)
    session.run("python", "-c", "import mcp, importlib.metadata as m; print('mcp', m.version('mcp'))")
    # pytest exit code 5 (no tests collected) fails the session like any other non-zero code.
    if session.posargs:  # what was asked for, whatever the line's scope
        session.run("pytest", *session.posargs, env={SCOPE_ENV: "all"})
        return
    env = {SCOPE_ENV: scope}
    # Most tests wait on subprocesses and sockets: XDIST_WORKERS workers. ``loadgroup``: the tests of one
    # ``xdist_group`` (a module sharing one expensive module fixture: Prometheus, Spotlight, a virtualenv, the
    # benchmark run) stay on one worker, so the fixture is built once. The session-lifetime test counts
    # objects in its own process: a fourth process, alongside the workers (it is all CPU, they often wait).
    lifetime = _start_lifetime(session, env) if scope != "seams" else None
    try:
        session.run("pytest", "-n", XDIST_WORKERS, "--dist", "loadgroup", "--ignore", LIFETIME_TESTS, env=env)
    finally:
        if lifetime is not None:
            _finish_lifetime(session, *lifetime)


def _start_lifetime(session: nox.Session, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``pytest LIFETIME_TESTS`` in the background; its output goes to a file printed when it ends."""
    log = Path(session.create_tmp()).absolute() / "session-lifetime.log"
    python = Path(session.bin) / "python"
    session.log(f"pytest {LIFETIME_TESTS} (in the background, output in {log})")
    merged = {**os.environ, **session.env, **env, "VIRTUAL_ENV": str(session.virtualenv.location)}
    merged["PATH"] = os.pathsep.join([session.bin, os.environ.get("PATH", "")])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), "-m", "pytest", "-p", "no:cacheprovider", LIFETIME_TESTS],
            stdout=out, stderr=subprocess.STDOUT,
            env={k: v for k, v in merged.items() if v is not None},  # None: unset (nox's convention)
        )  # fmt: skip
    return proc, log


def _finish_lifetime(session: nox.Session, proc: subprocess.Popen[bytes], log: Path) -> None:
    code = proc.wait()
    print(log.read_text(errors="replace"), end="", flush=True)
    if code != 0:
        session.error(f"pytest {LIFETIME_TESTS} failed with exit code {code}")


def _register(label: str, pins: tuple[str, ...]) -> None:
    @nox.session(name=f"tests-{label}")
    def tests(session: nox.Session) -> None:
        scope = TEST_SCOPE.get(label, "all")
        _tests(session, pins, scope, *(() if label in NO_PYPI_SERVER else (PYPI_SERVER,)))

    tests.__doc__ = f"pytest against {' '.join(pins)}"


for _label, _pins in MCP_MATRIX.items():
    _register(_label, _pins)


def _register_sentry(label: str, pin: str, mcp_line: str) -> None:
    @nox.session(name=f"sentry-{label}")
    def sentry(session: nox.Session) -> None:
        _install(session, *MCP_MATRIX[mcp_line])
        # over the extras' floors (the dev extra wants a newer one for the OTLP tests, which skip without it)
        session.install(pin)
        session.run("python", "-c", "import sentry_sdk, mcp.types; print('sentry-sdk', sentry_sdk.VERSION)")
        found = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(SENTRY_TESTS))
        tests = session.posargs or [t for t in found if t not in SENTRY_FLOOR_SKIPPED]
        session.run("pytest", "-n", "2", *tests, env={SCOPE_ENV: "all"})

    sentry.__doc__ = f"the Sentry tests against {pin} (mcp {mcp_line})"


for _label, (_pin, _mcp_line) in SENTRY_MATRIX.items():
    _register_sentry(_label, _pin, _mcp_line)


def _register_fastmcp(label: str, pins: tuple[str, ...], no_deps: tuple[str, ...]) -> None:
    @nox.session(name=f"tests-{label}")
    def tests(session: nox.Session) -> None:
        _install(session, *pins)
        if no_deps:
            session.install("--no-deps", *no_deps)
        session.run(
            "python",
            "-c",
            "import importlib.metadata as m; print('mcp', m.version('mcp'), 'fastmcp', m.version('fastmcp'))",
        )
        # fastmcp's own tests and the patch/restore checks (with fastmcp installed the instrumentor applies
        # its hooks too); ``nox -s tests-fastmcp4 -- tests`` runs the whole suite.
        session.run("pytest", *(session.posargs or FASTMCP_TESTS))

    tests.__doc__ = f"pytest with standalone fastmcp: {' '.join(pins + no_deps)}"


for _label, (_pins, _no_deps) in FASTMCP_MATRIX.items():
    _register_fastmcp(_label, _pins, _no_deps)


@nox.session(name="tests-phoenix")
def tests_phoenix(session: nox.Session) -> None:
    """Export to Arize Phoenix (its own virtualenv) and read the spans back (tests/test_phoenix.py)."""
    _install(session, *MCP_MATRIX["2.3"], PYPI_SERVER)
    venv = Path(session.create_tmp()).absolute() / "phoenix-venv"
    python = venv / "bin" / "python"
    interpreter = str(Path(session.bin) / "python")
    session.run("uv", "venv", "-q", "--allow-existing", "--python", interpreter, str(venv), external=True)
    session.run("uv", "pip", "install", "-q", "--python", str(python), PHOENIX, external=True)
    session.run(
        "pytest", "tests/test_phoenix.py", *session.posargs, env={"MCP_OTEL_PHOENIX_PYTHON": str(python)}
    )


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


#: mcp releases whose own test suite runs instrumented by mcp-otel (tests/sdk_suite/, README "Running the MCP
#: SDK's own tests instrumented"): session label → release. Both are default sessions (CI).
SDK_SUITES = {"1.30": "1.30.0", "2.3": "2.3.0"}
#: What a session runs when no test selection is given after ``--``: 1.30.0's whole suite; 2.3.0's without the
#: tests of its documentation (``tests/docs``, ``tests/docs_src``: they exercise the docs' code samples, not
#: the SDK's seams, and need the documentation toolchain, whose install alone costs minutes of CI).
SDK_SUITE_SELECTION: dict[str, tuple[str, ...]] = {
    "1.30": ("tests",),
    "2.3": ("tests", "--ignore=tests/docs", "--ignore=tests/docs_src"),
}
#: Dependency groups of the SDK's tree needed only by its documentation tests.
SDK_DOCS_GROUPS = {"docs"}
#: Dependency-group entries of the SDK's tree that no test needs: pyright fetches node, strict-no-cover is a
#: git-only dependency; the workspace packages come from PyPI (the release) or from the tree.
SDK_SKIPPED = {"pyright", "strict-no-cover", "mcp", "mcp-types", "mcp-example-stories"}
SDK_SUITE_DIR = ROOT / "tests" / "sdk_suite"


def _requirement_name(requirement: str) -> str:
    name = requirement.split(";")[0]
    for sep in "[<>=!~ ":
        name = name.split(sep)[0]
    return name.strip().lower().replace("_", "-")


def _sdk_tree(session: nox.Session, release: str) -> Path:
    """The release's source tree (its sdist carries ``tests/``), downloaded once per session directory."""
    root = Path(session.create_tmp()).absolute() / "sdk-tree"
    tree = root / f"mcp-{release}"
    if (tree / "tests").is_dir():
        return tree
    session.install("pip")
    session.run(
        "python", "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "mcp", f"mcp=={release}",
        "-d", str(root),
    )  # fmt: skip
    with tarfile.open(root / f"mcp-{release}.tar.gz") as archive:
        archive.extractall(root, filter="data")
    return tree


def _sdk_suite(session: nox.Session, label: str, release: str, tree: Path) -> None:
    project = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
    extras = ",".join(project["project"].get("optional-dependencies", {}))
    selection = [a for a in session.posargs if a != "--plain"] or list(SDK_SUITE_SELECTION[label])
    groups = project.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
    if any(a.startswith("--ignore=tests/docs") for a in selection):
        groups = [g for g in groups if g not in SDK_DOCS_GROUPS]
    wanted = [
        req
        for group in groups
        for req in project.get("dependency-groups", {}).get(group, [])
        if isinstance(req, str) and _requirement_name(req) not in SDK_SKIPPED
    ]
    # The release from PyPI (the same code as the tree's src/), its extras, its test groups, the tree's
    # example stories (2.x: tests/examples), then mcp-otel over them.
    local = [str(tree / "examples")] if (tree / "examples" / "pyproject.toml").exists() else []
    pins = [p for p in MCP_MATRIX[label] if not p.startswith("mcp==")]
    session.install(
        f"mcp[{extras}]=={release}", *pins, *wanted, *local, "pytest-timeout", "opentelemetry-sdk", "uv"
    )
    session.install("-e", str(ROOT), *pins, f"mcp=={release}")
    plain = "--plain" in session.posargs
    env = {
        "PYTHONPATH": str(SDK_SUITE_DIR),
        "MCP_OTEL_SDK_SUITE": "plain" if plain else "instrumented",
        # The SDK's tests run ``uv run …`` in its tree (1.30.0: tests/client/test_config.py runs the command
        # `mcp install` writes). nox's uv backend exports UV_PROJECT_ENVIRONMENT=<this virtualenv>, so that
        # ``uv run`` would sync the tree's lockfile into the virtualenv the tests are running from: it removes
        # mcp, mcp-otel and pytest first, and on a loaded machine the test's 20 s timeout kills it there,
        # after which every test that starts a server process fails ("did not start within 20 s").
        "UV_NO_SYNC": "1",
    }
    session.run(
        "python", "-m", "pytest", "-p", "mcp_otel_sdk_suite", "-n", XDIST_WORKERS, "-q", "--timeout", "120",
        "-p", "no:pretty", "-p", "no:cacheprovider", "-o", "log_cli=false", "--color=no", "-rfE",
        "--tb=short", *selection, env=env,
    )  # fmt: skip


def _register_sdk_suite(label: str, release: str) -> None:
    @nox.session(name=f"sdk-suite-{label}")
    def sdk_suite(session: nox.Session) -> None:
        tree = _sdk_tree(session, release)
        with session.chdir(tree):  # the tree's pyproject.toml configures pytest
            _sdk_suite(session, label, release, tree)

    sdk_suite.__doc__ = f"mcp {release}'s own tests, instrumented by mcp-otel (-- --plain: not instrumented)"


for _label, _release in SDK_SUITES.items():
    _register_sdk_suite(_label, _release)
