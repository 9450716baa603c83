"""The suppress-instrumentation check, read once per call from the current OpenTelemetry context.

``opentelemetry.instrumentation.utils.suppress_instrumentation()`` (what exporters and other instrumentations
set) puts a key in the context; contrib instrumentations honour it with ``is_instrumentation_enabled()``.
That costs two context look-ups per call; this reads both keys from one ``get_current()`` and hands the
context on, so the hot path reads the ambient span from it too.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

try:  # the keys is_instrumentation_enabled() reads; without them, call it
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
    from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY_PLAIN
except ImportError:  # pragma: no cover - older or newer OpenTelemetry
    _KEYS: tuple[str, ...] | None = None
else:
    _KEYS = (_SUPPRESS_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY_PLAIN)


def unsuppressed_context() -> otel_context.Context | None:
    """The current context, or ``None`` when instrumentation is suppressed in it.

    Same answer as ``not is_instrumentation_enabled()``, with one context look-up.
    """
    current = otel_context.get_current()
    if _KEYS is None:
        return current if is_instrumentation_enabled() else None
    if current.get(_KEYS[0]) or current.get(_KEYS[1]):
        return None
    return current


__all__ = ["unsuppressed_context"]
