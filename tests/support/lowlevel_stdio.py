"""Run the lowlevel test server over stdio (started through ``python -m mcp_otel.bootstrap``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

import anyio  # noqa: E402

from support.servers import build_lowlevel  # noqa: E402


async def main() -> None:
    from mcp.server.stdio import stdio_server

    server = build_lowlevel()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
