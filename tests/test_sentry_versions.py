"""What differs between the sentry-sdk versions mcp-otel supports (the ``sentry-*`` nox sessions run the
Sentry tests against the oldest of each path; the ``tests-*`` sessions against the newest).

- ``MCPIntegration`` error events are dropped in every version: since 2.69 they carry mechanism ``mcp``,
  before they are recognised by the frame they were captured in.
- The paths' floors: transactions with any sentry-sdk of the ``sentry`` extra, the OTLP path from 2.45,
  span streaming from 2.75.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

sentry_sdk = pytest.importorskip("sentry_sdk")

from mcp_otel.sentry.mechanism import SENTRY_PYTHON_MODULE, captured_by_sentry_mcp  # noqa: E402
from mcp_otel.sentry.streaming import MIN_SENTRY_SDK, supported  # noqa: E402

SENTRY_SDK_VERSION = tuple(int(part) for part in sentry_sdk.VERSION.split(".")[:3])


def _caught_in(module: str) -> tuple[Any, ...]:
    """The ``exc_info`` a wrapper defined in ``module`` captures with (in its ``except`` block)."""
    namespace: dict[str, Any] = {"__name__": module}
    exec(  # noqa: S102 - a function whose frame belongs to ``module``, as the integration's wrappers do
        "import sys\n"
        "def handler():\n"
        "    raise RuntimeError('kaboom')\n"
        "def wrapper():\n"
        "    try:\n"
        "        handler()\n"
        "    except Exception:\n"
        "        return sys.exc_info()\n",
        namespace,
    )
    exc_info: tuple[Any, ...] = namespace["wrapper"]()
    return exc_info


def _event(mechanism: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "RuntimeError", "value": "kaboom"}
    if mechanism is not None:
        value["mechanism"] = {"type": mechanism, "handled": mechanism != "mcp"}
    return {"exception": {"values": [value]}}


def test_mcp_integration_events_are_recognised_by_mechanism() -> None:
    """sentry-sdk >= 2.69: ``{"type": "mcp", "handled": False}``."""
    assert captured_by_sentry_mcp(_event("mcp"), {})


def test_mcp_integration_events_before_2_69_are_recognised_by_their_frame() -> None:
    """Before 2.69 the integration called ``capture_exception(e)``: mechanism ``generic``, handled."""
    assert captured_by_sentry_mcp(_event("generic"), {"exc_info": _caught_in(SENTRY_PYTHON_MODULE)})
    assert captured_by_sentry_mcp(_event(None), {"exc_info": _caught_in(SENTRY_PYTHON_MODULE)})


def test_a_users_own_capture_is_kept() -> None:
    """``capture_exception`` in a tool (caught in the user's frame) and other mechanisms are not dropped."""
    assert not captured_by_sentry_mcp(_event("generic"), {"exc_info": _caught_in("my_server.tools")})
    assert not captured_by_sentry_mcp(_event("logging"), {"exc_info": sys.exc_info()})
    assert not captured_by_sentry_mcp(_event("auto.ai.mcp_server"), {})
    assert not captured_by_sentry_mcp({}, {})


def test_span_streaming_support_matches_the_floor() -> None:
    """``supported()`` holds from the ``sentry-streaming`` extra's floor on (and is not needed before)."""
    if SENTRY_SDK_VERSION >= MIN_SENTRY_SDK:
        assert supported()


def test_the_otlp_path_needs_otlp_integration() -> None:
    """The OTLP path's floor, 2.45: ``OTLPIntegration`` exists from there on."""
    if SENTRY_SDK_VERSION >= (2, 45, 0):
        from sentry_sdk.integrations.otlp import OTLPIntegration  # noqa: F401
