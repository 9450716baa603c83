"""Hooks for mcp 1.x (1.15 … 1.30): every patched name of the generation, on one screen.

One :class:`HookSet` per ``instrument()``: it owns the per-session state and builds the patch list (no side
effect); ``uninstrument()`` drops it. Nothing of ``mcp`` is imported here: each patch applies when its
module is imported, and the hooks import what they need lazily.

- server requests (:mod:`.server`): ``Server._handle_request``, ``ServerSession._received_request``
  (``initialize``), ``RequestResponder.respond``, and where handler exceptions become answers;
- requests this process sends, and the client's received requests (:mod:`.client`);
- notifications and cancellation (:mod:`.notifications`); session lifetime (:mod:`.sessions`);
- transports (:mod:`mcp_otel.hooks.transports`).
"""

from __future__ import annotations

from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.hooks.transports import transport_patches
from mcp_otel.hooks.v1.client import ClientRequests
from mcp_otel.hooks.v1.notifications import Notifications
from mcp_otel.hooks.v1.server import ServerRequests
from mcp_otel.hooks.v1.sessions import SessionState
from mcp_otel.telemetry import Telemetry

__all__ = ["HookSet"]


class HookSet:
    """The mcp 1.x hooks of one instrumentation, bound to ``telemetry`` (mcp 1.x has no spans to adopt)."""

    adopt_sdk_spans = False

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.state = SessionState(telemetry)

    def patches(self) -> list[Patch | Replace]:
        """Every patch of mcp 1.x (building it changes nothing)."""
        server = ServerRequests(self.state)
        notifications = Notifications(self.state)
        seams = [*server.seams(), *ClientRequests(self.state).seams(), *notifications.seams()]
        return [
            *(seam.patch(self.telemetry) for seam in seams),
            *server.patches(),
            *notifications.patches(),
            *self.state.patches(),
            *transport_patches(),
        ]

    def uninstall(self) -> None:
        """Forget per-session state."""
        self.state.clear()

    def state_sizes(self) -> dict[str, int]:
        """How many entries each per-session map holds."""
        return self.state.sizes()
