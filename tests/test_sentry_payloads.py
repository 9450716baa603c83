"""Sentry loses nothing: every attribute, status and OTLP event Sentry received before the Sentry-only keys
left the vendor-neutral spans still arrives, on every Sentry path.

``tests/data/sentry_payloads/mcp-<version>.json.gz`` holds what Sentry received for the representative
exchange of ``tests/support/sentry_payloads.py`` (tool ok / ``isError`` / exception, log notification,
progress, cancellation, prompt, resource, initialize, client and server side) — captured with
``python tests/support/sentry_payloads.py --all`` on each mcp version of the test matrix from ``main`` at
cf261c7, the last code with the Sentry-only keys on the spans (gzip-compressed JSON; read it with ``zcat``).
A first capture at 2913926 differed from it only where the Sentry JS 11.17 parity pass renamed streamed and
OTLP ``resources/read`` spans on purpose; against both, the change lost nothing. Each test reruns one Sentry
path × transport × privacy setting against the current code and compares record by record, key by key
(``sentry_payloads.lost``): extra keys are allowed, a missing key or a changed value fails. The keys Sentry
JS 11.17 added (``mcp.tool.result.content_type`` on every result, ``mcp.logging.*``, ``mcp.progress.*``,
``mcp.cancelled.*`` on notification spans) were later merged into the matching records from a capture of the
code that sends them — only keys the records lacked, nothing else changed — so they are part of the contract
too. The one intended
value change is ``gen_ai.tool.call.result`` of a non-object result, now the object ``{"content": ...}`` the
GenAI schema asks for.

Do not regenerate the baseline to make this test pass: it is the contract with Sentry's MCP Insights. Change
it only with a deliberate, documented change to what Sentry receives (CHANGELOG).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sentry_sdk.integrations.otlp", reason="OTLPIntegration needs sentry-sdk >= 2.45")

import sentry_sdk  # noqa: E402

from mcp_otel.sentry.streaming import MIN_SENTRY_SDK, supported  # noqa: E402
from support import sentry_payloads  # noqa: E402
from support.compat import MCP_VERSION  # noqa: E402

BASELINES = Path(__file__).resolve().parent / "data" / "sentry_payloads"
SCRIPT = Path(sentry_payloads.__file__).resolve()
VERSION = ".".join(str(MCP_VERSION).split(".")[:2])
BASELINE = BASELINES / f"mcp-{VERSION}.json.gz"
#: The baselines were captured with sentry-sdk 2.76.0; before 2.75 sentry-sdk serialises some fields
#: differently (a child span's ``ok`` status is omitted), which is sentry-sdk's change, not mcp-otel's.
SENTRY_SDK = tuple(int(p) for p in sentry_sdk.VERSION.split(".")[:3] if p.isdigit())
CASES = [
    (p, t, pii)
    for p in sentry_payloads.PATHS
    for t in sentry_payloads.TRANSPORTS
    for pii in sentry_payloads.PII
]


def _baseline() -> dict[str, list[dict[str, Any]]]:
    with gzip.open(BASELINE, "rt", encoding="utf-8") as file:
        data: dict[str, list[dict[str, Any]]] = json.load(file)
    return data


@pytest.mark.skipif(not BASELINE.exists(), reason=f"no Sentry payload baseline for mcp {VERSION}")
@pytest.mark.skipif(SENTRY_SDK < MIN_SENTRY_SDK, reason="baselines captured with sentry-sdk 2.76")
@pytest.mark.parametrize(("path", "transport", "pii"), CASES, ids=["/".join(case) for case in CASES])
def test_sentry_receives_everything_it_received_before(path: str, transport: str, pii: str) -> None:
    if path == "stream" and not supported():
        pytest.skip("sentry-sdk without span streaming")
    before = _baseline()[f"{path}/{transport}/{pii}"]
    assert len(before) >= 30, "the baseline lost its records"
    if path.startswith("otlp"):
        assert any(r["events"] for r in before), "the OTLP baseline has the progress/cancel events"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), path, transport, pii], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-4000:]
    after = json.loads(result.stdout)
    assert sentry_payloads.lost(before, after) == []


def test_the_comparison_catches_a_loss() -> None:
    """``lost`` is not vacuous: a dropped key, a changed value, a lost event and a lost record all count."""
    record = {
        "kind": "otlp",
        "op": "mcp.server",
        "name": "tools/call add",
        "status": 0,
        "kind_otel": 2,
        "data": {"mcp.transport": "stdio", "mcp.tool.result.is_error": False},
        "events": [{"name": "mcp.progress", "attributes": {"mcp.progress.current": 1}}],
    }
    assert sentry_payloads.lost([record], [record]) == []
    assert sentry_payloads.lost([record], [{**record, "data": {**record["data"], "extra": 1}}]) == []
    dropped = {**record, "data": {"mcp.transport": "stdio"}}
    assert sentry_payloads.lost([record], [dropped]) == [
        "('otlp', 'mcp.server', 'tools/call add', 2): lost mcp.tool.result.is_error=False"
    ]
    changed = {**record, "data": {**record["data"], "mcp.transport": "http"}}
    assert len(sentry_payloads.lost([record], [changed])) == 1
    assert len(sentry_payloads.lost([record], [{**record, "events": []}])) == 1
    # an event with more attributes keeps the old one; one without an old attribute does not
    progress = record["events"][0]
    more = {**progress, "attributes": {**progress["attributes"], "mcp.progress.total": 2}}
    assert sentry_payloads.lost([record], [{**record, "events": [more]}]) == []
    assert len(sentry_payloads.lost([record], [{**record, "events": [{**progress, "attributes": {}}]}])) == 1
    assert len(sentry_payloads.lost([record], [])) == 1
    wrapped = {"gen_ai.tool.call.result": json.dumps({"content": [1]})}
    assert (
        sentry_payloads.lost(
            [{**record, "data": {"gen_ai.tool.call.result": "[1]"}}], [{**record, "data": wrapped}]
        )
        == []
    )
