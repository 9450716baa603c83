"""Client sessions to the feature server (``support.feature_server``) over every transport, with callbacks.

:func:`connect` opens an initialized client session whose sampling, logging, roots and message callbacks
record into an :class:`Inbox`, over ``memory``, ``direct`` (2.x), ``stdio`` (a subprocess running
``feature_server_stdio.py``, which instruments itself and writes its spans and metric points to files),
``http``, ``http-stateless`` and ``sse`` (uvicorn on 127.0.0.1). Also: the attribute keys the tests read, the
standard exchange and the transport attributes each side records.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from mcp_otel.semconv import attributes as attr
from mcp_otel.spanfile import read_log_records
from support.compat import IS_MCP1, MODERN_PROTOCOL_VERSION, error_code, implementation, mcp_error_type
from support.feature_server import (
    ERROR_ARGUMENT,
    RESOURCE_URI,
    SAMPLED_TEXT,
    SAMPLING_MODEL,
    SESSION_TIMEOUT,
    build_server,
)
from support.feature_server import uri as feature_uri
from support.harness import (
    HTTP_TRANSPORTS,
    STEP_TIMEOUT,
    TRANSPORTS,
    HttpLog,
    http_streams,
    serve_http,
    subprocess_env,
)
from support.scenario import ADD_ARGS, GREET_ARGS
from support.spans import Span, load_file, to_dicts

SUPPORT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SUPPORT_DIR.parents[1]
STDIO_SCRIPT = SUPPORT_DIR / "feature_server_stdio.py"

CLIENT_NAME = "feature-client"
CLIENT_VERSION = "2.7.1"

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
SERVER_NAME_KEY = attr.MCP_SERVER_NAME
SERVER_VERSION_KEY = attr.MCP_SERVER_VERSION
CLIENT_NAME_KEY = attr.MCP_CLIENT_NAME


def modern(transport: str) -> bool:
    """Whether the transport speaks the sessionless 2026-07-28 protocol (mcp 2.x direct and stateless)."""
    return not IS_MCP1 and transport in ("direct", "http-stateless")


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
            role="assistant", content=types.TextContent(type="text", text=SAMPLED_TEXT), model=SAMPLING_MODEL
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
    http_log: HttpLog | None = None
    spans_file: Path | None = None
    metrics_file: Path | None = None

    @property
    def http_session_ids(self) -> list[str]:
        """The ``mcp-session-id`` headers (streamable HTTP) or SSE ``session_id``s the client saw."""
        if self.http_log is None:
            return []
        return self.http_log.response_session_ids or self.http_log.sse_session_ids

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
            return await self.session.read_resource(feature_uri(uri))

    async def complete_error(self, code: int) -> int:
        """Ask for a completion the server answers with JSON-RPC error ``code``; return the code received."""
        import mcp.types as types

        ref = types.PromptReference(type="ref/prompt", name="greet")
        try:
            with anyio.fail_after(STEP_TIMEOUT):
                await self.session.complete(ref, {"name": ERROR_ARGUMENT, "value": str(code)})
        except mcp_error_type() as exc:
            return error_code(exc)
        raise AssertionError(f"completion for code {code} did not fail")

    async def raw_request_error(self, method: str, params: dict[str, Any] | None) -> int:
        """Send a hand-made request that must fail; return the JSON-RPC error code received."""
        try:
            await self.raw_request(method, params)
        except mcp_error_type() as exc:
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

    def file_log_records(self) -> list[dict[str, Any]]:
        """Log records the stdio server process wrote (:func:`mcp_otel.spanfile.log_record_to_dict` dicts)."""
        return list(read_log_records(self.spans_file)) if self.spans_file is not None else []

    def server_metric_points(self) -> list[dict[str, Any]] | None:
        """Metric points the stdio server process dumped at exit (``None`` for in-process servers)."""
        if self.metrics_file is None:
            return None
        assert self.metrics_file.exists(), f"the stdio server wrote no metrics file {self.metrics_file}"
        return json.loads(self.metrics_file.read_text())  # type: ignore[no-any-return]


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
    client_info = client_info or implementation(CLIENT_NAME, CLIENT_VERSION)
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
                    url = await stack.enter_async_context(serve_http(transport, server or build_server()))
                conn = await _connect_http(stack, transport, url, client_info, inbox)
            yield conn


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

    spans_file = tmp_path / "feature-server-spans.jsonl"
    metrics_file = tmp_path / "feature-server-metrics.json"
    errlog = files.enter_context((tmp_path / "feature-server-stderr.txt").open("w"))
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(STDIO_SCRIPT), "--spans", str(spans_file), "--metrics", str(metrics_file)],
        env=subprocess_env(),
        cwd=str(REPO_ROOT),
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
    log = HttpLog()
    streams_cm = http_streams(transport, url, log)
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
    conn.http_log = log
    return conn


# --------------------------------------------------------------------------------------------------------
# Spans.


def collect(exporter: Any, conn: Conn | None = None) -> list[Span]:
    """The in-process exporter's spans plus, for stdio, the server process's spans (after the session)."""
    spans = to_dicts(exporter.get_finished_spans())
    if conn is not None:
        spans += conn.file_spans()
    return spans


# --------------------------------------------------------------------------------------------------------
# Exchanges and expectations shared by the test modules.


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


CANCEL_REASON = "the client cancels"
CANCELLED_METHOD = attr.McpMethodNameValues.NOTIFICATIONS_CANCELLED.value
#: The reason of the ``notifications/cancelled`` mcp 2.x sends when the caller abandons a request.
SDK_CANCEL_REASON = "caller cancelled"


def cancel_reason_delivered(transport: str, reason: str | None = None) -> str | None:
    """The reason the server reads when :func:`call_and_cancel` cancels with ``reason`` over ``transport``:
    none on the 2026-07-28 transports (the caller's cancellation itself, no notification)."""
    if IS_MCP1:
        return reason or CANCEL_REASON
    return None if modern(transport) else (reason or SDK_CANCEL_REASON)


async def call_and_cancel(conn: Conn, name: str = "wait", reason: str | None = None) -> None:
    """Call tool ``name`` (it reports progress, then waits) and cancel the call once it runs in the server.

    mcp 1.x: send ``notifications/cancelled`` for the request, with ``reason`` (default
    :data:`CANCEL_REASON`; the SDK sends none when a call is cancelled; the server then answers the request
    with an error). mcp 2.x: cancel the awaiting task; the SDK sends ``notifications/cancelled`` itself, with
    :data:`SDK_CANCEL_REASON` (none on the 2026-07-28 transports); with ``reason``, the client first sends
    its own ``notifications/cancelled`` with that reason, as another SDK's client may (only the first one
    counts).
    """
    conn.inbox.started = anyio.Event()
    failed = mcp_error_type()

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

            params = types.CancelledNotificationParams(requestId=request_id, reason=reason or CANCEL_REASON)
            notification = types.ClientNotification(types.CancelledNotification(params=params))
            with anyio.fail_after(STEP_TIMEOUT):
                await conn.session.send_notification(notification)
        else:
            if reason is not None and not modern(conn.transport):
                dispatcher = conn.session._dispatcher
                (pending,) = dispatcher._pending  # the call's request id (the SDK offers no public way)
                with anyio.fail_after(STEP_TIMEOUT):
                    await dispatcher.notify(CANCELLED_METHOD, {"requestId": pending, "reason": reason})
            tg.cancel_scope.cancel()
