"""Names from the hooked libraries, imported the first time a hook uses them (never by ``instrument()``).

``instrument()`` must import nothing of ``mcp``, ``fastmcp`` or ``starlette``: under
``opentelemetry-instrument`` an early ``import mcp`` binds the plain ``starlette.applications.Starlette``
inside mcp before the Starlette instrumentation replaces it. Hooks run only once their SDK module is
imported, so importing there is free; the attribute is then cached on the :class:`LazyModule`.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """``LazyModule("mcp.types").CallToolResult``: the module is imported on first attribute access, and
    each attribute read is cached on this object (later reads are plain attribute lookups)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


def cancelled_exception() -> type[BaseException]:
    """The cancellation exception class of the running async backend (anyio's view)."""
    import anyio

    cls: type[BaseException] = anyio.get_cancelled_exc_class()
    return cls


__all__ = ["LazyModule", "cancelled_exception"]
