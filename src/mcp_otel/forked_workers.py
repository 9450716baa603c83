"""Telemetry in worker processes forked from an instrumented process (gunicorn's workers).

gunicorn forks its workers from a master that has already set up telemetry (mcp-otel's ``sitecustomize``
ran there). The SDK already makes its processors fork-safe: a ``BatchSpanProcessor`` and a
``PeriodicExportingMetricReader`` restart their thread in the child with an empty queue, so nothing the
master held is exported twice. Two things remain wrong in the child, and :func:`install_fork_handler` fixes
them there:

- the resource is the master's, ``process.pid`` among it. The providers, their tracers and meters and every
  span share one :class:`~opentelemetry.sdk.resources.Resource` object; the child re-initialises that object
  with its own ``process.pid`` (and ``process.parent_pid`` when present), so every instrumentation's spans
  carry the worker's pid, not only mcp-otel's.
- the flush on SIGTERM is gone: a gunicorn worker resets its signals after the fork (uvicorn's worker sets
  them all to the default action, and uvicorn re-raises SIGTERM/SIGINT with the action it found once it has
  shut down gracefully; gunicorn's master stops its workers with SIGQUIT on SIGINT). After the worker has
  set its signals up, each of SIGTERM, SIGINT and SIGQUIT left at the default action gets the handler of
  :func:`mcp_otel.shutdown.install_shutdown_hooks`: flush, then the default action. And the worker flushes
  when gunicorn tells it to exit (``Worker.handle_exit``: uvicorn's worker calls it on SIGQUIT, which the
  master sends on SIGINT, and then keeps serving until the master kills it after ``--graceful-timeout``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from mcp_otel._guard import log_failure_once

__all__ = ["install_fork_handler", "set_process_ids"]

_GUNICORN_WORKER = "gunicorn.workers.base"
_FLUSH_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")


def set_process_ids(resource: Any) -> bool:
    """Give ``resource`` (an SDK ``Resource``, changed in place) this process's ``process.pid``, and its
    ``process.parent_pid`` when it has one; a resource without ``process.pid`` is left as it is.

    Returns:
        Whether the resource was changed.
    """
    from opentelemetry.sdk.resources import PROCESS_PARENT_PID, PROCESS_PID, Resource

    if not isinstance(resource, Resource) or PROCESS_PID not in resource.attributes:
        return False
    attributes = dict(resource.attributes)
    attributes[PROCESS_PID] = os.getpid()
    if PROCESS_PARENT_PID in attributes:
        attributes[PROCESS_PARENT_PID] = os.getppid()
    # In place: the tracers, meters and spans already created hold this very object.
    Resource.__init__(resource, attributes, resource.schema_url)
    return True


def _provider_resources() -> list[Any]:
    from opentelemetry import metrics, trace

    tracer_resource = getattr(trace.get_tracer_provider(), "resource", None)
    # The SDK's MeterProvider keeps its resource in its configuration (usually the tracer provider's object).
    meter_config = getattr(metrics.get_meter_provider(), "_sdk_config", None)
    meter_resource = getattr(meter_config, "resource", None)
    resources = [r for r in (tracer_resource, meter_resource) if r is not None]
    return [r for i, r in enumerate(resources) if all(r is not other for other in resources[:i])]


def _flush_on_default_signals(flush: Callable[[], None]) -> None:
    """Flush-then-default handler on each signal of :data:`_FLUSH_SIGNALS` still at its default action."""
    from mcp_otel.shutdown import install_signal_flush

    defaults = [getattr(signal, name) for name in _FLUSH_SIGNALS if hasattr(signal, name)]
    install_signal_flush(flush, [s for s in defaults if signal.getsignal(s) == signal.SIG_DFL])


def _patch_gunicorn_worker(flush: Callable[[], None]) -> None:
    """Re-arm the flush once the gunicorn worker has set its signals up (``init_process`` does that, then
    loads the application with ``load_wsgi``, then serves), and flush when it is told to exit. Changes the
    class in this (forked) process only."""
    import wrapt

    from mcp_otel.shutdown import run_with_timeout

    module = sys.modules.get(_GUNICORN_WORKER)
    worker = getattr(module, "Worker", None)
    if worker is None or isinstance(vars(worker).get("load_wsgi"), wrapt.ObjectProxy):
        return

    def load_wsgi_then_flush_on_signals(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            _flush_on_default_signals(flush)
        except Exception:
            log_failure_once("forked_workers.gunicorn_signals")
        return result

    def flush_then_handle_exit(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            run_with_timeout(flush)
        except Exception:  # e.g. no thread can be started: the worker exits all the same
            log_failure_once("forked_workers.gunicorn_exit")
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(worker, "load_wsgi", load_wsgi_then_flush_on_signals)
    wrapt.wrap_function_wrapper(worker, "handle_exit", flush_then_handle_exit)


def install_fork_handler(flush: Callable[[], None]) -> None:
    """In every child this process forks: the resources of the global providers get the child's
    ``process.pid`` and, in a gunicorn worker, SIGTERM/SIGINT/SIGQUIT flush ``flush`` before their default
    action (see the module docstring). Never raises, in the parent or in the child.

    Args:
        flush: idempotent, non-raising callable that flushes the providers.
    """
    if not hasattr(os, "register_at_fork"):  # Windows: no fork
        return

    def after_fork_in_child() -> None:
        try:
            for resource in _provider_resources():
                set_process_ids(resource)
            _patch_gunicorn_worker(flush)
        except Exception:  # a forked child must start whatever happens here
            log_failure_once("forked_workers.after_fork_in_child")

    os.register_at_fork(after_in_child=after_fork_in_child)
