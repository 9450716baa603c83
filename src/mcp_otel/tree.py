"""Render finished spans, and the log records made in them, as a plain-text tree grouped by trace.

The input is the span dict shape of :func:`mcp_otel.spanfile.span_to_dict` (and, for log records,
:func:`mcp_otel.spanfile.log_record_to_dict`); they may come from several processes (an MCP client and the
stdio server it started) and files, in any order. Used by ``mcp-otel demo`` and ``mcp-otel trace``.

Example output::

    trace 4bf92f3577b34da6a3ce929d0e0e4736 (3 spans)
    - mcp-otel demo  INTERNAL  41.20 ms  UNSET
      - tools/call fail  CLIENT  5.31 ms  ERROR: tool_error
          session=5e1f0c2a client=mcp-otel-demo/0.1.0 transport=stdio request.id=3 error.type=tool_error
        - tools/call fail  SERVER  2.04 ms  ERROR: tool_error  [remote parent]
            session=5e1f0c2a transport=stdio network.transport=pipe request.id=3 error.type=tool_error
            ! exception: ValueError: forecast backend unavailable: demo
            ~ log WARN demo_server: forecast backend unavailable

A span line starts with ``- ``: name, kind, duration in milliseconds, status (with its description). The
lines under it, indented two more columns than its children's ``- ``, hold its key attributes, exception
events and the log records made in it. Children are ordered by start time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SESSION_ID_CHARS", "render_tree"]

_MCP_LOG_SCOPE = "mcp_otel"  # the scope of the log records mcp-otel makes of MCP log notifications
_MCP_LOGGER = "mcp_otel.log.logger"
_MCP_LOG_SOURCE = "notifications/message"

SESSION_ID_CHARS = 8
"""How many leading characters of ``mcp.session.id`` the tree shows."""

_INDENT = "  "

# (label, attribute) in display order; the client name/version pair and the session id are handled apart.
_PLAIN_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("transport", "mcp.transport"),
    ("network.transport", "network.transport"),
    ("protocol", "mcp.protocol.version"),
    ("request.id", "jsonrpc.request.id"),
    ("resource", "mcp.resource.uri"),
    ("error.type", "error.type"),
    ("rpc.response.status_code", "rpc.response.status_code"),
)

_SpanKey = tuple[str, str]


def _key(trace_id: Any, span_id: Any) -> _SpanKey:
    return (str(trace_id), str(span_id))


def _start(span: Mapping[str, Any]) -> int:
    start = span.get("start_ns")
    return start if isinstance(start, int) else 0


def _sort_key(span: Mapping[str, Any]) -> tuple[int, str, str]:
    return (_start(span), str(span.get("name", "")), str(span.get("span_id", "")))


def _duration(span: Mapping[str, Any]) -> str:
    start, end = span.get("start_ns"), span.get("end_ns")
    if not isinstance(start, int) or not isinstance(end, int):
        return "? ms"
    return f"{(end - start) / 1_000_000:.2f} ms"


def _status(span: Mapping[str, Any]) -> str:
    status = str(span.get("status") or "UNSET")
    description = span.get("status_description")
    return f"{status}: {description}" if description else status


def _one_line(value: Any) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else ""


def _attribute_line(attributes: Mapping[str, Any]) -> str:
    parts: list[str] = []
    session = attributes.get("mcp.session.id")
    if session is not None and session != "":
        parts.append(f"session={str(session)[:SESSION_ID_CHARS]}")
    client = attributes.get("mcp.client.name")
    if client is not None:
        version = attributes.get("mcp.client.version")
        parts.append(f"client={client}/{version}" if version is not None else f"client={client}")
    for label, name in _PLAIN_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None and value != "":
            parts.append(f"{label}={_one_line(value)}")
    return " ".join(parts)


def _exception_lines(span: Mapping[str, Any]) -> list[str]:
    lines = []
    for event in span.get("events") or ():
        if event.get("name") != "exception":
            continue
        attributes = event.get("attributes") or {}
        exc_type = attributes.get("exception.type") or "Exception"
        message = attributes.get("exception.message")
        text = f"{exc_type}: {_one_line(message)}" if message else str(exc_type)
        lines.append(f"! exception: {text}")
    return lines


def _log_time(record: Mapping[str, Any]) -> int:
    value = record.get("timestamp_ns")
    return value if isinstance(value, int) else 0


def _log_line(record: Mapping[str, Any]) -> str:
    """``~ log <severity> <source>: <body>``: the source is the Python logger (the scope), or
    ``notifications/message`` and its MCP logger name for an MCP log notification."""
    attributes = record.get("attributes") or {}
    scope = record.get("scope") or "?"
    source = str(scope)
    if scope == _MCP_LOG_SCOPE:
        logger = attributes.get(_MCP_LOGGER)
        source = f"{_MCP_LOG_SOURCE} ({logger})" if logger else _MCP_LOG_SOURCE
    severity = record.get("severity_text") or record.get("severity_number") or "?"
    body = record.get("body")
    return f"~ log {severity} {source}: {_one_line(body) if body is not None else ''}".rstrip()


def _span_line(span: Mapping[str, Any], present: set[_SpanKey]) -> str:
    line = f"- {span.get('name', '?')}  {span.get('kind', '?')}  {_duration(span)}  {_status(span)}"
    parent = span.get("parent_span_id")
    if parent:
        remote = bool(span.get("parent_is_remote"))
        if _key(span.get("trace_id"), parent) in present:
            if remote:
                line += "  [remote parent]"
        else:
            line += f"  [{'remote' if remote else 'missing'} parent {parent}]"
    return line


def render_tree(spans: Iterable[Mapping[str, Any]], logs: Iterable[Mapping[str, Any]] = ()) -> str:
    """Render spans, and the log records made in them, as an indented tree, one block per trace.

    Args:
        spans: span dicts as produced by :func:`mcp_otel.spanfile.span_to_dict` (``name``, ``kind``,
            ``trace_id``, ``span_id``, ``parent_span_id``, ``parent_is_remote``, ``start_ns``/``end_ns`` in
            nanoseconds since the epoch, ``status``, ``status_description``, ``attributes``, ``events``), in
            any order and from any number of processes. A span seen twice (same trace and span id) is shown
            once.

    Returns:
        The tree as text ending in a newline (the empty string for no spans). Traces are ordered by their
        first start time and separated by a blank line, each headed ``trace <trace id> (<n> spans)``. Each
        span is one line ``- <name>  <kind>  <duration> ms  <status>[: <status description>]``, indented two
        columns per level under its parent, children ordered by start time. A span whose parent is not in
        ``spans`` is a root of its trace, marked ``[remote parent <id>]`` (the parent lives in another
        process) or ``[missing parent <id>]``; a span whose parent is in the set but came over the wire is
        marked ``[remote parent]``. Under a span, indented two further columns: one line of key attributes
        (``session`` — the first :data:`SESSION_ID_CHARS` characters of ``mcp.session.id`` — then ``client``
        name/version, ``transport``, ``network.transport``, ``protocol``, ``request.id``, ``resource``,
        ``error.type``, ``rpc.response.status_code``; omitted when it has none) and one
        ``! exception: <type>: <message>`` line per exception event (first line of the message), then one
        ``~ log <severity> <source>: <body>`` line per log record made in the span (by time; ``source`` is the
        Python logger's name, or ``notifications/message (<logger>)`` for an MCP log notification). A trace
        with log records says ``(<n> spans, <m> log records)``; records of a span not in ``spans`` follow the
        trace's spans, marked ``[span <id> not shown]``, and records outside any trace end the output.
    """
    records_by_span: dict[_SpanKey, list[Mapping[str, Any]]] = {}
    for record in logs:
        records_by_span.setdefault(_key(record.get("trace_id"), record.get("span_id")), []).append(record)
    for records in records_by_span.values():
        records.sort(key=_log_time)
    by_key: dict[_SpanKey, Mapping[str, Any]] = {}
    for span in spans:
        by_key.setdefault(_key(span.get("trace_id"), span.get("span_id")), span)
    present = set(by_key)

    children: dict[_SpanKey, list[Mapping[str, Any]]] = {}
    traces: dict[str, list[Mapping[str, Any]]] = {}
    for key, span in by_key.items():
        traces.setdefault(key[0], []).append(span)
        parent = span.get("parent_span_id")
        parent_key = _key(key[0], parent)
        if parent and parent_key in present and parent_key != key:
            children.setdefault(parent_key, []).append(span)
    for siblings in children.values():
        siblings.sort(key=_sort_key)

    def walk(span: Mapping[str, Any], depth: int, out: list[str], seen: set[_SpanKey]) -> None:
        key = _key(span.get("trace_id"), span.get("span_id"))
        seen.add(key)
        pad = _INDENT * depth
        out.append(pad + _span_line(span, present))
        detail_pad = pad + _INDENT * 2
        attribute_line = _attribute_line(span.get("attributes") or {})
        if attribute_line:
            out.append(detail_pad + attribute_line)
        out.extend(detail_pad + line for line in _exception_lines(span))
        out.extend(detail_pad + _log_line(record) for record in records_by_span.get(key, ()))
        for child in children.get(key, ()):
            if _key(child.get("trace_id"), child.get("span_id")) not in seen:
                walk(child, depth + 1, out, seen)

    blocks: list[tuple[int, str, list[str]]] = []
    for trace_id, members in traces.items():
        members.sort(key=_sort_key)
        in_trace = [k for k in records_by_span if k[0] == trace_id]
        count = sum(len(records_by_span[k]) for k in in_trace)
        records_note = f", {count} log record{'' if count == 1 else 's'}" if count else ""
        lines = [f"trace {trace_id} ({len(members)} span{'' if len(members) == 1 else 's'}{records_note})"]
        seen: set[_SpanKey] = set()
        roots = [s for s in members if _key(trace_id, s.get("parent_span_id")) not in present]
        for root in roots:
            walk(root, 0, lines, seen)
        # Spans only reachable through a parent cycle (malformed input) are shown as roots, not dropped.
        for span in members:
            if _key(trace_id, span.get("span_id")) not in seen:
                walk(span, 0, lines, seen)
        for key in in_trace:
            if key not in present:
                lines.extend(f"{_log_line(r)}  [span {key[1]} not shown]" for r in records_by_span.pop(key))
        blocks.append((_start(members[0]), trace_id, lines))

    blocks.sort(key=lambda block: (block[0], block[1]))
    stray = sorted((r for k, rs in records_by_span.items() if k[0] not in traces for r in rs), key=_log_time)
    if stray:
        lines = [f"log records outside the spans shown ({len(stray)})"]
        lines.extend(_INDENT + _log_line(r) for r in stray)
        blocks.append((0, "", lines))
    if not blocks:
        return ""
    return "\n\n".join("\n".join(lines) for _, _, lines in blocks) + "\n"
