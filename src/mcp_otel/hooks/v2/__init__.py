"""Hooks for mcp 2.x (2.0 … 2.3): every patched name of the generation, on one screen.

One :class:`HookSet` per ``instrument()``: it owns the per-session state and builds the patch list (no side
effect); ``uninstrument()`` drops it. Nothing of ``mcp`` is imported here: each patch applies when its
module is imported, and the hooks import what they need lazily.

- server requests (:mod:`.server`): ``ServerRunner._on_request``, ``MCPServer.call_tool``, the SDK's tracer;
- requests this process sends, and the client's received requests (:mod:`.client`);
- notifications (:mod:`.notifications`); session lifetime (:mod:`.sessions`);
- multi-round-trip calls (:mod:`.rounds`) and ``subscriptions/listen`` channels (:mod:`.channels`);
- transports (:mod:`mcp_otel.hooks.transports`).
"""

from __future__ import annotations

from typing import Any

from mcp_otel._guard import log_failure_once
from mcp_otel.config import SDK_SPANS_ENRICH
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.hooks.transports import transport_patches
from mcp_otel.hooks.v2 import server
from mcp_otel.hooks.v2.channels import Channels
from mcp_otel.hooks.v2.client import ClientRequests
from mcp_otel.hooks.v2.notifications import Notifications
from mcp_otel.hooks.v2.rounds import Rounds
from mcp_otel.hooks.v2.server import EnrichingTracer, SilentTracer
from mcp_otel.hooks.v2.sessions import SessionState
from mcp_otel.telemetry import Telemetry, inject

__all__ = ["EnrichingTracer", "HookSet", "SilentTracer"]


def guarded_inject(meta: Any) -> None:
    """Replacement of the SDK's ``inject_trace_context``: ours keeps a ``traceparent`` the caller put in
    ``_meta``; a failing propagator is logged once and the request is sent without context."""
    try:
        inject(meta)
    except Exception:
        log_failure_once("v2.inject_trace_context")


class HookSet:
    """The mcp 2.x hooks of one instrumentation, bound to ``telemetry``.

    In ``enrich`` mode the SDK's tracer stays (wrapped so mcp-otel's operations adopt its spans, which
    :attr:`adopt_sdk_spans` tells the telemetry core); in the default ``own`` mode it is replaced by a
    :class:`SilentTracer`.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.state = SessionState(telemetry)
        self.channels = Channels(self.state)
        self.adopt_sdk_spans = telemetry.config.sdk_spans == SDK_SPANS_ENRICH

    def patches(self) -> list[Patch | Replace]:
        """Every patch of mcp 2.x (building it changes nothing)."""
        telemetry, enrich = self.telemetry, self.adopt_sdk_spans
        requests = ClientRequests(self.state)
        seams = [
            *server.seams(self.state),
            *requests.seams(),
            *Notifications(self.state, self.channels).seams(),
            *self.channels.seams(),
        ]
        own: list[Patch | Replace] = [
            # the SDK's server middleware would only extract _meta again for a span that is never recorded
            Replace("mcp.server._otel", "OpenTelemetryMiddleware.__call__", server.skip_sdk_middleware),
            Replace("mcp.shared.jsonrpc_dispatcher", "otel_span", lambda original: server.dispatcher_span),
        ]
        return [
            *([] if enrich else own),
            *(seam.patch(telemetry) for seam in seams),
            Patch("mcp.server.mcpserver.server", "MCPServer.call_tool", server.call_tool),
            # mcp 2.0.x lists the tools itself (through the request path) to validate a stateless tools/call
            Patch("mcp.server._streamable_http_modern", "_tool_input_schema", server.sdk_internal),
            Replace(
                "mcp.shared._otel",
                "_tracer",
                (lambda original: EnrichingTracer(original, telemetry.exception_text))
                if enrich
                else (lambda original: SilentTracer()),
            ),
            # the SDK's injection overwrites a traceparent the caller put in _meta: ours keeps existing keys
            Replace("mcp.shared.jsonrpc_dispatcher", "inject_trace_context", lambda original: guarded_inject),
            *self.state.patches(),
            *Rounds(telemetry, requests).patches(),
            *self.channels.patches(),
            *transport_patches(),
        ]

    def uninstall(self) -> None:
        """Forget per-session state."""
        self.state.clear()
        self.channels.clear()

    def state_sizes(self) -> dict[str, int]:
        """How many entries each per-session map holds."""
        return self.state.sizes()
