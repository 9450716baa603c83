"""Flush telemetry when the process ends: at interpreter exit and on termination signals.

Used by ``python -m mcp_otel.bootstrap`` / ``mcp-otel run`` (:mod:`mcp_otel.bootstrap`), the zero-code
autostart (:mod:`mcp_otel.autostart`) and forked workers (:mod:`mcp_otel.forked_workers`).
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

SHUTDOWN_TIMEOUT_SECONDS = 5.0
"""How long, in seconds, the SIGTERM handler waits for the providers to flush before the process exits."""


def install_shutdown_hooks(shutdown: Callable[[], None]) -> None:
    """Call ``shutdown`` at interpreter exit and when the process receives SIGTERM.

    On SIGTERM, see :func:`install_signal_flush`. A SIGTERM handler installed later by the script (uvicorn
    does) replaces this one; the exit hook still runs when that handler makes the process exit normally.

    Args:
        shutdown: idempotent, non-raising callable, e.g. :meth:`Telemetry.shutdown`.
    """
    atexit.register(shutdown)
    install_signal_flush(shutdown, [signal.SIGTERM])


def run_with_timeout(shutdown: Callable[[], None]) -> None:
    """Run ``shutdown`` in a helper thread (so a lock held by the interrupted main thread cannot deadlock
    it) and wait for it at most :data:`SHUTDOWN_TIMEOUT_SECONDS` seconds."""
    worker = threading.Thread(target=shutdown, name="mcp-otel-shutdown", daemon=True)
    worker.start()
    worker.join(SHUTDOWN_TIMEOUT_SECONDS)


def install_signal_flush(shutdown: Callable[[], None], signals: Sequence[int]) -> None:
    """Call ``shutdown`` when the process receives one of ``signals``, then what the signal did before.

    ``shutdown`` runs as :func:`run_with_timeout` runs it; then the handler that was installed before is
    called, or, if that was the default action, the process terminates by the signal as it would have
    without this hook. Does nothing outside the main thread (Python allows signal handlers only there).

    Args:
        shutdown: idempotent, non-raising callable, e.g. :meth:`Telemetry.shutdown`.
        signals: signal numbers (``signal.SIGTERM`` ...).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in signals:
        previous = signal.getsignal(signum)

        def on_signal(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            run_with_timeout(shutdown)
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(signum, on_signal)


__all__ = ["SHUTDOWN_TIMEOUT_SECONDS", "install_shutdown_hooks", "install_signal_flush", "run_with_timeout"]
