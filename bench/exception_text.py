"""What recording one exception costs under each ``exception_text`` setting, in instructions (valgrind).

Each configuration records the same exception — a ``ConnectionError`` raised ten frames deep from the
``OSError`` that caused it (a chained traceback, about 1 KB formatted), its message with a database URL
and a GitHub token in it (``--clean``: without) — on a recording SDK span, as a failing tool call does: the
``exception`` event and an ERROR status whose description is the message.

- ``sdk``: what the OpenTelemetry SDK does without mcp-otel (``span.record_exception`` + ``set_status``);
- ``full``: mcp-otel's ``exception_text="full"`` (passes through to the SDK: should equal ``sdk``);
- ``scrubbed`` (the default) and ``type``: mcp-otel builds the event itself;
- ``scrub-message`` / ``scrub-stacktrace``: :func:`mcp_otel.telemetry.scrubbing.scrub` alone on the message
  and on the formatted stack trace (no span);
- ``format-stacktrace``: ``traceback.format_exception`` alone, which every configuration but ``type`` pays.

The count is ``(Ir(N2) - Ir(N1)) / (N2 - N1)`` of two valgrind runs (``--tool=cachegrind --cache-sim=no``), so
start-up cancels out and the machine's load does not move it. ``--timeit`` prints microseconds instead (with
this interpreter, no valgrind: meaningful only on a quiet machine).

    python bench/exception_text.py                  # instructions per exception, every configuration
    python bench/exception_text.py --clean          # a message without credentials
    python bench/exception_text.py --timeit
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import timeit
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CONFIGS = ("sdk", "full", "scrubbed", "type", "scrub-message", "scrub-stacktrace", "format-stacktrace")
SECRET_MESSAGE = "connect to postgresql://app:Pw-9xQ2LmT7@db.internal:5432/orders failed; 401 for ghp_{}"
CLEAN_MESSAGE = "connect to db.internal:5432 failed: timeout after 30.0 s (tool search_orders, attempt 3)"
_IR = re.compile(r"I\s+refs:\s+([\d,]+)")


def _exception(message: str) -> BaseException:
    """A ``ConnectionError(message)`` raised ten frames deep, chained to the ``OSError`` that caused it."""

    def frame(depth: int) -> None:
        if depth == 0:
            try:
                raise OSError(111, "Connection refused")
            except OSError as cause:
                raise ConnectionError(message) from cause
        frame(depth - 1)

    try:
        frame(10)
    except ConnectionError as exc:
        return exc
    raise AssertionError("unreachable")


def workload(config: str, clean: bool) -> Callable[[], None]:
    """One exception recorded as ``config`` says, as a callable."""
    sys.path.insert(0, str(SRC))
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Status, StatusCode

    from mcp_otel.telemetry.exception_text import ExceptionText
    from mcp_otel.telemetry.scrubbing import scrub

    message = CLEAN_MESSAGE if clean else SECRET_MESSAGE.format("R8kZ2mQ9vX4tL7nB3cW6yH1pD5sF0gJ2aE8u")
    exc = _exception(message)
    stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    tracer = TracerProvider().get_tracer("bench")  # no processor: the span records, nothing is exported
    if config == "scrub-message":
        return lambda: None if scrub(message) is None else None
    if config == "scrub-stacktrace":
        return lambda: None if scrub(stacktrace) is None else None
    if config == "format-stacktrace":
        return lambda: None if traceback.format_exception(type(exc), exc, exc.__traceback__) is None else None
    rules = ExceptionText(config) if config != "sdk" else None

    def record() -> None:
        span = tracer.start_span("tools/call search_orders")
        if rules is None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
        else:
            rules.record_exception(span, exc)
            span.set_status(Status(StatusCode.ERROR, rules.status_description(str(exc))))
        span.end()

    return record


def _inner(config: str, clean: bool, count: int) -> None:
    run = workload(config, clean)
    for _ in range(50):  # warm-up: imports, regex compilation, linecache
        run()
    for _ in range(count):
        run()


def instructions(config: str, clean: bool, count: int) -> int:
    """Instructions of one process running ``config`` ``count`` times (after the warm-up)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    clean_flag = ["--clean"] if clean else []
    argv = [sys.executable, __file__, "--inner", config, "--count", str(count), *clean_flag]
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    found = _IR.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{config}: valgrind run failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    """Print instructions (or microseconds) per recorded exception for each configuration."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clean", action="store_true", help="a message without credentials")
    parser.add_argument("--counts", default="100,400", help="N1,N2: exceptions per valgrind run")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--timeit", action="store_true", help="microseconds with this interpreter instead")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        _inner(args.inner, args.clean, args.count)
        return 0
    configs = [c for c in args.configs.split(",") if c]
    what = "message without credentials" if args.clean else "message with a database URL and a GitHub token"
    if args.timeit:
        print(f"microseconds per exception ({what}; best of 5 × 200)\n")
        for config in configs:
            run = workload(config, args.clean)
            best = min(timeit.repeat(run, number=200, repeat=5)) / 200
            print(f"| {config} | {best * 1e6:,.1f} µs |")
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    n1, n2 = (int(n) for n in args.counts.split(","))

    def per_exception(config: str) -> float:
        return (instructions(config, args.clean, n2) - instructions(config, args.clean, n1)) / (n2 - n1)

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(configs, pool.map(per_exception, configs), strict=True))
    base = counts.get("sdk")
    print(f"instructions per exception ({what}; {n1} → {n2} exceptions)\n")
    print("| configuration | instructions | Δ against sdk |")
    print("|---|---:|---:|")
    for config, count in counts.items():
        delta = "" if base is None or config.startswith(("scrub-", "format-")) else f"{count - base:+,.0f}"
        print(f"| {config} | {count:,.0f} | {delta} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
