"""The one-look-up suppression check agrees with ``is_instrumentation_enabled()`` for each key it reads."""

from __future__ import annotations

import pytest
from opentelemetry import context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation

from mcp_otel.telemetry import unsuppressed_context


@pytest.mark.parametrize(
    "key",
    [
        context._SUPPRESS_INSTRUMENTATION_KEY,  # what suppress_instrumentation() sets
        "suppress_instrumentation",  # the plain key older instrumentations set
    ],
    ids=["context-key", "plain-key"],  # the context key's name carries a per-process uuid
)
def test_each_suppression_key_is_honoured(key: str) -> None:
    token = context.attach(context.set_value(key, True))
    try:
        assert not is_instrumentation_enabled()
        assert unsuppressed_context() is None
    finally:
        context.detach(token)
    assert is_instrumentation_enabled()
    assert unsuppressed_context() is context.get_current()


def test_suppress_instrumentation_context_manager() -> None:
    with suppress_instrumentation():
        assert unsuppressed_context() is None
    assert unsuppressed_context() is context.get_current()
