"""The server of ``test_privacy.py``: the feature server plus tools that move a caller's data around.

In-process tests call :func:`build_server`. Run as a script (``--spans FILE --metrics FILE``) it serves stdio
like ``feature_server_stdio.py``: instrumented (content capture and redactor from the environment, as a user
would configure them), spans appended to a JSON Lines file, metric points dumped when it stops.

Extra tools: ``echo(text)`` returns ``text``; ``explode(text)`` raises ``RuntimeError`` whose message does not
contain ``text``; ``ask(text)`` asks the client to sample a message whose prompt is ``text`` and returns the
answer; ``confirm(text)`` elicits an answer from the client (message without ``text``) and returns its
length. Resource ``privacy://secret`` returns contents holding :data:`CANARY` (not its URI: the conventions
record URIs).

Exception text (``test_exception_text_privacy.py``): ``leak()`` raises a ``ConnectionError`` whose message
holds a database URL with a password and a GitHub token (the tool's locals hold them too, as real code's do);
``refuse()`` raises the SDK's JSON-RPC error with a JWT in its message; resource ``privacy://leaky`` raises
a ``ValueError`` holding a bearer token and an ``api_key=`` value; ``grumble()`` logs the ``leak`` failure
without failing: ``logger.exception`` with the database URL as its argument (→ a log record whose body,
``exception.message`` and ``exception.stacktrace`` hold secrets) and an MCP ``warning`` notification holding
the GitHub token (→ the server's and the client's log records). :data:`SECRETS` are the planted values.
"""

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

from pydantic import BaseModel  # noqa: E402

from support import feature_server  # noqa: E402
from support.compat import IS_MCP1, mcp_error  # noqa: E402

if IS_MCP1:
    from mcp.server.fastmcp import Context
else:
    from mcp.server.mcpserver import Context

EXPLODE_MESSAGE = "privacy tool exploded"
SECRET_RESOURCE = "privacy://secret"
#: The string the privacy tests plant everywhere (the secret resource's contents carry it too).
CANARY = "canary-7f3a9e"
LEAKY_RESOURCE = "privacy://leaky"
#: Credentials the exception-text tests plant in exception messages; none may leave by default.
DB_PASSWORD = "Pw-9xQ2LmT7vR"
GITHUB_TOKEN = "ghp_" + "R8kZ2mQ9vX4tL7nB3cW6yH1pD5sF0gJ2aE8u"
BEARER_TOKEN = "bT9-Xk2mQ7vR4tLz8nC3"
API_KEY = "k3y-4f9A2bQ8xZ"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnktdXNlciJ9.c2lnbmF0dXJlLWNhbmFyeS0xMjM0"
SECRETS = (DB_PASSWORD, GITHUB_TOKEN, BEARER_TOKEN, API_KEY, JWT)
DSN = f"postgresql://app:{DB_PASSWORD}@db.internal:5432/orders"
LOGGER_NAME = "tests.privacy-server"
#: The body of ``grumble``'s Python record and the data of its MCP notification, as logged.
GRUMBLE_LOG = "lookup failed for %s"
GRUMBLE_NOTICE = f"backend refused token {GITHUB_TOKEN}"

_log = logging.getLogger(LOGGER_NAME)


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

    @server.tool()
    def leak() -> str:
        """Fail to connect, with credentials in the message (and in local variables)."""
        dsn = DSN
        token = GITHUB_TOKEN
        raise ConnectionError(f"connect to {dsn} failed; GitHub answered 401 for {token}")

    @server.tool()
    async def grumble(ctx: Context) -> str:  # type: ignore[type-arg]
        """Log a failure holding credentials (Python logging and an MCP notification); succeed."""
        try:
            raise ConnectionError(f"connect to {DSN} failed")
        except ConnectionError:
            _log.exception(GRUMBLE_LOG, DSN)
        with warnings.catch_warnings():  # mcp 2.3: the logging capability is deprecated (SEP-2577)
            warnings.simplefilter("ignore")
            await ctx.warning(GRUMBLE_NOTICE)
        return "logged"

    @server.tool()
    def refuse() -> str:
        """Answer with a JSON-RPC error whose message holds a JWT."""
        raise mcp_error(-32001, f"session token rejected: {JWT}")

    @server.resource(LEAKY_RESOURCE)
    def leaky() -> str:
        """Fail with a bearer token and an API key in the message."""
        headers = {"Authorization": f"Bearer {BEARER_TOKEN}"}
        raise ValueError(f"upstream refused {headers} (api_key={API_KEY})")

    return server


def main() -> None:
    from support import feature_server_stdio

    feature_server_stdio.main(build_server)


if __name__ == "__main__":
    main()
