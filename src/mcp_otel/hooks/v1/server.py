"""mcp 1.x server requests.

- ``Server._handle_request`` opens the SERVER span of every request but ``initialize`` and runs the handler
  with it current; ``ServerSession._received_request`` does the same for ``initialize`` (answered inline).
- ``RequestResponder.respond`` sees the result or ``ErrorData`` that goes on the wire (both sides).
- The original exception of a handler is seen where the SDK turns it into its answer, from inside the
  SDK's ``except`` block — never by a frame between the SDK's own frames (the SDK's
  ``warnings.warn(..., stacklevel=2)`` must keep pointing at its caller): ``Server._make_error_result``
  (a tool's exception becomes an ``isError`` result) and ``ErrorData(code=0, ...)`` (any other handler's
  exception becomes an error response).
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry.trace import SpanKind

from mcp_otel.hooks.common import NAMED_METHODS, access_token_of, optional_field, original_exception
from mcp_otel.hooks.factory import Args, Kwargs, Seam, before
from mcp_otel.hooks.lazy import LazyModule
from mcp_otel.hooks.patching import Patch
from mcp_otel.hooks.v1.sessions import SessionState, peer, server_peer
from mcp_otel.model import Message, Session, Transport
from mcp_otel.telemetry import Operation, active_operation, active_request
from mcp_otel.transport import transport_of

types = LazyModule("mcp.types")
_UNMAPPED_EXCEPTION = 0  # the code mcp 1.x answers an unmapped handler exception with


def http_request_of(responder: Any) -> Any:
    """The Starlette request that carried a message (``None`` off HTTP)."""
    metadata = responder.message_metadata
    return getattr(metadata, "request_context", None) if metadata is not None else None


def message_of(
    req: Any, request_id: Any, session: Session, transport: Transport, carrier: Any = None, key: Any = None
) -> Message:
    """The message of a typed request or notification."""
    method: str = req.method
    params = getattr(req, "params", None)
    name = getattr(params, "name", None) if method in NAMED_METHODS else None
    uri = optional_field(params, "uri")
    return Message(
        method=method,
        request_id=request_id,
        name=name,
        uri=str(uri) if uri is not None else None,
        carrier=carrier,
        session=session,
        transport=transport,
        arguments=(lambda: getattr(params, "arguments", None)) if params is not None else None,
        session_key=key,
    )


def inbound(responder: Any, req: Any, session: Session, transport: Transport, key: Any) -> Message:
    """The message of a request a ``RequestResponder`` answers."""
    meta = responder.request_meta
    message = message_of(
        req, responder.request_id, session, transport, meta.model_extra if meta else None, key
    )
    http_request = http_request_of(responder)
    if http_request is not None:
        message.http_headers = getattr(http_request, "headers", None)
        message.access_token = access_token_of(http_request)
    return message


def responder_of(op: Operation, instance: Any, args: Args, kwargs: Kwargs) -> None:
    """``started`` of a request seam: the operation answers through its ``RequestResponder``."""
    op.key = args[0] if args else kwargs.get("message", kwargs.get("responder"))


class ServerRequests:
    """Describes and records the requests an mcp 1.x server receives."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    def describe(self, server: Any, args: Args, kwargs: Kwargs) -> Message:
        """``Server._handle_request(message, req, session, ...)``."""
        responder, req, server_session = _request_args(*args, **kwargs)
        http_request = http_request_of(responder)
        transport = transport_of(http_request)
        session = self.state.session_for(server_session, transport, http_request)
        return inbound(responder, req, session, transport, server_session)

    def started(self, op: Operation, server: Any, args: Args, kwargs: Kwargs) -> None:
        """Remember which operation the responder belongs to (``respond`` / ``cancel`` find it)."""
        responder_of(op, server, args, kwargs)
        self.state.in_flight.set(op.key, op)

    def failure(self, op: Operation, server: Any, args: Args, kwargs: Kwargs, exc: BaseException) -> None:
        """A handler exception that escaped ``_handle_request`` (``Server.run(raise_exceptions=True)``)."""
        if isinstance(exc, Exception):
            op.set_exception(original_exception(exc))

    def finished(self, op: Operation, server: Any, args: Args, kwargs: Kwargs) -> None:
        """The request is over: forget its responder."""
        self.state.in_flight.pop(op.key)

    def describe_initialize(self, server_session: Any, args: Args, kwargs: Kwargs) -> Message | None:
        """``ServerSession._received_request(responder)``: only ``initialize`` (the rest pass through)."""
        responder = args[0] if args else kwargs["responder"]
        root = responder.request.root
        if not isinstance(root, types.InitializeRequest):
            return None
        params = root.params
        transport = transport_of(http_request_of(responder))
        session = Session(
            client=peer(params.clientInfo),
            server=server_peer(server_session),
            protocol_version=params.protocolVersion,
            session_id=transport.session_id,
        )
        return inbound(responder, root, session, transport, server_session)

    def respond(self, responder: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
        """``RequestResponder.respond(response)``: the answer of the request whose operation is current."""
        op = active_operation()
        if op is None or op.key is not responder:
            return
        response = args[0] if args else kwargs["response"]
        if isinstance(response, types.ErrorData):
            op.set_error_response(response.code, response.message)
            return
        result = getattr(response, "root", response)
        if isinstance(result, types.CallToolResult):
            op.set_result(
                bool(result.isError), lambda: tool_result_content(result), len(result.content), result.content
            )
        elif isinstance(result, types.GetPromptResult):
            op.set_prompt_result(len(result.messages), lambda: result.description, lambda: result.messages)
        elif isinstance(result, types.InitializeResult):
            server_session = responder._session
            params = server_session.client_params
            session = Session(
                client=peer(params.clientInfo) if params is not None else None,
                server=peer(result.serverInfo),
                protocol_version=result.protocolVersion,
                session_id=op.message.transport.session_id,
            )
            self.state.sessions.set(server_session, session)
            self.state.clock.refine(server_session, op.message.transport)
            op.update_session(session.attributes())

    def seams(self) -> list[Seam]:
        """The server-request seams."""
        return [
            Seam(
                "mcp.server.lowlevel.server",
                "Server._handle_request",
                SpanKind.SERVER,
                self.describe,
                failure=self.failure,
                started=self.started,
                finished=self.finished,
            ),
            Seam(
                "mcp.server.session",
                "ServerSession._received_request",
                SpanKind.SERVER,
                self.describe_initialize,
                started=responder_of,
            ),
        ]

    def patches(self) -> list[Patch]:
        """The observers of answers and handler exceptions."""
        return [
            before("mcp.shared.session", "RequestResponder.respond", self.respond),
            before("mcp.server.lowlevel.server", "Server._make_error_result", _tool_exception),
            before("mcp.types", "ErrorData.__init__", _handler_exception),
        ]


def _request_args(message: Any, req: Any, session: Any, *_: Any, **__: Any) -> tuple[Any, Any, Any]:
    return message, req, session


def tool_result_content(result: Any) -> Any:
    """A ``CallToolResult``'s content as JSON values (structured content when there is some)."""
    if result.structuredContent is not None:
        return result.structuredContent
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]


def _tool_exception(server: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
    # Called in the lowlevel call_tool decorator's ``except`` block: the exception handled is the tool's.
    op = active_request()
    exc = sys.exc_info()[1]
    if op is not None and exc is not None:
        op.record_exception(original_exception(exc))


def _handler_exception(error_data: Any, args: Args, kwargs: Kwargs, _: Any) -> None:
    # ``Server._handle_request`` answers an unmapped handler exception with ``ErrorData(code=0,
    # message=str(err))``, built in its ``except`` block: the exception handled is the handler's.
    if kwargs.get("code") != _UNMAPPED_EXCEPTION:
        return
    exc = sys.exc_info()[1]
    if exc is None or kwargs.get("message") != str(exc):
        return
    op = active_request()
    if op is not None and op.key is not None:
        op.set_exception(original_exception(exc))
