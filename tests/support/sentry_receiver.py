"""A small Sentry receiver for tests: envelopes and OTLP traces over HTTP on 127.0.0.1, standard library only.

``SentryReceiver`` serves ``POST /api/<project>/envelope/`` (gzip / deflate bodies, parsed with
``sentry_sdk.envelope.Envelope.deserialize``) and ``POST /api/<project>/integration/otlp/v1/traces/``
(protobuf ``ExportTraceServiceRequest``), answering ``200 {}``. Its :attr:`~SentryReceiver.dsn` points
``sentry_sdk.init`` at it. Helpers turn what arrived into plain dicts for assertions.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

OTLP_PATH = "/integration/otlp/v1/traces/"


@dataclass
class Item:
    """One envelope item: its type, headers and JSON payload (``None`` for binary items)."""

    type: str
    headers: dict[str, Any]
    payload: Any
    envelope_headers: dict[str, Any] = field(default_factory=dict)


def envelope_items(envelope: Envelope) -> list[Item]:
    """The items of a parsed envelope as :class:`Item` objects."""
    out = []
    for item in envelope.items:
        payload = item.payload.json
        if payload is None:
            raw = item.payload.get_bytes()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
        out.append(Item(str(item.type), dict(item.headers), payload, dict(envelope.headers)))
    return out


class SentryReceiver:
    """A Sentry ingest endpoint on ``127.0.0.1:<free port>`` that records what it receives.

    Use as a context manager (or call :meth:`start` / :meth:`stop`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.envelopes: list[Envelope] = []
        self.raw_bodies: list[bytes] = []
        self.otlp_requests: list[Any] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> SentryReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                receiver._record(self.command, self.path, dict(self.headers.items()), body)
                payload = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sentry-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SentryReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def dsn(self) -> str:
        """A DSN whose envelopes come here (project 1, public key ``publickey``)."""
        return f"http://publickey@127.0.0.1:{self.port}/1"

    # -- recording ------------------------------------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.requests.append((method, path, headers))
            self.raw_bodies.append(body)
            if path.endswith(OTLP_PATH):
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                self.otlp_requests.append(request)
            elif "/envelope" in path:
                self.envelopes.append(Envelope.deserialize(body))

    def clear(self) -> None:
        with self._lock:
            self.envelopes.clear()
            self.raw_bodies.clear()
            self.otlp_requests.clear()
            self.requests.clear()

    # -- reading --------------------------------------------------------------------------------------------

    def items(self, type_: str | None = None) -> list[Item]:
        """Every envelope item received so far (of ``type_`` when given)."""
        with self._lock:
            envelopes = list(self.envelopes)
        return [
            item for env in envelopes for item in envelope_items(env) if type_ is None or item.type == type_
        ]

    def otlp_spans(self) -> list[dict[str, Any]]:
        """The OTLP spans received so far, as dicts (name, ids, kind, status, attributes, scope)."""
        with self._lock:
            requests = list(self.otlp_requests)
        return [span for request in requests for span in otlp_span_dicts(request)]

    def wait_for(self, predicate: Callable[[SentryReceiver], bool], timeout: float = 15.0) -> None:
        """Wait until ``predicate(self)`` holds; raise ``AssertionError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"receiver: condition not met within {timeout}s; got {self.summary()}")

    def summary(self) -> list[str]:
        return [f"{i.type}:{describe(i)}" for i in self.items()] + [
            f"otlp:{s['name']}" for s in self.otlp_spans()
        ]


def describe(item: Item) -> str:
    """A one-line description of an item (for failure messages)."""
    payload = item.payload or {}
    if item.type == "transaction":
        return f"{payload.get('transaction')} ({payload.get('contexts', {}).get('trace', {}).get('op')})"
    if item.type == "event":
        values = (payload.get("exception") or {}).get("values") or [{}]
        return f"{values[-1].get('type')}: {values[-1].get('value')}"
    if item.type == "session":
        return f"{payload.get('status')} errors={payload.get('errors', 0)}"
    if item.type == "sessions":
        return json.dumps(payload.get("aggregates"))
    return str(item.type)


def otlp_span_dicts(request: Any) -> Iterator[dict[str, Any]]:
    """The spans of one ``ExportTraceServiceRequest`` as dicts."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "name": span.name,
                    "scope": scope_spans.scope.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "kind": span.kind,
                    "status_code": span.status.code,
                    "attributes": {kv.key: _any_value(kv.value) for kv in span.attributes},
                }


def _any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which is None:
        return None
    return getattr(value, which)


class CapturingTransport(Transport):
    """A sentry-sdk transport that keeps every envelope in-process (``sentry_sdk.init(transport=...)``).

    The envelopes land in the class attribute :attr:`envelopes`; reset it before each test.
    """

    envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        CapturingTransport.envelopes.append(envelope)

    def flush(self, timeout: float, callback: Any = None) -> None:
        pass


def tear_down_sentry(instrumentor: Any, handles: list[Any]) -> None:
    """Undo a test's Sentry set-up: uninstrument, close each ``mcp_otel.sentry.setup`` handle, close the
    current sentry-sdk client (flushing what it holds) and unbind it from the global scope."""
    import sentry_sdk

    instrumentor.uninstrument()
    for handle in handles:
        handle.close()
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=2.0)
    sentry_sdk.Scope.get_global_scope().set_client(None)
