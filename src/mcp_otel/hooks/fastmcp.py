"""Hooks for the standalone ``fastmcp`` package: 2.x and 3.x (on mcp 1.x) and 4.x (on mcp 2.x).

fastmcp servers are mcp ``Server`` subclasses and its ``Client`` wraps the SDK's ``ClientSession``, so the
SERVER and CLIENT spans come from the mcp hooks (:mod:`mcp_otel.hooks.v1` / :mod:`mcp_otel.hooks.v2`):
fastmcp 2.x requests pass ``Server._handle_request``, fastmcp 4.x requests ``ServerRunner._on_request``.
This module adds what only fastmcp needs:

- **No duplicate spans (fastmcp 4).** fastmcp 4 has native OpenTelemetry (scope ``fastmcp``): a SERVER
  span per request and a CLIENT span per client call. While mcp-otel is instrumented (default ``own``
  policy) fastmcp runs as in its documented ``propagation_only`` telemetry mode: it creates no spans but
  keeps injecting and extracting the ``_meta`` trace context. The seam is ``fastmcp.telemetry.
  telemetry_mode()``, through which every fastmcp telemetry decision goes (it is what
  ``suppress_fastmcp_telemetry()`` acts on); it is wrapped to answer ``propagation_only`` where fastmcp
  would answer ``native``. ``fastmcp.settings`` is not modified, ``off`` stays ``off``, and
  ``uninstrument()`` puts the original functions back.
- **No duplicate spans (fastmcp 3).** fastmcp 3 has the same native spans but no telemetry mode: the
  ``get_tracer`` its span helpers call is answered with a tracer that creates and attaches nothing (in
  every mode: fastmcp 3 has no seam to adopt), and its client's own ``_meta`` injection, which would put the
  caller's context there before mcp-otel's CLIENT span exists, passes the ``_meta`` through (mcp-otel
  injects the CLIENT span's context, keeping every other key).
- ``sdk_spans="enrich"``: fastmcp keeps its own spans (as mcp 2.x keeps the SDK's); its per-request
  SERVER span gets mcp-otel's attributes like the SDK's spans do.
- **The original tool exception (fastmcp 4).** ``FastMCP.call_tool`` turns what a tool raised into
  ``ToolError(...) from exc``; the exception the tool raised is recorded on the SERVER span (fastmcp 2.x
  and 3.x go through the mcp 1.x lowlevel ``call_tool`` decorator, which the v1 hooks already cover).
- **Transport attributes.** fastmcp imports the SDK's transport functions by name (``stdio_server``,
  ``stdio_client``, ``streamable_http_client``, ``sse_client``, ``create_client_server_memory_streams``):
  each alias gets the same transport hint wrapper as the SDK's own name. fastmcp's ``Client`` opens its
  session in a background task, so the transport the session was opened with is carried over to the task
  that entered ``async with client:`` (the one that sends the requests).

Only :func:`patches` asks which fastmcp version is installed (``fastmcp`` 2.x, 3.x and 4.x are accepted;
every target is looked up by name and skipped when absent).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token
from importlib import metadata
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel._guard import log_failure_once
from mcp_otel.config import SDK_SPANS_ENRICH
from mcp_otel.hooks.common import IdentityMap, guarded, original_exception
from mcp_otel.hooks.patching import Patch, Replace
from mcp_otel.model import MEMORY, STDIO, Transport
from mcp_otel.telemetry import Telemetry, active_operation, active_request
from mcp_otel.transport import constant_hint, transport_hint, url_hint

__all__ = [
    "FASTMCP_MAJORS",
    "NATIVE",
    "HookSet",
    "PROPAGATION_ONLY",
    "installed_fastmcp_version",
]

_log = logging.getLogger(__name__)

FASTMCP_MAJORS = (2, 3, 4)
"""fastmcp major versions the hooks are applied to (all three are tested)."""

NATIVE = "native"
"""fastmcp's default telemetry mode: its own MCP spans."""

PROPAGATION_ONLY = "propagation_only"
"""The fastmcp telemetry mode mcp-otel puts fastmcp in: ``_meta`` propagation, no fastmcp spans."""


def installed_fastmcp_version() -> tuple[int, ...] | None:
    """The installed ``fastmcp`` distribution's version as integers (``(4, 1, 6)``), or ``None``."""
    try:
        version = metadata.version("fastmcp")
    except metadata.PackageNotFoundError:
        return None
    parts: list[int] = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


class HookSet:
    """The standalone-fastmcp hooks of one instrumentation: they own the per-client transport state."""

    adopt_sdk_spans = False

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        # SDK ClientSession → the transport it was built on (fastmcp builds it in a background task).
        self.session_transports: IdentityMap[Transport] = IdentityMap()
        # fastmcp Client → tokens of the transport hints set in the tasks that entered it (nested ``async
        # with``): one entry per entry, ``None`` when nothing was set, so each exit pops its own.
        self.client_tokens: IdentityMap[list[Token[Transport | None] | None]] = IdentityMap()

    def patches(self) -> list[Patch | Replace]:
        """The wrappers mcp-otel installs on the standalone ``fastmcp`` package.

        Empty when fastmcp is not installed or its major version is not one of :data:`FASTMCP_MAJORS`.
        Applied together with the mcp hooks, which produce the spans.
        """
        version = installed_fastmcp_version()
        if version is None:
            return []
        if version[0] not in FASTMCP_MAJORS:
            _log.warning(
                "mcp-otel: fastmcp %s is not supported (need 2.x, 3.x or 4.x); fastmcp-specific hooks not "
                "applied (its SDK spans still are)",
                ".".join(map(str, version)),
            )
            return []
        stdio = constant_hint(STDIO)
        memory = constant_hint(MEMORY)
        transports = "fastmcp.client.transports"
        client = "fastmcp.client.client"
        out: list[Patch | Replace] = [
            # transport functions fastmcp imported by name (2.x: one transports module; 4.x: a package)
            Patch("fastmcp.server.server", "stdio_server", stdio),
            Patch("fastmcp.server.low_level", "stdio_server", stdio),
            Patch(transports, "stdio_client", stdio),
            Patch(transports, "sse_client", url_hint("sse")),
            Patch(transports, "streamable_http_client", url_hint("http")),
            Patch(transports, "create_client_server_memory_streams", memory),
            Patch(f"{transports}.stdio", "stdio_client", stdio),
            Patch(f"{transports}.sse", "sse_client", url_hint("sse")),
            Patch(f"{transports}.http", "streamable_http_client", url_hint("http")),
            Patch(f"{transports}.memory", "create_client_server_memory_streams", memory),
            # the Client's session runs in a background task: carry its transport to the caller's task
            Patch("mcp.client.session", "ClientSession.__init__", self._remember_session_transport),
            Patch(client, "Client.__aenter__", self._client_enter),
            Patch(client, "Client.initialize", self._in_session_transport),
            Patch(client, "Client._negotiate", self._in_session_transport),
            Patch(client, "Client.__aexit__", self._client_exit),
        ]
        if version[0] == 3:
            out += [Replace(module, "get_tracer", _silent_tracer) for module in _FASTMCP3_TRACER_USERS]
            out += [Replace(module, "inject_trace_context", _meta_as_is) for module in _FASTMCP3_INJECTORS]
        if version[0] >= 4:  # 2.x and 3.x tools pass the mcp 1.x call_tool decorator (the v1 hooks)
            out.append(Patch("fastmcp.server.server", "FastMCP.call_tool", _call_tool))
            if self.telemetry.config.sdk_spans == SDK_SPANS_ENRICH:
                out.append(Patch("fastmcp.server.low_level", "seam_span", _adopt_seam_span))
            else:
                out.append(Patch("fastmcp.telemetry", "telemetry_mode", _propagation_only))
                out.append(Patch("fastmcp.server.telemetry", "telemetry_mode", _propagation_only))
        return out

    def uninstall(self) -> None:
        """Forget per-client state (call after the patches were restored)."""
        self.session_transports.clear()
        self.client_tokens.clear()

    def state_sizes(self) -> dict[str, int]:
        """How many entries each per-client map holds."""
        return {"fastmcp._session_transports": len(self.session_transports)}

    # --- the fastmcp Client's transport, in the task that sends the requests

    def _remember_session_transport(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Wrapper of ``ClientSession.__init__``: remember the transport the session is built on.

        fastmcp builds the session inside the transport's context, in a task of its own (the Client's session
        runner, or the stdio transport's connection task), where the transport hooks set the hint.
        """
        result = wrapped(*args, **kwargs)
        try:
            hint = transport_hint.get()
            if hint is not None:
                self.session_transports.set(instance, hint)
        except Exception:
            log_failure_once("fastmcp.session_transport")
        return result

    def _enter_session_transport(self, client: Any, where: str) -> Token[Transport | None] | None:
        """Set the hint to the transport of ``client``'s SDK session, unless one is set already; the token
        to reset it with, or ``None`` (also when the client is not connected: its ``session`` raises)."""
        try:
            session = client.session
        except Exception:
            return None
        try:
            hint = self.session_transports.get(session)
            if hint is not None and transport_hint.get() is None:
                return transport_hint.set(hint)
        except Exception:
            log_failure_once(where)
        return None

    async def _client_enter(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = await wrapped(*args, **kwargs)
        token = self._enter_session_transport(instance, "fastmcp.client_enter")
        tokens = self.client_tokens.get(instance)
        if tokens is None:
            tokens = []
            self.client_tokens.set(instance, tokens)
        tokens.append(token)  # one per entry, so that each exit pops its own
        return result

    async def _client_exit(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            tokens = self.client_tokens.get(instance)
            token = tokens.pop() if tokens else None
            if token is not None:
                # exited in another context than the one that entered: nothing of ours to undo there
                with contextlib.suppress(ValueError):
                    transport_hint.reset(token)

    async def _in_session_transport(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run a Client method (the connect-time handshake, in the session task) with its session's
        transport."""
        token = self._enter_session_transport(instance, "fastmcp.client_handshake")
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if token is not None:
                with contextlib.suppress(ValueError):
                    transport_hint.reset(token)


# --- fastmcp's native telemetry

#: fastmcp 3 modules that imported ``fastmcp.telemetry.get_tracer`` by name (its span helpers).
_FASTMCP3_TRACER_USERS = (
    "fastmcp.server.telemetry",
    "fastmcp.client.telemetry",
    "fastmcp.server.sampling.run",
)
#: fastmcp 3 client modules that imported ``fastmcp.telemetry.inject_trace_context`` by name.
_FASTMCP3_INJECTORS = tuple(f"fastmcp.client.mixins.{name}" for name in ("tools", "resources", "prompts"))


def _silent_tracer(original: Any) -> Any:
    """Replacement factory of fastmcp 3's ``get_tracer``: a tracer whose spans are never recorded."""
    from mcp_otel.hooks.v2.server import SilentTracer

    tracer = SilentTracer()

    def get_tracer(version: str | None = None) -> Any:
        return tracer

    return get_tracer


def _meta_as_is(original: Any) -> Any:
    """Replacement factory of fastmcp 3's client ``inject_trace_context``: ``_meta`` as the caller gave it."""

    def inject_trace_context(meta: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return meta

    return inject_trace_context


def _propagation_only(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Wrapper of ``telemetry_mode()``: ``native`` becomes ``propagation_only``; ``off`` stays ``off``."""
    mode = wrapped(*args, **kwargs)
    return PROPAGATION_ONLY if mode == NATIVE else mode


def _adopt_seam_span(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``enrich`` mode: the SERVER span fastmcp opens per request is adopted by mcp-otel's operation."""
    return _adopting(wrapped(*args, **kwargs))


@contextmanager
def _adopting(manager: Any) -> Iterator[Any]:
    with manager as span:
        op = active_operation()
        if op is not None and op.pending_adoption and op.kind is SpanKind.SERVER:
            guarded("fastmcp.adopt", op.adopt_span, span)
        yield span


# --- the exception a tool raised


async def _call_tool(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    except Exception as exc:
        # The tool runs in the innermost call (``run_middleware=False``); outer calls re-raise the same error.
        if not kwargs.get("run_middleware", True) and not _is_protocol_error(exc):
            request = active_request()
            if request is not None:
                guarded("fastmcp.tool_exception", request.record_exception, original_exception(exc))
        raise


def _is_protocol_error(exc: BaseException) -> bool:
    """An ``MCPError`` (mcp 2.x) / ``McpError`` (1.x): a JSON-RPC error response, recorded as such."""
    return any(cls.__name__ in ("MCPError", "McpError") for cls in type(exc).__mro__)
