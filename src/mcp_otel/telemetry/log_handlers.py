"""OpenTelemetry's Python ``logging`` handler, as :class:`~mcp_otel.telemetry.logs.LogSignal` uses it.

mcp-otel writes no logging pipeline of its own: a Python record becomes an OpenTelemetry log record through
OpenTelemetry's ``LoggingHandler`` (body, severity, exception, extra attributes; the scope is the logger's
name). This module finds that handler class, tells whether a logger's records reach one already (so a
record is never recorded twice), and maps Python levels to severity numbers with OpenTelemetry's own table.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from typing import Any

from opentelemetry._logs import LoggerProvider

__all__ = ["is_otel_logging_handler", "otel_logging_handler", "recorded_elsewhere", "severity_of_python"]

_HANDLERS = (
    ("opentelemetry.instrumentation.logging.handler", "LoggingHandler"),
    ("opentelemetry.sdk._logs", "LoggingHandler"),
)
_otel_handler_types: dict[type, bool] = {}


def is_otel_logging_handler(handler: logging.Handler) -> bool:
    """Whether ``handler`` is an OpenTelemetry ``LoggingHandler`` (the SDK's, the logging instrumentation's,
    or a subclass): records it handles are OTel log records already."""
    kind = type(handler)
    known = _otel_handler_types.get(kind)
    if known is None:
        known = _otel_handler_types[kind] = any(
            c.__name__ == "LoggingHandler" and c.__module__.startswith("opentelemetry.") for c in kind.__mro__
        )
    return known


def recorded_elsewhere(name: str) -> bool:
    """Whether an OpenTelemetry ``LoggingHandler`` on the path of logger ``name`` records its records."""
    logger: Any = logging.root if name == "root" else logging.Logger.manager.loggerDict.get(name)
    if not isinstance(logger, logging.Logger):
        logger = logging.root
    while logger is not None:
        for handler in logger.handlers:
            if is_otel_logging_handler(handler):
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def otel_logging_handler(provider: LoggerProvider | None) -> logging.Handler | None:
    """OpenTelemetry's ``LoggingHandler`` for ``provider``: the maintained one of
    ``opentelemetry-instrumentation-logging`` when installed, else the SDK's (deprecated there in favour of
    the former, present in every supported SDK); ``None`` without either (nothing could export a record)."""
    for module, name in _HANDLERS:
        try:
            handler_class: Any = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        with warnings.catch_warnings():  # the SDK's class warns that it is deprecated when made
            warnings.simplefilter("ignore", DeprecationWarning)
            handler: logging.Handler = handler_class(logger_provider=provider)
        return handler
    return None


def severity_of_python(levelno: int) -> int:
    """OpenTelemetry's own ``std_to_otel`` table (the logging handler's), from whichever package has it."""
    for module in ("opentelemetry.instrumentation.log_utils", "opentelemetry.sdk._logs._internal"):
        std_to_otel: Any = getattr(
            sys.modules.get(module) or importlib.import_module(module), "std_to_otel", None
        )
        if std_to_otel is not None:
            return int(std_to_otel(levelno).value)
    return 0
