"""An instruction profile of one configuration: which Python functions a ``tools/call`` round trip executes.

``bench/instructions.py`` counts a whole call; this says where the count goes. It runs ``bench/scenario.py``
under ``valgrind --tool=callgrind`` with CPython's perf trampolines on (``python -X perf``, Python >= 3.12):
every Python function then runs through a small piece of machine code of its own, whose address the
interpreter writes to ``/tmp/perf-<pid>.map``. Callgrind's inclusive count of that address is the function's
inclusive instruction count. As in ``bench/instructions.py``, two runs (``--calls N1`` and ``--calls N2``)
are subtracted, so start-up and warm-up cancel out and each number is per call.

Each function is labelled by who owns it: ``mcp-otel`` (``src/mcp_otel``), ``otel`` (the OpenTelemetry API
and SDK), ``mcp`` (the SDK being instrumented) or ``other``. A generator or coroutine function counts each
resumption (an ``async`` wrapper's count includes what it awaits). Counts are of the outermost activation of
a function (a recursive function's inner activations are inside it).

The bench's virtualenvs use the interpreter that runs ``bench/run.py``; give a Python >= 3.12 virtualenv with
the same packages (``uv venv -p 3.12 DIR && uv pip install -r <a base constraints file of bench/run.py>``):

    python bench/instruction_profile.py --python /tmp/v312/bin/python --config otel-spans --top 40
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario.py"
SRC = HERE.parent / "src"
_LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(\S+)(?:\s+\[.*\])?\s*$")


def _owner(name: str) -> str:
    if "mcp_otel" in name:
        return "mcp-otel"
    if "opentelemetry" in name:
        return "otel"
    if "/mcp/" in name or "/mcp_types/" in name:
        return "mcp"
    return "other"


def _perf_map(pid: int) -> dict[int, str]:
    path = Path(f"/tmp/perf-{pid}.map")
    names: dict[int, str] = {}
    for line in path.read_text().splitlines():
        addr, _size, name = line.split(" ", 2)
        names[int(addr, 16)] = name.removeprefix("py::")
    path.unlink()
    return names


def inclusive(python: str, config: str, calls: int, workdir: Path) -> dict[str, int]:
    """Inclusive instructions of each Python function in one scenario process (outermost activations)."""
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONHASHSEED="0", OTEL_SDK_DISABLED="false")
    for key in [k for k in env if k.startswith(("OTEL_", "SENTRY_")) and k != "OTEL_SDK_DISABLED"]:
        del env[key]
    out = workdir / f"callgrind.{config}.{calls}"
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={out}"]
        + [python, "-X", "perf", str(SCENARIO), "--config", config, "--calls", str(calls), "--warmup", "100"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    found = re.search(r"==(\d+)== Callgrind", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{config}: valgrind run failed:\n{proc.stderr[-2000:]}")
    names = _perf_map(int(found.group(1)))
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out.unlink()
    counts: dict[str, int] = defaultdict(int)
    for line in annotated.splitlines():
        m = _LINE.match(line)
        if m is None or "'" in m.group(3):  # 'N: an inner recursion level, inside the outer one
            continue
        ir, where, function = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
        if where == "???" and function.startswith("0x"):
            name = names.get(int(function, 16))
            if name is not None:
                counts[name] += ir
    return counts


def main(argv: list[str] | None = None) -> int:
    """Print the functions with the most inclusive instructions per call, with their owner."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", required=True, help="a Python >= 3.12 with mcp and OpenTelemetry")
    parser.add_argument("--config", default="otel-spans")
    parser.add_argument("--calls", default="100,300", help="N1,N2: the two call counts")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--owners", default="mcp-otel,otel", help="whose functions to list")
    parser.add_argument("--json", default=None, help="also write every function's count to this file")
    args = parser.parse_args(argv)
    n1, n2 = (int(n) for n in args.calls.split(","))
    owners = set(args.owners.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        first = inclusive(args.python, args.config, n1, Path(tmp))
        second = inclusive(args.python, args.config, n2, Path(tmp))
    per_call = {name: (second[name] - first.get(name, 0)) / (n2 - n1) for name in second}
    if args.json:
        Path(args.json).write_text(json.dumps(per_call, indent=0, sort_keys=True))
    rows = sorted(
        ((v, name) for name, v in per_call.items() if _owner(name) in owners and v > 0), reverse=True
    )
    print(
        f"{args.config}: inclusive instructions per tools/call (calls {n1} → {n2}), owners {sorted(owners)}\n"
    )
    print("| instructions | owner | function |")
    print("|---:|---|---|")
    for value, name in rows[: args.top]:
        qualname, _, filename = name.partition(":")
        short = filename.split("site-packages/")[-1].split("/src/")[-1]
        print(f"| {value:,.0f} | {_owner(name)} | `{qualname}` ({short}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
