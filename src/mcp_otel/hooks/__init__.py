"""SDK hooks, one module per mcp generation (``v1`` for mcp 1.x, ``v2`` for mcp 2.x), plus one per framework
built on mcp (``fastmcp`` for the standalone fastmcp package).

Only :func:`hooks_for_installed_mcp` asks which mcp version is installed, and :func:`framework_hooks` which
frameworks are; everything else is version-neutral.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType


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


def hooks_for_installed_mcp() -> ModuleType | None:
    """The hooks module matching the installed mcp (``None`` for an unsupported or missing mcp)."""
    major = installed_mcp_major()
    if major == 1:
        from mcp_otel.hooks import v1

        return v1
    if major == 2:
        from mcp_otel.hooks import v2

        return v2
    return None


def framework_hooks() -> list[ModuleType]:
    """Hook modules of the installed frameworks built on mcp (the standalone ``fastmcp`` distribution).

    Each has ``patches(telemetry)`` (applied with the mcp hooks) and ``uninstall()``.
    """
    try:
        metadata.version("fastmcp")
    except metadata.PackageNotFoundError:
        return []
    from mcp_otel.hooks import fastmcp

    return [fastmcp]
