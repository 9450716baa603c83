"""Marks of the exceptions Sentry has seen or mcp-otel has captured, so that none is sent twice.

The user's exception objects are never changed: marks are kept here by ``id()``, with a weak reference that
removes the entry when the exception dies, or — built-in exception types support no weak references — a strong
one, for the last :data:`MAX_STRONG_MARKS` of them (the mark matters only while the request that raised runs:
it keeps a later capture of the same exception from sending it twice).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator

CAPTURED = "captured"
"""Mark of an exception mcp-otel captured itself (its events for this exception are dropped elsewhere)."""
SEEN = "seen"
"""Mark of an exception an event of the user's (or another integration's) already carried."""

MAX_STRONG_MARKS = 64
"""At most this many marked exceptions without weak-reference support are kept alive by their mark."""

_marks: dict[int, tuple[Callable[[], BaseException | None], str]] = {}
_strong_marks: OrderedDict[int, BaseException] = OrderedDict()
_marks_lock = threading.Lock()


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during (causes, contexts, group members)."""
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < 64:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for linked in (item.__cause__, item.__context__):
            if linked is not None:
                stack.append(linked)
        members = getattr(item, "exceptions", None)
        if isinstance(members, (list, tuple)):
            stack.extend(m for m in members if isinstance(m, BaseException))


def _mark_of(exc: BaseException) -> str | None:
    entry = _marks.get(id(exc))
    return entry[1] if entry is not None and entry[0]() is exc else None


def marked(exc: BaseException) -> str | None:
    """The strongest mark in ``exc``'s chain: ``captured`` (by mcp-otel), ``seen`` (by Sentry) or ``None``."""
    found: str | None = None
    for item in chain(exc):
        kind = _mark_of(item)
        if kind == CAPTURED:
            return CAPTURED
        if kind == SEEN:
            found = SEEN
    return found


def mark(exc: BaseException, kind: str) -> None:
    """Mark ``exc`` and its chain :data:`CAPTURED` or :data:`SEEN` (a ``captured`` mark is never lowered)."""
    for item in chain(exc):
        if _mark_of(item) == CAPTURED:
            continue
        ident = id(item)
        ref: Callable[[], BaseException | None]
        with _marks_lock:
            try:
                ref = weakref.ref(item, _forgetter(ident))
            except TypeError:  # a built-in exception type: held (and so its id) until evicted
                ref = _held(item)
                _strong_marks[ident] = item
                _strong_marks.move_to_end(ident)
                while len(_strong_marks) > MAX_STRONG_MARKS:
                    evicted, _ = _strong_marks.popitem(last=False)
                    _marks.pop(evicted, None)
            _marks[ident] = (ref, kind)


def _held(exc: BaseException) -> Callable[[], BaseException | None]:
    return lambda: exc


def _forgetter(ident: int) -> Callable[[weakref.ref[BaseException]], None]:
    return lambda dead: _forget(ident, dead)


def _forget(ident: int, dead: Callable[[], BaseException | None]) -> None:
    """Weak-reference callback: drop the mark of a collected exception (not a newer one with its id)."""
    entry = _marks.get(ident)
    if entry is not None and entry[0] is dead:
        _marks.pop(ident, None)
