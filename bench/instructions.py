"""Instructions per ``tools/call``, counted by valgrind: the benchmark's noise-free complement.

Wall-clock and CPU time on a shared machine move by 10-30 % between processes; the number of machine
instructions a round trip executes does not (runs repeat within about 0.5 %). This runs
``bench/scenario.py`` under ``valgrind --tool=cachegrind --cache-sim=no`` twice per configuration, with
``--calls N1`` and ``--calls N2``, and reports ``(Ir(N2) - Ir(N1)) / (N2 - N1)``: the instructions of one
call, start-up and warm-up cancelled out. It prints each configuration's Δ against ``none`` (a peer's against
``none`` in the peer's own virtualenv) and the ratios of ``run.BUDGET`` computed from instructions.

Instructions are not time: they do not count cache misses, and OpenTelemetry's attribute validation is
instruction-heavy but cache-friendly. Use them to compare two versions of the code, and ``bench/run.py``
for the budget itself. Needs ``valgrind`` (Debian: ``apt-get install valgrind``); each configuration takes
about 40 s, two run at a time.

    python bench/instructions.py                                 # mcp 2.3.0, the budget's configurations
    python bench/instructions.py --mcp 1.30.0                    # mcp 1.30.0 against Traceloop
    python bench/instructions.py --configs none,otel-spans --calls 100,300
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the driver's virtualenvs)

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario.py"
SRC = HERE.parent / "src"
DEFAULT_CONFIGS = {
    "2": "none,sdk-spans,sdk-spans-metrics,sdk-spans-metrics-min,otel-spans,otel-metrics",
    "1": "none,otel-spans,otel-metrics,traceloop",
}
_IR = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(python: str, config: str, calls: int) -> int:
    """Instructions of one scenario process (``calls`` timed calls after 100 warm-up calls)."""
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONHASHSEED="0", OTEL_SDK_DISABLED="false")
    for key in [k for k in env if k.startswith(("OTEL_", "SENTRY_")) and k != "OTEL_SDK_DISABLED"]:
        del env[key]
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            python,
            str(SCENARIO),
            "--config",
            config,
            "--calls",
            str(calls),
            "--warmup",
            "100",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    found = _IR.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{config}: valgrind run failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_call(python: str, config: str, n1: int, n2: int) -> float:
    """Instructions of one ``tools/call`` round trip of ``config``."""
    return (instructions(python, config, n2) - instructions(python, config, n1)) / (n2 - n1)


def _ratio(delta: float | None, reference: float | None) -> float | None:
    return delta / reference if delta is not None and reference is not None and reference > 0 else None


def main(argv: list[str] | None = None) -> int:
    """Print instructions per call for each configuration, Δ against ``none``, and the budget's ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mcp", default="2.3.0", help="mcp version (a base virtualenv of bench/run.py)")
    parser.add_argument(
        "--configs",
        default=None,
        help=f"default: {DEFAULT_CONFIGS['2']} (mcp 2.x), {DEFAULT_CONFIGS['1']} (mcp 1.x)",
    )
    parser.add_argument("--calls", default="200,600", help="N1,N2: the two call counts")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    n1, n2 = (int(n) for n in args.calls.split(","))
    major = args.mcp.split(".")[0]
    configs = [c for c in (args.configs or DEFAULT_CONFIGS[major]).split(",") if c]
    # a peer runs in its own virtualenv (bench/run.py's) and is measured against `none` in that virtualenv
    env_names = {run.CONFIG_ENV.get(c, "base") for c in configs} | {"base"}
    envs = run.prepare_envs(run._cache_dir(args.cache_dir), [args.mcp], env_names)
    pythons: dict[str, str] = {}
    for name in sorted(env_names):
        env = envs[f"{args.mcp}/{name}"]
        if not env.python:
            print(f"no {name} virtualenv for mcp {args.mcp}: {env.error}", file=sys.stderr)
            return 2
        pythons[name] = env.python
    jobs = [(run.CONFIG_ENV.get(c, "base"), c) for c in configs]
    jobs += [(name, "none") for name in sorted(env_names) if (name, "none") not in jobs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        measured = list(pool.map(lambda job: per_call(pythons[job[0]], job[1], n1, n2), jobs))
    counts = dict(zip(jobs, measured, strict=True))

    def delta(config: str) -> float | None:
        env = run.CONFIG_ENV.get(config, "base")
        count, base = counts.get((env, config)), counts.get((env, "none"))
        return None if count is None or base is None else count - base

    reference = delta("sdk-spans")
    print(f"mcp {args.mcp}: instructions per tools/call (in-memory JSON-RPC; calls {n1} → {n2})\n")
    print("| configuration | instructions | Δ against none | Δ / sdk-spans Δ |")
    print("|---|---:|---:|---:|")
    for (env, config), count in counts.items():
        d = delta(config)
        if env != "base":
            config = f"{config} ({env} virtualenv)"
        ratio = _ratio(d, reference)
        print(
            f"| {config} | {count:,.0f} | {'' if d is None else f'{d:+,.0f}'} | "
            f"{'' if ratio is None else f'{ratio:.2f}'} |"
        )
    print(f"\nBudget (instructions; bench/run.py's BUDGET for mcp {major}.x):\n")
    print("| configuration | reference | Δ | reference Δ | ratio | budget |")
    print("|---|---|---:|---:|---:|---|")
    for line, config, ref, limit in run.BUDGET:
        if line != major or config not in configs or ref not in configs:
            continue
        d, r = delta(config), delta(ref)
        ratio = _ratio(d, r)
        shown_d, shown_r = ("" if v is None else f"{v:+,.0f}" for v in (d, r))
        shown_ratio = "" if ratio is None else f"{ratio:.2f}"
        print(
            f"| {config} | {ref} | {shown_d} | {shown_r} | {shown_ratio} | "
            f"{'shown' if limit is None else f'≤ {limit:.2f}'} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
