"""mcp 1.x: the message mcp-otel hands the SDK's send path (a proxy whose ``model_dump`` adds the trace
context) serialises to exactly the bytes the SDK sends for the same message carrying that ``_meta`` itself.

mcp 1.x writes what ``BaseSession.send_notification`` / ``send_request`` dumped
(``model_dump(by_alias=True, mode="json", exclude_none=True)``) into a ``JSONRPCNotification`` /
``JSONRPCRequest`` and the transport serialises that with ``model_dump_json``: the comparison below is on
those bytes. A ``_meta`` appended after the other params (where a dict append puts it) gives the same JSON
value in another key order: a different line on stdio than the one the SDK would have written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.mcp1

TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
CARRIER = {"traceparent": TRACEPARENT}
DUMP = {"by_alias": True, "mode": "json", "exclude_none": True}


def _notification_bytes(message: Any) -> bytes:
    from mcp.types import JSONRPCMessage, JSONRPCNotification

    wire = JSONRPCMessage(JSONRPCNotification(jsonrpc="2.0", **message.model_dump(**DUMP)))
    return wire.model_dump_json(by_alias=True, exclude_none=True).encode()


def _request_bytes(message: Any) -> bytes:
    from mcp.types import JSONRPCMessage, JSONRPCRequest

    wire = JSONRPCMessage(JSONRPCRequest(jsonrpc="2.0", id=7, **message.model_dump(**DUMP)))
    return wire.model_dump_json(by_alias=True, exclude_none=True).encode()


def _log_message(meta: dict[str, Any] | None) -> Any:
    from mcp import types

    params = types.LoggingMessageNotificationParams(
        level="error", logger="mcp.server.exception_handler", data="Internal Server Error", _meta=meta
    )
    return types.ServerNotification(
        types.LoggingMessageNotification(method="notifications/message", params=params)
    )


def _tool_call(meta: dict[str, Any] | None) -> Any:
    from mcp import types

    params = types.CallToolRequestParams(name="add", arguments={"a": 2, "b": 3}, _meta=meta)
    return types.ClientRequest(types.CallToolRequest(method="tools/call", params=params))


def _tool_call_with_task(meta: dict[str, Any] | None) -> Any:
    from mcp import types

    if not hasattr(types, "TaskMetadata"):
        pytest.skip("this mcp has no task-augmented requests (a params field declared before _meta)")
    params = types.CallToolRequestParams(name="add", arguments={}, task=types.TaskMetadata(ttl=5), _meta=meta)
    return types.ClientRequest(types.CallToolRequest(method="tools/call", params=params))


def _ping(meta: dict[str, Any] | None) -> Any:
    from mcp import types

    return types.ClientRequest(
        types.PingRequest(method="ping", params=None if meta is None else types.RequestParams(_meta=meta))
    )


def _progress(meta: dict[str, Any] | None) -> Any:
    from mcp import types

    params = types.ProgressNotificationParams(progressToken="t", progress=0.5, _meta=meta)
    return types.ServerNotification(
        types.ProgressNotification(method="notifications/progress", params=params)
    )


@pytest.mark.parametrize(
    ("build", "serialise"),
    [
        (_log_message, _notification_bytes),  # what mcp 1.30 sends for an unparsable line
        (_progress, _notification_bytes),
        (_tool_call, _request_bytes),
        (_tool_call_with_task, _request_bytes),
        (_ping, _request_bytes),  # no params at all
    ],
    ids=["notifications/message", "notifications/progress", "tools/call", "tools/call+task", "ping"],
)
def test_injected_meta_serialises_as_the_sdk_would(
    build: Callable[[dict[str, Any] | None], Any], serialise: Callable[[Any], bytes]
) -> None:
    """No ``_meta`` on the caller's message: the carrier lands where the SDK's own dump puts ``_meta``."""
    from mcp_otel.hooks.v1.client import CarryingTraceContext

    plain = build(None)
    sent = serialise(CarryingTraceContext(plain, dict(CARRIER)))
    assert sent == serialise(build(dict(CARRIER)))
    assert serialise(plain) == serialise(build(None))  # the caller's message is untouched


def test_callers_meta_keeps_its_keys_and_order() -> None:
    """A caller's ``_meta`` (its own keys, even its own ``traceparent``) comes first and wins."""
    from mcp_otel.hooks.v1.client import CarryingTraceContext

    own = {"progressToken": 3, "k": "v"}
    sent = _request_bytes(CarryingTraceContext(_tool_call(dict(own)), dict(CARRIER)))
    assert sent == _request_bytes(_tool_call({**own, **CARRIER}))
    callers_parent = "00-" + "c" * 32 + "-" + "d" * 16 + "-01"
    sent = _request_bytes(CarryingTraceContext(_tool_call({"traceparent": callers_parent}), dict(CARRIER)))
    assert sent == _request_bytes(_tool_call({"traceparent": callers_parent}))


def test_other_dumps_get_the_carrier_too() -> None:
    """Without ``by_alias`` the key is ``meta``; without ``exclude_none`` a dumped ``None`` is replaced."""
    from mcp_otel.hooks.v1.client import CarryingTraceContext

    proxy = CarryingTraceContext(_tool_call(None), dict(CARRIER))
    assert proxy.model_dump()["params"]["meta"] == CARRIER
    assert proxy.model_dump(by_alias=True)["params"]["_meta"] == CARRIER
