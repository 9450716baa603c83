"""Apply and undo wrapt wrappers by module name, when (or as soon as) each module is imported.

Every patch records the exact object it replaced, so :meth:`Patcher.restore` puts back the original object
itself (``is``-identical), including aliases that imported an already-wrapped function by name.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

from mcp_otel._guard import log_failure_once

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


# The wrappers mcp-otel installed, by id (kept alive while installed). A registry rather than a subclass of
# ``wrapt.FunctionWrapper``: a Python subclass makes every call of the wrapped method bind through
# Python-level type slots (about 0.5 µs per call on the request path).
_installed: dict[int, wrapt.FunctionWrapper] = {}  # type: ignore[type-arg]


def is_mcp_otel_wrapper(obj: Any) -> bool:
    """Whether ``obj`` is a wrapper mcp-otel installed (and has not removed)."""
    return _installed.get(id(obj)) is obj


@dataclass(frozen=True)
class Patch:
    """Wrap ``module:qualname`` (``"Class.method"`` or ``"function"``) with ``wrapper`` (wrapt signature)."""

    module: str
    qualname: str
    wrapper: Wrapper


@dataclass(frozen=True)
class Replace:
    """Set ``module:qualname`` to the object ``factory(original)`` returns (for non-callable attributes)."""

    module: str
    qualname: str
    factory: Callable[[Any], Any]


_hook_lock = threading.Lock()
_registered_modules: set[str] = set()
_active_patchers: list[Patcher] = []


def _on_import(module: Any) -> None:
    for patcher in list(_active_patchers):
        patcher.apply_module(module.__name__)


class Patcher:
    """Applies a list of patches now for imported modules and later, by post-import hook, for the rest."""

    def __init__(self, patches: list[Patch | Replace]) -> None:
        self._patches = patches
        # (owner, attr, had_own_attr, original, the wrapper installed or None)
        self._applied: list[tuple[Any, str, bool, Any, Any]] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Patch imported modules now and register post-import hooks (once per module) for the others."""
        _active_patchers.append(self)
        for name in sorted({p.module for p in self._patches}):
            if name in sys.modules:
                self.apply_module(name)
            with _hook_lock:
                if name not in _registered_modules:
                    _registered_modules.add(name)
                    wrapt.register_post_import_hook(_on_import, name)

    def apply_module(self, module_name: str) -> None:
        """Apply the patches of one (imported) module; a patch whose target is missing is skipped."""
        module = sys.modules.get(module_name)
        if module is None:
            return
        for patch in self._patches:
            if patch.module != module_name:
                continue
            try:
                self._apply(module, patch)
            except Exception:
                log_failure_once(f"patch {patch.module}:{patch.qualname}")

    def _apply(self, module: Any, patch: Patch | Replace) -> None:
        *path, attr = patch.qualname.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part, None)
            if owner is None:
                return
        if not hasattr(owner, attr):
            return
        with self._lock:
            if any(o is owner and a == attr for o, a, _, _, _ in self._applied):
                return
            had_own = attr in vars(owner)
            current = vars(owner)[attr] if had_own else getattr(owner, attr)
            wrapper = None
            if isinstance(patch, Replace):
                original = current
                setattr(owner, attr, patch.factory(current))
            elif is_mcp_otel_wrapper(current):
                # An alias imported a function already wrapped here (by name): restore it to the original.
                original = current.__wrapped__
            else:
                original = current
                wrapper = wrapt.FunctionWrapper(current, patch.wrapper)
                _installed[id(wrapper)] = wrapper
                setattr(owner, attr, wrapper)
            self._applied.append((owner, attr, had_own, original, wrapper))

    def stale_aliases(self) -> list[str]:
        """Names in other modules still bound to an original this patcher replaced (imported by name before
        ``instrument()``): ``"module.name"`` for each, so the instrumentor can warn that they bypass it."""
        with self._lock:
            originals = {
                id(original): original
                for owner, _, _, original, _ in self._applied
                if isinstance(owner, type(sys)) and callable(original)
            }
            patched_owners = {id(owner) for owner, _, _, _, _ in self._applied}
        found = []
        seen: set[int] = set()
        for name, module in list(sys.modules.items()):
            if module is None or id(module) in patched_owners or name.startswith(("mcp.", "mcp_otel")):
                continue
            if id(module) in seen:  # the same module under two names (__main__ / __mp_main__)
                continue
            seen.add(id(module))
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for attr, value in list(namespace.items()):
                if id(value) in originals and originals[id(value)] is value:
                    found.append(f"{name}.{attr}")
        return sorted(found)

    def restore(self) -> None:
        """Put every replaced attribute back to its original object and stop patching new imports."""
        if self in _active_patchers:
            _active_patchers.remove(self)
        with self._lock:
            applied, self._applied = self._applied, []
        for owner, attr, had_own, original, wrapper in reversed(applied):
            if wrapper is not None:
                _installed.pop(id(wrapper), None)
            try:
                if had_own:
                    setattr(owner, attr, original)
                else:
                    delattr(owner, attr)
            except Exception:
                log_failure_once(f"restore {attr}")
