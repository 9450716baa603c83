"""One factory for every SDK wrapper: a seam is data, the wrapper skeleton is written once.

A :class:`Seam` names a patched SDK callable and says what to do around it: ``describe`` the call as a
version-neutral :class:`~mcp_otel.model.Message` (``None``: pass through), and, optionally, read the
outcome. :func:`build` turns a seam into a wrapt wrapper that owns, in one place:

- the suppression check (the keys ``opentelemetry.instrumentation.utils.is_instrumentation_enabled()``
  reads, which contrib instrumentations honour too, read with one context look-up:
  :func:`~mcp_otel.telemetry.suppression.unsuppressed_context`);
- the guard: an instrumentation failure is logged once and the SDK call proceeds as if uninstrumented;
- starting the operation, making it current, and deactivating and ending it — each step isolated from
  the next, so a failing deactivation still ends the span and records the metric point.

Sync and async callables and async context managers (an operation that lasts while the context is entered:
a long-lived channel) each get one builder. Seams that open no span (they only observe a call) use
:func:`after` / :func:`after_async`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.patching import Patch, Wrapper
from mcp_otel.model import Message
from mcp_otel.telemetry import Operation, Telemetry, unsuppressed_context

Args = tuple[Any, ...]
Kwargs = dict[str, Any]
Describe = Callable[[Any, Args, Kwargs], Message | None]
"""``describe(instance, args, kwargs)``: the message of one call, or ``None`` to pass it through."""
Outcome = Callable[[Operation, Any, Args, Kwargs, Any], None]
"""``outcome(op, instance, args, kwargs, value)``: record a result (or, as ``failure``, the exception)."""
Prepare = Callable[[Args, Kwargs], tuple[Args, Kwargs]]
"""``prepare(args, kwargs)``: the call's arguments to use, computed with the operation current (inject)."""
Bookkeep = Callable[[Operation, Any, Args, Kwargs], None]
"""``started(op, instance, args, kwargs)`` / ``finished(...)``: per-call state of a hook set."""


@dataclass(frozen=True, slots=True)
class Seam:
    """One SDK callable that gets an operation (a span and a metric point) per call.

    Attributes:
        module: the module that defines it (patched when it is imported).
        qualname: ``"Class.method"`` or ``"function"``.
        side: ``SpanKind.SERVER`` for a message this process receives, ``SpanKind.CLIENT`` for one it sends.
        describe: see :data:`Describe`.
        outcome: records the call's return value.
        failure: records the exception the call raised (any ``BaseException``; it is re-raised).
        prepare: rewrites the call's arguments while the operation is current (also without an operation).
        started: runs once the operation started (before the call).
        finished: runs after the operation ended.
        is_async: the patched callable is a coroutine function.
        context_manager: the patched callable returns an async context manager. The operation lasts from
            entering it to leaving it and is current only while it is entered (the caller's block is not part
            of it); ``failure`` gets the exception entering raised, ``outcome`` gets ``(entered value,
            exception the block raised or None)`` when it is left.
    """

    module: str
    qualname: str
    side: SpanKind
    describe: Describe
    outcome: Outcome | None = None
    failure: Outcome | None = None
    prepare: Prepare | None = None
    started: Bookkeep | None = None
    finished: Bookkeep | None = None
    is_async: bool = True
    context_manager: bool = False

    def patch(self, telemetry: Telemetry) -> Patch:
        """The :class:`~mcp_otel.hooks.patching.Patch` applying this seam's wrapper."""
        return Patch(self.module, self.qualname, build(self, telemetry))


def _begin(
    seam: Seam, start: Callable[[Message, Any], Operation | None], where: str, call: Any
) -> Operation | None:
    """Describe and start the operation of one call; ``None`` (call through) when suppressed or failing."""
    instance, args, kwargs = call
    try:
        current = unsuppressed_context()
        if current is None:
            return None
        message = seam.describe(instance, args, kwargs)
        if message is None:
            return None
        op = start(message, current)
        if op is None:
            return None
    except Exception:
        log_failure_once(where)
        return None
    # the operation exists from here on: whatever fails, it is returned so that it is ended
    try:
        op.activate()
    except Exception:
        log_failure_once(f"{where}.activate")
    if seam.started is not None:
        try:
            seam.started(op, instance, args, kwargs)
        except Exception:
            log_failure_once(f"{where}.started")
    return op


def _prepared(seam: Seam, where: str, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    try:
        return seam.prepare(args, kwargs)  # type: ignore[misc]
    except Exception:
        log_failure_once(f"{where}.prepare")
        return args, kwargs


def _record(record: Outcome, op: Operation, call: tuple[Any, Args, Kwargs], value: Any, where: str) -> None:
    try:
        record(op, call[0], call[1], call[2], value)
    except Exception:
        log_failure_once(where)


def _finish(seam: Seam, op: Operation, instance: Any, args: Args, kwargs: Kwargs, where: str) -> None:
    """Deactivate, end and clean up; a failing step never keeps the next from running."""
    try:
        op.deactivate()
    except Exception:
        log_failure_once(f"{where}.deactivate")
    try:
        op.end()
    except Exception:
        log_failure_once(f"{where}.end")
    if seam.finished is not None:
        try:
            seam.finished(op, instance, args, kwargs)
        except Exception:
            log_failure_once(f"{where}.finished")


def build(seam: Seam, telemetry: Telemetry) -> Wrapper:
    """The wrapt wrapper of ``seam``, bound to ``telemetry`` (sync or async, as the seam says)."""
    start = telemetry.start_server_request if seam.side is SpanKind.SERVER else telemetry.start_client_request
    where = f"{seam.module}:{seam.qualname}"
    where_outcome, where_failure = f"{where}.outcome", f"{where}.failure"
    prepare, outcome, failure = seam.prepare, seam.outcome, seam.failure

    if seam.context_manager:

        def context_wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
            return _SeamContext(seam, start, where, wrapped(*args, **kwargs), (instance, args, kwargs))

        return context_wrapper

    if seam.is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
            op = _begin(seam, start, where, (instance, args, kwargs))
            if prepare is not None:
                args, kwargs = _prepared(seam, where, args, kwargs)
            if op is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                if failure is not None:
                    _record(failure, op, (instance, args, kwargs), exc, where_failure)
                raise
            else:
                if outcome is not None:
                    try:
                        outcome(op, instance, args, kwargs, result)
                    except Exception:
                        log_failure_once(where_outcome)
                return result
            finally:
                _finish(seam, op, instance, args, kwargs, where)

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        op = _begin(seam, start, where, (instance, args, kwargs))
        if prepare is not None:
            args, kwargs = _prepared(seam, where, args, kwargs)
        if op is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if failure is not None:
                _record(failure, op, (instance, args, kwargs), exc, where_failure)
            raise
        else:
            if outcome is not None:
                try:
                    outcome(op, instance, args, kwargs, result)
                except Exception:
                    log_failure_once(where_outcome)
            return result
        finally:
            _finish(seam, op, instance, args, kwargs, where)

    return sync_wrapper


class _SeamContext:
    """The async context manager a ``context_manager`` seam's wrapper returns in place of the SDK's."""

    __slots__ = ("_call", "_manager", "_op", "_seam", "_start", "_value", "_where")

    def __init__(
        self,
        seam: Seam,
        start: Callable[[Message, Any], Operation | None],
        where: str,
        manager: Any,
        call: tuple[Any, Args, Kwargs],
    ) -> None:
        self._seam, self._start, self._where, self._manager, self._call = seam, start, where, manager, call
        self._op: Operation | None = None
        self._value: Any = None

    async def __aenter__(self) -> Any:
        seam, call, where = self._seam, self._call, self._where
        op = self._op = _begin(seam, self._start, where, call)
        try:
            value = await self._manager.__aenter__()
        except BaseException as exc:
            self._op = None
            if op is not None:
                if seam.failure is not None:
                    _record(seam.failure, op, call, exc, f"{where}.failure")
                _finish(seam, op, *call, where)
            raise
        if op is not None:
            self._value = value
            try:
                op.deactivate()  # the caller's block is not part of the operation
            except Exception:
                log_failure_once(f"{where}.deactivate")
        return value

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        op, self._op = self._op, None
        try:
            return await self._manager.__aexit__(exc_type, exc, tb)
        finally:
            if op is not None:
                seam, call = self._seam, self._call
                if seam.outcome is not None:
                    _record(seam.outcome, op, call, (self._value, exc), f"{self._where}.outcome")
                self._value = None
                _finish(seam, op, *call, self._where)


Observer = Callable[[Any, Args, Kwargs, Any], None]
"""``observe(instance, args, kwargs, value)``: see a call's result (or, on exit, the ending exception)."""


def before(module: str, qualname: str, observe: Observer) -> Patch:
    """A seam that opens no span: ``observe(instance, args, kwargs, None)``, guarded, then the call.

    The call's own result (a coroutine for an async callable) is returned as is: no frame is added to it.
    """
    where = f"{module}:{qualname}"

    def wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        try:
            observe(instance, args, kwargs, None)
        except Exception:
            log_failure_once(where)
        return wrapped(*args, **kwargs)

    return Patch(module, qualname, wrapper)


def after(module: str, qualname: str, observe: Observer) -> Patch:
    """A seam that opens no span: call through, then ``observe(instance, args, kwargs, result)``, guarded.

    Sync or async as the patched callable is (decided when first called, from what it returned).
    """
    where = f"{module}:{qualname}"

    def wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        result = wrapped(*args, **kwargs)
        if inspect.isawaitable(result):
            return _after_awaited(result, observe, instance, args, kwargs, where)
        try:
            observe(instance, args, kwargs, result)
        except Exception:
            log_failure_once(where)
        return result

    return Patch(module, qualname, wrapper)


async def _after_awaited(
    awaitable: Any, observe: Observer, instance: Any, args: Args, kwargs: Kwargs, where: str
) -> Any:
    result = await awaitable
    try:
        observe(instance, args, kwargs, result)
    except Exception:
        log_failure_once(where)
    return result


def on_exit(module: str, qualname: str, observe: Observer) -> Patch:
    """An async seam ending something (a session): ``observe(instance, args, kwargs, error)`` runs after the
    call however it ended, with the exception being handled when it was called (``None`` after a normal
    close), guarded."""
    where = f"{module}:{qualname}"

    async def wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        error = sys.exc_info()[1]
        try:
            return await wrapped(*args, **kwargs)
        finally:
            try:
                observe(instance, args, kwargs, error)
            except Exception:
                log_failure_once(where)

    return Patch(module, qualname, wrapper)


__all__ = ["Describe", "Observer", "Outcome", "Seam", "after", "before", "build", "on_exit"]
