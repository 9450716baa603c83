"""A listener that keeps every fact the telemetry core hands out (``mcp_otel.facts``), for assertions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mcp_otel import listeners
from mcp_otel.telemetry import OperationView


@dataclass
class Fact:
    """One fact: which side (span kind name) and method it is about, its name and value, and whether the
    operation's span was still recording when it was handed out."""

    kind: str
    method: str
    name: str
    value: Any
    recording: bool


@dataclass(eq=False)  # listeners are told apart by identity
class FactRecorder(listeners.McpListener):
    """Keeps the facts in order; :meth:`of` filters them."""

    facts: list[Fact] = field(default_factory=list)

    def on_fact(self, operation: OperationView, fact: str, value: Any) -> None:
        self.facts.append(
            Fact(operation.kind.name, operation.method, fact, value, operation.span.is_recording())
        )

    def of(self, name: str, kind: str | None = None, method: str | None = None) -> list[Any]:
        """The values of the facts called ``name`` (of one side / method when given)."""
        return [
            f.value
            for f in self.facts
            if f.name == name and (kind is None or f.kind == kind) and (method is None or f.method == method)
        ]


@contextlib.contextmanager
def recording() -> Iterator[FactRecorder]:
    """A :class:`FactRecorder` registered for the ``with`` block."""
    recorder = FactRecorder()
    listeners.add_listener(recorder)
    try:
        yield recorder
    finally:
        listeners.remove_listener(recorder)
