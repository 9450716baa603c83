"""instrument() / uninstrument(): idempotence, exact restoration, no leftover spans, import order."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wrapt

from support.compat import IS_MCP1, OTEL_SCOPE, REPLACED_TARGETS, SDK_SCOPE, hook_targets
from support.harness import IN_PROCESS, REPO_ROOT, STEP_TIMEOUT, TRANSPORTS, subprocess_env
from support.scenario import ADD_ARGS, run_demo
from support.spans import describe, ours, sdk_spans, server_request_spans

pytestmark = pytest.mark.anyio

TESTS_DIR = Path(__file__).resolve().parent
#: wrapt 2 moved the base proxy class (``FunctionWrapper`` is not a ``wrapt.ObjectProxy`` there).
_WRAPT_PROXY_TYPES = tuple(
    t
    for t in (getattr(wrapt, "BaseObjectProxy", None), wrapt.ObjectProxy, wrapt.FunctionWrapper)
    if t is not None
)
_MISSING = object()

#: Modules an instrumentor may patch; imported before the snapshot so the comparison covers them.
CANDIDATE_MODULES = (
    "mcp",
    "mcp.client.session",
    "mcp.client.sse",
    "mcp.client.stdio",
    "mcp.client.streamable_http",
    "mcp.server.lowlevel.server",
    "mcp.server.session",
    "mcp.server.sse",
    "mcp.server.stdio",
    "mcp.server.streamable_http",
    "mcp.server.streamable_http_manager",
    "mcp.shared.memory",
    "mcp.shared.session",
    "mcp.server.fastmcp.server",
    "mcp.client.client",
    "mcp.server.runner",
    "mcp.server.mcpserver.server",
    "mcp.server.connection",
    "mcp.server._otel",
    "mcp.shared._otel",
    "mcp.shared.jsonrpc_dispatcher",
    "mcp.shared.direct_dispatcher",
)


def _import_candidates() -> None:
    for name in CANDIDATE_MODULES:
        with contextlib.suppress(ImportError):  # modules of the other major line
            importlib.import_module(name)


def _owner_and_attr(module: str, qualname: str) -> tuple[Any, str]:
    owner: Any = importlib.import_module(module)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def _raw(module: str, qualname: str) -> Any:
    """The object stored under ``qualname`` (class ``__dict__`` entry, not a bound/unwrapped view)."""
    owner, attr = _owner_and_attr(module, qualname)
    return vars(owner).get(attr, _MISSING)


def _is_patchable(value: Any) -> bool:
    return (
        inspect.isfunction(value)
        or inspect.isclass(value)
        or inspect.isbuiltin(value)
        or (hasattr(value, "__wrapped__"))
        or isinstance(value, (staticmethod, classmethod, property))
    )


def _snapshot() -> dict[tuple[str, str], Any]:
    """Every function/class/descriptor in the namespaces of loaded mcp modules and their classes."""
    snap: dict[tuple[str, str], Any] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "mcp" or name.startswith(("mcp.", "mcp_types"))):
            continue
        for attr, value in list(vars(module).items()):
            if _is_patchable(value) or attr == "_tracer":
                snap[(name, attr)] = value
            if inspect.isclass(value) and value.__module__ == name:
                for cattr, cvalue in list(vars(value).items()):
                    if _is_patchable(cvalue):
                        snap[(name, f"{attr}.{cattr}")] = cvalue
    return snap


def _changed(before: dict[tuple[str, str], Any]) -> list[str]:
    after = _snapshot()
    return [f"{m}:{q}" for (m, q), v in before.items() if (m, q) in after and after[(m, q)] is not v]


def _is_wrapper(value: Any) -> bool:
    """A wrapt proxy (what a wrapt-based instrumentor installs).

    Not merely ``hasattr(value, "__wrapped__")``: ``functools.wraps`` (e.g. ``@asynccontextmanager`` on 1.x
    ``stdio_server``) sets ``__wrapped__`` on originals too.
    """
    return isinstance(value, _WRAPT_PROXY_TYPES)


@pytest.fixture
def originals() -> dict[str, Any]:
    """The well-known hook targets of the installed mcp, before instrumenting."""
    _import_candidates()
    found = {f"{m}:{q}": _raw(m, q) for m, q in hook_targets()}
    missing = [k for k, v in found.items() if v is _MISSING]
    assert not missing, f"hook targets missing on this mcp (update support.compat.hook_targets): {missing}"
    for key, value in found.items():
        assert not _is_wrapper(value), f"{key} is already wrapped before instrument()"
    return found


def _assert_restored(originals: dict[str, Any]) -> None:
    for key, original in originals.items():
        module, qualname = key.split(":")
        current = _raw(module, qualname)
        assert current is original, f"{key} is not the original object after uninstrument(): {current!r}"
        assert not _is_wrapper(current), f"{key} is still a wrapper"
        assert getattr(current, "__wrapped__", None) is getattr(original, "__wrapped__", None), (
            f"{key}: __wrapped__ differs from the original's"
        )


def _assert_wrapped_once(originals: dict[str, Any]) -> None:
    for key, original in originals.items():
        module, qualname = key.split(":")
        current = _raw(module, qualname)
        assert current is not original, f"{key} is not patched while instrumented"
        if key in REPLACED_TARGETS:
            continue  # replaced by an object, not wrapped
        assert _is_wrapper(current), f"{key} is patched but not by a wrapper: {current!r}"
        assert current.__wrapped__ is original, (
            f"{key}: not exactly one wrapper around the original (__wrapped__ is {current.__wrapped__!r})"
        )


def test_instrument_twice_then_uninstrument_restores_everything(
    instrument: Callable[..., Any], originals: dict[str, Any]
) -> None:
    before = _snapshot()
    instrumentor = instrument()
    instrument()
    _assert_wrapped_once(originals)
    patched = set(_changed(before))
    assert set(originals) <= patched, f"the snapshot misses patched attributes: {set(originals) - patched}"
    instrumentor.uninstrument()
    _assert_restored(originals)
    changed = _changed(before)
    assert changed == [], f"attributes not restored after uninstrument(): {changed}"


def test_uninstrument_twice_is_harmless(instrument: Callable[..., Any], originals: dict[str, Any]) -> None:
    instrumentor = instrument()
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    _assert_restored(originals)


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if t in IN_PROCESS])
async def test_hundred_cycles_leave_one_wrapper(
    instrument: Callable[..., Any], originals: dict[str, Any], connect: Callable[..., Any], transport: str
) -> None:
    before = _snapshot()
    for _ in range(100):
        instrumentor = instrument()
        instrumentor.uninstrument()
    assert _changed(before) == []
    instrument()
    _assert_wrapped_once(originals)
    async with connect(transport) as conn:
        await conn.list_tools()
        await conn.call_tool("add", ADD_ARGS)
    names = [s["name"] for s in server_request_spans(conn.spans())]
    assert names == conn.sent, describe(conn.spans())


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if t != "stdio"])
async def test_no_spans_after_uninstrument(
    instrument: Callable[..., Any], connect: Callable[..., Any], transport: str
) -> None:
    """Uninstrumented, mcp-otel emits nothing; mcp 2.x's own spans come back.

    (Not stdio: that server process is instrumented by the bootstrap.)
    """
    instrumentor = instrument()
    instrumentor.uninstrument()
    async with connect(transport) as conn:
        await run_demo(conn)
    spans = conn.spans()
    assert ours(spans) == [], f"mcp-otel spans after uninstrument(): {describe(ours(spans))}"
    if not IS_MCP1:
        sdk_server = [s for s in sdk_spans(spans) if s["kind"] == "SERVER" and s["name"] == "tools/call add"]
        assert len(sdk_server) == 1, f"the SDK's own SERVER span is not back: {describe(spans)}"
        assert sdk_server[0]["scope"] == SDK_SCOPE


# --------------------------------------------------------------------------------------------------------
# Instrumenting late: servers built before instrument() are reached; names imported before it are reported.


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if t in IN_PROCESS])
async def test_server_built_before_instrument_is_instrumented(
    instrument: Callable[..., Any], span_exporter: Any, transport: str
) -> None:
    """Hooks patch classes, not instances: a server constructed before ``instrument()`` gets every span."""
    from support.harness import DEMO_SCRIPT, ServerSpec, open_client
    from support.servers import build_demo

    server = build_demo()
    instrument()
    async with open_client(
        transport, ServerSpec(build_demo, DEMO_SCRIPT), exporter=span_exporter, server=server
    ) as conn:
        await conn.list_tools()
        await conn.call_tool("add", ADD_ARGS)
    names = [s["name"] for s in server_request_spans(conn.spans())]
    assert names == conn.sent, describe(conn.spans())


def test_names_imported_before_instrument_are_warned_about(
    instrument: Callable[..., Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``from mcp.server.stdio import stdio_server`` before ``instrument()`` keeps the unpatched function
    under that name: ``instrument()`` logs one warning naming it; a name imported afterwards is not named."""
    import types

    import mcp.server.stdio

    early = types.ModuleType("user_app_early")
    early.stdio_server = mcp.server.stdio.stdio_server  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, early.__name__, early)
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        instrument()
    late = types.ModuleType("user_app_late")
    late.stdio_server = mcp.server.stdio.stdio_server  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, late.__name__, late)
    warnings = [
        r.getMessage() for r in caplog.records if "imported mcp transport functions by name" in r.getMessage()
    ]
    assert len(warnings) == 1, warnings
    assert "user_app_early.stdio_server" in warnings[0]
    assert "user_app_late" not in warnings[0]
    assert early.stdio_server is not mcp.server.stdio.stdio_server, "the early alias is still the original"
    assert late.stdio_server is mcp.server.stdio.stdio_server


# --------------------------------------------------------------------------------------------------------
# Import order: instrument() before `import mcp` (fresh interpreter) and after it.

_IMPORT_ORDER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests_dir!r})
    order = {order!r}
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    from opentelemetry import trace
    trace.set_tracer_provider(provider)

    if order == "after":
        import mcp, mcp.server, mcp.client.session  # noqa: E401
        from support.servers import load_demo
        load_demo()
    else:
        assert "mcp" not in sys.modules, "mcp imported too early"

    from mcp_otel import McpInstrumentor
    McpInstrumentor().instrument(tracer_provider=provider)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {hooked!r})

    import anyio
    from support.harness import ServerSpec, open_client, DEMO_SCRIPT
    from support.servers import build_demo
    from support.spans import to_dicts

    async def main():
        async with open_client("memory", ServerSpec(build_demo, DEMO_SCRIPT), exporter=exporter) as conn:
            await conn.list_tools()
            await conn.call_tool("add", {{"a": 2, "b": 3}})
        return conn

    conn = anyio.run(main)
    spans = to_dicts(exporter.get_finished_spans())
    print(json.dumps({{"sent": conn.sent, "spans": spans, "loaded_by_instrument": loaded}}))
    """
)
#: The libraries mcp-otel hooks: ``instrument()`` imports none of them (under ``opentelemetry-instrument``
#: an early ``import mcp`` binds the plain Starlette class before the Starlette instrumentation replaces it).
HOOKED_LIBRARIES = ("mcp", "fastmcp", "starlette")


def _import_order_run(order: str, tmp_path: Path) -> dict[str, Any]:
    script = tmp_path / f"instrument_{order}.py"
    script.write_text(
        _IMPORT_ORDER_SCRIPT.format(tests_dir=str(TESTS_DIR), order=order, hooked=HOOKED_LIBRARIES)
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT * 3,
        env=subprocess_env(),
        cwd=str(REPO_ROOT),
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_instrument_imports_none_of_the_hooked_libraries(tmp_path: Path) -> None:
    """In a fresh interpreter ``instrument()`` leaves ``mcp``, ``fastmcp`` and ``starlette`` unimported, and
    its hooks apply when mcp is imported afterwards (the server spans of the exchange are mcp-otel's)."""
    out = _import_order_run("before", tmp_path)
    assert out["loaded_by_instrument"] == []
    server = server_request_spans(out["spans"])
    assert [s["name"] for s in server] == out["sent"], describe(out["spans"])
    assert {s["scope"] for s in server} == {OTEL_SCOPE}


@pytest.mark.parametrize("order", ["before", "after"])
def test_instrument_before_and_after_import_mcp(order: str, tmp_path: Path) -> None:
    out = _import_order_run(order, tmp_path)
    spans = out["spans"]
    server = server_request_spans(spans)
    assert [s["name"] for s in server] == out["sent"], describe(spans)
    add = next(s for s in server if s["name"] == "tools/call add")
    assert add["scope"] == OTEL_SCOPE
    assert add["attributes"]["gen_ai.tool.name"] == "add"
    assert "network.transport" not in add["attributes"]  # in-memory
    assert sdk_spans(spans) == [], describe(sdk_spans(spans))


@pytest.fixture(autouse=True)
def _always_uninstrumented() -> Iterator[None]:
    """Belt and braces: no test in this module may leave mcp instrumented, whatever it did."""
    yield
    from mcp_otel import McpInstrumentor

    McpInstrumentor().uninstrument()
