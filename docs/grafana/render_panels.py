"""Draw the dashboard's panels from the Prometheus answers ``tests/test_prometheus.py`` asserted.

The test writes every answer (Prometheus API ``result`` lists, by panel title) when
``MCP_OTEL_PROMETHEUS_RESULTS`` names a file::

    MCP_OTEL_PROMETHEUS_RESULTS=/tmp/answers.json nox -s tests-2.3 -- tests/test_prometheus.py
    python docs/grafana/render_panels.py /tmp/answers.json docs/grafana/mcp-servers-panels.png

Needs matplotlib (not a dependency of mcp-otel: ``pip install matplotlib``). Panel titles come from
``mcp-servers.json``, so the picture shows the dashboard's panels with the test's data.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DASHBOARD = Path(__file__).resolve().parent / "mcp-servers.json"
TRANSPORT = {"pipe": "stdio", "tcp": "HTTP"}


def _label(metric: dict[str, str], *keys: str) -> str:
    parts = [metric.get(k, "") for k in keys]
    return " · ".join(TRANSPORT.get(p, p) for p in parts if p)


def _instant(results: list[dict[str, Any]], *keys: str) -> list[tuple[str, float]]:
    rows = [(_label(r["metric"], *keys), float(r["value"][1])) for r in results]
    return sorted(rows, key=lambda row: row[1])


def _bars(ax: Any, title: str, rows: list[tuple[str, float]], fmt: str = "{:g}") -> None:
    labels, values = zip(*rows, strict=True) if rows else ((), ())
    bars = ax.barh(labels, values, color="#3274d9")
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=3, fontsize=8)
    ax.set_title(textwrap.fill(title, 34), fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    ax.margins(x=0.25)


def _pie(ax: Any, title: str, rows: list[tuple[str, float]]) -> None:
    labels, values = zip(*rows, strict=True)
    ax.pie(values, labels=[f"{lab} ({v:g})" for lab, v in zip(labels, values, strict=True)], textprops={"fontsize": 8})
    ax.set_title(textwrap.fill(title, 34), fontsize=10, loc="left")


def _table(ax: Any, title: str, answers: dict[str, list[dict[str, Any]]]) -> None:
    keys = ("mcp_method_name", "gen_ai_tool_name", "mcp_client_name", "network_transport")
    by_key: dict[tuple[str, ...], dict[str, float]] = {}
    for column, results in answers.items():
        for r in results:
            by_key.setdefault(tuple(r["metric"].get(k, "") for k in keys), {})[column] = float(r["value"][1])
    rows = [
        [k[0], k[1], k[2], TRANSPORT.get(k[3], k[3]), f"{v['count']:g}", f"{v['avg'] * 1000:.1f}", f"{v['rate']:.3f}"]
        for k, v in sorted(by_key.items(), key=lambda kv: -kv[1]["count"])
        if not k[0].startswith(("initialize", "notifications/"))
    ]
    ax.axis("off")
    table = ax.table(
        cellText=rows,
        colLabels=["method", "tool", "client", "transport", "count", "avg ms", "error rate"],
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.25)
    ax.set_title(textwrap.fill(title, 34), fontsize=10, loc="left")


def render(answers: dict[str, Any], out: Path) -> None:
    """Draw the panels of :data:`DASHBOARD` that the answers cover into ``out`` (PNG)."""
    titles = [p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]]
    missing = [t for t in titles if t not in answers]
    if missing:
        raise SystemExit(f"no answers for panels {missing}: run tests/test_prometheus.py with the variable set")
    fig = plt.figure(figsize=(16, 20), layout="constrained")
    grid = fig.add_gridspec(5, 3)
    fig.suptitle("MCP servers (mcp-otel) — the dashboard's panels with tests/test_prometheus.py's data", fontsize=13)
    _table(fig.add_subplot(grid[0, :]), titles[0], answers[titles[0]])
    tool_row = ("gen_ai_tool_name", "mcp_client_name", "network_transport")
    _pie(fig.add_subplot(grid[1, 0]), titles[1], _instant(answers[titles[1]], "mcp_client_name"))
    _pie(fig.add_subplot(grid[1, 1]), titles[2], _instant(answers[titles[2]], "network_transport"))
    _bars(fig.add_subplot(grid[1, 2]), titles[3], _instant(answers[titles[3]], *tool_row))
    _bars(fig.add_subplot(grid[2, 0]), titles[4] + " (s)", _instant(answers[titles[4]], "gen_ai_tool_name"), "{:.3f}")
    _bars(fig.add_subplot(grid[2, 1]), titles[5] + " (s)", _instant(answers[titles[5]], "gen_ai_tool_name"), "{:.3f}")
    _bars(fig.add_subplot(grid[2, 2]), titles[6], _instant(answers[titles[6]], *tool_row), "{:.0%}")
    _bars(
        fig.add_subplot(grid[3, 0:2]),
        titles[7],
        _instant(answers[titles[7]], "mcp_method_name", "network_transport"),
        "{:.0%}",
    )
    _bars(fig.add_subplot(grid[3, 2]), titles[8], _instant(answers[titles[8]], "mcp_client_name", "network_transport"))
    ax = fig.add_subplot(grid[4, 0:2])
    start = min(float(t) for r in answers[titles[9]] for t, _ in r["values"])
    for r in answers[titles[9]]:
        ax.step(
            [float(t) - start for t, _ in r["values"]],
            [float(v) for _, v in r["values"]],
            where="post",
            label=TRANSPORT.get(r["metric"]["network_transport"]),
        )
    ax.set_xlabel("seconds since the test's first request (the deploy is between the two phases)", fontsize=8)
    ax.set_title(titles[9], fontsize=10, loc="left")
    ax.legend(fontsize=8)
    _bars(fig.add_subplot(grid[4, 2]), titles[10], _instant(answers[titles[10]], "mcp_client_name", "network_transport"))
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: render_panels.py ANSWERS.json OUT.png")
    render(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
