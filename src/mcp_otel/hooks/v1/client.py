"""mcp 1.x requests this process sends (client → server, server → client), the client's handling of the
requests a server sends it, and the trace context those messages carry.

``BaseSession.send_request`` (patched on each side's class) opens the CLIENT span and puts the trace
context into ``params._meta`` (mcp 1.x injects nothing itself); ``ClientSession._received_request`` opens
the SERVER span of a request the server sent (sampling, elicitation, roots, ping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import client_transport, record_send_failure, server_side_context
from mcp_otel.hooks.factory import Args, Kwargs, Prepare, Seam
from mcp_otel.hooks.lazy import LazyModule
from mcp_otel.hooks.v1.server import inbound, message_of, responder_of, tool_result_content, types
from mcp_otel.hooks.v1.sessions import SessionState, peer
from mcp_otel.model import Message, Session
from mcp_otel.telemetry import Operation, inject

exceptions = LazyModule("mcp.shared.exceptions")
_model_classes: dict[tuple[type, str], Any] = {}  # (model class, field) → the model class of that field


def _field_class(owner: type, field: str) -> Any:
    """The model class an optional field of ``owner`` holds (``params`` of a request, ``meta`` of params)."""
    key = (owner, field)
    if key not in _model_classes:
        annotation = owner.model_fields[field].annotation  # type: ignore[attr-defined]
        options = (
            get_args(annotation) if get_origin(annotation) in (Union, type(int | None)) else (annotation,)
        )
        _model_classes[key] = next((o for o in options if hasattr(o, "model_construct")), dict)
    return _model_classes[key]


def with_meta(message: Any, carrier: dict[str, str]) -> Any:
    """A shallow copy of a typed request or notification with ``carrier`` added to ``params._meta``.

    Keys already in ``_meta`` are kept. No dump and no validation of the message: only the objects on the
    way to ``_meta`` are copied. ``None`` when there is nothing to add.
    """
    is_root = getattr(type(message), "__pydantic_root_model__", False)
    inner = message.root if is_root else message
    params = getattr(inner, "params", None)
    if params is None:
        params_class = _field_class(type(inner), "params")
        params = {} if params_class is dict else params_class.model_validate({})
    if isinstance(params, dict):
        meta = params.get("_meta") or {}
        if not isinstance(meta, dict):
            return None
        new_params: Any = {**params, "_meta": {**carrier, **meta}}
    else:
        meta = params.meta
        if meta is None:
            new_meta = _field_class(type(params), "meta").model_construct(**carrier)
        else:
            present = meta.model_extra or {}
            extra = {key: value for key, value in carrier.items() if key not in present}
            if not extra:
                return None
            new_meta = meta.model_copy(update=extra)
        new_params = params.model_copy(update={"meta": new_meta})
    new_inner = inner.model_copy(update={"params": new_params})
    return message.model_copy(update={"root": new_inner}) if is_root else new_inner


def trace_context(name: str) -> Prepare:
    """``prepare`` of a send seam: the message argument ``name`` with the current trace context (one
    injection per message)."""

    def prepare(args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
        carrier: dict[str, str] = {}
        inject(carrier)
        if not carrier:
            return args, kwargs
        new = with_meta(args[0] if args else kwargs[name], carrier)
        if new is None:
            return args, kwargs
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, name: new}

    return prepare


def failed(op: Operation, instance: Any, args: Args, kwargs: Kwargs, exc: BaseException) -> None:
    """A request that ended in an exception: a JSON-RPC error response (``McpError``) or a failure."""
    record_send_failure(op, exc, exceptions.McpError)


class ClientRequests:
    """Describes and records the requests an mcp 1.x process sends, and those a client receives."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    def _describe(
        self, context: Callable[[Any], tuple[Session, Any]]
    ) -> Callable[[Any, Args, Kwargs], Message]:
        def describe(sender: Any, args: Args, kwargs: Kwargs) -> Message:
            request = args[0] if args else kwargs["request"]
            root = getattr(request, "root", request)  # a bare request model is accepted too
            session, transport = context(sender)
            return message_of(root, sender._request_id, session, transport, key=sender)

        return describe

    def result(self, op: Operation, sender: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
        """The typed result of a request this process sent."""
        if isinstance(result, types.CallToolResult):
            op.set_result(bool(result.isError), lambda: tool_result_content(result), len(result.content))
        elif isinstance(result, types.GetPromptResult):
            op.set_prompt_result(len(result.messages), lambda: result.description, lambda: result.messages)
        elif isinstance(result, types.InitializeResult):  # only a client initializes
            new = Session(
                server=peer(result.serverInfo),
                protocol_version=result.protocolVersion,
                session_id=op.message.transport.current_session_id(),
            )
            self.state.client_sessions.set(sender, new)
            op.update_session(new.attributes())

    def describe_received(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession._received_request(responder)``: a request the server sent."""
        responder = args[0] if args else kwargs["responder"]
        session = self.state.client_session(client)
        return inbound(responder, responder.request.root, session, client_transport(), client)

    def seams(self) -> list[Seam]:
        """The request seams."""
        client, server = "mcp.client.session", "mcp.server.session"
        from_client = self._describe(lambda sender: (self.state.client_session(sender), client_transport()))
        from_server = self._describe(lambda sender: server_side_context())
        inject_request = trace_context("request")
        return [
            Seam(
                client,
                "ClientSession.send_request",
                SpanKind.CLIENT,
                from_client,
                self.result,
                failed,
                inject_request,
            ),
            Seam(
                server,
                "ServerSession.send_request",
                SpanKind.CLIENT,
                from_server,
                self.result,
                failed,
                inject_request,
            ),
            Seam(
                client,
                "ClientSession._received_request",
                SpanKind.SERVER,
                self.describe_received,
                started=responder_of,
            ),
        ]
