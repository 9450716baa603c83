"""Bad input: nothing a client sends makes mcp-otel raise, or changes what the server answers.

- Property tests (hypothesis, derandomized, no example database): requests with missing or non-string names,
  huge, deeply nested and binary-looking arguments, hostile ``_meta`` / ``traceparent`` / ``tracestate`` /
  ``baggage`` values and unknown methods, sent over the in-process JSON-RPC transport to the demo server
  with and without mcp-otel (content capture on or off). The client sees identical results / JSON-RPC
  errors both ways, mcp-otel logs no instrumentation error (no exception reached its guards), and every
  captured content attribute is at most ``max_content_length`` characters.
- Tool results that are not JSON-serialisable as they stand (``datetime``, ``bytes``, sets, objects whose
  ``__str__`` raises) are answered identically and captured without an instrumentation error.
- A corpus of malformed JSON-RPC lines (invalid JSON, invalid UTF-8, NUL bytes, batches, wrong ids and
  versions, responses to nothing, hostile trace context, a 1 MB line, 10,000-deep nesting) written as raw
  bytes to the lowlevel stdio server's stdin, each followed by a ``ping`` barrier: the server's stdout bytes
  for each line are identical when it runs plain and when it runs under ``python -m mcp_otel.bootstrap``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_otel import McpInstrumentor
from support.harness import (
    LOWLEVEL_SCRIPT,
    REPO_ROOT,
    STEP_TIMEOUT,
    ServerSpec,
    bootstrap_command,
    open_client,
    subprocess_env,
)
from support.servers import build_demo, load_demo
from support.spans import ours, to_dicts

MAX_CONTENT_LENGTH = 64
CONTENT_PREFIXES = ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt.variable.")

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


# -- strategies ------------------------------------------------------------------------------------------

_HEX = "0123456789abcdef"
_binary_text = st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
_strings = st.one_of(
    st.text(max_size=40),
    _binary_text,
    st.just(""),
    st.integers(1_000, 200_000).map(lambda n: "x" * n),
    st.sampled_from(["\x00", "\u202e", "\ufeff", "%00", "\\", '"', "\n\r", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "{{name}}"]),
)
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _strings
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_deep = st.tuples(st.integers(0, 150), _json_scalars).map(lambda t: _nest(*t))
_arguments = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=10), st.one_of(_json_values, _deep), max_size=5),
    _json_values,  # not even an object
)
_traceparents = st.one_of(
    _strings,
    st.tuples(
        st.sampled_from(["00", "ff", "01", "zz", "0"]),
        st.text(alphabet=_HEX + "xyz", min_size=0, max_size=40),
        st.text(alphabet=_HEX + "-", min_size=0, max_size=20),
        st.sampled_from(["00", "01", "ff", "", "1"]),
    ).map("-".join),
    st.just("00-" + "0" * 32 + "-" + "0" * 16 + "-01"),  # all-zero ids: invalid
    st.just("00-" + "a" * 32 + "-" + "b" * 16 + "-01"),  # valid
    _json_values,  # not a string at all
)
_meta = st.one_of(
    st.none(),
    _json_values,  # not an object
    st.fixed_dictionaries(
        {},
        optional={
            "traceparent": _traceparents,
            "tracestate": st.one_of(_strings, st.just("a=" + "b" * 10_000), st.just(",,,=,=")),
            "baggage": st.one_of(
                _strings, st.just(";".join(f"k{i}=v{i}" for i in range(500))), st.just("=;=;%zz=%zz")
            ),
            "progressToken": _json_values,
            "io.modelcontextprotocol/related-task": _json_values,
        },
    ),
)
_names = st.one_of(
    st.sampled_from(["add", "fail", "greet", "forecast"]),
    _strings,
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
_methods = st.one_of(
    st.sampled_from(
        [
            "tools/call",
            "prompts/get",
            "resources/read",
            "tools/list",
            "completion/complete",
            "logging/setLevel",
        ]
    ),
    st.text(max_size=30).filter(lambda m: m not in ("initialize", "ping")),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any] | None]:
    """``(method, params)``: params with any subset of name / arguments / uri / _meta, each possibly bad."""
    method = draw(_methods)
    if draw(st.booleans()) and draw(st.booleans()):
        return method, None
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        params["name"] = draw(_names)
    if draw(st.booleans()):
        params["arguments"] = draw(_arguments)
    if draw(st.booleans()):
        params["uri"] = draw(st.one_of(st.just("demo://info"), _strings, st.integers()))
    if draw(st.booleans()):
        params["_meta"] = draw(_meta)
    return method, params


# -- running requests with and without mcp-otel -----------------------------------------------------------

DEMO = ServerSpec(build_demo, REPO_ROOT / "examples" / "demo_server.py")


def _outcome(result: Any) -> Any:
    return ("ok", result.model_dump(by_alias=True, mode="json", exclude_none=True))


async def _send_all(batch: list[tuple[str, dict[str, Any] | None]], server: Any = None) -> list[Any]:
    from support.compat import mcp_error_type

    out: list[Any] = []
    async with open_client("memory", DEMO, server=server) as conn:
        for method, params in batch:
            try:
                out.append(_outcome(await conn.request(method, params)))
            except mcp_error_type() as exc:
                err = getattr(exc, "error", exc)
                out.append(("error", getattr(err, "code", None), getattr(err, "message", str(exc))))
            except Exception as exc:  # the client refused to send it, or could not read the answer
                out.append(("client", type(exc).__name__, str(exc)))
    return out


@pytest.fixture
def failures(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[[], list[str]]]:
    """``failures()`` → the "instrumentation error" records logged since the previous call.

    Each call also empties ``log_failure_once``'s memory, so every hypothesis example starts afresh.
    """
    seen: set[str] = set()
    monkeypatch.setattr("mcp_otel._guard._seen", seen)
    done = 0

    def new_failures() -> list[str]:
        nonlocal done
        records = caplog.records
        fresh = [
            r.getMessage()
            for r in records[done:]
            if r.name.startswith("mcp_otel") and "instrumentation error" in r.getMessage()
        ]
        done = len(records)
        seen.clear()
        return fresh

    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        yield new_failures


def _compare(
    batch: list[tuple[str, dict[str, Any] | None]],
    capture: bool,
    tracer_provider: Any,
    span_exporter: Any,
    failures: Callable[[], list[str]],
    server_factory: Callable[[], Any] = build_demo,
) -> list[dict[str, Any]]:
    """Run ``batch`` uninstrumented, then instrumented; assert identical outcomes; return mcp-otel's spans."""
    McpInstrumentor().uninstrument()
    failures()  # start afresh
    plain = anyio.run(_send_all, batch, server_factory())
    span_exporter.clear()
    instrumentor = McpInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, capture_content=capture, max_content_length=MAX_CONTENT_LENGTH
    )
    try:
        instrumented = anyio.run(_send_all, batch, server_factory())
    finally:
        instrumentor.uninstrument()
    assert instrumented == plain
    assert failures() == []
    spans = ours(to_dicts(span_exporter.get_finished_spans()))
    for span in spans:
        for key, value in span["attributes"].items():
            if key.startswith(CONTENT_PREFIXES):
                assert capture, f"{key} captured with capture off"
                assert isinstance(value, str) and len(value) <= MAX_CONTENT_LENGTH, (key, len(value))
    return spans


@PROPERTY_SETTINGS
@given(batch=st.lists(requests(), min_size=1, max_size=4), capture=st.booleans())
def test_bad_requests_answered_identically(
    batch: list[tuple[str, dict[str, Any] | None]],
    capture: bool,
    tracer_provider: Any,
    span_exporter: Any,
    failures: Callable[[], list[str]],
) -> None:
    spans = _compare(batch, capture, tracer_provider, span_exporter, failures)
    assert spans, "no mcp-otel span at all: the instrumented run was not instrumented"


@PROPERTY_SETTINGS
@given(arguments=st.dictionaries(st.text(max_size=10), st.one_of(_json_values, _deep), max_size=6))
def test_captured_arguments_bounded(
    arguments: dict[str, Any], tracer_provider: Any, span_exporter: Any, failures: Callable[[], list[str]]
) -> None:
    """A valid tool and prompt call with arbitrary extra arguments: captured values stay within the limit."""
    batch = [
        ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2, **arguments}}),
        ("prompts/get", {"name": "greet", "arguments": {"name": "x", **arguments}}),
    ]
    spans = _compare(batch, True, tracer_provider, span_exporter, failures)
    captured = [k for s in spans for k in s["attributes"] if k.startswith(CONTENT_PREFIXES)]
    assert "gen_ai.tool.call.arguments" in captured, captured


# -- results that are not JSON as they stand -------------------------------------------------------------


class _BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def _odd_results_server() -> Any:
    import datetime

    server = load_demo().build_server()

    @server.tool()
    def when() -> dict[str, Any]:
        """A dict holding a datetime, bytes and a set."""
        return {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "blob": b"\x00\xff", "tags": {"a"}}

    @server.tool()
    def opaque() -> Any:
        """An object that cannot even be printed."""
        return _BadStr()

    @server.tool()
    def nan() -> float:
        """A float that is not valid JSON."""
        return float("nan")

    return server


@pytest.mark.parametrize("capture", [False, True])
def test_odd_tool_results(
    capture: bool, tracer_provider: Any, span_exporter: Any, failures: Callable[[], list[str]]
) -> None:
    batch: list[tuple[str, dict[str, Any] | None]] = [
        ("tools/call", {"name": name, "arguments": {}}) for name in ("when", "opaque", "nan")
    ]
    spans = _compare(batch, capture, tracer_provider, span_exporter, failures, _odd_results_server)
    names = sorted(s["name"] for s in spans if s["kind"] == "SERVER" and s["name"].startswith("tools/call"))
    assert names == ["tools/call nan", "tools/call opaque", "tools/call when"]


# -- malformed JSON-RPC lines on a stdio server's stdin --------------------------------------------------


def _line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


_VALID_TP = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"

CORPUS: dict[str, bytes] = {
    "truncated": b'{"jsonrpc":"2.0","id":1,"method":"tools/li\n',
    "not-json": b"hello there\n",
    "empty-line": b"\n",
    "whitespace": b"   \t  \n",
    "invalid-utf8": b'{"jsonrpc":"2.0","id":2,"method":"\xff\xfe"}\n',
    "nul-bytes": b'{"jsonrpc":"2.0","id":3,"method":"to\x00ols/list"}\n',
    "json-null": b"null\n",
    "json-number": b"42\n",
    "json-string": b'"tools/list"\n',
    "empty-object": b"{}\n",
    "empty-batch": b"[]\n",
    "batch": b'[{"jsonrpc":"2.0","id":4,"method":"tools/list"},{"jsonrpc":"2.0","id":5,"method":"ping"}]\n',
    "jsonrpc-1.0": _line({"jsonrpc": "1.0", "id": 6, "method": "tools/list"}),
    "no-jsonrpc": _line({"id": 7, "method": "tools/list"}),
    "no-method": _line({"jsonrpc": "2.0", "id": 8}),
    "method-number": _line({"jsonrpc": "2.0", "id": 9, "method": 5}),
    "id-object": _line({"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}),
    "id-float": _line({"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}),
    "id-null": _line({"jsonrpc": "2.0", "id": None, "method": "tools/list"}),
    "params-string": _line({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": "work"}),
    "params-list": _line({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": ["work"]}),
    "no-params": _line({"jsonrpc": "2.0", "id": 12, "method": "tools/call"}),
    "name-number": _line({"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": 7}}),
    "name-null": _line({"jsonrpc": "2.0", "id": 14, "method": "prompts/get", "params": {"name": None}}),
    "unknown-method": _line({"jsonrpc": "2.0", "id": 15, "method": "no/such/method", "params": {}}),
    "unknown-tool": _line(
        {"jsonrpc": "2.0", "id": 16, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}
    ),
    "valid-call": _line(
        {"jsonrpc": "2.0", "id": 17, "method": "tools/call", "params": {"name": "work", "arguments": {}}}
    ),
    "meta-not-object": _line(
        {"jsonrpc": "2.0", "id": 18, "method": "tools/call", "params": {"name": "work", "_meta": 5}}
    ),
    "traceparent-garbage": _line(
        {
            "jsonrpc": "2.0",
            "id": 19,
            "method": "tools/call",
            "params": {"name": "work", "arguments": {}, "_meta": {"traceparent": "00-zz-yy-01"}},
        }
    ),
    "traceparent-not-string": _line(
        {
            "jsonrpc": "2.0",
            "id": 20,
            "method": "tools/call",
            "params": {"name": "work", "arguments": {}, "_meta": {"traceparent": {"x": [1]}}},
        }
    ),
    "trace-context-huge": _line(
        {
            "jsonrpc": "2.0",
            "id": 21,
            "method": "tools/call",
            "params": {
                "name": "work",
                "arguments": {},
                "_meta": {
                    "traceparent": _VALID_TP + "0" * 100_000,
                    "tracestate": "a=" + "b" * 100_000,
                    "baggage": ",".join(f"k{i}=v{i}" for i in range(10_000)),
                },
            },
        }
    ),
    "baggage-hostile": _line(
        {
            "jsonrpc": "2.0",
            "id": 22,
            "method": "prompts/get",
            "params": {
                "name": "hello",
                "_meta": {"traceparent": _VALID_TP, "baggage": "=;%zz=%zz;\u202e=\x00"},
            },
        }
    ),
    "arguments-deep": _line(
        {
            "jsonrpc": "2.0",
            "id": 23,
            "method": "tools/call",
            "params": {"name": "work", "arguments": _nest(150, 1)},
        }
    ),
    "arguments-huge": _line(
        {
            "jsonrpc": "2.0",
            "id": 24,
            "method": "tools/call",
            "params": {"name": "work", "arguments": {"x": "y" * 1_000_000}},
        }
    ),
    "nesting-10000": b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "response-to-nothing": _line({"jsonrpc": "2.0", "id": 99, "result": {}}),
    "error-to-nothing": _line({"jsonrpc": "2.0", "id": 98, "error": {"code": -1, "message": "x"}}),
    "cancel-unknown": _line(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 12345, "reason": "x"}}
    ),
    "progress-empty": _line({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}}),
    "unknown-notification": _line({"jsonrpc": "2.0", "method": "notifications/whatever"}),
    "duplicate-id": _line({"jsonrpc": "2.0", "id": 17, "method": "tools/list"}),
}


class ServerGone(Exception):
    """The server closed its stdout (it exited) before answering the barrier; ``args[0]``: what it wrote."""


class _StdioServer:
    """The lowlevel stdio server as a subprocess, fed raw bytes; stdout read line by line in a thread."""

    def __init__(self, argv: list[str], stderr: Path) -> None:
        self._stderr = stderr.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=subprocess_env(),
            cwd=str(REPO_ROOT),
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._barrier = 0

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")  # EOF

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it exited: the barrier read reports that

    def until(self, request_id: str) -> list[bytes]:
        """Every stdout line up to (excluding) the response whose id is ``request_id``."""
        out: list[bytes] = []
        while True:
            line = self.lines.get(timeout=STEP_TIMEOUT)
            if line == b"":
                raise ServerGone(out)
            try:
                if json.loads(line).get("id") == request_id:
                    return out
            except (ValueError, AttributeError):
                pass
            out.append(line)

    def exchange(self, data: bytes) -> list[bytes]:
        """Write ``data`` then a ``ping`` barrier; the lines the server wrote in between (sorted)."""
        self._barrier += 1
        barrier = f"barrier-{self._barrier}"
        self.write(data)
        self.write(_line({"jsonrpc": "2.0", "id": barrier, "method": "ping"}))
        return sorted(self.until(barrier))

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            self.proc.wait(timeout=STEP_TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._stderr.close()


_INIT = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "corpus", "version": "1"},
    },
}
EXITED = b"<server exited>"


def _start(argv: list[str], workdir: Path, n: int) -> tuple[_StdioServer, list[bytes]]:
    """A fresh server, initialized; its answer to ``initialize`` + ``notifications/initialized``."""
    server = _StdioServer(argv, workdir / f"stderr-{n}.txt")
    server.write(_line(_INIT))
    first = [server.lines.get(timeout=STEP_TIMEOUT)]
    return server, first + server.exchange(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))


def _feed_corpus(argv: list[str], workdir: Path) -> dict[str, list[bytes]]:
    """Each corpus line's stdout lines; a line that makes the server exit yields ``[..., EXITED]`` and the
    rest of the corpus goes to a fresh server."""
    starts = 0
    server, handshake = _start(argv, workdir, starts)
    out = {"handshake": handshake}
    try:
        for name, data in CORPUS.items():
            try:
                out[name] = server.exchange(data)
            except ServerGone as gone:
                out[name] = [*sorted(gone.args[0]), EXITED]
                server.close()
                starts += 1
                server, _ = _start(argv, workdir, starts)
    finally:
        server.close()
    return out


#: What mcp-otel adds, by design, to the messages a server *sends*: the W3C context in ``params._meta``.
_INJECTED = re.compile(rb'"_meta":\{"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"\},?')


def _without_injected_context(lines: list[bytes]) -> tuple[list[bytes], int]:
    """``lines`` with mcp-otel's injected ``_meta`` trace context cut out (bytes), and how many had one.

    Only notifications may carry it: a response (``"id"``) with an injected context fails the test.
    """
    out, changed = [], 0
    for line in lines:
        stripped = _INJECTED.sub(b"", line)
        if stripped != line:
            changed += 1
            assert b'"id":' not in stripped, f"trace context injected into a response: {line[:300]!r}"
        out.append(stripped)
    return out, changed


def test_malformed_lines_on_stdio_byte_identical(tmp_path: Path) -> None:
    """Byte-identical per corpus line, except the W3C ``traceparent`` mcp-otel adds to ``params._meta`` of the
    notifications the server sends (mcp 1.x answers an unparsable line with a ``notifications/message``):
    cut out as bytes, the rest of each line must match."""
    plain_dir, instrumented_dir = tmp_path / "plain", tmp_path / "instrumented"
    plain_dir.mkdir()
    instrumented_dir.mkdir()
    plain = _feed_corpus([sys.executable, str(LOWLEVEL_SCRIPT)], plain_dir)
    spans_file = instrumented_dir / "spans.jsonl"
    instrumented = _feed_corpus(bootstrap_command(spans_file, LOWLEVEL_SCRIPT), instrumented_dir)
    assert list(instrumented) == list(plain)
    injected = 0
    for name in plain:
        lines, changed = _without_injected_context(instrumented[name])
        injected += changed
        assert lines == plain[name], name
    notifications = sum(
        1 for lines in plain.values() for line in lines if b'"method":"notifications/' in line
    )
    assert injected == notifications, (injected, notifications)
    # the instrumented server really was instrumented, and never hit one of its guards
    from support.spans import load_file

    spans = load_file(spans_file)
    assert any(s["name"] == "tools/call work" for s in spans), [s["name"] for s in spans]
    for stderr_file in instrumented_dir.glob("stderr-*.txt"):
        stderr = stderr_file.read_text(errors="replace")
        assert "instrumentation error" not in stderr, stderr[-3000:]
    # something in the corpus was answered (errors, results): the comparison covered real output
    answered = [name for name, lines in plain.items() if lines]
    assert "valid-call" in answered and "unknown-method" in answered, answered
    assert plain["handshake"][0].startswith(b'{"jsonrpc":"2.0","id":"init","result":'), plain["handshake"]
