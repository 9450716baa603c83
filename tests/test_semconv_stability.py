"""``OTEL_SEMCONV_STABILITY_OPT_IN`` and the pending rename to ``rpc.status_code``.

The default writes the current key, ``rpc`` the new one, ``rpc/dup`` both, on spans and on metric points
alike; the variable follows the semantics of ``opentelemetry.instrumentation._semconv`` (comma-separated,
items stripped, ``/dup`` wins) and is read once, when ``instrument()`` runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv_stability import (
    ENV_SEMCONV_STABILITY_OPT_IN,
    RENAMES,
    SemconvKeys,
    StabilityMode,
    stability_mode,
)
from support.metrics import metric_points
from support.spans import to_dicts

pytestmark = pytest.mark.anyio

OLD, NEW = attr.RPC_RESPONSE_STATUS_CODE, attr.RPC_STATUS_CODE


@pytest.mark.parametrize(
    ("opt_in", "mode"),
    [
        (None, StabilityMode.DEFAULT),
        ("", StabilityMode.DEFAULT),
        ("rpc", StabilityMode.NEW),
        (" rpc ", StabilityMode.NEW),  # items are stripped
        ("http,rpc", StabilityMode.NEW),
        ("rpc/dup", StabilityMode.DUP),
        ("rpc,rpc/dup", StabilityMode.DUP),  # /dup wins
        ("rpc/dup, rpc", StabilityMode.DUP),
        ("RPC", StabilityMode.DEFAULT),  # as in opentelemetry-instrumentation: values are case-sensitive
        ("database/dup,gen_ai_latest_experimental", StabilityMode.DEFAULT),
        ("rpcx", StabilityMode.DEFAULT),
    ],
)
def test_opt_in_semantics(opt_in: str | None, mode: StabilityMode) -> None:
    assert stability_mode("rpc", opt_in) is mode


def test_the_rename_table() -> None:
    assert [(r.category, r.old, r.new) for r in RENAMES] == [("rpc", OLD, NEW)]
    assert (OLD, NEW) == ("rpc.response.status_code", "rpc.status_code")
    default = SemconvKeys.from_env({})
    assert default.renames == {} and default.keys(OLD) == (OLD,)
    assert SemconvKeys.from_env({ENV_SEMCONV_STABILITY_OPT_IN: "rpc"}).keys(OLD) == (NEW,)
    dup = SemconvKeys.from_env({ENV_SEMCONV_STABILITY_OPT_IN: "rpc/dup"})
    assert dup.keys(OLD) == (OLD, NEW) and dup.keys(attr.ERROR_TYPE) == (attr.ERROR_TYPE,)
    assert dup.metric_keys(frozenset({OLD, attr.ERROR_TYPE})) == {OLD, NEW, attr.ERROR_TYPE}
    values: dict[str, Any] = {OLD: "-32602", attr.ERROR_TYPE: "x"}
    SemconvKeys.from_env({ENV_SEMCONV_STABILITY_OPT_IN: "rpc"}).rename(values)
    assert values == {NEW: "-32602", attr.ERROR_TYPE: "x"}


@pytest.mark.parametrize(
    ("opt_in", "keys"), [(None, {OLD}), ("rpc", {NEW}), ("rpc/dup", {OLD, NEW}), ("http", {OLD})]
)
async def test_spans_and_metric_points(
    opt_in: str | None,
    keys: set[str],
    instrument: Any,
    connect: Any,
    span_exporter: Any,
    metric_reader: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A JSON-RPC error (an unknown tool): the status code under the selected keys, client and server side,
    on spans and on the duration points; nothing of the other key."""
    if opt_in is None:
        monkeypatch.delenv(ENV_SEMCONV_STABILITY_OPT_IN, raising=False)
    else:
        monkeypatch.setenv(ENV_SEMCONV_STABILITY_OPT_IN, opt_in)
    instrument()
    monkeypatch.setenv(ENV_SEMCONV_STABILITY_OPT_IN, "rpc/dup" if opt_in != "rpc/dup" else "rpc")  # too late
    async with connect("memory") as conn:
        code = await conn.request_error(
            "prompts/get", {"name": "no-such-prompt"}, "prompts/get no-such-prompt"
        )
    spans = [
        s
        for s in to_dicts(span_exporter.get_finished_spans())
        if s["attributes"].get("mcp.method.name") == "prompts/get"
    ]
    assert {s["kind"] for s in spans} == {"CLIENT", "SERVER"}
    for span in spans:
        found = {k for k in (OLD, NEW) if k in span["attributes"]}
        assert found == keys, (span["kind"], span["attributes"])
        assert {span["attributes"][k] for k in found} == {str(code)}
    points = [p for p in metric_points(metric_reader) if p["name"].endswith(".operation.duration")]
    failed = [p for p in points if p["attributes"].get("mcp.method.name") == "prompts/get"]
    assert {p["name"] for p in failed} == {"mcp.client.operation.duration", "mcp.server.operation.duration"}
    for point in failed:
        assert {k for k in (OLD, NEW) if k in point["attributes"]} == keys, point
