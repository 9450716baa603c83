"""An ``MCPServer`` speaking the 2026-07-28 flows (mcp >= 2.3), in-process or as a stdio script.

- ``poll(rounds, state_only)`` (tool), ``brief(rounds)`` (prompt), ``steps://{rounds}`` (resource template):
  answered with ``InputRequiredResult`` until round ``rounds``; round ``k`` asks the client for an elicitation
  (odd ``k``) or a sampling (even ``k``), or asks for nothing but its state back (``state_only``).
- ``book(flight)``: the high-level path, two ``Resolve`` parameters (an elicitation, then a sampling that
  depends on it): three rounds on 2026-07-28, standalone requests on older protocol versions.
- ``ask(question)``: one elicitation with the given message (the test's client refuses ``"refuse"``).
- ``publish(uri)``: publishes a resource-updated and a tools-list-changed event to the listen channels.
- The ``example/echo`` extension: ``echo/ping`` (every protocol version) and ``echo/legacy`` (only on
  2025-11-25, so the runner rejects it on 2026-07-28).
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from mcp_types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    RequestParams,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel

SERVER_NAME = "flows"
ANSWER_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"answer": {"type": "string"}}}


class Seat(BaseModel):
    """What ``book`` elicits."""

    seat: str


async def ask_seat() -> Elicit[Seat]:
    """Resolver of ``book``'s seat: ask the user."""
    return Elicit("Which seat?", Seat)


async def summarise(seat: Annotated[Seat, Resolve(ask_seat)]) -> Sample:
    """Resolver of ``book``'s note: sample the client's model, once the seat is known."""
    text = TextContent(type="text", text=f"seat {seat.seat}")
    return Sample([SamplingMessage(role="user", content=text)], max_tokens=8)


def input_request(round_: int) -> Any:
    """What round ``round_`` asks the client: an elicitation (odd rounds) or a sampling (even rounds)."""
    if round_ % 2:
        return ElicitRequest(
            params=ElicitRequestFormParams(message=f"q{round_}", requested_schema=ANSWER_SCHEMA)
        )
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"s{round_}"))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=4))


def next_round(rounds: int, ctx: Context[Any, Any], state_only: bool = False) -> InputRequiredResult | None:
    """The ``InputRequiredResult`` that asks for the next round, or ``None`` when this is round ``rounds``."""
    done = int(ctx.request_state or 0)
    if done + 1 >= rounds:
        return None
    round_ = done + 1
    if state_only:
        return InputRequiredResult(request_state=str(round_))
    return InputRequiredResult(
        input_requests={f"r{round_}": input_request(round_)}, request_state=str(round_)
    )


class EchoParams(RequestParams):
    """Params of the ``example/echo`` extension's methods."""

    text: str = ""


async def echo(ctx: Any, params: EchoParams) -> dict[str, Any]:
    """Handler of ``echo/ping`` and ``echo/legacy``."""
    return {"text": params.text}


class EchoExtension(Extension):
    """An extension contributing two request methods."""

    identifier = "com.example/echo"

    def methods(self) -> list[MethodBinding]:
        """``echo/ping`` everywhere, ``echo/legacy`` only on the handshake protocol."""
        return [
            MethodBinding("echo/ping", EchoParams, echo),
            MethodBinding("echo/legacy", EchoParams, echo, protocol_versions=frozenset({"2025-11-25"})),
        ]


def build(bus: Any = None) -> MCPServer:
    """The server; ``bus``: the subscription bus its listen channels use (a new in-memory one by default)."""
    server = MCPServer(SERVER_NAME, subscriptions=bus, extensions=[EchoExtension()])

    @server.tool()
    def book(
        flight: str,
        seat: Annotated[Seat, Resolve(ask_seat)],
        note: Annotated[CreateMessageResult, Resolve(summarise)],
    ) -> str:
        """Book a seat (asks which one, then has the client's model write a note)."""
        return f"{flight} {seat.seat}"

    @server.tool()
    async def poll(
        rounds: int, ctx: Context[Any, Any], state_only: bool = False
    ) -> str | InputRequiredResult:
        """Done after ``rounds`` rounds."""
        more = next_round(rounds, ctx, state_only)
        return more if more is not None else f"done after {rounds}"

    @server.tool()
    async def ask(question: str, ctx: Context[Any, Any]) -> str | InputRequiredResult:
        """Ask the user ``question`` once."""
        if ctx.input_responses is None:
            form = ElicitRequestFormParams(message=question, requested_schema=ANSWER_SCHEMA)
            return InputRequiredResult(input_requests={"q": ElicitRequest(params=form)})
        return "answered"

    @server.tool()
    async def publish(uri: str, ctx: Context[Any, Any]) -> str:
        """Publish a resource-updated and a tools-list-changed event."""
        await ctx.notify_resource_updated(uri)
        await ctx.notify_tools_changed()
        return "published"

    @server.prompt()
    async def brief(rounds: str, ctx: Context[Any, Any]) -> str | InputRequiredResult:
        """Ready after ``rounds`` rounds."""
        more = next_round(int(rounds), ctx)
        return more if more is not None else f"brief after {rounds}"

    @server.resource("steps://{rounds}")
    async def steps(rounds: str, ctx: Context[Any, Any]) -> str | InputRequiredResult:
        """Readable after ``rounds`` rounds."""
        more = next_round(int(rounds), ctx)
        return more if more is not None else f"steps after {rounds}"

    return server


if __name__ == "__main__":
    build().run("stdio")
