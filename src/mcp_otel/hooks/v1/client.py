"""mcp 1.x requests this process sends (client → server, server → client), the client's handling of the
requests a server sends it, and the trace context those messages carry.

``BaseSession.send_request`` (patched on each side's class) opens the CLIENT span and puts the trace
context into ``params._meta`` (mcp 1.x injects nothing itself); ``ClientSession._received_request`` opens
the SERVER span of a request the server sent (sampling, elicitation, roots, ping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt
from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import client_transport, record_send_failure, server_side_context
from mcp_otel.hooks.factory import Args, Kwargs, Prepare, Seam
from mcp_otel.hooks.lazy import LazyModule
from mcp_otel.hooks.v1.server import inbound, message_of, responder_of, tool_result_content, types
from mcp_otel.hooks.v1.sessions import SessionState, peer
from mcp_otel.model import Message, Session
from mcp_otel.telemetry import Operation, inject

exceptions = LazyModule("mcp.shared.exceptions")
if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 has no subscriptable ObjectProxy
    _Proxy = wrapt.ObjectProxy


#: Per params model class: the keys (field names and aliases) of the fields declared before ``meta``.
_before_meta: dict[type, frozenset[str]] = {}


def _keys_before_meta(params_type: type) -> frozenset[str]:
    """The dump keys a params model puts before its ``_meta``: pydantic dumps fields in the order of
    ``model_fields``, where ``meta`` usually comes first (``RequestParams`` / ``NotificationParams``) but
    not always (mcp 1.2x's task-augmented requests put ``task`` before it). Cached per class."""
    keys = _before_meta.get(params_type)
    if keys is None:
        found: list[str] = []
        for name, info in getattr(params_type, "model_fields", {}).items():
            if name == "meta":
                break
            found.append(name)
            if info.alias:
                found.append(info.alias)
        keys = _before_meta[params_type] = frozenset(found)
    return keys


def _with_meta(
    params: dict[str, Any], key: str, meta: dict[str, str], before: frozenset[str]
) -> dict[str, Any]:
    """``params`` (a dump) with ``meta`` under ``key`` where the model's own dump would have put it."""
    if key in params:  # dumped as ``None`` (no ``exclude_none``): already in its place
        params[key] = meta
        return params
    if before.isdisjoint(params):
        return {key: meta, **params}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if key not in out and name not in before:
            out[key] = meta
        out[name] = value
    if key not in out:
        out[key] = meta
    return out


def _with_carrier(data: Any, carrier: dict[str, str], key: str, params_type: type | None) -> Any:
    """``data`` (a message's fresh ``model_dump``) with ``carrier`` added to ``params[key]``.

    The result is the dump the SDK would have made of the message with that ``_meta`` set, key order
    included: a ``_meta`` the caller did not set goes where the params model's own dump puts ``_meta`` (its
    place among the fields of ``params_type``), not after the other params — so the bytes on the wire are
    those of a message that carried the context itself. Keys already in the ``_meta`` are kept (a caller's
    ``traceparent`` wins); a ``_meta`` that is not an object is left alone. The dump is a new dict the SDK is
    about to send, so writing into it changes nothing the caller holds.
    """
    if not isinstance(data, dict):
        return data
    params = data.get("params")
    if params is None:
        data["params"] = {key: dict(carrier)}
    elif isinstance(params, dict):
        meta = params.get(key)
        if meta is None:
            before = _keys_before_meta(params_type) if params_type is not None else frozenset()
            data["params"] = _with_meta(params, key, dict(carrier), before)
        elif isinstance(meta, dict):
            for name, value in carrier.items():
                meta.setdefault(name, value)
    return data


class CarryingTraceContext(_Proxy):
    """The caller's request or notification as the SDK's send path sees it: the same object, whose
    ``model_dump`` also puts the trace context into ``params._meta``.

    mcp 1.x's ``BaseSession.send_request`` / ``send_notification`` read the message once, through
    ``model_dump(by_alias=True, mode="json", exclude_none=True)``, and send that dict. Adding the carrier to
    the dump costs a few dict operations, where copying the model (``model_copy`` of the message, its
    params and its ``_meta``) or a dump/validate round trip cost hundreds of thousands of instructions per
    call — and the caller's object is never touched, so a request that is sent twice, or shared between
    tasks, carries no stale ``traceparent``. Everything else (attributes, ``isinstance``, ``__class__``)
    is the proxied message's.
    """

    def __init__(self, message: Any, carrier: dict[str, str]) -> None:
        super().__init__(message)
        self._self_carrier = carrier

    def model_dump(self, *args: Any, **kwargs: Any) -> Any:
        """The message's ``model_dump(*args, **kwargs)`` with the carrier in ``params._meta`` (``meta``
        without ``by_alias``)."""
        message = self.__wrapped__
        data = message.model_dump(*args, **kwargs)
        params = getattr(getattr(message, "root", message), "params", None)
        key = "_meta" if kwargs.get("by_alias") else "meta"
        return _with_carrier(data, self._self_carrier, key, None if params is None else type(params))


def trace_context(name: str) -> Prepare:
    """``prepare`` of a send seam: the message argument ``name`` wrapped in :class:`CarryingTraceContext`
    with the current trace context (one injection per message, no copy of the message)."""

    def prepare(args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
        carrier: dict[str, str] = {}
        inject(carrier)
        if not carrier:
            return args, kwargs
        if args:
            return (CarryingTraceContext(args[0], carrier), *args[1:]), kwargs
        return args, {**kwargs, name: CarryingTraceContext(kwargs[name], carrier)}

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
            op.set_result(
                bool(result.isError), lambda: tool_result_content(result), len(result.content), result.content
            )
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
