"""Render finished spans as a plain-text tree, grouped by trace.

The input is the span dict shape of :func:`mcp_otel.spanfile.span_to_dict`; the spans may come from several
processes (an MCP client and the stdio server it started) and files, in any order. Used by ``mcp-otel demo``.

Example output::

    trace 4bf92f3577b34da6a3ce929d0e0e4736 (3 spans)
    - mcp-otel demo  INTERNAL  41.20 ms  UNSET
      - tools/call fail  CLIENT  5.31 ms  ERROR: tool_error
          session=5e1f0c2a client=mcp-otel-demo/0.1.0 network.transport=pipe request.id=3
        - tools/call fail  SERVER  2.04 ms  ERROR: tool_error  [remote parent]
            session=5e1f0c2a network.transport=pipe request.id=3 error.type=tool_error
            ! exception: ValueError: forecast backend unavailable: demo

A span line starts with ``- ``: name, kind, duration in milliseconds, status (with its description). The
lines under it, indented two more columns than its children's ``- ``, hold its key attributes and exception
events. Children are ordered by start time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SESSION_ID_CHARS", "render_tree"]

SESSION_ID_CHARS = 8
"""How many leading characters of ``mcp.session.id`` the tree shows."""

_INDENT = "  "

# (label, attribute) in display order; the client name/version pair and the session id are handled apart.
_PLAIN_ATTRIBUTES: tuple[tuple[str, str], ...] = (
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


def render_tree(spans: Iterable[Mapping[str, Any]]) -> str:
    """Render spans as an indented tree, one block per trace.

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
        name/version, ``network.transport``, ``protocol``, ``request.id``, ``resource``,
        ``error.type``, ``rpc.response.status_code``; omitted when it has none) and one
        ``! exception: <type>: <message>`` line per exception event (first line of the message).
    """
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
        for child in children.get(key, ()):
            if _key(child.get("trace_id"), child.get("span_id")) not in seen:
                walk(child, depth + 1, out, seen)

    blocks: list[tuple[int, str, list[str]]] = []
    for trace_id, members in traces.items():
        members.sort(key=_sort_key)
        lines = [f"trace {trace_id} ({len(members)} span{'' if len(members) == 1 else 's'})"]
        seen: set[_SpanKey] = set()
        roots = [s for s in members if _key(trace_id, s.get("parent_span_id")) not in present]
        for root in roots:
            walk(root, 0, lines, seen)
        # Spans only reachable through a parent cycle (malformed input) are shown as roots, not dropped.
        for span in members:
            if _key(trace_id, span.get("span_id")) not in seen:
                walk(span, 0, lines, seen)
        blocks.append((_start(members[0]), trace_id, lines))

    blocks.sort(key=lambda block: (block[0], block[1]))
    if not blocks:
        return ""
    return "\n\n".join("\n".join(lines) for _, _, lines in blocks) + "\n"
