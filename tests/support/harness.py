"""One client API over every transport and both mcp lines.

``open_client(transport, server_factory, ...)`` starts the server (in-process, as a stdio subprocess under
``python -m mcp_otel.bootstrap``, or behind uvicorn on 127.0.0.1) and yields a :class:`Conn` whose session is
initialized. After the ``async with`` block ``conn.spans()`` returns every span of the exchange as
``span_to_dict`` dicts: the in-process exporter's spans plus, for stdio, the spans the server process wrote.

Transports (``TRANSPORTS`` lists those the installed mcp has):

==================  ====================================================================================
``memory``          1.x memory streams + ``Server.run`` + ``ClientSession``; 2.x ``Client(s, mode="legacy")``
``direct``          2.x only: ``Client(server)`` — in-process ``DirectDispatcher``, protocol 2026-07-28
``stdio``           real subprocess through ``python -m mcp_otel.bootstrap --spans-file``; handshake protocol
``http``            streamable HTTP, stateful (``mcp-session-id``); handshake protocol
``http-stateless``  streamable HTTP, stateless server; 1.x handshake, 2.x default client (2026-07-28)
``sse``             HTTP+SSE (``sse_app()`` + ``sse_client``)
==================  ====================================================================================
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio

from . import compat
from .compat import IS_MCP1, MODERN_PROTOCOL_VERSION
from .spans import Span, server_request_spans, to_dicts, wait_for_file_spans

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"
DEMO_SCRIPT = REPO_ROOT / "examples" / "demo_server.py"
LOWLEVEL_SCRIPT = Path(__file__).resolve().parent / "lowlevel_stdio.py"

TRANSPORTS: tuple[str, ...] = (
    ("memory", "stdio", "http", "http-stateless", "sse")
    if IS_MCP1
    else ("memory", "direct", "stdio", "http", "http-stateless", "sse")
)
#: Transports that keep the server in the test process (spans land in the test's exporter).
IN_PROCESS = ("memory", "direct")
HTTP_TRANSPORTS = ("http", "http-stateless", "sse")

#: Upper bound for any single wait (one request, server start-up or shut-down, reading spans back).
STEP_TIMEOUT = 20.0
#: Upper bound for a whole client session, connect to close.
SESSION_TIMEOUT = 60.0


def mcp_transport_value(transport: str) -> str:
    """The ``mcp.transport`` value the spec expects for a harness transport."""
    return {
        "memory": "memory",
        "direct": "memory",
        "stdio": "stdio",
        "http": "http",
        "http-stateless": "http",
        "sse": "sse",
    }[transport]


def has_session_id(transport: str) -> bool:
    """Whether the spec expects ``mcp.session.id`` on spans of this transport."""
    return transport in ("http", "sse")


@dataclass
class ServerSpec:
    """How to run a server: in-process ``factory`` and, for stdio, a script for the bootstrap."""

    factory: Callable[[], Any]
    script: Path
    script_args: Sequence[str] = ()
    name: str = compat.SERVER_NAME


# --------------------------------------------------------------------------------------------------------
# The connection object tests talk to.


@dataclass
class Conn:
    """An initialized client session plus what the client observed."""

    transport: str
    session: Any  # 1.x ClientSession / 2.x ClientSession
    client: Any = None  # 2.x mcp.Client
    protocol_version: str | None = None
    http_log: HttpLog | None = None
    sent: list[str] = field(default_factory=list)  # expected SERVER span name per request, in send order
    _exporter: Any = None
    _spans_file: Path | None = None
    _stderr_file: Path | None = None
    _collected: list[Span] | None = None

    # ---- what the client saw ------------------------------------------------------------------------------
    @property
    def modern(self) -> bool:
        return self.protocol_version == MODERN_PROTOCOL_VERSION

    @property
    def session_id(self) -> str | None:
        """The MCP session id the client saw: ``mcp-session-id`` (streamable HTTP) or SSE ``session_id``."""
        return self.http_log.session_id if self.http_log else None

    @property
    def can_ping(self) -> bool:
        """``ping`` is not part of the 2026-07-28 protocol."""
        return not self.modern

    # ---- requests -----------------------------------------------------------------------------------------
    async def list_tools(self) -> Any:
        return await self._send("tools/list", self.session.list_tools())

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self._send(f"tools/call {name}", self.session.call_tool(name, arguments))
        return _dump(result)

    async def get_prompt(self, name: str, arguments: dict[str, str] | None = None) -> dict[str, Any]:
        return _dump(await self._send(f"prompts/get {name}", self.session.get_prompt(name, arguments)))

    async def read_resource(self, uri: str, span_name: str = "resources/read") -> dict[str, Any]:
        if IS_MCP1:
            from pydantic import AnyUrl

            coro = self.session.read_resource(AnyUrl(uri))
        else:
            coro = self.session.read_resource(uri)
        return _dump(await self._send(span_name, coro))

    async def ping(self) -> Any:
        return await self._send("ping", self.session.send_ping())

    async def list_prompts(self) -> Any:
        return await self._send("prompts/list", self.session.list_prompts())

    async def list_resources(self) -> Any:
        return await self._send("resources/list", self.session.list_resources())

    async def list_resource_templates(self) -> Any:
        return await self._send("resources/templates/list", self.session.list_resource_templates())

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None,
        span_name: str | None = None,
        result_type: Any = None,
    ) -> Any:
        """Send an arbitrary request (any method, hand-made ``params`` incl. ``_meta``)."""
        request = _raw_request(method, params)
        if result_type is None:
            result_type = _any_result_type()
        return await self._send(span_name or method, self.session.send_request(request, result_type))

    async def request_error(
        self, method: str, params: dict[str, Any] | None, span_name: str | None = None
    ) -> int:
        """Send a request that must fail with a JSON-RPC error; return the error code the client got."""
        try:
            await self.request(method, params, span_name)
        except compat.mcp_error_type() as exc:
            return compat.error_code(exc)
        raise AssertionError(f"{method} {params!r} did not fail with a JSON-RPC error")

    async def expect_error(self, span_name: str, coro: Any) -> int:
        """Await a typed client call that must fail with a JSON-RPC error; return its code."""
        try:
            await self._send(span_name, coro)
        except compat.mcp_error_type() as exc:
            return compat.error_code(exc)
        raise AssertionError(f"{span_name} did not fail with a JSON-RPC error")

    async def _send(self, span_name: str, coro: Any) -> Any:
        self.sent.append(span_name)
        with anyio.fail_after(STEP_TIMEOUT):
            return await coro

    # ---- spans --------------------------------------------------------------------------------------------
    def spans(self) -> list[Span]:
        """All spans of the exchange (call after the ``async with`` block)."""
        if self._collected is None:
            local = to_dicts(self._exporter.get_finished_spans()) if self._exporter is not None else []
            remote: list[Span] = []
            if self._spans_file is not None:
                expected = len(self.sent)
                remote = wait_for_file_spans(
                    self._spans_file, lambda s: len(server_request_spans(s)) >= expected, timeout=STEP_TIMEOUT
                )
            self._collected = local + remote
        return self._collected

    def server_stderr(self) -> str:
        if self._stderr_file is None or not self._stderr_file.exists():
            return ""
        return self._stderr_file.read_text(errors="replace")


def _dump(result: Any) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)  # type: ignore[no-any-return]


def _raw_request(method: str, params: dict[str, Any] | None) -> Any:
    from mcp.types import Request

    class RawRequest(Request[dict[str, Any] | None, str]):  # type: ignore[misc]
        pass

    return RawRequest(method=method, params=params)


def _any_result_type() -> Any:
    from mcp.types import Result

    return Result


# --------------------------------------------------------------------------------------------------------
# HTTP client recording (what session id the client saw).


@dataclass
class HttpLog:
    """What an HTTP client saw: ``mcp-session-id`` response headers, SSE ``session_id``s, request URLs."""

    response_session_ids: list[str] = field(default_factory=list)
    sse_session_ids: list[str] = field(default_factory=list)
    request_urls: list[str] = field(default_factory=list)
    #: ``(method, headers)`` of every request sent (lower-case header names)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: default headers of the HTTP client the log makes (as a user would set them)
    default_headers: dict[str, str] | None = None

    @property
    def session_id(self) -> str | None:
        ids = self.response_session_ids or self.sse_session_ids
        return ids[0] if ids else None

    def factory(self) -> Callable[..., Any]:
        from mcp.shared._httpx_utils import create_mcp_http_client

        log = self

        async def on_request(request: Any) -> None:
            url = str(request.url)
            log.request_urls.append(url)
            log.requests.append((request.method, {k.lower(): v for k, v in request.headers.items()}))
            sid = parse_qs(urlsplit(url).query).get("session_id")
            if sid and sid[0] not in log.sse_session_ids:
                log.sse_session_ids.append(sid[0])

        async def on_response(response: Any) -> None:
            sid = response.headers.get("mcp-session-id")
            if sid and sid not in log.response_session_ids:
                log.response_session_ids.append(sid)

        def make(headers: Any = None, timeout: Any = None, auth: Any = None) -> Any:
            headers = {**(log.default_headers or {}), **(headers or {})} or None
            client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
            hooks = client.event_hooks
            hooks["request"].append(on_request)
            hooks["response"].append(on_response)
            client.event_hooks = hooks
            return client

        return make


# --------------------------------------------------------------------------------------------------------
# Servers behind uvicorn.


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop on 127.0.0.1 (a free port); yield ``http://127.0.0.1:PORT``.

    The ASGI lifespan runs (it starts the session manager). Start-up and shut-down are bounded.
    """
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    stopped = anyio.Event()
    hung = False

    async def run() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(STEP_TIMEOUT):
            while not server.started:
                if stopped.is_set():
                    raise RuntimeError("uvicorn exited before it started")
                await anyio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            with anyio.move_on_after(STEP_TIMEOUT):
                await stopped.wait()
            if not stopped.is_set():
                hung = True
                tg.cancel_scope.cancel()
    if hung:
        raise TimeoutError("uvicorn did not shut down within the step timeout")


def http_app(server: Any, transport: str) -> tuple[Any, str]:
    """The ASGI app and endpoint path of ``server`` (FastMCP / MCPServer) for an HTTP transport."""
    if transport == "sse":
        return server.sse_app(), "/sse"
    stateless = transport == "http-stateless"
    if IS_MCP1:
        server.settings.stateless_http = stateless
        return server.streamable_http_app(), server.settings.streamable_http_path
    return server.streamable_http_app(stateless_http=stateless), "/mcp"


# --------------------------------------------------------------------------------------------------------
# The entry point.


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a server subprocess: ours, plus ``src`` on ``PYTHONPATH`` (running from a checkout)."""
    env = dict(os.environ)
    paths = [str(SRC_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def bootstrap_command(spans_file: Path, script: Path, script_args: Sequence[str] = ()) -> list[str]:
    """``python -m mcp_otel.bootstrap --spans-file PATH -- script [args]`` as an argv list."""
    return [
        sys.executable,
        "-m",
        "mcp_otel.bootstrap",
        "--spans-file",
        str(spans_file),
        "--",
        str(script),
        *script_args,
    ]


@contextlib.asynccontextmanager
async def open_client(
    transport: str,
    spec: ServerSpec,
    *,
    exporter: Any = None,
    tmp_path: Path | None = None,
    client_info: Any = None,
    env: dict[str, str] | None = None,
    server: Any = None,
    instrument_subprocess: bool = True,
) -> AsyncIterator[Conn]:
    """Start ``spec`` behind ``transport`` and yield an initialized :class:`Conn`.

    ``server``: an already built server to use instead of ``spec.factory()`` (in-process and HTTP only).
    ``env``: extra environment for the stdio subprocess.
    ``instrument_subprocess=False``: run the stdio server script directly instead of through the bootstrap.
    """
    if client_info is None:
        client_info = compat.implementation()
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r} is not available on mcp {compat.MCP_VERSION}")
    # One deadline around the whole exchange (a cancel scope must not be left while a task group that was
    # entered inside it is still open, so the individual connect steps are bounded by read timeouts).
    with anyio.fail_after(SESSION_TIMEOUT), contextlib.ExitStack() as files:
        async with contextlib.AsyncExitStack() as stack:
            yield await _open(
                stack,
                files,
                transport,
                spec,
                exporter,
                tmp_path,
                client_info,
                env,
                server,
                instrument_subprocess,
            )


async def _open(
    stack: contextlib.AsyncExitStack,
    files: contextlib.ExitStack,
    transport: str,
    spec: ServerSpec,
    exporter: Any,
    tmp_path: Path | None,
    client_info: Any,
    env: dict[str, str] | None,
    server: Any,
    instrument_subprocess: bool,
) -> Conn:
    conn: Conn
    if transport == "stdio":
        assert tmp_path is not None, "stdio needs tmp_path"
        spans_file = tmp_path / "server-spans.jsonl"
        stderr_file = tmp_path / "server-stderr.txt"
        errlog = files.enter_context(stderr_file.open("w"))
        if instrument_subprocess:
            argv = bootstrap_command(spans_file, spec.script, spec.script_args)
        else:
            argv = [sys.executable, str(spec.script), *spec.script_args]
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=subprocess_env(env), cwd=str(REPO_ROOT)
        )
        streams = stdio_client(params, errlog=errlog)
        conn = await _connect_streams(stack, transport, streams, client_info, mode="legacy")
        conn._spans_file = spans_file if instrument_subprocess else None
        conn._stderr_file = stderr_file
    else:
        srv = server if server is not None else spec.factory()
        if transport in IN_PROCESS:
            conn = await _connect_in_process(stack, transport, srv, client_info)
        else:
            url = await stack.enter_async_context(serve_http(transport, srv))
            conn = await _connect_http(stack, transport, url, client_info)
    conn._exporter = exporter
    return conn


@contextlib.asynccontextmanager
async def serve_http(transport: str, server: Any) -> AsyncIterator[str]:
    """Serve ``server`` (FastMCP / MCPServer) for an HTTP ``transport``; yield the endpoint URL."""
    app, path = http_app(server, transport)
    async with serve_asgi(app) as base:
        yield base + path


@contextlib.asynccontextmanager
async def connect_http(
    transport: str, url: str, client_info: Any = None, exporter: Any = None
) -> AsyncIterator[Conn]:
    """Another client session against an endpoint from :func:`serve_http`."""
    with anyio.fail_after(SESSION_TIMEOUT):
        async with contextlib.AsyncExitStack() as stack:
            conn = await _connect_http(stack, transport, url, client_info or compat.implementation())
            conn._exporter = exporter
            yield conn


async def _connect_http(stack: contextlib.AsyncExitStack, transport: str, url: str, client_info: Any) -> Conn:
    log = HttpLog()
    streams = http_streams(transport, url, log)
    mode = "auto" if transport == "http-stateless" else "legacy"
    conn = await _connect_streams(stack, transport, streams, client_info, mode=mode)
    conn.http_log = log
    return conn


def http_streams(transport: str, url: str, log: HttpLog) -> Any:
    """The client streams of an HTTP ``transport`` at ``url``; its requests are logged in ``log``."""
    if transport == "sse":
        from mcp.client.sse import sse_client

        return sse_client(url, httpx_client_factory=log.factory())
    from mcp.client import streamable_http as sh

    if hasattr(sh, "streamable_http_client"):  # 1.24+ and 2.x
        return _streamable_with_client(sh.streamable_http_client, url, log)
    return sh.streamablehttp_client(url, httpx_client_factory=log.factory())


@contextlib.asynccontextmanager
async def _streamable_with_client(fn: Any, url: str, log: HttpLog) -> AsyncIterator[Any]:
    client = log.factory()()
    async with client, fn(url, http_client=client) as streams:
        yield streams


async def _connect_streams(
    stack: contextlib.AsyncExitStack, transport: str, streams_cm: Any, client_info: Any, *, mode: str
) -> Conn:
    if IS_MCP1:
        from mcp.client.session import ClientSession

        streams = await _enter(stack, streams_cm)
        read, write = streams[0], streams[1]
        session = await stack.enter_async_context(
            ClientSession(read, write, read_timeout_seconds=_read_timeout(), client_info=client_info)
        )
        conn = Conn(transport=transport, session=session)
        conn.sent.append("initialize")
        with anyio.fail_after(STEP_TIMEOUT):
            init = await session.initialize()
        conn.protocol_version = init.protocolVersion
        return conn
    from mcp import Client

    client = Client(streams_cm, mode=mode, client_info=client_info, read_timeout_seconds=STEP_TIMEOUT)
    return await _enter_client(stack, transport, client)


async def _connect_in_process(
    stack: contextlib.AsyncExitStack, transport: str, server: Any, client_info: Any
) -> Conn:
    if IS_MCP1:
        from mcp.client.session import ClientSession
        from mcp.shared.memory import create_client_server_memory_streams

        lowlevel = getattr(server, "_mcp_server", server)
        client_streams, server_streams = await stack.enter_async_context(
            create_client_server_memory_streams()
        )
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)

        async def run_server() -> None:
            await lowlevel.run(
                server_streams[0],
                server_streams[1],
                lowlevel.create_initialization_options(),
                raise_exceptions=False,
            )

        tg.start_soon(run_server)
        session = await stack.enter_async_context(
            ClientSession(
                client_streams[0],
                client_streams[1],
                read_timeout_seconds=_read_timeout(),
                client_info=client_info,
            )
        )
        conn = Conn(transport=transport, session=session)
        conn.sent.append("initialize")
        with anyio.fail_after(STEP_TIMEOUT):
            init = await session.initialize()
        conn.protocol_version = init.protocolVersion
        return conn
    from mcp import Client

    mode = "legacy" if transport == "memory" else "auto"
    return await _enter_client(
        stack,
        transport,
        Client(server, mode=mode, client_info=client_info, read_timeout_seconds=STEP_TIMEOUT),
    )


async def _enter_client(stack: contextlib.AsyncExitStack, transport: str, client: Any) -> Conn:
    """Enter a 2.x ``Client``; record the handshake request(s) it sent."""
    await stack.enter_async_context(client)
    session = client.session
    conn = Conn(transport=transport, session=session, client=client)
    if client.mode == "legacy":
        conn.sent.append("initialize")
    elif session.discover_result is not None:
        conn.sent.append("server/discover")
    else:  # auto mode fell back: the discover probe failed, then initialize
        conn.sent.extend(["server/discover", "initialize"])
    conn.protocol_version = client.protocol_version
    return conn


def _read_timeout() -> Any:
    from datetime import timedelta

    return timedelta(seconds=STEP_TIMEOUT)


async def _enter(stack: contextlib.AsyncExitStack, cm: Any) -> Any:
    return await stack.enter_async_context(cm)
