"""The SDK-suite plugin's virtualenv guard (tests/sdk_suite/mcp_otel_sdk_suite.py): a run fails when mcp,
mcp-otel or pytest change under it, as they did when a test's ``uv run`` synced the SDK's lockfile into the
session's virtualenv and removed them."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "sdk_suite"))
from mcp_otel_sdk_suite import environment_changes, installed_versions  # noqa: E402

sys.path.pop(0)

pytestmark = [pytest.mark.once]


def test_installed_versions_reads_the_virtualenv() -> None:
    found = installed_versions(("pytest", "mcp", "no-such-distribution-mcp-otel"))
    assert found == {
        "pytest": metadata.version("pytest"),
        "mcp": metadata.version("mcp"),
        "no-such-distribution-mcp-otel": None,
    }


def test_a_removed_or_replaced_distribution_is_a_change() -> None:
    before = {"mcp": "1.30.0", "mcp-otel": "0.1.0", "pytest": "9.2.0"}
    assert environment_changes(before, dict(before)) == []
    after = {"mcp": "1.31.0.dev3", "mcp-otel": None, "pytest": "9.2.0"}
    assert environment_changes(before, after) == ["mcp: 1.30.0 -> 1.31.0.dev3", "mcp-otel: 0.1.0 -> missing"]
