"""The exception mechanism of mcp-otel's error events: what Sentry's JavaScript SDK sends for MCP servers.

``{"type": "auto.ai.mcp_server", "handled": false, "data": {"error_type": ..., <target>}}``, with the
``error_type`` values and target keys of ``@sentry/core``'s MCP server integration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp_otel.model import PROMPTS_GET, TOOLS_CALL
from mcp_otel.sentry.mapping import RESOURCE_METHODS, MappingOptions

if TYPE_CHECKING:
    from mcp_otel.telemetry import OperationView as Operation  # listeners get a read-only view

MECHANISM = "auto.ai.mcp_server"
"""Mechanism type of the error events mcp-otel captures (the one Sentry's JavaScript SDK uses)."""
SENTRY_PYTHON_MECHANISM = "mcp"
"""Mechanism type of sentry-python's own ``MCPIntegration`` error events (since 2.69; dropped)."""
SENTRY_PYTHON_MODULE = "sentry_sdk.integrations.mcp"
"""The module of sentry-python's ``MCPIntegration``: its wrappers catch a handler's exception, capture it and
re-raise it (before 2.69 with ``capture_exception``'s default mechanism, ``generic``)."""

MECHANISM_ERROR_TYPE = "error_type"
"""``mechanism.data`` key: the kind of failure."""
MECHANISM_TOOL_NAME = "tool_name"
"""``mechanism.data`` key: the tool that raised."""
MECHANISM_PROMPT_NAME = "prompt_name"
"""``mechanism.data`` key: the prompt whose handler raised."""
MECHANISM_RESOURCE_URI = "resource_uri"
"""``mechanism.data`` key: the resource whose handler raised (user data: only with ``send_user_info``)."""

ERROR_TYPE_TOOL = "tool_execution"
"""A tool raised."""
ERROR_TYPE_TIMEOUT = "timeout"
"""A tool raised ``TimeoutError``."""
ERROR_TYPE_VALIDATION = "validation"
"""A tool raised a (pydantic) ``ValidationError``."""
ERROR_TYPE_PROMPT = "prompt_execution"
"""A prompt handler raised."""
ERROR_TYPE_RESOURCE = "resource_execution"
"""A resource handler raised."""
ERROR_TYPE_HANDLER = "handler_execution"
"""Any other request handler raised (the JavaScript SDK's default)."""


def mechanism(operation: Operation, exc: BaseException, options: MappingOptions) -> dict[str, Any]:
    """The exception mechanism of an error a handler of ``operation`` raised, as Sentry's JS SDK sends it.

    ``{"type": "auto.ai.mcp_server", "handled": false, "data": {"error_type": ...}}`` with ``error_type``
    ``tool_execution`` (``timeout`` for a ``TimeoutError``, ``validation`` for a pydantic ``ValidationError``)
    and ``tool_name``; ``prompt_execution`` and ``prompt_name``; ``resource_execution`` and ``resource_uri``
    (only with ``send_user_info``, like the ``mcp.resource.uri`` attribute); else ``handler_execution``.
    """
    message = operation.message
    method = operation.method
    data: dict[str, Any]
    if method == TOOLS_CALL:
        data = {MECHANISM_ERROR_TYPE: _tool_error_type(exc)}
        if message.name is not None:
            data[MECHANISM_TOOL_NAME] = message.name
    elif method == PROMPTS_GET:
        data = {MECHANISM_ERROR_TYPE: ERROR_TYPE_PROMPT}
        if message.name is not None:
            data[MECHANISM_PROMPT_NAME] = message.name
    elif method in RESOURCE_METHODS:
        data = {MECHANISM_ERROR_TYPE: ERROR_TYPE_RESOURCE}
        if message.uri is not None and options.send_user_info:
            data[MECHANISM_RESOURCE_URI] = message.uri
    else:
        data = {MECHANISM_ERROR_TYPE: ERROR_TYPE_HANDLER}
    return {"type": MECHANISM, "handled": False, "data": data}


def captured_by_sentry_mcp(event: Mapping[str, Any], hint: Mapping[str, Any]) -> bool:
    """Whether ``event`` is an error event of sentry-python's ``MCPIntegration``, in any sentry-sdk version.

    sentry-sdk >= 2.69 marks them with mechanism ``mcp``. Every version captures the exception inside the
    ``except`` block of a wrapper in :data:`SENTRY_PYTHON_MODULE`, so the outermost frame of the traceback it
    captures with is that wrapper's (a user's own ``capture_exception`` in a tool has the tool's frame there).
    """
    values = (event.get("exception") or {}).get("values") or []
    for value in reversed(values):
        found = (value or {}).get("mechanism")
        if isinstance(found, Mapping):
            if found.get("type") == SENTRY_PYTHON_MECHANISM:
                return True
            break
    exc_info = hint.get("exc_info")
    if not isinstance(exc_info, tuple) or len(exc_info) != 3:
        return False
    traceback = exc_info[2]
    frame = getattr(traceback, "tb_frame", None)
    return frame is not None and frame.f_globals.get("__name__") == SENTRY_PYTHON_MODULE


def _tool_error_type(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return ERROR_TYPE_TIMEOUT
    if any(cls.__name__ == "ValidationError" for cls in type(exc).__mro__):
        return ERROR_TYPE_VALIDATION
    return ERROR_TYPE_TOOL
