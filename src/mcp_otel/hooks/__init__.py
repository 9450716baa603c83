"""SDK hooks, one package per mcp generation (``v1`` for mcp 1.x, ``v2`` for mcp 2.x), plus one per framework
built on mcp (``fastmcp`` for the standalone fastmcp package).

Only :func:`hook_sets` asks which mcp version and which frameworks are installed (from the distributions'
metadata: nothing of them is imported); everything else is version-neutral.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mcp_otel.hooks.patching import Patch, Replace
    from mcp_otel.telemetry import Telemetry


class HookSet(Protocol):
    """The hooks of one SDK generation or framework for one instrumentation: they own their state."""

    adopt_sdk_spans: bool

    def patches(self) -> list[Patch | Replace]:
        """Every patch to apply (building the list has no side effect)."""

    def uninstall(self) -> None:
        """Forget per-session state (after the patches were restored)."""

    def state_sizes(self) -> dict[str, int]:
        """How many entries each per-session map holds."""


def installed_mcp_major() -> int | None:
    """The major version of the installed ``mcp`` distribution, or ``None`` when it is not installed."""
    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return None
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return None


def hooks_for_installed_mcp(telemetry: Telemetry) -> HookSet | None:
    """The hook set matching the installed mcp (``None`` for an unsupported or missing mcp)."""
    major = installed_mcp_major()
    if major == 1:
        from mcp_otel.hooks import v1

        return v1.HookSet(telemetry)
    if major == 2:
        from mcp_otel.hooks import v2

        return v2.HookSet(telemetry)
    return None


def framework_hooks(telemetry: Telemetry) -> list[HookSet]:
    """Hook sets of the installed frameworks built on mcp (the standalone ``fastmcp`` distribution),
    applied with the mcp hooks."""
    try:
        metadata.version("fastmcp")
    except metadata.PackageNotFoundError:
        return []
    from mcp_otel.hooks import fastmcp

    return [fastmcp.HookSet(telemetry)]
