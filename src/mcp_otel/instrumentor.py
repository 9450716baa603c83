"""``McpInstrumentor``: the OpenTelemetry instrumentor for the ``mcp`` SDK (1.x and 2.x)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer

from mcp_otel.config import McpOtelConfig
from mcp_otel.hooks import HookSet, framework_hooks, hooks_for_installed_mcp
from mcp_otel.hooks.patching import Patch, Patcher, Replace
from mcp_otel.hooks.python_logging import logging_patches
from mcp_otel.package import _instruments
from mcp_otel.telemetry import Telemetry
from mcp_otel.telemetry.logs import LogSignal
from mcp_otel.version import __version__

_log = logging.getLogger(__name__)
SCOPE_NAME = "mcp_otel"


class McpInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instrument the official MCP Python SDK (``mcp`` 1.15 – 2.x) with OpenTelemetry spans and metrics.

    Emits a SERVER span for every request an MCP server receives and the ``mcp.server.operation.duration``
    histogram, following the OpenTelemetry MCP semantic conventions
    (https://github.com/open-telemetry/semantic-conventions-genai, ``docs/gen-ai/mcp.md``). On mcp 2.x the
    SDK's built-in spans are silenced while instrumented, so one request never yields two server spans.

    Call :meth:`instrument` before MCP servers are constructed (it may run before or after ``import mcp``).
    ``instrument()`` and ``uninstrument()`` are idempotent; ``uninstrument()`` restores every patched object.

    Keyword arguments of :meth:`instrument` (each also an environment variable, see :mod:`mcp_otel.config`):
        tracer_provider: the ``TracerProvider`` to use (default: the global one).
        meter_provider: the ``MeterProvider`` to use (default: the global one).
        logger_provider: the OpenTelemetry ``LoggerProvider`` log records go to (default: the global one).
        capture_content (bool): record tool arguments/results, prompt variables and prompt result
            descriptions (default ``False``).
        max_content_length (int): maximum characters per captured value (default 4096).
        content_redactor (callable): ``(attribute_key, value) -> str | None`` applied to captured values and
            to exception text (keys ``exception.message``, ``exception.stacktrace``,
            ``otel.status_description``).
        exception_text (str): ``scrubbed`` (default: credentials replaced), ``full`` or ``type`` — what
            exception text leaves in status descriptions, ``exception`` events and Sentry error events.
        resource_uri_in_span_name (bool): name ``resources/read`` spans with the URI (default ``False``).
        excluded_methods (iterable of str): methods that get no span or metric point.
        metrics (bool): record the duration histograms (default ``True``).
        session_id_attribute (bool): also write the MCP session id as ``session.id`` (default ``True``).
        logs (bool): emit log records: a server's Python ``logging`` records during requests and MCP log
            notifications, correlated with the request's span (default ``True``; ``docs/logs.md``).
    """

    _patcher: Patcher | None = None
    _hook_sets: tuple[HookSet, ...] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        """The instrumented distribution and its supported range: ``mcp >= 1.15, < 3``."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        config = McpOtelConfig.from_kwargs(kwargs)  # a keyword of the wrong type raises TypeError: say so
        try:
            self._install(config, kwargs)
        except Exception:  # a broken provider, meter or hook table must not stop the host
            _log.warning("mcp-otel: instrument() failed; MCP is not instrumented", exc_info=True)
            self._uninstrument()

    def _install(self, config: McpOtelConfig, kwargs: dict[str, Any]) -> None:
        tracer = get_tracer(SCOPE_NAME, __version__, tracer_provider=kwargs.get("tracer_provider"))
        meter = get_meter(SCOPE_NAME, __version__, meter_provider=kwargs.get("meter_provider"))
        logs = LogSignal(config, kwargs.get("logger_provider")) if config.logs else None
        telemetry = Telemetry(tracer, meter, config, logs)
        hooks = hooks_for_installed_mcp(telemetry)
        if hooks is None:
            _log.warning("mcp-otel: no supported mcp installed (need mcp >= 1.15, < 3); nothing instrumented")
            return
        telemetry.adopt_sdk_spans = hooks.adopt_sdk_spans
        hook_sets = (hooks, *framework_hooks(telemetry))
        patches: list[Patch | Replace] = [patch for hook_set in hook_sets for patch in hook_set.patches()]
        if logs is not None:
            patches.extend(logging_patches(logs))
        patcher = Patcher(patches)
        patcher.start()
        self._patcher = patcher
        self._hook_sets = hook_sets
        stale = patcher.stale_aliases()
        if stale:
            _log.warning(
                "mcp-otel: %s imported mcp transport functions by name before instrument(); sessions "
                "opened through these names get no transport attributes (instrument before importing them)",
                ", ".join(stale),
            )

    def _uninstrument(self, **kwargs: Any) -> None:
        patcher, self._patcher = self._patcher, None
        if patcher is not None:
            patcher.restore()
        hook_sets, self._hook_sets = self._hook_sets, ()
        for hook_set in hook_sets:
            hook_set.uninstall()

    def state_sizes(self) -> dict[str, int]:
        """How many entries mcp-otel's per-session maps hold now (empty when not instrumented).

        For leak tests and the bench: every map is weakly keyed, so the sizes fall back once sessions end.
        """
        out: dict[str, int] = {}
        for hook_set in self._hook_sets:
            out.update(hook_set.state_sizes())
        return out
