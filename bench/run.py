"""The mcp-otel overhead benchmark driver: ``python bench/run.py`` reproduces every table.

It creates (once, with ``uv``) one virtualenv per mcp version and per peer instrumentation under a cache
directory, then runs ``bench/scenario.py`` once per measurement, each time in a fresh process, in shuffled
order, and prints:

- per mcp version, one table of µs per ``tools/call`` round trip for every configuration and path, the
  added µs and the ratio against the uninstrumented configuration of the same run (medians over processes,
  min–max of the per-process medians);
- the overhead budget checks (mcp 2.3, in-memory JSON-RPC);
- memory after 10,000 sessions opened and closed, instrumented vs not;
- scaling of the added cost with the number of tools, the argument size (capture off/on) and the number of
  concurrent sessions.

``--smoke`` runs every configuration once with tiny counts (seconds; for CI: it catches a broken benchmark,
its numbers mean nothing). ``--here`` uses the current interpreter only (no virtualenvs; the peers that are
not installed show as unavailable). ``--profile`` runs mcp-otel on mcp 2.3 in-memory under cProfile.
``--report FILE`` prints the tables of a saved ``--out`` file again.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCENARIO = HERE / "scenario.py"
SRC = REPO / "src"
RESULT_PREFIX = "BENCH-RESULT "

sys.path.insert(0, str(HERE))
from scenario import CONFIGS  # noqa: E402  (the same list the measured process knows)

MCP_VERSIONS = ("1.30.0", "2.3.0")
#: Versions of everything the base environments install (the peer environments get the same versions
#: through a constraints file made from the base environment, unless a peer cannot live with them).
BASE_PACKAGES = (
    "opentelemetry-api==1.45.2",
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-instrumentation==0.66b2",
    "wrapt>=1.14",
    "uvicorn==0.54.0",
    "httpx>=0.27",
    "sentry-sdk==2.76.0",
)
#: Peer environments: name → packages (besides mcp and the base constraints).
PEER_PACKAGES: dict[str, tuple[str, ...]] = {
    "openinference": ("opentelemetry-sdk", "openinference-instrumentation-mcp==2.0.13", "uvicorn", "httpx"),
    "logfire": ("logfire", "uvicorn", "httpx"),
    "traceloop": ("opentelemetry-sdk", "opentelemetry-instrumentation-mcp==0.62.4", "uvicorn", "httpx"),
}
#: configuration → environment it runs in.
CONFIG_ENV = {name: ("base" if name not in PEER_PACKAGES else name) for name in CONFIGS}
PATHS = {"1": ("memory", "http"), "2": ("memory", "direct", "http")}
PATH_LABELS = {
    "memory": "in-memory JSON-RPC streams",
    "direct": "in-process direct (DirectDispatcher)",
    "http": "streamable HTTP, 127.0.0.1 (uvicorn)",
}
PATH_LABELS_1 = {"memory": "in-memory (create_connected_server_and_client_session)"}
INSTRUMENTED = (
    "otel-spans",
    "otel-metrics",
    "otel-capture",
    "otel-sentry",
    "otel-sentry-server",
    "otel-sentry-server-stream",
    "otel-sentry-server-nometrics",
    "otel-sentry-server-stream-nometrics",
)


@dataclass
class Settings:
    """Counts of one run (``--smoke`` shrinks them)."""

    repeats: int = 4
    calls: int = 1000
    warmup: int = 100
    http_calls: int = 300
    http_warmup: int = 30
    sessions: int = 10_000
    memory_repeats: int = 1
    scaling_repeats: int = 2
    scaling_calls: int = 500
    tools: tuple[int, ...] = (1, 10, 100)
    arg_sizes: tuple[int, ...] = (16, 1024, 16_384)
    concurrency: tuple[int, ...] = (1, 4, 16)
    timeout: float = 600.0

    @classmethod
    def budget(cls) -> Settings:
        """``--budget``: the budget configurations only, in-memory, more processes per configuration."""
        return cls(repeats=4, calls=2000, warmup=200, timeout=300.0)

    @classmethod
    def smoke(cls) -> Settings:
        return cls(
            repeats=1,
            calls=20,
            warmup=5,
            http_calls=10,
            http_warmup=2,
            sessions=20,
            memory_repeats=1,
            scaling_repeats=1,
            scaling_calls=20,
            tools=(10,),
            arg_sizes=(1024,),
            concurrency=(4,),
            timeout=180.0,
        )


@dataclass
class Env:
    """One interpreter the scenario runs in."""

    name: str
    mcp: str
    python: str | None = None
    error: str | None = None  # why it could not be created
    constrained: bool = True  # resolved with the base environment's versions
    describe: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One process to run."""

    kind: str  # latency | memory | scaling
    env: str  # env key "<mcp>/<name>"
    config: str
    path: str
    args: dict[str, Any]
    dim: str = ""  # scaling: tools | arg_size | concurrency
    value: int = 0


# --------------------------------------------------------------------------------------------------------
# Environments


def _cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg).expanduser()
    base = os.environ.get("MCP_OTEL_BENCH_CACHE") or os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    path = Path(base).expanduser()
    return path if os.environ.get("MCP_OTEL_BENCH_CACHE") else path / "mcp-otel-bench"


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    with contextlib.suppress(Exception):
        subprocess.run([sys.executable, "-m", "uv", "--version"], check=True, capture_output=True)
        return [sys.executable, "-m", "uv"]
    raise SystemExit("bench/run.py needs uv to create its virtualenvs: pip install uv (or use --here)")


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install(venv: Path, packages: Sequence[str], constraints: Path | None, log: Path) -> None:
    uv = _uv()
    env = dict(os.environ, VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    with log.open("a") as out:
        subprocess.run(
            [*uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        cmd = [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(_venv_python(venv)),
            *packages,
        ]
        if constraints is not None:
            cmd += ["--constraint", str(constraints)]
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, env=env)


def _tail(path: Path, lines: int = 3) -> str:
    with contextlib.suppress(OSError):
        text = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return " | ".join(text[-lines:])[:300]
    return ""


def prepare_envs(cache: Path, mcp_versions: Sequence[str], names: set[str]) -> dict[str, Env]:
    """Create (or reuse) the virtualenvs ``names`` for every mcp version; never raises for a failed peer."""
    envs: dict[str, Env] = {}
    for version in mcp_versions:
        base_pkgs = (f"mcp=={version}", *BASE_PACKAGES)
        digest = hashlib.sha256("\n".join((sys.version, *base_pkgs)).encode()).hexdigest()[:10]
        base_dir = cache / f"mcp{version}-base-{digest}"
        base = Env("base", version)
        log = cache / f"mcp{version}-base-{digest}.log"
        ready = base_dir / ".bench-ready"
        try:
            if not ready.exists():
                print(f"[bench] creating {base_dir} ...", file=sys.stderr, flush=True)
                _install(base_dir, base_pkgs, None, log)
                ready.write_text("ok\n")
            base.python = str(_venv_python(base_dir))
        except (subprocess.CalledProcessError, OSError) as exc:
            base.error = f"install failed: {_tail(log) or exc}"
        envs[f"{version}/base"] = base
        constraints = cache / f"mcp{version}-base-{digest}.constraints.txt"
        if base.python and not constraints.exists():
            frozen = subprocess.run(
                [*_uv(), "pip", "freeze", "--python", base.python], check=True, capture_output=True, text=True
            ).stdout
            constraints.write_text(frozen)
        for name in sorted(names - {"base"}):
            pkgs = (f"mcp=={version}", *PEER_PACKAGES[name])
            peer_digest = hashlib.sha256("\n".join((digest, *pkgs)).encode()).hexdigest()[:10]
            peer_dir = cache / f"mcp{version}-{name}-{peer_digest}"
            peer = Env(name, version)
            peer_log = cache / f"mcp{version}-{name}-{peer_digest}.log"
            marker = peer_dir / ".bench-ready"
            try:
                if not marker.exists():
                    print(f"[bench] creating {peer_dir} ...", file=sys.stderr, flush=True)
                    try:
                        _install(peer_dir, pkgs, constraints if constraints.exists() else None, peer_log)
                        marker.write_text("constrained\n")
                    except subprocess.CalledProcessError:
                        # the peer needs other versions than the base env: its own resolution, own baseline
                        shutil.rmtree(peer_dir, ignore_errors=True)
                        _install(peer_dir, pkgs, None, peer_log)
                        marker.write_text("own\n")
                peer.constrained = marker.read_text().strip() == "constrained"
                peer.python = str(_venv_python(peer_dir))
            except (subprocess.CalledProcessError, OSError) as exc:
                peer.error = f"install failed: {_tail(peer_log) or exc}"
            envs[f"{version}/{name}"] = peer
    return envs


def here_envs() -> dict[str, Env]:
    """The current interpreter as the only environment (``--here``)."""
    from importlib import metadata

    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        raise SystemExit("--here needs mcp installed in this interpreter") from None
    env = Env("base", version, python=sys.executable)
    out = {f"{version}/base": env}
    for name in PEER_PACKAGES:  # the peers run here too (unavailable if their package is missing)
        out[f"{version}/{name}"] = Env(name, version, python=sys.executable)
    return out


# --------------------------------------------------------------------------------------------------------
# Running the scenario


_src_path = SRC  # replaced by a snapshot of src/ for the duration of a run (see snapshot_src)


def snapshot_src(dest: Path) -> dict[str, Any]:
    """Copy ``src/`` to ``dest`` and measure that copy: every process of one run sees the same mcp-otel,
    even while the working tree changes. Returns the git description of what was copied."""
    global _src_path
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(SRC, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _src_path = dest
    info: dict[str, Any] = {"commit": None, "dirty_src": None}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        info["commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        info["dirty_src"] = bool(status.strip())
    return info


def run_scenario(python: str, argv: Sequence[str], timeout: float, nice: int = 0) -> dict[str, Any]:
    """Run ``bench/scenario.py`` once; its ``BENCH-RESULT`` as a dict (a crash or timeout is a result too)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_src_path), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env.setdefault("PYTHONHASHSEED", "0")
    for key in [k for k in env if k.startswith(("OTEL_", "SENTRY_", "LOGFIRE_", "TRACELOOP_"))]:
        del env[key]  # the configurations set up everything themselves
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # recompiling every module would dominate start-up
    env["OTEL_SDK_DISABLED"] = "false"
    env["TRACELOOP_TELEMETRY"] = "false"
    env["LOGFIRE_IGNORE_NO_CONFIG"] = "1"
    with tempfile.TemporaryDirectory(prefix="mcp-otel-bench-") as cwd:  # logfire writes .logfire/ here
        try:
            proc = subprocess.run(
                [python, str(SCENARIO), *argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                preexec_fn=(lambda: os.nice(nice)) if nice else None,
            )
        except subprocess.TimeoutExpired:
            return {"status": "crash", "reason": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            if result.get("status") == "crash":
                result["stderr"] = proc.stderr[-2000:]
            return result
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {
        "status": "crash",
        "reason": f"exit {proc.returncode}: {tail[:300]}",
        "stderr": proc.stderr[-2000:],
    }


def _argv(job: Job) -> list[str]:
    argv = [
        "--task",
        "memory" if job.kind == "memory" else "latency",
        "--config",
        job.config,
        "--path",
        job.path,
    ]
    for key, value in job.args.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def plan(
    envs: dict[str, Env],
    settings: Settings,
    configs: Sequence[str],
    parts: set[str],
    by_major: dict[str, list[str]] | None = None,
    paths: Sequence[str] | None = None,
) -> list[Job]:
    """Every process of the run (not yet shuffled). ``by_major`` narrows the configurations per mcp line,
    ``paths`` the paths (``--budget``)."""
    jobs: list[Job] = []
    versions = sorted({e.mcp for e in envs.values()})
    all_configs = configs
    for version in versions:
        major = version.split(".")[0]
        configs = [c for c in all_configs if by_major is None or c in by_major.get(major, ())]
        base_key = f"{version}/base"
        baseline_envs = {base_key}
        if "latency" in parts:
            for config in configs:
                env_key = f"{version}/{CONFIG_ENV[config]}"
                if env_key not in envs:
                    continue
                if not envs[env_key].constrained:
                    baseline_envs.add(env_key)
                for path in (p for p in PATHS[major] if paths is None or p in paths):
                    if path == "http":
                        args = {"calls": settings.http_calls, "warmup": settings.http_warmup}
                    else:
                        args = {"calls": settings.calls, "warmup": settings.warmup}
                    jobs += [Job("latency", env_key, config, path, args) for _ in range(settings.repeats)]
            for env_key in sorted(
                baseline_envs - {base_key}
            ):  # a peer with its own versions: its own baseline
                for path in (p for p in PATHS[major] if paths is None or p in paths):
                    calls = settings.http_calls if path == "http" else settings.calls
                    jobs += [
                        Job("latency", env_key, "none", path, {"calls": calls, "warmup": settings.warmup})
                        for _ in range(settings.repeats)
                    ]
        if "memory" in parts:
            for config in ("none", "otel-metrics"):
                jobs += [
                    Job("memory", base_key, config, "memory", {"sessions": settings.sessions})
                    for _ in range(settings.memory_repeats)
                ]
        if "scaling" in parts:
            dims: list[tuple[str, Iterable[int], Sequence[str]]] = [
                ("tools", settings.tools, ("none", "otel-metrics")),
                ("arg_size", settings.arg_sizes, ("none", "otel-metrics", "otel-capture")),
                ("concurrency", settings.concurrency, ("none", "otel-metrics")),
            ]
            for dim, values, dim_configs in dims:
                for value in values:
                    for config in dim_configs:
                        args = {"calls": settings.scaling_calls, "warmup": settings.warmup, dim: value}
                        jobs += [
                            Job("scaling", base_key, config, "memory", args, dim, value)
                            for _ in range(settings.scaling_repeats)
                        ]
    return jobs


def execute(
    jobs: list[Job],
    envs: dict[str, Env],
    settings: Settings,
    seed: int,
    nice: int = 0,
    journal: Path | None = None,
) -> list[dict[str, Any]]:
    """Run ``jobs`` in shuffled order, one process at a time; a configuration that reported n/a,
    unavailable or crash is not started again for the same path."""
    order = list(jobs)
    random.Random(seed).shuffle(order)
    results: list[dict[str, Any]] = []
    settled: dict[tuple[str, ...], dict[str, Any]] = {}
    started = time.monotonic()
    for index, job in enumerate(order, 1):
        env = envs[job.env]
        key = (job.kind, job.env, job.config, job.path)
        config_key = (job.env, job.config)  # unavailable anywhere: unavailable everywhere
        if env.python is None:
            result: dict[str, Any] = {"status": "install-failed", "reason": env.error or "no interpreter"}
        elif key in settled or config_key in settled:
            result = dict(settled.get(key) or settled[config_key])
        else:
            result = run_scenario(env.python, _argv(job), settings.timeout, nice)
            if result.get("status") == "unavailable":
                settled[config_key] = result
            elif result.get("status") != "ok":
                settled[key] = result
        result.update(
            kind=job.kind,
            env=job.env,
            env_name=env.name,
            mcp=env.mcp,
            config=job.config,
            path=job.path,
            dim=job.dim,
            value=job.value,
            load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        )
        results.append(result)
        if journal is not None:  # one line per process, so an interrupted run is not lost
            with journal.open("a") as f:
                f.write(json.dumps(result) + "\n")
        elapsed = time.monotonic() - started
        eta = elapsed / index * (len(order) - index)
        value = result.get("median_us") or result.get("session_ms")
        shown = f"{value:.0f}" if isinstance(value, (int, float)) else result.get("status")
        print(
            f"[bench] {index}/{len(order)} {job.kind} mcp {env.mcp} {job.config} {job.path}"
            f"{f' {job.dim}={job.value}' if job.dim else ''}: {shown}  (eta {eta / 60:.1f} min)",
            file=sys.stderr,
            flush=True,
        )
    return results


# --------------------------------------------------------------------------------------------------------
# Reporting


def machine() -> dict[str, Any]:
    """CPU model, cores, OS and the driver's Python."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ")


def _group(results: Iterable[dict[str, Any]], kind: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["kind"] == kind:
            groups[(r["mcp"], r["env"], r["config"], r["path"], r.get("dim", ""), r.get("value", 0))].append(
                r
            )
    return groups


def summarize(rows: list[dict[str, Any]], metric: str = "median_us") -> dict[str, Any]:
    """Median and min–max over processes of one per-process statistic, or the failure status."""
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        first = rows[0]
        return {"status": first.get("status", "?"), "reason": first.get("reason", ""), "n": 0}
    values = [r[metric] for r in ok]
    return {
        "status": "ok",
        "n": len(ok),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "p90": statistics.median(r["p90_us"] for r in ok),
        "p99": statistics.median(r["p99_us"] for r in ok),
        "calls_per_s": statistics.median(r["calls_per_s"] for r in ok),
        "cpu": statistics.median(r["cpu_us_per_call"] for r in ok)
        if all("cpu_us_per_call" in r for r in ok)
        else None,
        "notes": sorted({n for r in ok for n in r.get("notes", [])}),
    }


def latency_tables(results: list[dict[str, Any]], configs: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The per-mcp-version tables and the summary numbers the budget checks read."""
    groups = _group(results, "latency")
    out: list[str] = []
    summary: dict[str, Any] = {}
    for version in sorted({k[0] for k in groups}):
        major = version.split(".")[0]
        out.append(f"\n### mcp {version} — µs per `tools/call` round trip\n")
        out.append(
            "| path | configuration | µs/call | min–max | Δ µs | ratio | p90 | calls/s | CPU µs/call | CPU Δ "
            "| note |"
        )
        out.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
        for path in PATHS[major]:
            label = (PATH_LABELS_1 if major == "1" else {}).get(path, PATH_LABELS[path])
            base_stats = summarize(groups.get((version, f"{version}/base", "none", path, "", 0), [{}]))
            for config in configs:
                env_key = f"{version}/{CONFIG_ENV[config]}"
                rows = groups.get((version, env_key, config, path, "", 0))
                if not rows:
                    continue
                stats = summarize(rows)
                baseline = base_stats
                note = ""
                own = groups.get((version, env_key, "none", path, "", 0))
                if config != "none" and env_key != f"{version}/base" and own:
                    baseline = summarize(own)  # the peer resolved its own versions: compare with its own none
                    if baseline.get("status") == "ok":
                        note = f"own env, own baseline {baseline['median']:.0f} µs; "
                both_ok = stats["status"] == "ok" and baseline.get("status") == "ok"
                cpu_ok = both_ok and stats.get("cpu") is not None and baseline.get("cpu") is not None
                summary[f"{version}/{path}/{config}"] = stats | {
                    "delta": stats["median"] - baseline["median"] if both_ok else None,
                    "cpu_delta": stats["cpu"] - baseline["cpu"] if cpu_ok else None,
                }
                if stats["status"] != "ok":
                    reason = str(stats.get("reason", "")).replace("|", "/")
                    out.append(f"| {label} | {config} |{' — |' * 8} **{stats['status']}**: {reason} |")
                    continue
                cpu_delta = summary[f"{version}/{path}/{config}"]["cpu_delta"]
                shown_cpu_delta = "—" if cpu_delta is None else f"{cpu_delta:+.0f}"
                delta = summary[f"{version}/{path}/{config}"]["delta"]
                ratio = stats["median"] / baseline["median"] if baseline.get("status") == "ok" else None
                note += "; ".join(n.replace("|", "/") for n in stats["notes"])
                spread = f"{_fmt(stats['min'])}–{_fmt(stats['max'])}"
                shown_delta = "—" if delta is None else f"{'+' if delta >= 0 else '−'}{_fmt(abs(delta))}"
                shown_ratio = f"{ratio:.2f}x" if ratio else "—"
                out.append(
                    f"| {label} | {config} | {_fmt(stats['median'])} | {spread} | {shown_delta} | "
                    f"{shown_ratio} | {_fmt(stats['p90'])} | {_fmt(stats['calls_per_s'])} | "
                    f"{_fmt(stats.get('cpu'))} | {shown_cpu_delta} | {note} |"
                )
    return "\n".join(out), summary


#: The overhead budget: (mcp line, configuration, reference configuration, the most the ratio of their Δ may
#: be, or ``None`` for a ratio that is only shown), all on the in-memory JSON-RPC path of the same run.
#: ``sdk-spans-metrics`` is the equal-work floor (mcp-otel's attribute set on each point); the mcp 1.x row
#: compares spans only (mcp-otel ``metrics=False``: two spans and propagation; Traceloop: one span).
BUDGET: tuple[tuple[str, str, str, float | None], ...] = (
    ("2", "otel-spans", "sdk-spans", 1.10),
    ("2", "otel-metrics", "sdk-spans-metrics", 1.10),
    ("2", "sdk-spans-metrics", "sdk-spans", None),
    ("2", "sdk-spans-metrics-min", "sdk-spans", None),
    ("1", "otel-spans", "traceloop", 2.00),
)
#: The configurations the budget reads, by mcp line (``--budget`` runs only these).
BUDGET_CONFIGS = {
    major: ["none", *dict.fromkeys(c for m, ours, ref, _ in BUDGET if m == major for c in (ref, ours))]
    for major in ("1", "2")
}


def budget_ratios(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ratio of the budget, wall-clock and CPU: Δ of a configuration / Δ of its reference (``None``
    where either was not measured in this run)."""
    rows: list[dict[str, Any]] = []
    versions = sorted({k.split("/")[0] for k in summary})
    for major, config, reference, limit in BUDGET:
        for version in (v for v in versions if v.split(".")[0] == major):
            for key, what in (("delta", "wall"), ("cpu_delta", "CPU")):
                ours = summary.get(f"{version}/memory/{config}", {}).get(key)
                ref = summary.get(f"{version}/memory/{reference}", {}).get(key)
                measured = isinstance(ours, (int, float)) and isinstance(ref, (int, float)) and ref > 0
                ratio = ours / ref if measured else None
                rows.append(
                    {
                        "mcp": version,
                        "config": config,
                        "reference": reference,
                        "clock": what,
                        "delta": ours,
                        "reference_delta": ref,
                        "ratio": ratio,
                        "limit": limit,
                        "holds": None if ratio is None or limit is None else ratio <= limit,
                    }
                )
    return rows


def budget(summary: dict[str, Any]) -> str:
    """The overhead budget, read from the same run (in-memory JSON-RPC): every ratio, wall-clock and CPU."""
    lines = [
        "\n### Budget (in-memory JSON-RPC, same run: Δ µs/call against `none`, medians over processes)\n",
        "| mcp | configuration | Δ | reference | reference Δ | ratio | budget | verdict |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for row in budget_ratios(summary):
        clock = row["clock"]
        delta = "—" if row["delta"] is None else f"{row['delta']:+.0f} ({clock})"
        ref = "—" if row["reference_delta"] is None else f"{row['reference_delta']:+.0f} ({clock})"
        if row["ratio"] is not None:
            ratio = f"{row['ratio']:.2f}"
        elif isinstance(row["reference_delta"], (int, float)):
            ratio = "n/a (reference Δ ≤ 0)"
        else:
            ratio = "not measured"
        limit = "shown" if row["limit"] is None else f"≤ {row['limit']:.2f}"
        verdict = {True: "**HOLDS**", False: "**FAILS**", None: "—"}[row["holds"]]
        lines.append(
            f"| {row['mcp']} | {row['config']} | {delta} | {row['reference']} | {ref} | {ratio} | {limit} | "
            f"{verdict} |"
        )
    version = next((k.split("/")[0] for k in summary if k.startswith("2.")), None)
    if version is None:
        return "\n".join(lines)

    def delta(config: str, key: str = "delta") -> float | None:
        value = summary.get(f"{version}/memory/{config}", {}).get(key)
        return value if isinstance(value, (int, float)) else None

    if not any(f"{version}/memory/{c}" in summary for c in ("otel-sentry", "sentry")):
        return "\n".join(lines)  # a run without the Sentry configurations (--budget)
    lines.append("")
    for key, what in (("delta", "wall-clock median"), ("cpu_delta", "CPU time per call")):
        ours_sentry, sentry = delta("otel-sentry", key), delta("sentry", key)
        if ours_sentry is None or sentry is None:
            status = summary.get(f"{version}/memory/otel-sentry", {})
            why = status.get("reason") or "not measured"
            lines.append(
                f"- mcp-otel + Sentry processor vs sentry-sdk's MCP integration ({what}): not measurable "
                f"({why})"
            )
        else:
            verdict = "HOLDS" if ours_sentry <= sentry / 3 else "FAILS"
            lines.append(
                f"- {what}: mcp-otel + Sentry processor adds {ours_sentry:+.0f} µs/call; sentry-sdk's MCP "
                f"integration adds {sentry:+.0f} µs/call → **{verdict}** "
                f"(need ≤ a third: {sentry / 3:.0f} µs)"
            )
    return "\n".join(lines)


def budget_rounds(data: dict[str, Any], configs: Sequence[str]) -> str:
    """With several rounds: each budget ratio per round and the median of the rounds' ratios."""
    rounds = data.get("rounds", 1)
    if rounds < 2:
        return ""
    per_round: dict[tuple[str, ...], list[float | None]] = defaultdict(list)
    limits: dict[tuple[str, ...], float | None] = {}
    for index in range(1, rounds + 1):
        _, summary = latency_tables([r for r in data["results"] if r.get("round") == index], configs)
        for row in budget_ratios(summary):
            key = (row["mcp"], row["config"], row["reference"], row["clock"])
            per_round[key].append(row["ratio"])
            limits[key] = row["limit"]
    out = [
        f"\n### Budget ratios per round ({rounds} interleaved rounds)\n",
        "| mcp | ratio | clock | "
        + " | ".join(f"round {i}" for i in range(1, rounds + 1))
        + " | median | budget |",
        "|---|---|---|" + "---:|" * rounds + "---:|---:|",
    ]
    for (version, config, reference, clock), ratios in per_round.items():
        cells = ["—" if r is None else f"{r:.2f}" for r in ratios]
        measured = [r for r in ratios if r is not None]
        median = f"{statistics.median(measured):.2f}" if measured else "—"
        limit = limits[(version, config, reference, clock)]
        shown = "shown" if limit is None else f"≤ {limit:.2f}"
        out.append(
            f"| {version} | {config} / {reference} | {clock} | {' | '.join(cells)} | {median} | {shown} |"
        )
    return "\n".join(out)


def sentry_budget(summary: dict[str, Any]) -> str:
    """The Sentry equal-work budget (one transaction or segment per call), mcp 2.3 in-memory, same run."""
    lines = ["\n### Sentry budget, equal work (mcp 2.x, in-memory JSON-RPC streams, same run)\n"]
    version = next((k.split("/")[0] for k in summary if k.startswith("2.")), None)
    if version is None:
        return "\n".join([*lines, "not measured (no mcp 2.x in this run)"])
    pairs = (
        ("transactions", "otel-sentry-server-nometrics", "sentry"),
        ("span streaming", "otel-sentry-server-stream-nometrics", "sentry-stream"),
    )
    for key, what in (("delta", "wall-clock median"), ("cpu_delta", "CPU time per call")):
        for mode, ours_config, peer_config in pairs:
            ours = summary.get(f"{version}/memory/{ours_config}", {}).get(key)
            peer = summary.get(f"{version}/memory/{peer_config}", {}).get(key)
            if not isinstance(ours, (int, float)) or not isinstance(peer, (int, float)) or peer <= 0:
                lines.append(f"- {mode} ({what}): not measurable in this run")
                continue
            ratio = ours / peer
            verdict = "HOLDS" if ratio <= 1.0 else "FAILS"
            lines.append(
                f"- {mode} ({what}): mcp-otel (equal work: {ours_config}) adds {ours:+.0f} µs/call, "
                f"sentry-sdk MCPIntegration adds {peer:+.0f} µs/call → ratio **{ratio:.2f}** {verdict} "
                "(need ≤ 1.0)"
            )
    return "\n".join(lines)


def memory_table(results: list[dict[str, Any]]) -> str:
    rows = [r for r in results if r["kind"] == "memory"]
    if not rows:
        return ""
    out = [
        "\n### Memory — sessions opened and closed in-memory, one `tools/call` each, then `gc.collect()`\n",
        "| mcp | configuration | sessions | ms/session | peak RSS MiB | RSS growth MiB | objects retained | "
        "mcp-otel per-session dicts | most-grown types |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["mcp"], r["config"])):
        if r.get("status") != "ok":
            out.append(
                f"| {r['mcp']} | {r['config']} | — | — | — | — | — | — | **{r.get('status')}**: "
                f"{str(r.get('reason', '')).replace('|', '/')} |"
            )
            continue
        state = ", ".join(f"`{k}`={v}" for k, v in r["mcp_otel_state"].items()) or "—"
        grown = ", ".join(f"{name.rsplit('.', 1)[-1]} +{n}" for name, n in r["grown_types"][:4]) or "none"
        out.append(
            f"| {r['mcp']} | {r['config']} | {r['sessions']} | {r['session_ms']:.2f} | "
            f"{r['peak_rss_kib'] / 1024:.1f} | {(r['rss_after_kib'] - r['rss_before_kib']) / 1024:+.1f} | "
            f"{r['objects_delta']:+d} | {state} | {grown} |"
        )
    return "\n".join(out)


def scaling_table(results: list[dict[str, Any]]) -> str:
    groups = _group(results, "scaling")
    if not groups:
        return ""
    out = ["\n### Scaling — added µs per call vs uninstrumented (in-memory, medians over processes)\n"]
    titles = {
        "tools": "tools registered",
        "arg_size": "argument characters",
        "concurrency": "concurrent sessions (µs = wall time / calls)",
    }
    for version in sorted({k[0] for k in groups}):
        for dim in ("tools", "arg_size", "concurrency"):
            configs = [
                c
                for c in ("none", "otel-metrics", "otel-capture")
                if any(k[0] == version and k[4] == dim and k[2] == c for k in groups)
            ]
            if not configs:
                continue
            metric = "wall_us_per_call" if dim == "concurrency" else "median_us"
            out.append(f"\nmcp {version} — {titles[dim]}\n")
            head = " | ".join(f"{c} µs" + ("" if c == "none" else f" | {c} Δ") for c in configs)
            out.append(f"| {dim} | {head} |")
            out.append("|---:|" + "---:|" * (len(configs) * 2 - 1))
            for value in sorted({k[5] for k in groups if k[0] == version and k[4] == dim}):
                cells: list[str] = []
                base = None
                for config in configs:
                    stats = summarize(
                        groups.get((version, f"{version}/base", config, "memory", dim, value), [{}]), metric
                    )
                    if stats["status"] != "ok":
                        cells += [stats["status"]] + ([] if config == "none" else ["—"])
                        continue
                    if config == "none":
                        base = stats["median"]
                        cells.append(_fmt(stats["median"]))
                    else:
                        delta = stats["median"] - base if base is not None else None
                        cells += [_fmt(stats["median"]), f"{delta:+.0f}" if delta is not None else "—"]
                out.append(f"| {value} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def environment_table(envs: dict[str, Any]) -> str:
    out = ["\n### Environments\n", "| mcp | env | python | packages |", "|---|---|---|---|"]
    for key in sorted(envs):
        env = envs[key]
        if env.get("error"):
            out.append(f"| {env['mcp']} | {env['name']} | — | **{env['error']}** |")
            continue
        d = env.get("describe") or {}
        versions = ", ".join(f"{k} {v}" for k, v in d.get("versions", {}).items())
        own = "" if env.get("constrained", True) else " (own resolution)"
        out.append(f"| {env['mcp']} | {env['name']}{own} | {d.get('python', '?')} | {versions} |")
    return "\n".join(out)


def _source(source: dict[str, Any] | None) -> str:
    if not source or not source.get("commit"):
        return "from src/"
    return f"at {source['commit']}" + (" + uncommitted changes in src/" if source.get("dirty_src") else "")


def report(data: dict[str, Any]) -> str:
    """All tables of one run as Markdown."""
    m = data["machine"]
    configs = [c for c in CONFIGS if c in data.get("configs", CONFIGS)]
    head = [
        f"## mcp-otel overhead — {data['mode']} run, {data['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}; load average "
        f"{_fmt(m.get('load_start'), 1)} at start, {_fmt(m.get('load_end'), 1)} at end. mcp-otel "
        f"{_source(m.get('source'))}. Seed {data['seed']}; "
        f"{data['settings']['repeats']} processes per configuration and path, "
        f"{data['settings']['calls']} timed calls each ({data['settings']['http_calls']} over HTTP) after "
        f"{data['settings']['warmup']} warm-up calls. Values: median over processes of each process's "
        "median; min–max of those medians; Δ and ratio against `none` on the same path in the same run.",
    ]
    tables, summary = latency_tables(data["results"], configs)
    parts = [
        "\n".join(head),
        tables,
        budget(summary),
        budget_rounds(data, configs),
        sentry_budget(summary),
        memory_table(data["results"]),
        scaling_table(data["results"]),
        environment_table(data["envs"]),
    ]
    legend = ["\n### Configurations\n"] + [
        f"- `{name}`: {text}" for name, text in CONFIGS.items() if name in configs
    ]
    parts.append("\n".join(legend))
    return "\n".join(p for p in parts if p) + "\n"


# --------------------------------------------------------------------------------------------------------
# Profile


_SDK_FILES = ("mcp/", "mcp_types/", "scenario.py", "anyio/", "asyncio/", "pydantic", "starlette/", "uvicorn/")


def _frame(text: str) -> tuple[str, str]:
    """``(function, short file)`` of one py-spy frame ``func (path:line)``."""
    name, _, rest = text.partition(" (")
    file = rest.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "python3.":
                file = file.split("/", 1)[-1]
            break
    return name, file


def attribute_samples(raw: Path, top: int) -> str:
    """Read py-spy's raw (collapsed) stacks: the share of event-loop time that is mcp-otel's, by function.

    A sample counts as instrumentation when its deepest ``mcp_otel`` frame is not followed by MCP SDK,
    anyio/asyncio or pydantic frames, i.e. it is mcp-otel's own code or what it calls (OpenTelemetry).
    Start-up (import) samples are left out.
    """
    total = ours = 0
    by_function: dict[str, int] = defaultdict(int)
    by_callee: dict[str, int] = defaultdict(int)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")]
        if not any(name.endswith("_run_once") for name, _ in frames) or any(
            "importlib" in f for _, f in frames
        ):
            continue
        n = int(count)
        total += n
        depths = [i for i, (_, f) in enumerate(frames) if f.startswith("mcp_otel/")]
        if not depths:
            continue
        below = frames[depths[-1] + 1 :]
        if any(f.startswith(_SDK_FILES) for _, f in below):
            continue
        ours += n
        for name, file in dict.fromkeys(
            fr for fr in frames[: depths[-1] + 1] if fr[1].startswith("mcp_otel/")
        ):
            by_function[f"{file}:{name}"] += n
        deepest = frames[depths[-1]]
        callee = below[0] if below else ("(own code)", "")
        by_callee[f"{deepest[1]}:{deepest[0]} -> {callee[1]}:{callee[0]}".rstrip(":")] += n
    if not total:
        return "no event-loop samples"
    lines = [
        f"event-loop samples {total}; mcp-otel and what it calls: {ours} ({100 * ours / total:.1f} %)",
        "",
        "by mcp_otel function (inclusive; % of event-loop samples):",
    ]
    lines += [
        f"  {100 * v / total:5.1f} %  {k}"
        for k, v in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
    ]
    lines += ["", "deepest mcp_otel frame -> first callee (% of event-loop samples):"]
    lines += [
        f"  {100 * v / total:5.1f} %  {k}" for k, v in sorted(by_callee.items(), key=lambda kv: -kv[1])[:top]
    ]
    return "\n".join(lines)


def profile(envs: dict[str, Env], settings: Settings, top: int, config: str, profiler: str) -> str:
    """Profile mcp-otel (``config``) on mcp 2.x in-memory: py-spy when available, else cProfile."""
    import pstats

    env = next((e for k, e in envs.items() if e.mcp.startswith("2.") and e.name == "base" and e.python), None)
    if env is None:
        return "no mcp 2.x environment to profile"
    assert env.python is not None
    environ = dict(os.environ, PYTHONPATH=str(_src_path))
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    scenario_args = [
        "--config",
        config,
        "--path",
        "memory",
        "--calls",
        str(settings.calls),
        "--warmup",
        str(settings.warmup),
    ]
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(env.python).parent))
    with tempfile.TemporaryDirectory() as tmp:
        if profiler in ("auto", "py-spy") and spy:
            raw = Path(tmp) / "stacks.txt"
            subprocess.run(
                [
                    spy,
                    "record",
                    "--rate",
                    "500",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--",
                    env.python,
                    str(SCENARIO),
                    *scenario_args,
                ],
                check=True,
                env=environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            head = f"py-spy (500 Hz), mcp {env.mcp}, {config}, in-memory JSON-RPC, {settings.calls} calls"
            return head + "\n" + attribute_samples(raw, top)
        if profiler == "py-spy":
            return "py-spy not found (pip install py-spy)"
        stats_file = Path(tmp) / "profile.pstats"
        code = (
            "import cProfile, runpy, sys; sys.argv = sys.argv[1:]; "
            f"cProfile.run('runpy.run_path(sys.argv[0], run_name=\"__main__\")', {str(stats_file)!r})"
        )
        subprocess.run(
            [env.python, "-c", code, str(SCENARIO), *scenario_args],
            check=True,
            env=environ,
            stdout=subprocess.DEVNULL,
        )
        stats = pstats.Stats(str(stats_file))
        lines = [
            f"cProfile, mcp {env.mcp}, {config}, in-memory, {settings.calls} calls (deterministic "
            "profiling inflates small functions: read the shares)"
        ]
        total = stats.total_tt  # type: ignore[attr-defined]
        raw_stats = stats.stats  # type: ignore[attr-defined]
        ours = [(k, v) for k, v in raw_stats.items() if "mcp_otel" in k[0]]
        own = sum(v[2] for _, v in ours)
        lines.append(f"\ntotal {total:.2f} s; mcp_otel own time {own:.3f} s ({100 * own / total:.1f} %)")
        lines.append("\nmcp_otel functions by cumulative time (calls, own s, cumulative s):")
        for (file, line, func), (_cc, calls, tt, ct, _callers) in sorted(ours, key=lambda kv: -kv[1][3])[
            :top
        ]:
            lines.append(f"  {file.split('/src/')[-1]}:{line} {func}  {calls}  {tt:.3f}  {ct:.3f}")
        otel = [(k, v) for k, v in raw_stats.items() if "opentelemetry" in k[0]]
        lines.append("\nopentelemetry functions by own time:")
        for (file, line, func), (_cc, calls, tt, ct, _callers) in sorted(otel, key=lambda kv: -kv[1][2])[
            :top
        ]:
            lines.append(f"  {file.split('site-packages/')[-1]}:{line} {func}  {calls}  {tt:.3f}  {ct:.3f}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="every configuration once, tiny counts (CI)")
    parser.add_argument(
        "--budget",
        action="store_true",
        help="only the budget's configurations, in-memory, in --rounds rounds",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--budget: interleaved rounds (%(default)s)")
    parser.add_argument("--here", action="store_true", help="use this interpreter only (no virtualenvs)")
    parser.add_argument("--mcp", default=",".join(MCP_VERSIONS), help="mcp versions (default: %(default)s)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="configurations to run")
    parser.add_argument("--parts", default="latency,memory,scaling", help="latency, memory, scaling")
    parser.add_argument("--repeats", type=int, help="processes per configuration and path")
    parser.add_argument("--calls", type=int, help="timed calls per process (in-process paths)")
    parser.add_argument("--sessions", type=int, help="memory: sessions opened and closed")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random, printed)")
    parser.add_argument("--cache-dir", help="where the virtualenvs live (default ~/.cache/mcp-otel-bench)")
    parser.add_argument("--out", help="write the raw results as JSON here")
    parser.add_argument("--report", help="print the tables of a saved --out file and exit")
    parser.add_argument("--profile", action="store_true", help="profile mcp-otel on mcp 2.x in-memory")
    parser.add_argument("--profiler", choices=("auto", "py-spy", "cprofile"), default="auto")
    parser.add_argument("--profile-config", default="otel-metrics", help="configuration to profile")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the measured processes (root: < 0)")
    parser.add_argument("--paths", help="only these paths (memory, direct, http; default: all)")
    args = parser.parse_args(argv)
    if args.paths:
        chosen = {p for p in args.paths.split(",") if p}
        for major, paths in list(PATHS.items()):
            PATHS[major] = tuple(p for p in paths if p in chosen)

    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    settings = Settings.smoke() if args.smoke else Settings.budget() if args.budget else Settings()
    if args.repeats:
        settings.repeats = args.repeats
    if args.calls:
        settings.calls = args.calls
    if args.sessions:
        settings.sessions = args.sessions
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    parts = {p for p in args.parts.split(",") if p}
    by_major: dict[str, list[str]] | None = None
    paths: tuple[str, ...] | None = None
    rounds = 1
    if args.budget:
        by_major, paths, parts, rounds = BUDGET_CONFIGS, ("memory",), {"latency"}, max(1, args.rounds)
        configs = [c for c in CONFIGS if any(c in cs for cs in by_major.values())]
    info = machine()
    snapshot_dir = Path(tempfile.mkdtemp(prefix="mcp-otel-bench-src-"))
    info["source"] = snapshot_src(snapshot_dir / "src")
    print(f"[bench] machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}", file=sys.stderr)
    if args.here:
        envs = here_envs()
    else:
        cache = _cache_dir(args.cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        names = {CONFIG_ENV[c] for c in configs}
        envs = prepare_envs(cache, [v for v in args.mcp.split(",") if v], names)
    for env in envs.values():
        if env.python is not None and not env.describe:
            env.describe = run_scenario(env.python, ["--task", "describe"], 120)
    if args.profile:
        print(profile(envs, settings, 25, args.profile_config, args.profiler))
        return 0
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    jobs = plan(envs, settings, configs, parts, by_major, paths)
    started = time.time()
    journal = Path(args.out).with_suffix(".jsonl") if args.out else None
    if journal is not None:
        journal.write_text("")
    results: list[dict[str, Any]] = []
    for index in range(rounds):  # each round is one interleaved pass over every process of the plan
        for result in execute(jobs, envs, settings, seed + index, args.nice, journal):
            results.append(result | {"round": index + 1})
    info["load_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    data = {
        "mode": "smoke" if args.smoke else "budget" if args.budget else "full",
        "rounds": rounds,
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "seed": seed,
        "machine": info,
        "settings": asdict(settings),
        "configs": configs,
        "envs": {k: asdict(v) for k, v in envs.items()},
        "results": results,
    }
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(data, indent=1))
    print(report(data))
    print(f"[bench] {len(results)} processes in {data['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
