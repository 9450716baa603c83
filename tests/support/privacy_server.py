"""The server of ``test_privacy.py``: the feature server plus tools that move a caller's data around.

In-process tests call :func:`build_server`. Run as a script (``--spans FILE --metrics FILE``) it serves stdio
like ``feature_server_stdio.py``: instrumented (content capture and redactor from the environment, as a user
would configure them), spans appended to a JSON Lines file, metric points dumped when it stops.

Extra tools: ``echo(text)`` returns ``text``; ``explode(text)`` raises ``RuntimeError`` whose message does not
contain ``text``; ``ask(text)`` asks the client to sample a message whose prompt is ``text`` and returns the
answer; ``confirm(text)`` elicits an answer from the client (message without ``text``) and returns its
length. Resource ``privacy://secret`` returns contents holding :data:`CANARY` (not its URI: the conventions
record URIs).
"""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from pydantic import BaseModel  # noqa: E402

from support import feature_server  # noqa: E402
from support.compat import IS_MCP1  # noqa: E402

if IS_MCP1:
    from mcp.server.fastmcp import Context
else:
    from mcp.server.mcpserver import Context

EXPLODE_MESSAGE = "privacy tool exploded"
SECRET_RESOURCE = "privacy://secret"
#: The string the privacy tests plant everywhere (the secret resource's contents carry it too).
CANARY = "canary-7f3a9e"


class Answer(BaseModel):
    answer: str


def build_server() -> Any:
    server = feature_server.build_server()
    import mcp.types as types

    @server.tool()
    def echo(text: str) -> str:
        """Return ``text``."""
        return text

    @server.tool()
    def explode(text: str) -> str:
        """Raise (the message does not repeat ``text``)."""
        raise RuntimeError(EXPLODE_MESSAGE)

    @server.tool()
    async def ask(text: str, ctx: Context) -> str:  # type: ignore[type-arg]
        """Ask the client to sample a message about ``text``."""
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=text))
        result = await ctx.session.create_message(
            [message], max_tokens=16, related_request_id=feature_server.request_id(ctx)
        )
        return str(result.content.text)

    @server.tool()
    async def confirm(ctx: Context) -> int:  # type: ignore[type-arg]
        """Elicit an answer from the client; return its length."""
        result = await ctx.elicit("Please answer", Answer)
        return len(result.data.answer) if result.action == "accept" and result.data else -1

    @server.resource(SECRET_RESOURCE)
    def secret() -> str:
        """Contents holding the canary."""
        return f"secret contents {CANARY}"

    return server


def main() -> None:
    from support import feature_server_stdio

    feature_server_stdio.main(build_server)


if __name__ == "__main__":
    main()
