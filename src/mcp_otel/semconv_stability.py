"""``OTEL_SEMCONV_STABILITY_OPT_IN``: which side of a pending semantic-convention rename mcp-otel writes.

Upstream renames keys between releases (core semantic-conventions ``main`` renamed
``rpc.response.status_code`` to ``rpc.status_code`` after v1.44.0, #3921); the MCP conventions will follow.
Like the contrib instrumentations, mcp-otel lets users move when they are ready:
``OTEL_SEMCONV_STABILITY_OPT_IN`` is a comma-separated list of categories; for a category ``c``:

- absent (the default): the current key only;
- ``c``: the new key only;
- ``c/dup``: both keys (``c/dup`` wins when both ``c`` and ``c/dup`` are listed).

These are the semantics of ``opentelemetry.instrumentation._semconv`` (split on commas, items stripped, the
``/dup`` form first), whose helpers know only the ``http``, ``database`` and ``gen_ai`` categories, so they
cannot be reused for ``rpc`` here. The variable is read once, when ``instrument()`` runs.

Every key with a pending rename is one :data:`RENAMES` entry; the telemetry core writes its keys through the
resolved :class:`SemconvKeys`, on spans and on metric points alike, so the next rename is one more entry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from mcp_otel.semconv import attributes as attr

ENV_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""The environment variable the OpenTelemetry instrumentations share for semantic-convention migrations."""


class StabilityMode(Enum):
    """What a category's opt-in asks for."""

    DEFAULT = "default"
    """The current key only."""
    NEW = "new"
    """The new key only (``<category>``)."""
    DUP = "dup"
    """Both keys (``<category>/dup``)."""


@dataclass(frozen=True)
class Rename:
    """One pending rename: ``old`` becomes ``new``; ``category`` is the opt-in token that selects it."""

    category: str
    old: str
    new: str


RENAMES: Final[tuple[Rename, ...]] = (Rename("rpc", attr.RPC_RESPONSE_STATUS_CODE, attr.RPC_STATUS_CODE),)
"""Every rename mcp-otel supports (add an entry, and the key to ``semconv/otel/``, for the next one)."""


def stability_mode(category: str, opt_in: str | None) -> StabilityMode:
    """The mode ``opt_in`` (the variable's value) selects for ``category``."""
    if not opt_in:
        return StabilityMode.DEFAULT
    items = [item.strip() for item in opt_in.split(",")]
    if f"{category}/dup" in items:
        return StabilityMode.DUP
    if category in items:
        return StabilityMode.NEW
    return StabilityMode.DEFAULT


@dataclass(frozen=True)
class SemconvKeys:
    """The keys to write for each key with a pending rename, resolved once per ``instrument()``.

    Attributes:
        renames: ``{old key: keys to write}`` for the renames the opt-in selected (empty by default, so the
            hot path skips renaming with one truth test).
    """

    renames: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SemconvKeys:
        """Resolve :data:`RENAMES` against ``OTEL_SEMCONV_STABILITY_OPT_IN`` (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        opt_in = env.get(ENV_SEMCONV_STABILITY_OPT_IN)
        renames: dict[str, tuple[str, ...]] = {}
        for rename in RENAMES:
            mode = stability_mode(rename.category, opt_in)
            if mode is StabilityMode.NEW:
                renames[rename.old] = (rename.new,)
            elif mode is StabilityMode.DUP:
                renames[rename.old] = (rename.old, rename.new)
        return cls(renames)

    def keys(self, key: str) -> tuple[str, ...]:
        """The keys to write for ``key``: ``(key,)`` unless a selected rename moves it."""
        return self.renames.get(key, (key,))

    def rename(self, attributes: MutableMapping[str, Any]) -> None:
        """Move (or duplicate) the keys of ``attributes`` that a selected rename covers, in place."""
        for old, keys in self.renames.items():
            if old in attributes:
                value = attributes.pop(old)
                for key in keys:
                    attributes[key] = value

    def metric_keys(self, keys: frozenset[str]) -> frozenset[str]:
        """The attribute keys metric points may carry, with the selected renames applied to ``keys``."""
        if not self.renames:
            return keys
        return frozenset(new for key in keys for new in self.keys(key))
