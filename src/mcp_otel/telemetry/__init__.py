"""The telemetry core: turns version-neutral :mod:`mcp_otel.model` messages into spans and metric points.

Follows the OpenTelemetry MCP semantic conventions (semantic-conventions-genai ``docs/gen-ai/mcp.md``):
span name ``{mcp.method.name} {target}``; SERVER spans on the side that processes a message, CLIENT spans on
the side that sends it; status and ``error.type`` rules (every JSON-RPC error code counts on the client, the
server skips the caller's mistakes; ``tool_error`` for ``CallToolResult.isError``); and the
``mcp.{client,server}.operation.duration`` histograms (seconds).

Modules: :mod:`~mcp_otel.telemetry.core` (:class:`Telemetry`, which starts operations),
:mod:`~mcp_otel.telemetry.operation` (:class:`Operation`: span lifecycle, context, duration point),
:mod:`~mcp_otel.telemetry.outcome` (results, errors, events), :mod:`~mcp_otel.telemetry.capture` (opt-in
content), :mod:`~mcp_otel.telemetry.propagation` (``_meta`` trace context) and
:mod:`~mcp_otel.telemetry.active` (the active operation, the listeners' read-only view).
"""

from mcp_otel.telemetry.active import (
    OperationView,
    ReadOnlyOperation,
    active_client_request,
    active_operation,
    active_request,
)
from mcp_otel.telemetry.core import Telemetry
from mcp_otel.telemetry.operation import Operation
from mcp_otel.telemetry.propagation import (
    add_meta_propagator,
    inject,
    parent_context,
    remove_meta_propagator,
)
from mcp_otel.telemetry.suppression import unsuppressed_context

__all__ = [
    "Operation",
    "OperationView",
    "ReadOnlyOperation",
    "Telemetry",
    "active_client_request",
    "active_operation",
    "active_request",
    "add_meta_propagator",
    "inject",
    "parent_context",
    "remove_meta_propagator",
    "unsuppressed_context",
]
