"""The MCP client side of ``mcp-otel demo`` and ``trace``: connect to a stdio server on either mcp major
version and read what its results hold."""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

from mcp_otel.cli.errors import DemoError

__all__ = ["connect", "first_text", "is_error", "mcp_major_version"]


def mcp_major_version() -> int:
    """Return the major version of the installed ``mcp`` distribution (1 or 2).

    Raises:
        DemoError: when ``mcp`` is not installed.
    """
    try:
        return int(importlib.metadata.version("mcp").split(".")[0])
    except importlib.metadata.PackageNotFoundError as exc:
        raise DemoError("the demo needs the mcp package: pip install 'mcp-otel[instruments]'") from exc


@asynccontextmanager
async def connect(params: Any, errlog: TextIO, client_info: Any) -> AsyncIterator[tuple[Any, str]]:
    """Start the stdio server described by ``params``; yield an initialized client and the protocol version.

    The only place that depends on the mcp major version. Both yield an object with ``list_tools``,
    ``call_tool``, ``get_prompt`` and ``read_resource``: mcp 1.x a ``ClientSession`` on ``stdio_client``
    streams, initialized here; mcp 2.x a ``Client`` over the ``stdio_client`` transport in ``legacy`` mode
    (the ``initialize`` handshake rather than ``server/discover``), which initializes on entry.

    Args:
        params: the ``mcp.StdioServerParameters`` of the server command.
        errlog: where the server's stderr goes.
        client_info: the ``mcp.types.Implementation`` sent in ``initialize``.
    """
    from mcp.client.stdio import stdio_client

    if mcp_major_version() >= 2:
        from mcp import Client  # type: ignore[attr-defined,unused-ignore]  # mcp 2.x only

        async with Client(
            stdio_client(params, errlog=errlog), mode="legacy", client_info=client_info
        ) as client:
            yield client, str(client.protocol_version)
    else:
        from mcp import ClientSession

        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, client_info=client_info) as session,
        ):
            initialized: Any = await session.initialize()  # InitializeResult (1.x field names)
            yield session, str(initialized.protocolVersion)


def is_error(result: Any) -> bool:
    """Whether a ``tools/call`` result is an ``isError`` result (``is_error`` on mcp 2.x)."""
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


def first_text(result: Any) -> str:
    """The first text item of a tool result's ``content`` or a resource's ``contents``; ``""`` if none."""
    for item in getattr(result, "content", None) or getattr(result, "contents", None) or ():
        text = getattr(item, "text", None)
        if text is not None:
            return str(text)
    return ""
