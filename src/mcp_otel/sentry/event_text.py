"""Exception text on Sentry error events, as mcp-otel's ``exception_text`` setting says.

mcp-otel's own error events (:mod:`mcp_otel.sentry.errors`) and the error events user code or an
integration captures while an MCP request runs (:mod:`mcp_otel.sentry.event_processor`) pass through
:func:`scrub_event` before they are sent:

- ``scrubbed`` (default): credentials (:func:`~mcp_otel.telemetry.scrubbing.scrub`) are replaced in each
  exception's ``value``, in string frame variables, in breadcrumb messages and data, and in the event's log
  message; the ``content_redactor`` then sees each exception ``value`` (key ``exception.message``);
- ``type``: as ``scrubbed``, and the exception ``value`` and the frame variables are removed (the type and
  the frames — code locations, which Sentry groups by — stay);
- ``full``: sent as sentry-sdk built it (only the ``content_redactor``, when set, sees the values).

sentry-sdk's own ``EventScrubber`` still runs afterwards (it filters by key: ``password``, ``token`` …).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
    for frame in _frames(event):
        if "vars" not in frame:
            continue
        if type_only:
            del frame["vars"]
        else:
            frame["vars"] = _scrubbed(frame["vars"], 0)
    breadcrumbs = event.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    if isinstance(crumbs, list):
        for crumb in crumbs:
            if isinstance(crumb, dict):
                for key in ("message", "data"):
                    if key in crumb:
                        crumb[key] = _scrubbed(crumb[key], 0)
    for key in ("message", "logentry"):
        if key in event:
            event[key] = _scrubbed(event[key], 0)  # type: ignore[literal-required]


def _scrubbed(value: Any, depth: int) -> Any:
    """``value`` (a serialized Sentry value: strings, numbers, lists, dicts) with its strings scrubbed."""
    if isinstance(value, str):
        return scrub(value) if len(value) >= _MIN_SECRET else value
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: _scrubbed(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, depth + 1) for item in value]
    return value


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
