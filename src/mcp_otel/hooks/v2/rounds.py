"""mcp 2.x multi-round-trip calls (SEP-2322) on the client: the SDK's driver as one logical operation.

- ``Client.call_tool`` / ``get_prompt`` / ``read_resource`` run as a driven call
  (:func:`mcp_otel.telemetry.rounds.open_call`): when their first request is answered with an
  ``InputRequiredResult``, its operation is held open as the call's operation (``client.input_required``).
- ``run_input_required_driver`` (and ``mcp.client.client``'s alias of it): the call's operation is current
  while the driver runs; every retry is a later round (an ordinary request operation the call owns); every
  input request the driver dispatches is a SERVER operation built by the factory from :attr:`Rounds.dispatch`,
  a seam like any other; the final result (or failure) is read into the call's operation, which then ends.

A round the application drives itself (``client.session.call_tool(..., allow_input_required=True)``) is an
ordinary request: its span records ``mcp_otel.result.type``.
"""

from __future__ import annotations

from typing import Any

import wrapt
from opentelemetry.trace import SpanKind

from mcp_otel._guard import log_failure_once
from mcp_otel.hooks.factory import Args, Kwargs, Seam, build
from mcp_otel.hooks.patching import Patch
from mcp_otel.hooks.v2.client import ClientRequests, failed, input_required_type
from mcp_otel.model import Message
from mcp_otel.semconv.attributes import MCP_OTEL_REQUEST_ROUND_COUNT
from mcp_otel.telemetry import Operation, Telemetry
from mcp_otel.telemetry.rounds import (
    DrivenCall,
    close_call,
    driven_call,
    input_required,
    open_call,
    sending_round,
    sent_round,
)

_DRIVER_MODULE = "mcp.client._input_required"
_DRIVER = "run_input_required_driver"


def _driver_args(
    first: Any, *, dispatch: Any, retry: Any, max_rounds: Any = None, **_: Any
) -> tuple[Any, Any, Any]:
    return first, dispatch, retry


class Rounds:
    """The multi-round-trip hooks of one instrumentation (see the module docstring)."""

    def __init__(self, telemetry: Telemetry, requests: ClientRequests) -> None:
        self.requests = requests
        #: Each input request the driver dispatches: ``dispatch(key, request)``.
        self.dispatch = Seam(
            _DRIVER_MODULE,
            "dispatch",
            SpanKind.SERVER,
            self.describe_input_request,
            outcome=self.input_response,
            failure=failed,
        )
        self._dispatch_wrapper = build(self.dispatch, telemetry)

    # --- the driven call (Client.call_tool, get_prompt, read_resource)

    async def driven(self, wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        """A high-level client call: its rounds belong together while it runs (one context variable: the
        ordinary single-round call pays nothing else)."""
        call, token = open_call()
        try:
            return await wrapped(*args, **kwargs)
        finally:
            close_call(call, token)

    # --- the driver

    async def driver(self, wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        """``run_input_required_driver(first, *, dispatch, retry, max_rounds)`` of a driven call."""
        call = driven_call()
        owner = None
        try:
            first, dispatch, retry = _driver_args(*args, **kwargs)
            if call is not None and call.owner is not None and call.first is first:
                owner = call.owner
                kwargs = {
                    **kwargs,
                    "dispatch": wrapt.FunctionWrapper(dispatch, self._dispatch_wrapper),
                    "retry": self._rounds(call, owner, retry),
                }
                owner.activate()
        except Exception:
            log_failure_once("v2.rounds.driver")
        if owner is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _guarded(_refused if call.refused else failed, owner, exc)  # type: ignore[union-attr]
            raise
        else:
            _guarded(self.requests.result, owner, result)
            return result
        finally:
            try:
                owner.set_attribute(MCP_OTEL_REQUEST_ROUND_COUNT, call.round)  # type: ignore[union-attr]
                owner.deactivate()
            except Exception:
                log_failure_once("v2.rounds.deactivate")
            try:
                call.finish()  # type: ignore[union-attr]
            except Exception:
                log_failure_once("v2.rounds.end")

    def _rounds(self, call: DrivenCall, owner: Operation, retry: Any) -> Any:
        """``retry`` sending each of its requests as the next round of ``call``."""

        async def next_round(responses: Any, state: Any) -> Any:
            token = sending_round(call)
            try:
                result = await retry(responses, state)
            finally:
                sent_round(token)
            try:
                if isinstance(result, input_required_type()):
                    requests = getattr(result, "input_requests", None)
                    input_required(owner, call.round, len(requests) if requests else 0)
            except Exception:
                log_failure_once("v2.rounds.round")
            return result

        return next_round

    # --- the input requests the driver dispatches

    def describe_input_request(self, instance: Any, args: Args, kwargs: Kwargs) -> Message | None:
        """``dispatch(key, request)``: the input request the server embedded, as a request to the client."""
        call = driven_call()
        owner = call.owner if call is not None else None
        if owner is None:
            return None
        key, request = _dispatch_args(*args, **kwargs)
        call_message = owner.message
        return Message(
            method=request.method,
            request_id=key,  # the SDK hands the callback the key as the request id
            name=None,
            uri=None,
            carrier=None,
            session=call_message.session,
            transport=call_message.transport,
            session_key=call_message.session_key,
            round=call.round,  # type: ignore[union-attr]
        )

    def input_response(self, op: Operation, instance: Any, args: Args, kwargs: Kwargs, response: Any) -> None:
        """A callback's answer: a refusal (``ErrorData``) is the error response the server would have got."""
        code, message = getattr(response, "code", None), getattr(response, "message", None)
        if isinstance(code, int) and isinstance(message, str):
            op.set_error_response(code, message)
            call = driven_call()
            if call is not None:
                call.refused = True

    def patches(self) -> list[Patch]:
        """The driven calls and the driver (by both of its names)."""
        client = "mcp.client.client"
        return [
            Patch(client, "Client.call_tool", self.driven),
            Patch(client, "Client.get_prompt", self.driven),
            Patch(client, "Client.read_resource", self.driven),
            Patch(_DRIVER_MODULE, _DRIVER, self.driver),
            Patch(client, _DRIVER, self.driver),
        ]


def _dispatch_args(key: Any, request: Any, *_: Any, **__: Any) -> tuple[Any, Any]:
    return key, request


def _refused(op: Operation, instance: Any, args: Args, kwargs: Kwargs, exc: BaseException) -> None:
    """The call failed because the client refused an input request: the SDK raises the refusal as the
    call's ``MCPError``, but no response carried it (``error.type`` is its code, no status code)."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if isinstance(code, int):
        op.set_error(str(code), getattr(error, "message", None))
    else:
        failed(op, instance, args, kwargs, exc)


def _guarded(record: Any, op: Operation, value: Any) -> None:
    try:
        record(op, None, (), {}, value)
    except Exception:
        log_failure_once(f"v2.rounds.{getattr(record, '__name__', 'record')}")
