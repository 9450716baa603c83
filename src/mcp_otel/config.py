"""mcp-otel configuration: ``instrument()`` keywords, each with an environment variable.

A keyword passed to :meth:`mcp_otel.McpInstrumentor.instrument` wins over its environment variable, which
wins over the default. An invalid environment value logs one warning naming the variable and the accepted
values, and the default is used.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_otel.semconv_stability import SemconvKeys

_log = logging.getLogger(__name__)

ContentRedactor = Callable[[str, str], "str | None"]
"""``redactor(key, value) -> str | None``: called with every captured content value (serialised to a
string) before it is put on a span or handed to a listener, and with exception text (``exception.message``,
``exception.stacktrace``, ``otel.status_description``) unless ``exception_text`` is ``type``; the return value
replaces it, ``None`` drops it. ``key`` is the attribute key (``gen_ai.tool.call.arguments``,
``gen_ai.tool.call.result``, ``gen_ai.prompt.variable.<name>``), or for content only listeners get
(:mod:`mcp_otel.facts`) ``tool_result.content`` (an ``isError`` result's text), ``tool_result.item.text`` /
``.uri`` / ``.name`` / ``.resource_uri`` (a result's content items), ``prompt_result.description``,
``prompt_result.message_content``, ``prompt_result.message.text`` (each message of a multi-message result) and
``notification.data`` (a log notification's data)."""

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_MCP_CAPTURE_CONTENT"
ENV_GENAI_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_MAX_CONTENT_LENGTH = "OTEL_INSTRUMENTATION_MCP_MAX_CONTENT_LENGTH"
ENV_CONTENT_REDACTOR = "OTEL_INSTRUMENTATION_MCP_CONTENT_REDACTOR"
ENV_RESOURCE_URI_IN_SPAN_NAME = "OTEL_INSTRUMENTATION_MCP_RESOURCE_URI_IN_SPAN_NAME"
ENV_EXCLUDED_METHODS = "OTEL_INSTRUMENTATION_MCP_EXCLUDED_METHODS"
ENV_METRICS = "OTEL_INSTRUMENTATION_MCP_METRICS"
ENV_METRICS_CLIENT_NAME = "OTEL_INSTRUMENTATION_MCP_METRICS_CLIENT_NAME"
ENV_METRICS_CLIENT_NAME_LIMIT = "OTEL_INSTRUMENTATION_MCP_METRICS_CLIENT_NAME_LIMIT"
ENV_SESSION_ID_ATTRIBUTE = "OTEL_INSTRUMENTATION_MCP_SESSION_ID_ATTRIBUTE"
ENV_SDK_SPANS = "OTEL_INSTRUMENTATION_MCP_SDK_SPANS"
ENV_LOGS = "OTEL_INSTRUMENTATION_MCP_LOGS"
SDK_SPANS_OWN = "own"
SDK_SPANS_ENRICH = "enrich"
SDK_SPANS_POLICIES = (SDK_SPANS_OWN, SDK_SPANS_ENRICH)
ENV_EXCEPTION_TEXT = "OTEL_INSTRUMENTATION_MCP_EXCEPTION_TEXT"
EXCEPTION_TEXT_FULL = "full"
EXCEPTION_TEXT_SCRUBBED = "scrubbed"
EXCEPTION_TEXT_TYPE = "type"
EXCEPTION_TEXT_MODES = (EXCEPTION_TEXT_SCRUBBED, EXCEPTION_TEXT_FULL, EXCEPTION_TEXT_TYPE)

DEFAULT_MAX_CONTENT_LENGTH = 4096
DEFAULT_METRICS_CLIENT_NAME_LIMIT = 20
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
#: The GenAI utilities' ``ContentCapturingMode`` values (case-insensitive) → content on spans (no events).
GENAI_CAPTURE_MODES = {"NO_CONTENT": False, "SPAN_ONLY": True, "EVENT_ONLY": False, "SPAN_AND_EVENT": True}
_LOGGED_MODES: set[str] = set()


@dataclass(frozen=True)
class McpOtelConfig:
    """Resolved settings of one ``instrument()`` call.

    Attributes:
        capture_content: record tool arguments/results, prompt variables and prompt result descriptions
            (``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``, ``gen_ai.prompt.variable.<key>``,
            ``mcp.prompt.result.description``). Off by default: user data.
        max_content_length: maximum length, in characters, of each captured content value (after redaction).
        content_redactor: see :data:`ContentRedactor`; ``None`` records values as they are.
        resource_uri_in_span_name: name ``resources/read`` spans ``resources/read {uri}`` (high cardinality;
            the conventions make it opt-in).
        excluded_methods: MCP methods (e.g. ``ping``) that get no span and no metric point.
        metrics: record the MCP duration histograms.
        metrics_client_name: also put ``mcp.client.name`` (the client's ``clientInfo.name``) on the operation
            and session duration metrics: a convention extension, off by default (a client chooses its name:
            one more label, and one time series per name).
        metrics_client_name_limit: how many distinct client names reach the metrics; every later name is
            recorded as ``_OTHER``, so a client cannot multiply the number of time series.
        session_id_attribute: also write the MCP session id as the generic ``session.id``, which backends
            such as Phoenix and Langfuse group traces by.
        sdk_spans: what to do with the spans mcp 2.x creates itself: ``own`` (default) silences them and
            mcp-otel creates its own; ``enrich`` keeps the SDK's spans (their names and parents) and adds
            mcp-otel's attributes to them. No effect on mcp 1.x, which has no spans of its own.
        exception_text: what leaves in exception text (span status descriptions, the ``exception`` event's
            ``exception.message`` / ``exception.stacktrace``, Sentry error events): ``scrubbed`` (default)
            replaces credentials (:mod:`mcp_otel.telemetry.scrubbing`), ``full`` records the text as raised,
            ``type`` records the exception type only (no message, stack trace or status description).
        logs: emit OpenTelemetry log records (``docs/logs.md``): the Python ``logging`` records a server emits
            while it handles a request, and the MCP log notifications (``notifications/message``) either side
            sends or receives, correlated with the request's span. On by default: they go nowhere until a
            ``LoggerProvider`` with an exporter is configured (``OTEL_LOGS_EXPORTER``).
        semconv_keys: the keys written for keys with a pending semantic-convention rename, from
            ``OTEL_SEMCONV_STABILITY_OPT_IN`` (see :mod:`mcp_otel.semconv_stability`; environment only, like
            the other OpenTelemetry instrumentations).
    """

    capture_content: bool = False
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    content_redactor: ContentRedactor | None = None
    resource_uri_in_span_name: bool = False
    excluded_methods: frozenset[str] = field(default_factory=frozenset)
    metrics: bool = True
    metrics_client_name: bool = False
    metrics_client_name_limit: int = DEFAULT_METRICS_CLIENT_NAME_LIMIT
    session_id_attribute: bool = True
    sdk_spans: str = SDK_SPANS_OWN
    exception_text: str = EXCEPTION_TEXT_SCRUBBED
    logs: bool = True
    semconv_keys: SemconvKeys = field(default_factory=SemconvKeys)

    @classmethod
    def from_kwargs(
        cls, kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> McpOtelConfig:
        """Build the configuration from ``instrument()`` keywords and the environment.

        Args:
            kwargs: the keywords given to ``instrument()``; unknown keys are ignored (``tracer_provider`` …).
            environ: the environment to read (``os.environ`` by default).

        Raises:
            TypeError: a keyword has a value of the wrong type (the environment never raises).
        """
        env = os.environ if environ is None else environ
        capture = _kw_bool(kwargs, "capture_content")
        if capture is None:
            capture = _env_bool(env, ENV_CAPTURE_CONTENT, None)
        if capture is None:
            capture = _env_genai_capture(env)
        max_len = kwargs.get("max_content_length")
        if max_len is None:
            max_len = _env_int(env, ENV_MAX_CONTENT_LENGTH, DEFAULT_MAX_CONTENT_LENGTH)
        elif not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 0:
            raise TypeError("max_content_length must be a non-negative int (characters)")
        redactor = kwargs.get("content_redactor")
        if redactor is None:
            redactor = _env_callable(env, ENV_CONTENT_REDACTOR)
        elif not callable(redactor):
            raise TypeError("content_redactor must be a callable (key, value) -> str | None")
        uri_in_name = _kw_bool(kwargs, "resource_uri_in_span_name")
        if uri_in_name is None:
            uri_in_name = _env_bool(env, ENV_RESOURCE_URI_IN_SPAN_NAME, False)
        excluded = kwargs.get("excluded_methods")
        if excluded is None:
            excluded = _env_list(env, ENV_EXCLUDED_METHODS)
        else:
            excluded = [] if isinstance(excluded, str) else list(excluded)  # a generator is read once
            if not all(isinstance(m, str) for m in excluded) or isinstance(kwargs["excluded_methods"], str):
                raise TypeError("excluded_methods must be an iterable of method names (str)")
        metrics = _kw_bool(kwargs, "metrics")
        if metrics is None:
            metrics = _env_bool(env, ENV_METRICS, True)
        client_name = _kw_bool(kwargs, "metrics_client_name")
        if client_name is None:
            client_name = _env_bool(env, ENV_METRICS_CLIENT_NAME, False)
        name_limit = kwargs.get("metrics_client_name_limit")
        if name_limit is None:
            name_limit = _env_int(env, ENV_METRICS_CLIENT_NAME_LIMIT, DEFAULT_METRICS_CLIENT_NAME_LIMIT)
        elif not isinstance(name_limit, int) or isinstance(name_limit, bool) or name_limit < 0:
            raise TypeError("metrics_client_name_limit must be a non-negative int (distinct names)")
        sdk_spans = kwargs.get("sdk_spans")
        if sdk_spans is None:
            sdk_spans = _env_choice(env, ENV_SDK_SPANS, SDK_SPANS_POLICIES, SDK_SPANS_OWN)
        elif sdk_spans not in SDK_SPANS_POLICIES:
            raise TypeError(f"sdk_spans must be one of {', '.join(SDK_SPANS_POLICIES)}")
        exception_text = kwargs.get("exception_text")
        if exception_text is None:
            modes, default = EXCEPTION_TEXT_MODES, EXCEPTION_TEXT_SCRUBBED
            exception_text = _env_choice(env, ENV_EXCEPTION_TEXT, modes, default)
        elif exception_text not in EXCEPTION_TEXT_MODES:
            raise TypeError(f"exception_text must be one of {', '.join(EXCEPTION_TEXT_MODES)}")
        session_id_attribute = _kw_bool(kwargs, "session_id_attribute")
        if session_id_attribute is None:
            session_id_attribute = _env_bool(env, ENV_SESSION_ID_ATTRIBUTE, True)
        logs = _kw_bool(kwargs, "logs")
        if logs is None:
            logs = _env_bool(env, ENV_LOGS, True)
        return cls(
            capture_content=bool(capture),
            max_content_length=int(max_len),
            content_redactor=redactor,
            resource_uri_in_span_name=bool(uri_in_name),
            excluded_methods=frozenset(str(m) for m in excluded),
            metrics=bool(metrics),
            metrics_client_name=bool(client_name),
            metrics_client_name_limit=int(name_limit),
            session_id_attribute=bool(session_id_attribute),
            sdk_spans=str(sdk_spans),
            exception_text=str(exception_text),
            logs=bool(logs),
            semconv_keys=SemconvKeys.from_env(env),
        )


def _kw_bool(kwargs: Mapping[str, Any], name: str) -> bool | None:
    value = kwargs.get(name)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def _env_bool(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    _log.warning("%s=%r is not a boolean (accepted: true, false); using the default %s", name, raw, default)
    return default


def _env_genai_capture(env: Mapping[str, str]) -> bool:
    """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: a boolean, or a GenAI utilities mode.

    ``SPAN_ONLY`` and ``SPAN_AND_EVENT`` turn content capture on (spans), ``NO_CONTENT`` and ``EVENT_ONLY``
    leave it off: mcp-otel has no GenAI events, so what a mode asks of events is not recorded (logged once).
    """
    raw = env.get(ENV_GENAI_CAPTURE_CONTENT)
    if raw is None:
        return False
    mode = raw.strip().upper()
    if mode in GENAI_CAPTURE_MODES:
        if mode in ("EVENT_ONLY", "SPAN_AND_EVENT") and mode not in _LOGGED_MODES:
            _LOGGED_MODES.add(mode)  # once per process, however often instrument() runs
            _log.log(
                logging.WARNING if mode == "EVENT_ONLY" else logging.INFO,
                "%s=%s: mcp-otel emits no GenAI events, so no content goes to events%s",
                ENV_GENAI_CAPTURE_CONTENT,
                raw.strip(),
                " and none is recorded on spans" if mode == "EVENT_ONLY" else "; spans record it",
            )
        return GENAI_CAPTURE_MODES[mode]
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    _log.warning(
        "%s=%r is not valid (accepted: %s, true, false); content capture stays off",
        ENV_GENAI_CAPTURE_CONTENT,
        raw,
        ", ".join(GENAI_CAPTURE_MODES),
    )
    return False


def _env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in choices:
        return value
    _log.warning(
        "%s=%r is not valid (accepted: %s); using the default %s", name, raw, ", ".join(choices), default
    )
    return default


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        _log.warning("%s=%r is not a non-negative integer; using the default %d", name, raw, default)
        return default
    return value


def _env_list(env: Mapping[str, str], name: str) -> Iterable[str]:
    raw = env.get(name, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def _env_callable(env: Mapping[str, str], name: str) -> ContentRedactor | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    module_name, sep, attr = raw.partition(":")
    try:
        if not sep:
            module_name, _, attr = raw.rpartition(".")
        obj = getattr(importlib.import_module(module_name), attr)
    except Exception:  # importing user code may raise anything: it must not escape instrument()
        obj = None
    if not callable(obj):
        _log.warning(
            "%s=%r is not an importable callable (accepted: 'module:function'); no redactor", name, raw
        )
        return None
    redactor: ContentRedactor = obj
    return redactor
