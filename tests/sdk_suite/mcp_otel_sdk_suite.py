"""pytest plugin: run the MCP SDK's own test suite with mcp-otel instrumented (``nox -s sdk-suite-2.3``).

Loaded with ``-p mcp_otel_sdk_suite`` into a run of the ``tests/`` tree of an mcp release, it:

- calls ``McpInstrumentor().instrument()`` with an SDK ``TracerProvider`` and ``MeterProvider`` of its own
  (not set globally: the SDK's span tests install theirs) before the SDK's test modules are imported, so
  every server and client the SDK's tests build is instrumented as a user's would be;
- fails a test during which mcp-otel logged an instrumentation error (the ``mcp_otel`` logger's
  "instrumentation error" warnings), and fails the run for one logged outside any test;
- deselects the tests listed for this mcp release in ``deselected.toml`` beside this file, the only two
  documented differences from an uninstrumented run: tests that assert on the SDK's own spans (silenced by
  ``sdk_spans=own``) and tests that pin ``_meta`` exactly (mcp-otel injects the trace context there);
- deselects, in both runs, the tests of its ``environment`` table: they fail here uninstrumented too;
- fails the run when the virtualenv it runs from changed under it (mcp, mcp-otel or pytest removed or
  replaced while the tests ran: a test that syncs the SDK's lockfile into it, as ``uv run`` would), which
  otherwise shows only as hundreds of later server-process tests failing to start.

``MCP_OTEL_SDK_SUITE=plain`` loads the plugin without instrumenting and deselects only the ``environment``
tests: the uninstrumented run to compare with.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest
import tomllib

DESELECTED_FILE = Path(__file__).resolve().with_name("deselected.toml")
#: ``instrumented`` (default) or ``plain`` (the uninstrumented run to compare with).
MODE_ENV = "MCP_OTEL_SDK_SUITE"
ERROR_MARK = "instrumentation error"
_OUTPUT_KEY = "mcp_otel_errors"


#: Distributions whose presence and version must not change while the suite runs.
WATCHED_DISTRIBUTIONS = ("mcp", "mcp-otel", "pytest")


def installed_versions(names: tuple[str, ...] = WATCHED_DISTRIBUTIONS) -> dict[str, str | None]:
    """The installed version of each distribution, read afresh from the virtualenv (``None``: missing)."""
    importlib.invalidate_caches()
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def environment_changes(before: dict[str, str | None], after: dict[str, str | None]) -> list[str]:
    """What changed between two :func:`installed_versions` readings, one line per distribution."""
    return [
        f"{name}: {before.get(name) or 'missing'} -> {after.get(name) or 'missing'}"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


class _ErrorLog(logging.Handler):
    """Keeps every "instrumentation error" record of the ``mcp_otel`` logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if ERROR_MARK in record.getMessage():
            self.records.append(self.format(record))


def deselected_for(mcp_version: str, path: Path = DESELECTED_FILE) -> tuple[dict[str, str], dict[str, str]]:
    """The node ids (relative to the SDK tree's root) deselected for ``mcp_version`` in the instrumented run,
    and those deselected in both runs because they fail here uninstrumented too; each with its reason."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    return dict(table.get(mcp_version, {})), dict(table.get("environment", {}))


class SdkSuitePlugin:
    """The instrumentor, the error log and the deselection for one pytest process (controller or worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.instrumented = os.environ.get(MODE_ENV, "instrumented") != "plain"
        self.errors = _ErrorLog()
        self.reported = 0  # records already attributed to a test
        self.mcp_version = version("mcp")
        by_design, environment = deselected_for(self.mcp_version)
        self.by_design = by_design if self.instrumented else {}
        self.deselect = self.by_design | environment
        self.deselected: list[str] = []
        self.unmatched: list[str] = []
        self.outside: list[str] = []  # errors logged outside any test
        self.environment = installed_versions()
        self.environment_changed: list[str] = []

    def start(self) -> None:
        if not self.instrumented:
            return
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        from mcp_otel import McpInstrumentor

        logger = logging.getLogger("mcp_otel")
        logger.addHandler(self.errors)
        logger.setLevel(min(logger.getEffectiveLevel(), logging.WARNING))
        McpInstrumentor().instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider())

    def new_errors(self) -> list[str]:
        fresh = self.errors.records[self.reported :]
        self.reported = len(self.errors.records)
        return fresh

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.deselect:
            return
        keep, drop = [], []
        for item in items:
            (drop if item.nodeid in self.deselect else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.deselected = [item.nodeid for item in drop]
        seen = set(self.deselected)
        # Only a full run can tell that a listed id no longer exists (a -k or path selection leaves ids out).
        full_run = [Path(a).resolve() for a in config.args] == [config.rootpath / "tests"]
        if full_run and not config.option.keyword and not config.option.markexpr:
            # ids under an --ignore'd directory (2.3's documentation tests in CI) are left out, not stale
            ignored = [str(Path(p).resolve()) for p in config.getoption("ignore") or ()]
            self.unmatched = [
                nodeid
                for nodeid in self.by_design
                if nodeid not in seen
                and not any(str(config.rootpath / nodeid.split("::")[0]).startswith(i) for i in ignored)
            ]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        if call.when != "teardown":
            return
        fresh = self.new_errors()
        if not fresh:
            return
        report = outcome.get_result()
        report.outcome = "failed"
        report.longrepr = "mcp-otel logged an instrumentation error during this test:\n" + "\n".join(fresh)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.outside.extend(self.new_errors())
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports it
            workeroutput[_OUTPUT_KEY] = json.dumps([self.outside, self.deselected, self.unmatched])
            return
        self.environment_changed = environment_changes(self.environment, installed_versions())
        if (self.outside or self.unmatched or self.environment_changed) and (
            session.exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        mode = "instrumented by mcp-otel" if self.instrumented else "NOT instrumented (plain run)"
        terminalreporter.section("mcp-otel SDK suite")
        write(f"mcp {self.mcp_version}, {mode}")
        if self.deselected:
            write(f"{len(self.deselected)} deselected (tests/sdk_suite/deselected.toml):")
            for nodeid in self.deselected:
                write(f"  {nodeid}: {self.deselect[nodeid]}")
        for nodeid in self.unmatched:
            write(f"listed in deselected.toml but not collected (stale entry): {nodeid}", red=True)
        for record in self.outside:
            write(f"instrumentation error outside any test: {record}", red=True)
        for change in self.environment_changed:
            write(f"the virtualenv changed while the suite ran: {change}", red=True)


class _XdistController:
    """xdist controller side: collects what each worker logged outside its tests."""

    def __init__(self, plugin: SdkSuitePlugin) -> None:
        self.plugin = plugin

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY)
        if output is None:
            return
        outside, deselected, unmatched = json.loads(output)
        self.plugin.outside.extend(outside)
        # Every worker collects (and deselects) the whole selection: keep one copy of each id.
        self.plugin.deselected = list(dict.fromkeys([*self.plugin.deselected, *deselected]))
        self.plugin.unmatched = list(dict.fromkeys([*self.plugin.unmatched, *unmatched]))


def pytest_configure(config: pytest.Config) -> None:
    plugin = SdkSuitePlugin(config)
    config.pluginmanager.register(plugin, "mcp-otel-sdk-suite")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController(plugin), "mcp-otel-sdk-suite-xdist")
    plugin.start()
