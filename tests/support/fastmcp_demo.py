"""The demo server on standalone fastmcp, its instrumenting, and span shapes to compare (``test_fastmcp.py``).

``tests/test_fastmcp.py`` runs in a virtualenv with fastmcp 2.x (on mcp 1.x) or 4.x (on mcp 2.x); elsewhere it
is skipped. The helpers compare what mcp-otel records for a fastmcp server with what it records for the SDK's
own server (``examples/demo_server.py``) on the same exchange.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from support.compat import OTEL_SCOPE  # noqa: E402
from support.spans import Span  # noqa: E402

#: ``python tests/support/fastmcp_demo.py`` serves the demo server over stdio.
FASTMCP_SERVER_SCRIPT = Path(__file__).resolve()
SERVER_NAME = "demo-weather"
FASTMCP_SCOPE = "fastmcp"

#: Attributes whose values differ between two runs or two servers of the same exchange.
VOLATILE = frozenset(
    {"jsonrpc.request.id", "mcp.server.version", "mcp.session.id", "session.id", "client.port", "server.port"}
)


def fastmcp_version() -> tuple[int, ...] | None:
    """The installed fastmcp version, or ``None``."""
    try:
        version = metadata.version("fastmcp")
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())


def fastmcp_major() -> int | None:
    version = fastmcp_version()
    return version[0] if version else None


def build_fastmcp_demo(name: str = SERVER_NAME) -> Any:
    """The demo server (``examples/demo_server.py``) on standalone fastmcp. Build after instrumenting."""
    from fastmcp import FastMCP

    server = FastMCP(name)

    @server.tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool
    def forecast(city: str) -> str:
        """Return a (made up) weather forecast for ``city``."""
        return f"Sunny in {city}, 21 °C"

    @server.tool
    def fail(reason: str) -> str:
        """Always fails: raises ValueError with ``reason``."""
        raise ValueError(f"forecast backend unavailable: {reason}")

    @server.prompt
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Write a friendly greeting for {name}."

    @server.resource("demo://info")
    def info() -> str:
        """Static server information."""
        return "demo-weather: a sample MCP server"

    return server


def instrumentor_applied_fastmcp_hooks() -> bool:
    """Whether ``McpInstrumentor.instrument()`` applied ``mcp_otel.hooks.fastmcp`` (the wiring is done)."""
    from fastmcp.client.client import Client

    from mcp_otel.hooks.patching import is_mcp_otel_wrapper

    return is_mcp_otel_wrapper(vars(Client).get("__aenter__"))


@contextlib.contextmanager
def fastmcp_hooks(
    instrumentor: Any, tracer_provider: Any, meter_provider: Any, **options: Any
) -> Iterator[None]:
    """Make sure the fastmcp hooks are active next to an instrumented ``McpInstrumentor``.

    When the instrumentor applies them itself (wired in ``mcp_otel.hooks``), nothing is done; otherwise they
    are applied here with a :class:`~mcp_otel.hooks.patching.Patcher`, as the instrumentor would.
    """
    if instrumentor_applied_fastmcp_hooks():
        yield
        return
    from opentelemetry.metrics import get_meter
    from opentelemetry.trace import get_tracer

    from mcp_otel.config import McpOtelConfig
    from mcp_otel.hooks import fastmcp as hooks
    from mcp_otel.hooks.patching import Patcher
    from mcp_otel.telemetry import Telemetry

    telemetry = Telemetry(
        get_tracer("mcp_otel", tracer_provider=tracer_provider),
        get_meter("mcp_otel", meter_provider=meter_provider),
        McpOtelConfig.from_kwargs(options),
    )
    hook_set = hooks.HookSet(telemetry)
    patcher = Patcher(hook_set.patches())
    patcher.start()
    try:
        yield
    finally:
        patcher.restore()
        hook_set.uninstall()


# --- span shapes


def shape(span: Span, by_id: dict[str, Span]) -> tuple[Any, ...]:
    """What must match between two servers: scope, kind, name, status, the parent's name and kind, the
    attribute keys and stable values, and the exception events' types."""
    parent = by_id.get(span["parent_span_id"] or "")
    attrs = {k: v for k, v in span["attributes"].items() if k not in VOLATILE}
    exceptions = sorted(
        str(e["attributes"].get("exception.type")) for e in span["events"] if e["name"] == "exception"
    )
    return (
        span["scope"],
        span["kind"],
        span["name"],
        span["status"],
        (parent["kind"], parent["name"]) if parent else None,
        tuple(sorted(attrs.items())),
        tuple(exceptions),
    )


def shapes(spans: list[Span], scope: str = OTEL_SCOPE) -> list[tuple[Any, ...]]:
    """Shapes of the spans of ``scope``, sorted (the order of concurrent spans is not stable)."""
    index = {s["span_id"]: s for s in spans}
    return sorted((shape(s, index) for s in spans if s["scope"] == scope), key=repr)


def _hook_this_process() -> contextlib.AbstractContextManager[None]:
    """In a server process run by ``mcp_otel.bootstrap``: the fastmcp hooks next to the instrumentor."""
    from opentelemetry import metrics, trace

    from mcp_otel import McpInstrumentor

    instrumentor = McpInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        return contextlib.nullcontext()
    return fastmcp_hooks(instrumentor, trace.get_tracer_provider(), metrics.get_meter_provider())


if __name__ == "__main__":  # the fastmcp demo server over stdio (or the transport named by argv[1])
    with _hook_this_process():
        build_fastmcp_demo().run(sys.argv[1] if len(sys.argv) > 1 else "stdio")
