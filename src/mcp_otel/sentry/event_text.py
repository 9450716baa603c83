"""Exception text on Sentry error events, as mcp-otel's ``exception_text`` setting says.

mcp-otel's own error events (:mod:`mcp_otel.sentry.errors`) and the error events user code or an
integration captures while an MCP request runs (:mod:`mcp_otel.sentry.event_processor`) pass through
:func:`scrub_event` before they are sent:

- ``scrubbed`` (default): credentials (:func:`~mcp_otel.telemetry.scrubbing.scrub`) are replaced in each
  exception's ``value``, in frame variables and source context lines, in breadcrumb messages and data, and in
  the event's log message and its parameters (a logged record's ``args``, as sentry-sdk will serialize
  them); the ``content_redactor`` then sees each exception ``value`` (key ``exception.message``);
- ``type``: as ``scrubbed``, and the exception ``value`` and the frame variables are removed (the type and
  the frames — code locations, which Sentry groups by — stay);
- ``full``: sent as sentry-sdk built it (only the ``content_redactor``, when set, sees the values).

sentry-sdk's own ``EventScrubber`` still runs afterwards (it filters by key: ``password``, ``token`` …).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sentry_sdk.utils import safe_repr

from mcp_otel._guard import log_failure_once
from mcp_otel.config import EXCEPTION_TEXT_FULL, EXCEPTION_TEXT_TYPE
from mcp_otel.semconv import attributes as attr
from mcp_otel.telemetry.scrubbing import scrub

if TYPE_CHECKING:
    from sentry_sdk._types import Event

    from mcp_otel.telemetry.exception_text import ExceptionText

HINT_RULES_KEY = "mcp_otel_exception_text"
"""Hint key under which mcp-otel's own error events carry the rules their text follows."""

_MAX_DEPTH = 8  # serialized frame variables are nested dicts and lists of bounded depth
_MIN_SECRET = 5  # the shortest text a rule can match ("pwd=x"): shorter strings are left alone
_SEPARATOR = "\n\x1f\n"


def scrub_event(event: Event, rules: ExceptionText) -> None:
    """Apply ``rules`` to the exception text of ``event`` in place (see the module docs).

    On an unexpected failure (logged once) the exception values, frame variables and breadcrumbs are removed:
    text that was not scrubbed is not sent.
    """
    if rules.passthrough:
        return
    try:
        _scrub_event(event, rules)
    except Exception:
        log_failure_once("sentry.event_text")
        _strip(event)


def scrub_breadcrumb(crumb: dict[str, Any], rules: ExceptionText) -> None:
    """Scrub the message and data of one breadcrumb in place, as :func:`scrub_event` scrubs an event's (not in
    ``full`` mode); on failure (logged once) they are removed."""
    if rules.mode == EXCEPTION_TEXT_FULL:
        return
    try:
        _scrub_holders(_crumb_holders(crumb))
    except Exception:
        log_failure_once("sentry.event_text.breadcrumb")
        crumb.pop("message", None)
        crumb.pop("data", None)


def _scrub_event(event: Event, rules: ExceptionText) -> None:
    text_too = rules.mode != EXCEPTION_TEXT_FULL
    type_only = rules.mode == EXCEPTION_TEXT_TYPE
    for value in _exception_values(event):
        raw = value.get("value")
        if isinstance(raw, str):
            text = rules.text(attr.EXCEPTION_MESSAGE, raw)
            if text is None:
                del value["value"]
            else:
                value["value"] = text
    if not text_too:
        return
    # Every other string that can hold exception text, scrubbed in one batch (one scrub() call in all).
    holders: list[tuple[Any, Any]] = []  # (container, key) whose value is scrubbed
    for frame in _frames(event):
        if type_only:
            frame.pop("vars", None)
        for key in ("vars", "pre_context", "context_line", "post_context"):
            if key in frame:
                holders.append((frame, key))
    breadcrumbs = event.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in crumbs if isinstance(crumbs, list) else []:
        if isinstance(crumb, dict):
            holders += _crumb_holders(crumb)
    logentry = event.get("logentry")
    if isinstance(logentry, dict) and "params" in logentry:  # LoggingIntegration: the record's args, as given
        logentry["params"] = _params(logentry["params"])
    holders += [(event, key) for key in ("message", "logentry") if key in event]
    _scrub_holders(holders)


def _crumb_holders(crumb: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(crumb, key) for key in ("message", "data") if key in crumb]


def _scrub_holders(holders: list[tuple[Any, Any]]) -> None:
    """Scrub the value of each ``(container, key)`` in place, every string in one :func:`scrub` call."""
    strings: list[str] = []
    for container, key in holders:
        _collect(container[key], strings, 0)
    scrubbed = iter(_scrub_all(strings))
    for container, key in holders:
        container[key] = _rebuild(container[key], scrubbed, 0)


def _params(params: Any) -> Any:
    """A log record's ``args`` as sentry-sdk will serialize them, so that they can be scrubbed: a tuple as a
    list, each value that is not a string, number or ``None`` as its ``repr`` (which may hold a secret)."""
    if isinstance(params, dict):
        return {str(key): _param(value) for key, value in params.items()}
    if isinstance(params, (tuple, list)):
        return [_param(value) for value in params]
    return _param(params)


def _param(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    return safe_repr(value)


def _collect(value: Any, out: list[str], depth: int) -> None:
    """Append the strings of ``value`` (a serialized Sentry value) worth scrubbing, in traversal order."""
    if isinstance(value, str):
        if len(value) >= _MIN_SECRET:
            out.append(value)
    elif depth < _MAX_DEPTH:
        if isinstance(value, dict):
            for item in value.values():
                _collect(item, out, depth + 1)
        elif isinstance(value, list):
            for item in value:
                _collect(item, out, depth + 1)


def _rebuild(value: Any, scrubbed: Iterator[str], depth: int) -> Any:
    """``value`` with the strings :func:`_collect` took replaced by the next items of ``scrubbed``."""
    if isinstance(value, str):
        return next(scrubbed) if len(value) >= _MIN_SECRET else value
    if depth < _MAX_DEPTH:
        if isinstance(value, dict):
            return {key: _rebuild(item, scrubbed, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [_rebuild(item, scrubbed, depth + 1) for item in value]
    return value


def _scrub_all(strings: list[str]) -> list[str]:
    """:func:`scrub` of each string, as one call: joined by a separator no rule matches across (rules stop
    at a line break; a private key block, which may not, sends it back to one call per string)."""
    if not strings:
        return strings
    joined = _SEPARATOR.join(strings)
    out = scrub(joined)
    if out == joined:
        return strings
    parts = out.split(_SEPARATOR)
    return parts if len(parts) == len(strings) else [scrub(text) for text in strings]


def _exception_values(event: Event) -> Iterator[dict[str, Any]]:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    for value in values or []:
        if isinstance(value, dict):
            yield value


def _frames(event: Event) -> Iterator[dict[str, Any]]:
    sources = list(_exception_values(event))
    threads = event.get("threads")
    sources += (
        [t for t in (threads.get("values") or []) if isinstance(t, dict)] if isinstance(threads, dict) else []
    )
    for source in sources:
        stacktrace = source.get("stacktrace")
        for frame in (stacktrace.get("frames") or []) if isinstance(stacktrace, dict) else []:
            if isinstance(frame, dict):
                yield frame


def _strip(event: Event) -> None:
    """Remove every place exception text can be in: exception values, frame variables, breadcrumbs."""
    try:
        for value in _exception_values(event):
            value.pop("value", None)
        for frame in _frames(event):
            frame.pop("vars", None)
        event.pop("breadcrumbs", None)
        event.pop("logentry", None)
        event.pop("message", None)
    except Exception:
        log_failure_once("sentry.event_text.strip")
