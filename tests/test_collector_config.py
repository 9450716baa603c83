"""``docs/otel-collector.yaml``, the Collector config of ``docs/multi-worker.md``: valid YAML whose pipelines
name only components it defines, in an order the Collector accepts and the docs describe.

The Collector (a Go binary, ``otelcol-contrib validate``) is not installable from PyPI, so this checks the
structure the Collector would reject first, not every option.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.once]

yaml = pytest.importorskip("yaml", reason="needs pyyaml")

CONFIG = Path(__file__).resolve().parents[1] / "docs" / "otel-collector.yaml"


def test_collector_config_pipelines_name_defined_components() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for name, pipeline in pipelines.items():
        assert set(pipeline) == {"receivers", "processors", "exporters"}, name
        for section in ("receivers", "processors", "exporters"):
            assert pipeline[section], (name, section)
            for component in pipeline[section]:
                assert component in config[section], (name, section, component)
        # memory_limiter first, batch last: the order the Collector documentation recommends
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
    assert pipelines["traces"]["processors"] == ["memory_limiter", "tail_sampling", "batch"]
    used = {c for p in pipelines.values() for section in p.values() for c in section}
    defined = {c for section in ("receivers", "processors", "exporters") for c in config[section]}
    assert defined == used  # nothing defined and left unused


def test_collector_config_samples_errors_slow_requests_and_mcp_sessions() -> None:
    policies = yaml.safe_load(CONFIG.read_text())["processors"]["tail_sampling"]["policies"]
    by_name = {policy["name"]: policy for policy in policies}
    assert by_name["failed-requests"]["status_code"] == {"status_codes": ["ERROR"]}
    assert by_name["slow-requests"]["latency"] == {"threshold_ms": 2000}
    session = by_name["session-sample"]
    assert session["type"] == "and"
    sub = {p["type"]: p for p in session["and"]["and_sub_policy"]}
    assert sub["string_attribute"]["string_attribute"]["key"] == "mcp.session.id"
    assert sub["probabilistic"]["probabilistic"] == {"sampling_percentage": 10}
    for policy in policies:
        assert policy["type"] in policy or policy["type"] == "and", policy
