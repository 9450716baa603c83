"""mcp 2.x requests this process sends (client → server, server → client) and the client's handling of the
requests a server sends it.

``ClientSession.send_request`` / ``send_discover`` and ``ServerSession.send_request`` open CLIENT spans;
the SDK's dispatcher injects ``_meta`` with our span current and hands the request id to the silent tracer.
``ClientSession._on_request`` opens the SERVER span of a request the server sent to the client.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import (
    NAMED_METHODS,
    optional_field,
    record_send_failure,
    server_side_context,
    server_side_key,
)
from mcp_otel.hooks.factory import Args, Kwargs, Seam
from mcp_otel.hooks.v2.server import count, exceptions, request_args
from mcp_otel.hooks.v2.sessions import SessionState, client_side_transport, peer
from mcp_otel.model import (
    INITIALIZE,
    INPUT_REQUIRED_METHODS,
    PROMPTS_GET,
    SERVER_DISCOVER,
    TOOLS_CALL,
    Message,
    Session,
    Transport,
)
from mcp_otel.telemetry import Operation
from mcp_otel.telemetry.rounds import driven_call

_SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


class _NoSuchResult:
    """Stands for a result class the installed mcp does not have (``isinstance`` never matches)."""


_input_required_class: list[type] = []


def input_required_type() -> type:
    """``mcp_types.InputRequiredResult`` (mcp 2.3+), else a class nothing is an instance of."""
    if not _input_required_class:
        found = getattr(importlib.import_module("mcp_types"), "InputRequiredResult", None)
        _input_required_class.append(found if isinstance(found, type) else _NoSuchResult)
    return _input_required_class[0]


def outbound(request: Any, session: Session, transport: Transport, key: Any) -> Message:
    """The message of a typed request this process sends."""
    method: str = request.method
    params = getattr(request, "params", None)
    name = getattr(params, "name", None) if method in NAMED_METHODS else None
    uri = optional_field(params, "uri")
    return Message(
        method=method,
        request_id=None,  # allocated by the dispatcher; see SilentTracer
        name=name if isinstance(name, str) else None,
        uri=str(uri) if uri is not None else None,
        carrier=None,
        session=session,
        transport=transport,
        arguments=(lambda: getattr(params, "arguments", None)) if params is not None else None,
        session_key=key,
    )


def failed(op: Operation, instance: Any, args: Args, kwargs: Kwargs, exc: BaseException) -> None:
    """A request that ended in an exception: a JSON-RPC error response (``MCPError``) or a failure."""
    record_send_failure(op, exc, exceptions.MCPError)


class ClientRequests:
    """Describes and records the requests an mcp 2.x process sends, and those a client receives."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    def describe_client(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession.send_request(request, ...)``."""
        request = args[0] if args else kwargs["request"]
        session = self.state.client_session_for(client)
        return outbound(request, session, client_side_transport(client), client)

    def describe_discover(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession.send_discover(version)``."""
        version = args[0] if args else kwargs.get("version")
        return Message(
            method=SERVER_DISCOVER,
            request_id=None,
            name=None,
            uri=None,
            carrier=None,
            session=Session(protocol_version=version if isinstance(version, str) else None),
            transport=client_side_transport(client),
            session_key=client,
        )

    def describe_server(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ServerSession.send_request(request, ...)``: a server → client request."""
        request = args[0] if args else kwargs["request"]
        session, transport = server_side_context()
        return outbound(request, session, transport, server_side_key())

    def describe_received(self, client: Any, args: Args, kwargs: Kwargs) -> Message:
        """``ClientSession._on_request(dctx, method, params)``: a request the server sent."""
        dctx, method, params = request_args(*args, **kwargs)
        meta = params.get("_meta") if params else None
        return Message(
            method=method,
            request_id=dctx.request_id,
            name=None,
            uri=None,
            carrier=meta if isinstance(meta, Mapping) else None,
            session=self.state.client_session_for(client),
            transport=client_side_transport(client),
        )

    def result(self, op: Operation, instance: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
        """The typed result of a request this process sent."""
        if op.method in INPUT_REQUIRED_METHODS:
            if isinstance(result, input_required_type()):
                input_required(op, result)
                return
            if op.owner is not None:
                op.set_final_round()
        if getattr(result, "is_error", None) is True:
            content = getattr(result, "content", None)
            op.set_result(True, None, count(content), content)
        elif op.method == TOOLS_CALL:
            content = getattr(result, "content", None)
            op.set_result(False, lambda: _typed_tool_result_content(result), count(content), content)
        elif op.method == PROMPTS_GET:
            op.set_prompt_result(
                count(getattr(result, "messages", None)),
                lambda: getattr(result, "description", None),
                lambda: getattr(result, "messages", None),
            )
        elif op.method in (INITIALIZE, SERVER_DISCOVER) and op.message.session_key is instance:
            _update_client_session(op, instance, result)  # the client's own handshake

    def seams(self) -> list[Seam]:
        """The request seams."""
        client, session = "mcp.client.session", "mcp.server.session"
        return [
            Seam(
                client,
                "ClientSession.send_request",
                SpanKind.CLIENT,
                self.describe_client,
                self.result,
                failed,
            ),
            Seam(
                client,
                "ClientSession.send_discover",
                SpanKind.CLIENT,
                self.describe_discover,
                self.result,
                failed,
            ),
            Seam(
                session,
                "ServerSession.send_request",
                SpanKind.CLIENT,
                self.describe_server,
                self.result,
                failed,
            ),
            Seam(
                client, "ClientSession._on_request", SpanKind.SERVER, self.describe_received, failure=failed
            ),
        ]


def input_required(op: Operation, result: Any) -> None:
    """An ``InputRequiredResult``: the first round of a call the SDK's driver goes on with holds the call's
    operation open; any other request records the result type (no result attributes, not an error)."""
    requests = result.input_requests
    request_count = len(requests) if requests else 0
    call = driven_call()
    if call is None or not call.hold_first(op, result, request_count):
        op.set_input_required(request_count)


def _update_client_session(op: Operation, client_session: Any, result: Any) -> None:
    # The SDK adopts the result only after send_request returns: describe the session from the result.
    server_info = getattr(result, "server_info", None)
    version = getattr(result, "protocol_version", None)
    if isinstance(result, Mapping):  # server/discover returns the raw result, server info in its _meta
        meta = result.get("_meta")
        server_info = meta.get(_SERVER_INFO_META) if isinstance(meta, Mapping) else None
        version = version or op.message.session.protocol_version
    session = Session(
        server=peer(server_info),
        protocol_version=version,
        session_id=client_side_transport(client_session).current_session_id(),
    )
    op.update_session(session.attributes())


def _typed_tool_result_content(result: Any) -> Any:
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        return structured
    content = getattr(result, "content", None)
    if content is None:  # not a CallToolResult (a raw tools/call sent with another result type)
        dump = getattr(result, "model_dump", None)
        return dump(mode="json", by_alias=True, exclude_none=True) if dump is not None else result
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in content]
