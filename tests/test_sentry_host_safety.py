"""The Sentry integration leaves the host alone: no deadlock under GC, no mixed-up sessions, nothing left
registered after ``close()``, no attributes added to the user's exception objects."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("sentry_sdk")

import sentry_sdk  # noqa: E402
import sentry_sdk.scope  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

import mcp_otel.sentry  # noqa: E402
from mcp_otel.listeners import remove_listener  # noqa: E402
from mcp_otel.model import Transport  # noqa: E402
from mcp_otel.sentry import event_processor, exception_marks  # noqa: E402
from mcp_otel.sentry.health import ReleaseHealth  # noqa: E402
from support.sentry_receiver import SentryReceiver  # noqa: E402

STDIO = Transport(kind="stdio")


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    with SentryReceiver() as r:
        sentry_sdk.init(dsn=r.dsn, release="host-safety@1", auto_enabling_integrations=False)
        try:
            yield r
        finally:
            sentry_sdk.get_client().close(timeout=2.0)
            sentry_sdk.Scope.get_global_scope().set_client(None)


class Key:
    """A session object that supports weak references (like the SDK's sessions)."""


def test_gc_of_a_session_while_the_same_thread_holds_the_lock(receiver: SentryReceiver) -> None:
    """The abandonment finalizer may run inside any code of the thread, even while it holds the lock."""
    health = ReleaseHealth()
    health.install()
    done = threading.Event()

    def scenario() -> None:
        key = Key()
        health.on_session_start(key, SpanKind.SERVER, STDIO)
        with health._lock:  # a GC pass while the listener is inside its critical section
            del key
            gc.collect()
        done.set()

    try:
        worker = threading.Thread(target=scenario, daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert done.is_set(), "the finalizer deadlocked on the listener's lock"
        assert health.open_sessions() == 0
        sentry_sdk.flush(timeout=5.0)
        receiver.wait_for(lambda r: bool(r.items("session")))
        (session,) = [item.payload for item in receiver.items("session")]
        assert session["status"] == "abnormal"
    finally:
        if done.is_set():
            health.uninstall()
        else:  # the deadlocked thread holds the lock for good: only unregister
            remove_listener(health)


def test_sessions_of_keys_without_weak_references_never_share_an_id(receiver: SentryReceiver) -> None:
    """A key that cannot be weak-referenced is held while tracked: another object cannot take its id."""
    health = ReleaseHealth()
    health.install()
    try:
        first = object()  # no __weakref__
        health.on_session_start(first, SpanKind.SERVER, STDIO)
        del first  # dropped by the SDK without a close
        others = [object() for _ in range(64)]  # one of them would reuse the freed id
        for other in others:
            health.on_session_start(other, SpanKind.SERVER, STDIO)
        assert health.open_sessions() == 65
        for other in others:
            health.on_session_end(other, SpanKind.SERVER, mcp_otel_session(), None)
        assert health.open_sessions() == 1
        health._at_exit()
        sentry_sdk.flush(timeout=5.0)
        receiver.wait_for(lambda r: len(r.items("session")) == 65)
        statuses = sorted(item.payload["status"] for item in receiver.items("session"))
        assert statuses == ["abnormal"] + ["exited"] * 64
    finally:
        health.uninstall()


def mcp_otel_session() -> object:
    from mcp_otel.model import Session

    return Session()


def test_close_removes_the_global_event_processor(receiver: SentryReceiver) -> None:
    processors = sentry_sdk.scope.global_event_processors
    handle = mcp_otel.sentry.setup(TracerProvider())
    assert event_processor._event_processor in processors
    handle.close()
    assert event_processor._event_processor not in processors
    handle = mcp_otel.sentry.setup(TracerProvider())  # set up again: registered again, once
    assert processors.count(event_processor._event_processor) == 1
    handle.close()
    assert event_processor._event_processor not in processors


def _capture_and_check(kind: type[Exception]) -> int:
    try:
        raise kind("user error")
    except kind as exc:
        sentry_sdk.capture_exception(exc)
        state = dict(vars(exc))
        mark = exception_marks.marked(exc)
        ident = id(exc)
    assert state == {} and mark == "seen"
    return ident


class UserError(Exception):
    """A user-defined exception (supports weak references, unlike the built-in types)."""


@pytest.mark.parametrize("kind", [UserError, LookupError])
def test_user_exceptions_are_not_modified(kind: type[Exception], receiver: SentryReceiver) -> None:
    """Marks of seen exceptions live in mcp-otel, not on the objects; they go with the objects, or (built-in
    types, which have no weak references) after ``MAX_STRONG_MARKS`` newer ones."""
    handle = mcp_otel.sentry.setup(TracerProvider())
    try:
        ident = _capture_and_check(kind)
        sentry_sdk.capture_exception(UserError("another"))  # DedupeIntegration holds the last one it saw
        gc.collect()
        if kind is LookupError:
            assert ident in exception_marks._marks  # held: the id cannot be reused while marked
            newer = [LookupError(str(i)) for i in range(exception_marks.MAX_STRONG_MARKS)]
            for item in newer:
                exception_marks.mark(item, "seen")
            assert len(exception_marks._strong_marks) == exception_marks.MAX_STRONG_MARKS
        assert ident not in exception_marks._marks
    finally:
        handle.close()
