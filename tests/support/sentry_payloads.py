"""What Sentry receives for one representative MCP exchange, per Sentry path: the "lose none" evidence.

Run as a script it prints JSON: one record per MCP span Sentry received (a transaction, a child span, a
streamed span or an OTLP span), with its op, name, status, data and, on the OTLP paths, its span events. The
record is normalised (ids, timestamps, ports and versions removed) so two runs of different code compare key
by key::

    python tests/support/sentry_payloads.py PATH TRANSPORT PII   # one run (a fresh process per run)
    python tests/support/sentry_payloads.py --all > payloads.json

PATH is ``transactions``, ``stream`` (``trace_lifecycle="stream"``), ``otlp-processor`` (sentry-sdk's
``OTLPIntegration`` exporting the spans ``SentryOtlpSpanProcessor`` marked) or ``otlp-exporter``
(``mcp_otel.sentry.otlp_exporter()``, mapped at export time, batched); TRANSPORT ``memory`` or ``http``;
PII ``pii`` (``send_default_pii=True``, content captured) or ``default``.

``tests/test_sentry_payloads.py`` runs every combination and compares it with the committed baseline
(``tests/data/sentry_payloads/``), which was captured from the code before the Sentry-only keys left the
vendor-neutral spans.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as under pytest

PATHS = ("transactions", "stream", "otlp-processor", "otlp-exporter")
TRANSPORTS = ("memory", "http")
PII = ("default", "pii")
#: Values that differ from run to run (or between mcp releases) and say nothing about the mapping.
VOLATILE = {
    "mcp.session.id",
    "session.id",
    "jsonrpc.request.id",
    "mcp.request.id",
    "mcp.cancelled.request_id",
    "client.port",
    "server.port",
    "thread.id",
    "thread.name",
    "mcp.server.version",
    "mcp.client.version",
    "mcp.protocol.version",
    "network.protocol.version",
    "sentry.segment.id",
    "sentry.trace.parent_span_id",
    "sentry.release",
    "sentry.environment",
    "sentry.sdk.name",
    "sentry.sdk.version",
    "sentry.platform",
    "sentry.exclusive_time",
    "sentry.profiler_id",
    "process.pid",
    "mcp_otel.progress.token",
    "mcp.progress.token",
}


async def _exchange(conn: Any) -> None:
    """Tools (ok, isError, exception, log notification, progress, cancelled), prompt, resource."""
    import anyio

    from support.compat import IS_MCP1

    await conn.list_tools()
    await conn.call_tool("add", {"a": 2, "b": 3})
    await conn.call_tool("explode", {"text": "boom"})
    await conn.call_tool("echo", {"text": "hello"})
    await conn.get_prompt("greet", {"name": "Ada"})
    await conn.read_resource("demo://info")
    await conn.call_tool("logged", {"text": "x"})

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    started = anyio.Event()
    with anyio.fail_after(20):
        await conn.session.call_tool("stepped", {}, progress_callback=on_progress)
    started = anyio.Event()

    async def call() -> None:
        with contextlib.suppress(Exception):
            await conn.session.call_tool("wait", {}, progress_callback=on_progress)

    async with anyio.create_task_group() as tg:
        request_id = getattr(conn.session, "_request_id", None)
        tg.start_soon(call)
        with anyio.fail_after(20):
            await started.wait()
        if IS_MCP1:
            import mcp.types as types

            params = types.CancelledNotificationParams(requestId=request_id, reason="the client cancels")
            notification = types.ClientNotification(types.CancelledNotification(params=params))
            await conn.session.send_notification(notification)
        else:
            tg.cancel_scope.cancel()
    await anyio.sleep(0.3)


def _build_server() -> Any:
    import anyio

    from support import sentry_server
    from support.compat import IS_MCP1

    server = sentry_server.build_server()
    if IS_MCP1:
        from mcp.server.fastmcp import Context
    else:
        from mcp.server.mcpserver import Context

    async def stepped(ctx: Context) -> str:  # type: ignore[type-arg]
        """Report two progress steps."""
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "stepped"

    async def wait(ctx: Context) -> str:  # type: ignore[type-arg]
        """Report progress 0, then sleep until cancelled (bounded)."""
        await ctx.report_progress(0, None)
        await anyio.sleep(30)
        return "not cancelled"

    for tool in (stepped, wait):  # this module's annotations are strings: FastMCP needs the real class
        tool.__annotations__ = {"ctx": Context, "return": str}
        server.tool()(tool)
    return server


def run(path: str, transport: str, pii: str) -> list[dict[str, Any]]:
    """Run the exchange with Sentry set up for ``path``; return the normalised records Sentry received."""
    import anyio
    import sentry_sdk
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import mcp_otel.sentry
    from mcp_otel import McpInstrumentor
    from support.harness import ServerSpec, open_client
    from support.sentry_receiver import SentryReceiver

    with SentryReceiver() as receiver:
        options: dict[str, Any] = {
            "dsn": receiver.dsn,
            "release": "payloads@1",
            "traces_sample_rate": 1.0,
            "auto_enabling_integrations": False,
            "send_default_pii": pii == "pii",
        }
        if path == "stream":
            options["trace_lifecycle"] = "stream"
        if path == "otlp-processor":
            from sentry_sdk.integrations.otlp import OTLPIntegration

            provider = TracerProvider()
            trace.set_tracer_provider(provider)
            options["integrations"] = [OTLPIntegration()]
        else:
            provider = TracerProvider()
        sentry_sdk.init(**options)
        if path == "otlp-exporter":
            handle = mcp_otel.sentry.setup(provider, release_health=False, capture_errors=False, otlp=True)
            provider.add_span_processor(BatchSpanProcessor(mcp_otel.sentry.otlp_exporter()))
        else:
            handle = mcp_otel.sentry.setup(provider, release_health=False, otlp=path == "otlp-processor")
        instrumentor = McpInstrumentor()
        instrumentor.instrument(tracer_provider=provider, capture_content=handle.capture_content)

        async def main() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                spec = ServerSpec(_build_server, Path(__file__))
                async with open_client(transport, spec, tmp_path=Path(tmp)) as conn:
                    await _exchange(conn)

        try:
            anyio.run(main)
        finally:
            instrumentor.uninstrument()
            provider.force_flush()
            sentry_sdk.flush(timeout=5.0)
            time.sleep(0.5)
            provider.shutdown()
            handle.close()
            sentry_sdk.get_client().close(timeout=2.0)
        return _records(receiver)


def _records(receiver: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for item in receiver.items("transaction"):
        payload = item.payload
        trace_ctx = payload["contexts"]["trace"]
        records.append(
            _record(
                "transaction",
                trace_ctx.get("op"),
                payload["transaction"],
                trace_ctx.get("status"),
                trace_ctx.get("data"),
            )
        )
        for span in payload.get("spans") or []:
            records.append(
                _record("span", span.get("op"), span.get("description"), span.get("status"), span.get("data"))
            )
    for item in receiver.items("span"):
        for span in item.payload["items"]:
            data = {k: v["value"] for k, v in (span.get("attributes") or {}).items()}
            kind = "segment" if span.get("is_segment") else "span"
            records.append(_record(kind, data.get("sentry.op"), span.get("name"), span.get("status"), data))
    for request in list(receiver.otlp_requests):
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                if scope_spans.scope.name not in ("mcp_otel", "mcp-python-sdk"):
                    continue
                for span in scope_spans.spans:
                    data = {kv.key: _any(kv.value) for kv in span.attributes}
                    events = [
                        {
                            "name": e.name,
                            "attributes": _clean({kv.key: _any(kv.value) for kv in e.attributes}),
                        }
                        for e in span.events
                        if e.name != "exception"
                    ]
                    record = _record("otlp", data.get("sentry.op"), span.name, span.status.code, data)
                    record["kind_otel"] = span.kind
                    record["events"] = events
                    records.append(record)
    records = [r for r in records if isinstance(r["op"], str) and r["op"].startswith("mcp.")]
    return sorted(records, key=lambda r: json.dumps(r, sort_keys=True))


def _record(kind: str, op: Any, name: Any, status: Any, data: Any) -> dict[str, Any]:
    return {"kind": kind, "op": op, "name": name, "status": status, "data": _clean(dict(data or {}))}


#: Prefixes of keys about the process that ran the scenario (its command line, interpreter), not the mapping.
VOLATILE_PREFIXES = ("process.", "os.", "host.", "device.", "runtime.", "server.address")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    volatile = VOLATILE.__contains__
    return {
        k: ("<volatile>" if volatile(k) or k.startswith(VOLATILE_PREFIXES) else v)
        for k, v in sorted(data.items())
    }


def _any(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any(v) for v in value.array_value.values]
    return None if which is None else getattr(value, which)


def _identity(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["kind"], record["op"], record["name"], record.get("kind_otel"))


def _same(key: str, before: Any, after: Any) -> bool:
    """``after`` carries what ``before`` did. The one intended value change: ``gen_ai.tool.call.result`` of a
    result that is not a JSON object is now that object wrapped as ``{"content": ...}`` (the GenAI schema)."""
    if before == after:
        return True
    if key == "gen_ai.tool.call.result" and isinstance(before, str) and isinstance(after, str):
        try:
            old, new = json.loads(before), json.loads(after)
        except ValueError:
            return False
        return not isinstance(old, dict) and new == {"content": old}
    return False


def lost(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Everything a ``before`` record had that no matching ``after`` record has: ``[]`` when Sentry lost
    nothing (extra keys and records in ``after`` are allowed). Records match by kind, op, name and span kind;
    among several candidates the one that keeps the most of the record is taken."""
    problems: list[str] = []
    pool = list(after)
    for record in before:
        candidates = [r for r in pool if _identity(r) == _identity(record)]
        if not candidates:
            problems.append(f"missing record {_identity(record)}")
            continue

        def kept(candidate: dict[str, Any], record: dict[str, Any] = record) -> int:
            data = candidate["data"]
            return sum(k in data and _same(k, v, data[k]) for k, v in record["data"].items())

        best = max(candidates, key=kept)
        pool.remove(best)
        where = _identity(record)
        if best["status"] != record["status"]:
            problems.append(f"{where}: status {record['status']!r} -> {best['status']!r}")
        for key, value in record["data"].items():
            if key not in best["data"]:
                problems.append(f"{where}: lost {key}={value!r}")
            elif not _same(key, value, best["data"][key]):
                problems.append(f"{where}: {key} {value!r} -> {best['data'][key]!r}")
        remaining = list(best.get("events", []))
        for event in record.get("events", []):
            found = next((e for e in remaining if _keeps_event(e, event)), None)
            if found is not None:
                remaining.remove(found)
            else:
                problems.append(f"{where}: lost event {event!r}")
    return problems


def _keeps_event(after: dict[str, Any], before: dict[str, Any]) -> bool:
    """Whether event ``after`` keeps ``before``: the same name and every attribute of it (more are allowed,
    e.g. the cancellation's reason, which mcp 2.x records since)."""
    attributes = after.get("attributes") or {}
    return after.get("name") == before.get("name") and all(
        k in attributes and attributes[k] == v for k, v in (before.get("attributes") or {}).items()
    )


def run_all() -> dict[str, list[dict[str, Any]]]:
    """Every PATH × TRANSPORT × PII combination, each in a fresh process (OTLPIntegration is global)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in PATHS:
        for transport in TRANSPORTS:
            for pii in PII:
                result = subprocess.run(
                    [sys.executable, __file__, path, transport, pii],
                    capture_output=True,
                    text=True,
                    timeout=180,
                    check=False,
                )
                if result.returncode != 0:
                    raise RuntimeError(f"{path} {transport} {pii} failed:\n{result.stderr[-4000:]}")
                out[f"{path}/{transport}/{pii}"] = json.loads(result.stdout)
    return out


def main(argv: list[str]) -> None:
    if argv == ["--all"]:
        json.dump(run_all(), sys.stdout, indent=1, sort_keys=True)
        return
    path, transport, pii = argv
    json.dump(run(path, transport, pii), sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
