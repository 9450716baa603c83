"""The ``exception_text`` rules (:mod:`mcp_otel.telemetry.exception_text`, :mod:`mcp_otel.sentry.event_text`).

- The setting: keyword beats environment, an invalid environment value warns naming the variable and the
  accepted values, a keyword of the wrong value raises ``TypeError``.
- The ``exception`` event has exactly the keys and format of OpenTelemetry's ``Span.record_exception``
  (``full``: the SDK's own event; ``scrubbed``: the same with credentials replaced; ``type``: the type only).
- ``content_redactor`` sees exception text with the keys ``exception.message``, ``exception.stacktrace`` and
  ``otel.status_description``; ``None`` drops the text; a redactor that raises drops it and is logged once.
- An exception whose ``__str__`` raises still gets its event; nothing raises into the caller.
- :class:`ScrubbingSpan` (enrich mode) scrubs ``set_status`` (both call forms) and ``record_exception``.
- Sentry events: values, frame variables, context lines, breadcrumbs and log messages (and their
  parameters) per mode.
- Log records: bodies are scrubbed unless ``full`` (never dropped); their ``exception.*`` attributes have
  no ``exception.escaped``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from mcp_otel import _guard
from mcp_otel.config import ENV_EXCEPTION_TEXT, McpOtelConfig
from mcp_otel.semconv import attributes as attr
from mcp_otel.sentry.event_text import scrub_event
from mcp_otel.sentry.request_breadcrumbs import RequestLogLines
from mcp_otel.telemetry.exception_text import ExceptionText, ScrubbingSpan, guarded_record_exception

SECRET_URL = "postgresql://app:Pw-9xQ2LmT7@db:5432/x"
MESSAGE = f"connect to {SECRET_URL} failed"
SCRUBBED = "connect to postgresql://REDACTED:REDACTED@db:5432/x failed"


class Broken(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider, spans = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider, spans
    provider.shutdown()


def _event(provider: TracerProvider, spans: InMemorySpanExporter, record: Any) -> dict[str, Any]:
    with provider.get_tracer("t").start_as_current_span("s", record_exception=False) as span:
        record(span)
    (event,) = spans.get_finished_spans()[-1].events
    assert event.name == "exception"
    return dict(event.attributes or {})


# --- the setting ---------------------------------------------------------------------------------------


def test_default_is_scrubbed() -> None:
    assert McpOtelConfig.from_kwargs({}, environ={}).exception_text == "scrubbed"


@pytest.mark.parametrize("value", ["full", "scrubbed", "type", " FULL "])
def test_environment(value: str) -> None:
    config = McpOtelConfig.from_kwargs({}, environ={ENV_EXCEPTION_TEXT: value})
    assert config.exception_text == value.strip().lower()


def test_keyword_beats_environment() -> None:
    config = McpOtelConfig.from_kwargs({"exception_text": "type"}, environ={ENV_EXCEPTION_TEXT: "full"})
    assert config.exception_text == "type"


def test_invalid_environment_warns_and_uses_the_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mcp_otel.config"):
        config = McpOtelConfig.from_kwargs({}, environ={ENV_EXCEPTION_TEXT: "none"})
    assert config.exception_text == "scrubbed"
    (record,) = caplog.records
    assert ENV_EXCEPTION_TEXT in record.getMessage()
    assert "scrubbed, full, type" in record.getMessage()


def test_invalid_keyword_raises() -> None:
    with pytest.raises(TypeError, match="exception_text must be one of scrubbed, full, type"):
        McpOtelConfig.from_kwargs({"exception_text": "none"}, environ={})


# --- the exception event -------------------------------------------------------------------------------


def test_full_is_the_sdks_own_event(exporter: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    exc = _raised(ConnectionError(MESSAGE))
    sdk = _event(*exporter, lambda span: span.record_exception(exc))
    ours = _event(*exporter, lambda span: ExceptionText("full").record_exception(span, exc))
    assert ours == sdk


def test_scrubbed_has_the_sdks_keys_and_format(exporter: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    exc = _raised(ConnectionError(MESSAGE))
    sdk = _event(*exporter, lambda span: span.record_exception(exc))
    ours = _event(*exporter, lambda span: ExceptionText("scrubbed").record_exception(span, exc))
    assert (
        set(ours)
        == set(sdk)
        == {
            attr.EXCEPTION_TYPE,
            attr.EXCEPTION_MESSAGE,
            attr.EXCEPTION_STACKTRACE,
            attr.EXCEPTION_ESCAPED,
        }
    )
    assert ours[attr.EXCEPTION_TYPE] == sdk[attr.EXCEPTION_TYPE] == "ConnectionError"
    assert ours[attr.EXCEPTION_ESCAPED] == sdk[attr.EXCEPTION_ESCAPED] == "False"
    assert ours[attr.EXCEPTION_MESSAGE] == SCRUBBED
    assert ours[attr.EXCEPTION_STACKTRACE] == sdk[attr.EXCEPTION_STACKTRACE].replace(MESSAGE, SCRUBBED)


def test_qualified_type_and_caller_attributes(exporter: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    exc = _raised(pytest.UsageError("u"))  # a class outside builtins: module-qualified
    event = _event(*exporter, lambda span: ExceptionText("type").record_exception(span, exc, {"extra": 1}))
    assert event == {
        attr.EXCEPTION_TYPE: "pytest.UsageError",  # its __module__ says "pytest"
        attr.EXCEPTION_ESCAPED: "False",
        "extra": 1,
    }


def test_unprintable_exception(exporter: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    event = _event(
        *exporter, lambda span: guarded_record_exception(ExceptionText("scrubbed"), span, Broken())
    )
    assert event[attr.EXCEPTION_TYPE].endswith("Broken")
    assert event[attr.EXCEPTION_MESSAGE] == "<unprintable Broken object>"


# --- the redactor ---------------------------------------------------------------------------------------


def test_redactor_sees_scrubbed_text_with_its_key() -> None:
    seen: list[tuple[str, str]] = []

    def redactor(key: str, value: str) -> str | None:
        seen.append((key, value))
        return None if key == attr.EXCEPTION_STACKTRACE else value.upper()

    rules = ExceptionText("scrubbed", redactor)
    attrs = rules.event_attributes(_raised(ValueError(MESSAGE)))
    assert attrs[attr.EXCEPTION_MESSAGE] == SCRUBBED.upper()
    assert attr.EXCEPTION_STACKTRACE not in attrs  # dropped by the redactor
    assert rules.status_description(MESSAGE) == SCRUBBED.upper()
    assert [key for key, _ in seen] == [
        attr.EXCEPTION_MESSAGE,
        attr.EXCEPTION_STACKTRACE,
        attr.OTEL_STATUS_DESCRIPTION,
    ]
    assert all(SECRET_URL not in value for _, value in seen)


def test_full_with_a_redactor_gives_it_the_raw_text() -> None:
    rules = ExceptionText("full", lambda key, value: value.replace("Pw-9xQ2LmT7", "***"))
    assert not rules.passthrough
    assert rules.status_description(MESSAGE) == "connect to postgresql://app:***@db:5432/x failed"


def test_type_mode_never_calls_the_redactor() -> None:
    calls: list[str] = []
    rules = ExceptionText("type", lambda key, value: calls.append(key) or value)  # type: ignore[func-returns-value]
    assert rules.status_description(MESSAGE) is None
    assert rules.event_attributes(ValueError(MESSAGE)) == {
        attr.EXCEPTION_TYPE: "ValueError",
        attr.EXCEPTION_ESCAPED: "False",
    }
    assert calls == []


def test_raising_redactor_drops_the_text_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    def redactor(key: str, value: str) -> str:
        raise RuntimeError("redactor bug")

    _guard._seen.discard("exception text (content_redactor)")
    rules = ExceptionText("scrubbed", redactor)
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        assert rules.status_description(MESSAGE) is None
        assert attr.EXCEPTION_MESSAGE not in rules.event_attributes(ValueError(MESSAGE))
    assert len([r for r in caplog.records if "content_redactor" in r.getMessage()]) == 1


# --- the SDK's spans in enrich mode ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["status object", "code and description"])
def test_scrubbing_span(exporter: tuple[TracerProvider, InMemorySpanExporter], form: str) -> None:
    provider, spans = exporter
    with provider.get_tracer("t").start_as_current_span("s", record_exception=False) as span:
        wrapped = ScrubbingSpan(span, ExceptionText("scrubbed"))
        if form == "status object":
            wrapped.set_status(Status(StatusCode.ERROR, MESSAGE))
        else:
            wrapped.set_status(StatusCode.ERROR, MESSAGE)
        wrapped.record_exception(_raised(ValueError(MESSAGE)))
        wrapped.set_attribute("k", "v")
        assert wrapped.is_recording() and wrapped.get_span_context() == span.get_span_context()
    (finished,) = spans.get_finished_spans()
    assert finished.status.description == SCRUBBED
    assert finished.events[0].attributes[attr.EXCEPTION_MESSAGE] == SCRUBBED  # type: ignore[index]
    assert finished.attributes == {"k": "v"}


# --- Sentry events ---------------------------------------------------------------------------------------


def _sentry_event() -> dict[str, Any]:
    frame = {
        "function": "connect",
        "vars": {"dsn": repr(SECRET_URL), "n": "3", "nested": {"headers": ["Bearer AbC123dEf456gHi"]}},
        "context_line": f'    dsn = "{SECRET_URL}"',
        "pre_context": ["def connect():"],
    }
    return {
        "exception": {
            "values": [{"type": "ConnectionError", "value": MESSAGE, "stacktrace": {"frames": [frame]}}]
        },
        "breadcrumbs": {
            "values": [{"message": f"Error executing tool leak: {MESSAGE}", "data": {"u": SECRET_URL}}]
        },
        "logentry": {"message": f"failed: {MESSAGE}", "params": []},
    }


def test_sentry_scrubbed() -> None:
    event = _sentry_event()
    scrub_event(event, ExceptionText("scrubbed"))  # type: ignore[arg-type]
    assert "Pw-9xQ2LmT7" not in str(event) and "AbC123dEf456gHi" not in str(event)
    value = event["exception"]["values"][0]
    assert value["value"] == SCRUBBED
    assert value["stacktrace"]["frames"][0]["vars"]["n"] == "3"
    assert event["breadcrumbs"]["values"][0]["message"] == f"Error executing tool leak: {SCRUBBED}"


def test_sentry_type_keeps_frames_without_variables() -> None:
    event = _sentry_event()
    scrub_event(event, ExceptionText("type"))  # type: ignore[arg-type]
    value = event["exception"]["values"][0]
    assert "value" not in value and value["type"] == "ConnectionError"
    (frame,) = value["stacktrace"]["frames"]
    assert "vars" not in frame and frame["function"] == "connect"
    assert "Pw-9xQ2LmT7" not in str(event)


def test_sentry_full_is_untouched() -> None:
    event = _sentry_event()
    scrub_event(event, ExceptionText("full"))  # type: ignore[arg-type]
    assert event == _sentry_event()


class _Holder:
    """A log argument whose ``repr`` holds a credential (what sentry-sdk serializes it as)."""

    def __repr__(self) -> str:
        return f"<Holder {SECRET_URL}>"


def test_sentry_log_entry_params_are_scrubbed() -> None:
    """``LoggingIntegration`` puts the record's ``args`` (a tuple, as logged) in ``logentry.params``."""
    event: Any = {
        "logentry": {"message": "lookup failed for %s (%r, %d)", "params": (SECRET_URL, _Holder(), 3)},
        "level": "error",
    }
    scrub_event(event, ExceptionText("scrubbed"))
    assert event["logentry"]["params"] == [
        "postgresql://REDACTED:REDACTED@db:5432/x",
        "<Holder postgresql://REDACTED:REDACTED@db:5432/x>",
        3,
    ]
    mapping: Any = {"logentry": {"message": "%(url)s", "params": {"url": SECRET_URL}}}
    scrub_event(mapping, ExceptionText("scrubbed"))
    assert mapping["logentry"]["params"] == {"url": "postgresql://REDACTED:REDACTED@db:5432/x"}


def test_request_log_lines_scrub_their_breadcrumbs_only() -> None:
    """Events captured outside a request: only breadcrumbs of log lines written during requests are scrubbed,
    each with its request's rules; the last ``size`` lines are remembered."""
    lines = RequestLogLines(size=2)
    lines.remember("app", f"first {SECRET_URL}", ExceptionText("scrubbed"))
    lines.remember("app", f"as raised {SECRET_URL}", ExceptionText("full"))  # nothing to remember
    lines.remember("app", MESSAGE, ExceptionText("type"))
    lines.remember("db", MESSAGE, ExceptionText("scrubbed"))
    assert len(lines) == 2  # "first …" went
    crumb = {"type": "log", "category": "db", "message": MESSAGE, "data": {"dsn": SECRET_URL}}
    event: Any = {
        "breadcrumbs": {
            "values": [
                crumb,
                {"type": "log", "category": "app", "message": f"first {SECRET_URL}"},
                {"type": "log", "category": "other", "message": MESSAGE},
                {"type": "http", "category": "db", "message": MESSAGE},
            ]
        }
    }
    lines.scrub(event)
    values = event["breadcrumbs"]["values"]
    assert values[0] == {
        "type": "log",
        "category": "db",
        "message": SCRUBBED,
        "data": {"dsn": "postgresql://REDACTED:REDACTED@db:5432/x"},
    }
    assert [v["message"] for v in values[1:]] == [f"first {SECRET_URL}", MESSAGE, MESSAGE]


# --- log records -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"), [("scrubbed", SCRUBBED), ("type", SCRUBBED), ("full", MESSAGE)]
)
def test_free_text_is_scrubbed_unless_full_and_never_dropped(mode: str, expected: str) -> None:
    assert ExceptionText(mode).free_text(MESSAGE) == expected


def test_log_record_exception_attributes_have_no_escaped() -> None:
    exc = _raised(ConnectionError(MESSAGE))
    attributes = ExceptionText("scrubbed").event_attributes(exc, escaped=None)
    assert set(attributes) == {attr.EXCEPTION_TYPE, attr.EXCEPTION_MESSAGE, attr.EXCEPTION_STACKTRACE}
    assert attributes[attr.EXCEPTION_MESSAGE] == SCRUBBED
    assert ExceptionText("type").event_attributes(exc, escaped=None) == {
        attr.EXCEPTION_TYPE: "ConnectionError"
    }
