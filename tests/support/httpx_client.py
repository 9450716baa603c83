"""A mcp 1.x client over streamable HTTP, run under ``opentelemetry-instrument`` (mcp-otel and the httpx
instrumentation load from entry points): ``python httpx_client.py URL``."""

from __future__ import annotations

import sys

import anyio


async def main(url: str) -> None:
    """Initialize, list the tools, call ``add``."""
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        await session.call_tool("add", {"a": 2, "b": 3})


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
