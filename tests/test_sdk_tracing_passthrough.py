"""The pass-throughs that replace mcp 2.x's silenced OpenTelemetry middleware and dispatcher span."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import INVALID_SPAN, SpanKind

from mcp_otel.hooks.v2.server import dispatcher_span, skip_sdk_middleware


@pytest.mark.anyio
async def test_middleware_passthrough_returns_call_next_awaitable() -> None:
    seen: list[Any] = []

    async def call_next(ctx: Any) -> str:
        seen.append(ctx)
        return "result"

    def original(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the original middleware must not run")

    passthrough = skip_sdk_middleware(original)
    awaitable = passthrough(object(), "ctx", call_next)
    assert await awaitable == "result"
    assert seen == ["ctx"]


def test_middleware_passthrough_hands_an_unknown_call_to_the_original() -> None:
    calls: list[tuple[Any, ...]] = []

    def original(self: Any, *args: Any, **kwargs: Any) -> str:
        calls.append((self, args, kwargs))
        return "original"

    passthrough = skip_sdk_middleware(original)
    assert passthrough("self", "a", "b", "c") == "original"
    assert calls == [("self", ("a", "b", "c"), {})]


@pytest.mark.parametrize("kind", [SpanKind.CLIENT, SpanKind.SERVER, None])
def test_dispatcher_span_is_the_invalid_span_and_attaches_nothing(kind: SpanKind | None) -> None:
    from opentelemetry import context

    before = context.get_current()
    with dispatcher_span("MCP send tools/call", kind=kind, attributes={"jsonrpc.request.id": "7"}) as span:
        assert span is INVALID_SPAN
        assert context.get_current() is before
    assert context.get_current() is before


def test_dispatcher_span_propagates_the_body_exception() -> None:
    with (
        pytest.raises(ValueError, match="boom"),
        dispatcher_span("MCP send x", kind=SpanKind.CLIENT, attributes={}),
    ):
        raise ValueError("boom")
