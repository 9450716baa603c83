"""Helpers for the issue-3 tests: a server with sampling/progress/notification/cancellable tools, a client
connector with callbacks over every transport, span/metric readers.

The server is ``FastMCP`` on mcp 1.x and ``MCPServer`` on mcp 2.x. The connector opens an initialized
client session over ``memory``, ``direct`` (2.x), ``stdio`` (a subprocess running ``issue3_stdio_server.py``,
which instruments itself and writes its spans and metric points to files), ``http``, ``http-stateless`` and
``sse`` (uvicorn on 127.0.0.1). No ``from __future__ import annotations`` here: FastMCP reads the tools'
annotations at runtime to find the ``Context`` parameter.
"""

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from opentelemetry import baggage, trace

from mcp_otel.semconv import attributes as attr
from mcp_otel.semconv import sentry_compat as sentry
from support.compat import IS_MCP1, MODERN_PROTOCOL_VERSION, mcp_error
from support.harness import STEP_TIMEOUT, TRANSPORTS, http_app, serve_asgi, subprocess_env
from support.spans import Span, load_file, to_dicts

TESTS_DIR = Path(__file__).resolve().parent
STDIO_SCRIPT = TESTS_DIR / "issue3_stdio_server.py"

SERVER_NAME = "issue3-server"
SERVER_VERSION = "3.1.4"
CLIENT_NAME = "issue3-client"
CLIENT_VERSION = "2.7.1"
RESOURCE_URI = "issue3://info"
USER_SPAN = "issue3.user-work"
USER_TRACER = "tests.issue3"
BAGGAGE_KEY = "issue3.tenant"
SAMPLED_TEXT = "sampled-answer"
LOG_TEXT = "issue3 log line"
PROGRESS_STEPS = 3
#: Completion argument name for which the handler raises ``McpError``/``MCPError(int(value))``.
ERROR_ARGUMENT = "code"

#: Upper bound for a whole session (connect → close), on top of the per-step bounds.
SESSION_TIMEOUT = 90.0

HTTP_TRANSPORTS = ("http", "http-stateless", "sse")

# mcp-otel attribute keys the tests read (generated constants).
METHOD = attr.MCP_METHOD_NAME
REQUEST_ID = attr.JSONRPC_REQUEST_ID
TOOL_NAME = attr.GEN_AI_TOOL_NAME
OPERATION_NAME = attr.GEN_AI_OPERATION_NAME
PROMPT_NAME = attr.GEN_AI_PROMPT_NAME
RESOURCE_URI_KEY = attr.MCP_RESOURCE_URI
PROTOCOL_VERSION = attr.MCP_PROTOCOL_VERSION
SESSION_ID = attr.MCP_SESSION_ID
NETWORK_TRANSPORT = attr.NETWORK_TRANSPORT
SERVER_ADDRESS = attr.SERVER_ADDRESS
SERVER_PORT = attr.SERVER_PORT
ERROR_TYPE = attr.ERROR_TYPE
STATUS_CODE = attr.RPC_RESPONSE_STATUS_CODE
DIRECTION = attr.MCP_OTEL_NOTIFICATION_DIRECTION
TO_SERVER = attr.McpOtelNotificationDirectionValues.CLIENT_TO_SERVER.value
TO_CLIENT = attr.McpOtelNotificationDirectionValues.SERVER_TO_CLIENT.value
SERVER_NAME_KEY = sentry.SENTRY_MCP_SERVER_NAME
SERVER_VERSION_KEY = sentry.SENTRY_MCP_SERVER_VERSION
CLIENT_NAME_KEY = sentry.SENTRY_MCP_CLIENT_NAME
OTEL_SCOPE = "mcp_otel"
SDK_SCOPE = "mcp-python-sdk"


def modern(transport: str) -> bool:
    """Whether the transport speaks the sessionless 2026-07-28 protocol (mcp 2.x direct and stateless)."""
    return not IS_MCP1 and transport in ("direct", "http-stateless")


def progress_is_request_scoped() -> bool:
    """Whether ``Context.report_progress`` ties progress to its request (``related_request_id``)."""
    if not IS_MCP1:
        return True
    import inspect

    from mcp.server.fastmcp import Context

    return "related_request_id" in inspect.getsource(Context.report_progress)


# --------------------------------------------------------------------------------------------------------
# The server.


@dataclass
class Barrier:
    """Makes ``parties`` concurrent ``rendezvous`` tool calls wait for each other (proves real overlap)."""

    parties: int = 1
    arrived: int = 0
    event: Any = None

    def reset(self, parties: int) -> None:
        self.parties, self.arrived, self.event = parties, 0, None

    async def wait(self) -> int:
        if self.event is None:
            self.event = anyio.Event()
        self.arrived += 1
        ticket = self.arrived
        if self.arrived >= self.parties:
            self.event.set()
        with anyio.fail_after(STEP_TIMEOUT):
            await self.event.wait()
        return ticket


BARRIER = Barrier()


def _user_work() -> str:
    with trace.get_tracer(USER_TRACER).start_as_current_span(USER_SPAN):
        value = baggage.get_baggage(BAGGAGE_KEY)
        return "" if value is None else str(value)


def _request_id(ctx: Any) -> Any:
    return ctx.request_context.request_id


def build_server() -> Any:
    """A fresh test server (FastMCP on 1.x, MCPServer on 2.x). Build it after ``instrument()``.

    Tools: ``add``; ``fail`` (raises → ``isError``); ``traced`` (opens span ``issue3.user-work``, returns
    the baggage value ``issue3.tenant`` it sees); ``sample`` (asks the client for a sampling message);
    ``progress`` (reports ``PROGRESS_STEPS`` steps and logs a line); ``notify`` (sends
    ``notifications/resources/updated`` and ``notifications/tools/list_changed``); ``wait`` (reports
    progress 0, then sleeps until cancelled); ``rendezvous`` (waits on :data:`BARRIER`). Prompt
    ``greet``, resource ``issue3://info``, and a completion handler that raises ``McpError(int(value))``
    for argument ``code``.
    """
    if IS_MCP1:
        from mcp.server.fastmcp import Context, FastMCP

        server: Any = FastMCP(SERVER_NAME)
        server._mcp_server.version = SERVER_VERSION
    else:
        from mcp.server.mcpserver import Context, MCPServer

        server = MCPServer(SERVER_NAME, version=SERVER_VERSION)

    import mcp.types as types

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ValueError(f"issue3 failure: {reason}")

    @server.tool()
    def traced() -> str:
        """Open a user span; return the baggage value seen."""
        return _user_work()

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        """Ask the client to sample a message."""
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
        result = await ctx.session.create_message(
            [message], max_tokens=16, related_request_id=_request_id(ctx)
        )
        return str(result.content.text)

    @server.tool()
    async def progress(ctx: Context) -> str:
        """Report progress and log one line."""
        for step in range(1, PROGRESS_STEPS + 1):
            await ctx.report_progress(step, PROGRESS_STEPS)
        await ctx.info(LOG_TEXT)
        return "done"

    @server.tool()
    async def notify(ctx: Context) -> str:
        """Send resources/updated and tools/list_changed to the client."""
        await ctx.session.send_resource_updated(_uri(RESOURCE_URI))
        await ctx.session.send_tool_list_changed()
        return "sent"

    @server.tool()
    async def wait(ctx: Context) -> str:
        """Report progress 0 (the client's signal that it runs), then sleep until cancelled (bounded)."""
        await ctx.report_progress(0, None)
        await anyio.sleep(SESSION_TIMEOUT)
        return "not cancelled"

    @server.tool()
    async def rendezvous(tag: str) -> str:
        """Wait until every party of :data:`BARRIER` arrived."""
        await BARRIER.wait()
        return tag

    @server.prompt()
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Greet {name}."

    @server.resource(RESOURCE_URI)
    def info() -> str:
        """Static text."""
        return "issue3 resource"

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any = None) -> Any:
        if argument.name == ERROR_ARGUMENT:
            raise mcp_error(int(argument.value), f"completion asked for {argument.value}")
        return None

    return server


def _uri(uri: str) -> Any:
    if IS_MCP1:
        from pydantic import AnyUrl

        return AnyUrl(uri)
    return uri


# --------------------------------------------------------------------------------------------------------
# What the client receives.


@dataclass
class Inbox:
    """Everything the client's callbacks saw."""

    logs: list[Any] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)  # methods, from the message handler
    samplings: list[Any] = field(default_factory=list)
    progress: list[tuple[float, float | None]] = field(default_factory=list)
    started: Any = None  # anyio.Event set by the first progress notification

    def __post_init__(self) -> None:
        self.started = anyio.Event()

    async def on_log(self, params: Any) -> None:
        self.logs.append(params.data)

    async def on_message(self, message: Any) -> None:
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if isinstance(method, str):
            self.notifications.append(method)

    async def on_sampling(self, context: Any, params: Any) -> Any:
        import mcp.types as types

        self.samplings.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=SAMPLED_TEXT), model="issue3-model"
        )

    async def on_list_roots(self, context: Any) -> Any:
        import mcp.types as types

        return types.ListRootsResult(roots=[])

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total))
        self.started.set()


# --------------------------------------------------------------------------------------------------------
# The connection.


@dataclass
class Conn:
    """An initialized client session and where to find the spans and metric points of the exchange."""

    transport: str
    session: Any  # ClientSession (1.x and 2.x)
    inbox: Inbox
    client: Any = None  # 2.x mcp.Client
    url: str | None = None
    protocol_version: str | None = None
    http_session_ids: list[str] = field(default_factory=list)  # Mcp-Session-Id / SSE session_id seen
    spans_file: Path | None = None
    metrics_file: Path | None = None

    @property
    def modern(self) -> bool:
        return self.protocol_version == MODERN_PROTOCOL_VERSION

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        with anyio.fail_after(STEP_TIMEOUT):
            return await self.session.call_tool(name, arguments or {}, **kwargs)

    async def list_tools(self) -> Any:
        with anyio.fail_after(STEP_TIMEOUT):
            return await self.session.list_tools()

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> Any:
        with anyio.fail_after(STEP_TIMEOUT):
            return await self.session.get_prompt(name, arguments)

    async def read_resource(self, uri: str) -> Any:
        with anyio.fail_after(STEP_TIMEOUT):
            return await self.session.read_resource(_uri(uri))

    async def complete_error(self, code: int) -> int:
        """Ask for a completion the server answers with JSON-RPC error ``code``; return the code received."""
        import mcp.types as types

        ref = types.PromptReference(type="ref/prompt", name="greet")
        try:
            with anyio.fail_after(STEP_TIMEOUT):
                await self.session.complete(ref, {"name": ERROR_ARGUMENT, "value": str(code)})
        except mcp_error_class() as exc:
            return error_code(exc)
        raise AssertionError(f"completion for code {code} did not fail")

    async def raw_request_error(self, method: str, params: dict[str, Any] | None) -> int:
        """Send a hand-made request that must fail; return the JSON-RPC error code received."""
        try:
            await self.raw_request(method, params)
        except mcp_error_class() as exc:
            return error_code(exc)
        raise AssertionError(f"{method} did not fail")

    async def raw_request(self, method: str, params: dict[str, Any] | None, result_type: Any = None) -> Any:
        """Send a request with hand-made ``params`` (``_meta`` too) through ``ClientSession.send_request``."""
        from mcp.types import Request, Result

        class RawRequest(Request[dict[str, Any] | None, str]):  # type: ignore[misc]
            pass

        with anyio.fail_after(STEP_TIMEOUT):
            return await self.session.send_request(
                RawRequest(method=method, params=params), result_type or Result
            )

    def file_spans(self) -> list[Span]:
        """Spans the stdio server process wrote (call after the session closed)."""
        return load_file(self.spans_file) if self.spans_file is not None else []

    def server_metric_points(self) -> list[dict[str, Any]] | None:
        """Metric points the stdio server process dumped at exit (``None`` for in-process servers)."""
        if self.metrics_file is None:
            return None
        assert self.metrics_file.exists(), f"the stdio server wrote no metrics file {self.metrics_file}"
        return json.loads(self.metrics_file.read_text())  # type: ignore[no-any-return]


def mcp_error_class() -> type[Exception]:
    if IS_MCP1:
        from mcp.shared.exceptions import McpError

        return McpError
    from mcp.shared.exceptions import MCPError

    return MCPError


def error_code(exc: BaseException) -> int:
    err = getattr(exc, "error", None)
    if err is not None and hasattr(err, "code"):
        return int(err.code)
    return int(exc.code)  # type: ignore[attr-defined]


def implementation(name: str = CLIENT_NAME, version: str = CLIENT_VERSION) -> Any:
    from mcp.types import Implementation

    return Implementation(name=name, version=version)


@contextlib.asynccontextmanager
async def connect(
    transport: str,
    tmp_path: Path,
    *,
    server: Any = None,
    client_info: Any = None,
    inbox: Inbox | None = None,
    url: str | None = None,
) -> AsyncIterator[Conn]:
    """Open an initialized session with callbacks over ``transport``; close everything on exit.

    ``server``: an already built server (in-process and HTTP); ``url``: connect to an endpoint served by
    :func:`serve` instead of starting a server. Every step is bounded.
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r} is not available here")
    inbox = inbox or Inbox()
    client_info = client_info or implementation()
    with anyio.fail_after(SESSION_TIMEOUT), contextlib.ExitStack() as files:
        async with contextlib.AsyncExitStack() as stack:
            if transport == "stdio":
                conn = await _connect_stdio(stack, files, tmp_path, client_info, inbox)
            elif transport in ("memory", "direct"):
                conn = await _connect_in_process(
                    stack, transport, server or build_server(), client_info, inbox
                )
            else:
                if url is None:
                    url = await stack.enter_async_context(serve(transport, server or build_server()))
                conn = await _connect_http(stack, transport, url, client_info, inbox)
            yield conn


@contextlib.asynccontextmanager
async def serve(transport: str, server: Any) -> AsyncIterator[str]:
    """Serve ``server`` over an HTTP ``transport`` with uvicorn on 127.0.0.1; yield the endpoint URL."""
    app, path = http_app(server, transport)
    async with serve_asgi(app) as base:
        yield base + path


def _callbacks(inbox: Inbox) -> dict[str, Any]:
    return {
        "sampling_callback": inbox.on_sampling,
        "logging_callback": inbox.on_log,
        "message_handler": inbox.on_message,
        "list_roots_callback": inbox.on_list_roots,
    }


async def _session_1x(
    stack: contextlib.AsyncExitStack, read: Any, write: Any, client_info: Any, inbox: Inbox
) -> tuple[Any, str]:
    from datetime import timedelta

    from mcp.client.session import ClientSession

    session = await stack.enter_async_context(
        ClientSession(
            read,
            write,
            read_timeout_seconds=timedelta(seconds=STEP_TIMEOUT),
            client_info=client_info,
            **_callbacks(inbox),
        )
    )
    with anyio.fail_after(STEP_TIMEOUT):
        init = await session.initialize()
    return session, str(init.protocolVersion)


async def _enter_2x(
    stack: contextlib.AsyncExitStack, target: Any, mode: str, client_info: Any, inbox: Inbox
) -> Any:
    from mcp import Client

    client = Client(
        target,
        mode=mode,
        client_info=client_info,
        read_timeout_seconds=STEP_TIMEOUT,
        cache=None,
        log_level="debug",
        **_callbacks(inbox),
    )
    # Not under fail_after: entering starts task groups (the read timeout and the session deadline bound it).
    await stack.enter_async_context(client)
    return client


async def _connect_in_process(
    stack: contextlib.AsyncExitStack, transport: str, server: Any, client_info: Any, inbox: Inbox
) -> Conn:
    if IS_MCP1:
        from mcp.shared.memory import create_client_server_memory_streams

        lowlevel = server._mcp_server
        client_streams, server_streams = await stack.enter_async_context(
            create_client_server_memory_streams()
        )
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)

        async def run_server() -> None:
            await lowlevel.run(server_streams[0], server_streams[1], lowlevel.create_initialization_options())

        tg.start_soon(run_server)
        session, version = await _session_1x(stack, client_streams[0], client_streams[1], client_info, inbox)
        return Conn(transport, session, inbox, protocol_version=version)
    client = await _enter_2x(stack, server, "legacy" if transport == "memory" else "auto", client_info, inbox)
    return Conn(transport, client.session, inbox, client=client, protocol_version=client.protocol_version)


async def _connect_stdio(
    stack: contextlib.AsyncExitStack,
    files: contextlib.ExitStack,
    tmp_path: Path,
    client_info: Any,
    inbox: Inbox,
) -> Conn:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    spans_file = tmp_path / "issue3-server-spans.jsonl"
    metrics_file = tmp_path / "issue3-server-metrics.json"
    errlog = files.enter_context((tmp_path / "issue3-server-stderr.txt").open("w"))
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(STDIO_SCRIPT), "--spans", str(spans_file), "--metrics", str(metrics_file)],
        env=subprocess_env(),
        cwd=str(TESTS_DIR.parent),
    )
    streams_cm = stdio_client(params, errlog=errlog)
    if IS_MCP1:
        read, write = await stack.enter_async_context(streams_cm)
        session, version = await _session_1x(stack, read, write, client_info, inbox)
        conn = Conn("stdio", session, inbox, protocol_version=version)
    else:
        client = await _enter_2x(stack, streams_cm, "legacy", client_info, inbox)
        conn = Conn("stdio", client.session, inbox, client=client, protocol_version=client.protocol_version)
    conn.spans_file = spans_file
    conn.metrics_file = metrics_file
    return conn


async def _connect_http(
    stack: contextlib.AsyncExitStack, transport: str, url: str, client_info: Any, inbox: Inbox
) -> Conn:
    seen: list[str] = []
    factory = _recording_http_client_factory(seen)
    if transport == "sse":
        from mcp.client.sse import sse_client

        streams_cm: Any = sse_client(url, httpx_client_factory=factory)
    else:
        from mcp.client import streamable_http as sh

        if hasattr(sh, "streamable_http_client"):  # 1.24+ and 2.x
            http_client = await stack.enter_async_context(factory())
            streams_cm = sh.streamable_http_client(url, http_client=http_client)
        else:
            streams_cm = sh.streamablehttp_client(url, httpx_client_factory=factory)
    if IS_MCP1:
        streams = await stack.enter_async_context(streams_cm)
        session, version = await _session_1x(stack, streams[0], streams[1], client_info, inbox)
        conn = Conn(transport, session, inbox, url=url, protocol_version=version)
    else:
        mode = "auto" if transport == "http-stateless" else "legacy"
        client = await _enter_2x(stack, streams_cm, mode, client_info, inbox)
        conn = Conn(
            transport, client.session, inbox, client=client, url=url, protocol_version=client.protocol_version
        )
    conn.http_session_ids = seen
    return conn


def _recording_http_client_factory(seen: list[str]) -> Callable[..., Any]:
    """An ``httpx_client_factory`` whose clients record ``mcp-session-id`` headers and SSE ``session_id``s."""
    from urllib.parse import parse_qs, urlsplit

    from mcp.shared._httpx_utils import create_mcp_http_client

    async def on_request(request: Any) -> None:
        sid = parse_qs(urlsplit(str(request.url)).query).get("session_id")
        if sid and sid[0] not in seen:
            seen.append(sid[0])

    async def on_response(response: Any) -> None:
        sid = response.headers.get("mcp-session-id")
        if sid and sid not in seen:
            seen.append(sid)

    def make(headers: Any = None, timeout: Any = None, auth: Any = None) -> Any:
        client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
        hooks = client.event_hooks
        hooks["request"].append(on_request)
        hooks["response"].append(on_response)
        client.event_hooks = hooks
        return client

    return make


# --------------------------------------------------------------------------------------------------------
# Spans and metric points.


def collect(exporter: Any, conn: Conn | None = None) -> list[Span]:
    """The in-process exporter's spans plus, for stdio, the server process's spans (after the session)."""
    spans = to_dicts(exporter.get_finished_spans())
    if conn is not None:
        spans += conn.file_spans()
    return spans


def ours(spans: Iterable[Span]) -> list[Span]:
    return [s for s in spans if s["scope"] == OTEL_SCOPE]


def find(spans: Iterable[Span], name: str, kind: str) -> list[Span]:
    """mcp-otel spans called ``name`` of ``kind`` (``CLIENT``/``SERVER``), in start order."""
    found = [s for s in ours(spans) if s["name"] == name and s["kind"] == kind]
    return sorted(found, key=lambda s: s["start_ns"])


def only(spans: Iterable[Span], name: str, kind: str) -> Span:
    """The single mcp-otel span ``name`` of ``kind``; fails listing the spans otherwise."""
    spans = list(spans)
    found = find(spans, name, kind)
    assert len(found) == 1, f"expected one {kind} span {name!r}, got {len(found)}: {describe(spans)}"
    return found[0]


def describe(spans: Iterable[Span]) -> str:
    return "; ".join(
        f"{s['scope']}:{s['kind']}:{s['name']!r}[{s['status']}]"
        for s in sorted(spans, key=lambda s: s["start_ns"])
    )


def assert_child(child: Span, parent: Span) -> None:
    """``child`` is a direct child of ``parent`` in the same trace."""
    assert child["trace_id"] == parent["trace_id"], (
        f"{child['kind']} {child['name']!r} is in trace {child['trace_id']}, "
        f"{parent['kind']} {parent['name']!r} in {parent['trace_id']}"
    )
    assert child["parent_span_id"] == parent["span_id"], (
        f"{child['kind']} {child['name']!r} has parent {child['parent_span_id']}, "
        f"expected {parent['kind']} {parent['name']!r} ({parent['span_id']})"
    )


def metric_points(data: Any) -> list[dict[str, Any]]:
    """Histogram points of ``MetricsData`` (or a metric reader) as plain dicts.

    Keys: ``name``, ``unit``, ``kind`` (``histogram`` or the class name), ``attributes``, ``count``, ``sum``,
    ``bounds`` (explicit bucket boundaries), ``scope``.
    """
    from opentelemetry.sdk.metrics.export import Histogram

    if hasattr(data, "get_metrics_data"):
        data = data.get_metrics_data()
    out: list[dict[str, Any]] = []
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                is_hist = isinstance(metric.data, Histogram)
                for point in metric.data.data_points:
                    out.append(
                        {
                            "name": metric.name,
                            "unit": metric.unit,
                            "kind": "histogram" if is_hist else type(metric.data).__name__,
                            "scope": sm.scope.name,
                            "attributes": dict(point.attributes or {}),
                            "count": getattr(point, "count", None),
                            "sum": getattr(point, "sum", None),
                            "bounds": [float(b) for b in getattr(point, "explicit_bounds", None) or []],
                        }
                    )
    return out


# --------------------------------------------------------------------------------------------------------
# Exchanges and expectations shared by the test modules.

ADD_ARGS = {"a": 2, "b": 3}
GREET_ARGS = {"name": "Ada"}


def handshake_names(conn: Conn) -> list[str]:
    """The requests the client sent to open the session, in order."""
    if conn.client is None or conn.client.mode == "legacy":
        return ["initialize"]
    if conn.session.discover_result is not None:
        return ["server/discover"]
    return ["server/discover", "initialize"]  # the discover probe failed, then the handshake


async def standard_exchange(conn: Conn) -> list[str]:
    """``tools/list``, ``tools/call add`` and ``fail``, ``prompts/get greet``, ``resources/read``.

    Returns the span names of the requests sent, in order.
    """
    await conn.list_tools()
    await conn.call_tool("add", ADD_ARGS)
    await conn.call_tool("fail", {"reason": "test"})
    await conn.get_prompt("greet", GREET_ARGS)
    await conn.read_resource(RESOURCE_URI)
    return ["tools/list", "tools/call add", "tools/call fail", "prompts/get greet", "resources/read"]


def is_notification(span: Span) -> bool:
    return str(span["attributes"].get(METHOD, "")).startswith("notifications/")


def request_spans(spans: Iterable[Span], kind: str) -> list[Span]:
    """mcp-otel spans of ``kind`` for requests (notifications left out), in start order."""
    found = [s for s in ours(spans) if s["kind"] == kind and not is_notification(s)]
    return sorted(found, key=lambda s: s["start_ns"])


def children(
    spans: Iterable[Span], parent: Span, name: str | None = None, kind: str | None = None
) -> list[Span]:
    """mcp-otel (and user) spans whose parent is ``parent``, optionally filtered by name and kind."""
    return [
        s
        for s in spans
        if s["parent_span_id"] == parent["span_id"]
        and s["trace_id"] == parent["trace_id"]
        and (name is None or s["name"] == name)
        and (kind is None or s["kind"] == kind)
    ]


def server_port(conn: Conn) -> int:
    from urllib.parse import urlsplit

    assert conn.url is not None
    port = urlsplit(conn.url).port
    assert port is not None
    return port


def client_transport_attributes(conn: Conn) -> dict[str, Any]:
    """The transport attributes every client span and client metric point carries on this transport."""
    if conn.transport == "stdio":
        return {NETWORK_TRANSPORT: "pipe"}
    if conn.transport in HTTP_TRANSPORTS:
        return {
            NETWORK_TRANSPORT: "tcp",
            attr.NETWORK_PROTOCOL_NAME: "http",
            attr.NETWORK_PROTOCOL_VERSION: "1.1",  # the SDK's httpx clients speak HTTP/1.1
            SERVER_ADDRESS: "127.0.0.1",
            SERVER_PORT: server_port(conn),
        }
    return {}


def server_transport_attributes(transport: str) -> dict[str, Any]:
    """The transport attributes a server operation point or session point carries.

    HTTP requests tell the HTTP version (uvicorn speaks HTTP/1.1); a session's point has the version of its
    requests too.
    """
    if transport == "stdio":
        return {NETWORK_TRANSPORT: "pipe"}
    if transport in HTTP_TRANSPORTS:
        return {
            NETWORK_TRANSPORT: "tcp",
            attr.NETWORK_PROTOCOL_NAME: "http",
            attr.NETWORK_PROTOCOL_VERSION: "1.1",
        }
    return {}


#: Bound for spans of asynchronous work (a notification handled on the far side) to show up.
SPAN_WAIT = 5.0


async def wait_for_spans(
    exporter: Any, conn: Conn | None, done: Callable[[list[Span]], bool], timeout: float = SPAN_WAIT
) -> list[Span]:
    """Poll the spans (in-process, and the stdio server's file) until ``done(spans)`` holds or ``timeout``.

    Bounded waiting for asynchronous work (a notification handled on the far side); never a timing assertion.
    """
    spans = collect(exporter, conn)
    with anyio.move_on_after(timeout):
        while not done(spans):
            await anyio.sleep(0.02)
            spans = collect(exporter, conn)
    return spans


CANCEL_REASON = "issue3 cancels"


async def call_and_cancel(conn: Conn, name: str = "wait") -> None:
    """Call tool ``name`` (it reports progress, then waits) and cancel the call once it runs in the server.

    mcp 1.x: send ``notifications/cancelled`` for the request (the SDK sends none when a call is cancelled;
    the server then answers the request with an error). mcp 2.x: cancel the awaiting task; the SDK sends
    ``notifications/cancelled`` itself (none on the direct path, where the handler runs in this task).
    """
    conn.inbox.started = anyio.Event()
    failed = mcp_error_class()

    async def call() -> None:
        with contextlib.suppress(failed):
            await conn.call_tool(name, {}, progress_callback=conn.inbox.on_progress)

    async with anyio.create_task_group() as tg:
        request_id = getattr(conn.session, "_request_id", None)  # 1.x: the id the next request gets
        tg.start_soon(call)
        with anyio.fail_after(STEP_TIMEOUT):
            await conn.inbox.started.wait()
        if IS_MCP1:
            import mcp.types as types

            params = types.CancelledNotificationParams(requestId=request_id, reason=CANCEL_REASON)
            notification = types.ClientNotification(types.CancelledNotification(params=params))
            with anyio.fail_after(STEP_TIMEOUT):
                await conn.session.send_notification(notification)
        else:
            tg.cancel_scope.cancel()
