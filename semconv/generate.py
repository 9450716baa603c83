"""Generate the ``mcp_otel.semconv`` constant modules from the YAML model in ``semconv/``.

    python semconv/generate.py          # rewrite src/mcp_otel/semconv/{attributes,metrics,...}.py
    python semconv/generate.py --check  # render in memory; print a unified diff and exit 1 on any difference

Needs only pyyaml and jinja2. The model is ``semconv/model/`` plus the registries its ``manifest.yaml``
depends on (``semconv/otel/``); see ``semconv/README.md``. Exit status 2 means the model is invalid.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = HERE / "model"
DEFAULT_OUT_DIR = HERE.parent / "src" / "mcp_otel" / "semconv"
OUTPUTS = ("attributes.py", "metrics.py", "sentry_compat.py", "signals.py")
LINE_LENGTH = 110

STABILITIES = {"stable", "development", "alpha", "beta", "release_candidate"}
PRIMITIVES = {"string", "int", "double", "boolean", "string[]", "int[]", "double[]", "boolean[]", "any"}
EXAMPLE_TYPES: dict[str, Any] = {"string": str, "int": int, "double": (int, float), "boolean": bool}
UPSTREAM_NAMESPACES = ("mcp.", "gen_ai.", "jsonrpc.", "rpc.", "network.", "server.", "client.", "error.")
ID_KEY = {
    "attributes": "key",
    "attribute_groups": "id",
    "spans": "type",
    "span_refinements": "id",
    "metrics": "name",
    "metric_refinements": "id",
}
_COMMON = {"brief", "note", "stability", "attributes", "annotations"}
ALLOWED = {  # keys allowed in the items of each top-level section
    "attributes": _COMMON - {"attributes"} | {"key", "type", "examples", "deprecated"},
    "attribute_groups": _COMMON | {"id", "visibility"},
    "spans": _COMMON | {"type", "kind", "name", "requirement_level", "entity_associations"},
    "span_refinements": _COMMON | {"id", "ref"},
    "metrics": _COMMON | {"name", "instrument", "unit", "requirement_level", "entity_associations"},
    "metric_refinements": _COMMON | {"id", "ref"},
}
IGNORED_SECTIONS = {"file_format", "imports", "events", "entities", "event_refinements"}
REF_KEYS = {"ref", "brief", "note", "examples", "annotations", "requirement_level", "sampling_relevant"}
MEMBER_KEYS = {"id", "value", "brief", "note", "stability", "deprecated", "annotations"}
# (section, field) -> allowed values; the templates only know how to create histograms
CHOICES: dict[tuple[str, str], set[str | None]] = {
    ("attribute_groups", "visibility"): {"internal", "public", None},
    ("spans", "kind"): {"client", "server", "internal", "producer", "consumer"},
    ("metrics", "instrument"): {"histogram"},
}


class ModelError(Exception):
    """The model is invalid; ``problems`` lists everything found wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid semconv model:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass
class Def:
    """One item of a model file: ``upstream`` items come from a dependency registry (``semconv/otel``)."""

    item: dict[str, Any]
    file: str
    upstream: bool


@dataclass
class Model:
    """Every model file's text and every item, by section and id."""

    files: dict[str, str] = field(default_factory=dict)
    defs: dict[str, dict[str, Def]] = field(default_factory=lambda: {s: {} for s in ID_KEY})
    problems: list[str] = field(default_factory=list)

    def digest(self) -> str:
        """First 16 hex digits of a SHA-256 over every model file's path and text."""
        data = "".join(f"{path}\0{text}\0" for path, text in sorted(self.files.items()))
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def compat(self, key: str) -> bool:
        """Whether attribute ``key`` is a Sentry compatibility key."""
        return _ann(self.defs["attributes"][key].item).get("compat") == "sentry"


def _ann(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("annotations") or {}


def _codegen(item: dict[str, Any]) -> dict[str, Any]:
    return _ann(item).get("code_generation") or {}


def load_model(model_dir: Path = DEFAULT_MODEL_DIR) -> Model:
    """Load and validate ``model_dir`` and the registries its manifest depends on; raise ModelError."""
    model_dir, model = model_dir.resolve(), Model()
    manifest = yaml.safe_load((model_dir / "manifest.yaml").read_text(encoding="utf-8")) or {}
    roots = [(model_dir / dep["registry_path"]).resolve() for dep in manifest.get("dependencies") or []]
    for root in [*roots, model_dir]:
        for path in sorted(root.glob("*.yaml")):
            name = "semconv/" + path.relative_to(model_dir.parent).as_posix()
            model.files[name] = text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
            if path.name != "manifest.yaml":
                _index(model, name, yaml.safe_load(text) or {}, upstream=root != model_dir)
    _validate(model)
    if model.problems:
        raise ModelError(model.problems)
    return model


def _index(model: Model, file: str, data: dict[str, Any], upstream: bool) -> None:
    if data.get("file_format") != "definition/2":
        model.problems.append(f"{file}: file_format must be definition/2")
    for section in sorted(set(data) - set(ALLOWED) - IGNORED_SECTIONS):
        print(f"warning: {file}: unknown top-level key {section!r} ignored", file=sys.stderr)
    for section, allowed in ALLOWED.items():
        table = model.defs[section]
        for item in data.get(section) or []:
            ident = item.get(ID_KEY[section])
            if extra := set(item) - allowed:
                model.problems.append(f"{file}: {section} {ident!r}: unknown keys {sorted(extra)}")
            if ident in table and section == "attributes" and table[ident].upstream and not upstream:
                kind = "Sentry compat key" if _ann(item).get("compat") == "sentry" else "key"
                model.problems.append(
                    f"{file}: {kind} {ident!r} collides with the OTel key in {table[ident].file}"
                )
            elif not isinstance(ident, str) or ident in table:
                model.problems.append(f"{file}: {section}: missing or duplicate {ID_KEY[section]} {ident!r}")
            else:
                table[ident] = Def(item, file, upstream)


def _validate(model: Model) -> None:
    p, attrs = model.problems, model.defs["attributes"]
    for key, d in attrs.items():
        a, where, ann = d.item, f"{d.file}: attribute {key!r}", _ann(d.item)
        _check_item(p, where, a, attrs)
        typ = _check_type(p, where, a.get("type"))
        for example in a.get("examples") or []:
            wanted = EXAMPLE_TYPES.get(typ, object)
            if not isinstance(example, wanted) or (isinstance(example, bool) and typ in ("int", "double")):
                p.append(f"{where}: example {example!r} does not match type {typ}")
        if d.upstream and ("compat" in ann or "decision" in ann):
            p.append(f"{where}: upstream files may not carry compat or decision annotations")
        exempt = ann.get("compat") == "sentry" or "decision" in ann
        if not d.upstream and key.startswith(UPSTREAM_NAMESPACES) and not exempt:
            p.append(
                f"{where}: key in an upstream OTel namespace; only `compat: sentry` keys and"
                " `decision` keys may be"
            )
        equiv = ann.get("otel_equivalent")
        if equiv is not None and not (equiv in attrs and attrs[equiv].upstream):
            p.append(f"{where}: otel_equivalent {equiv!r} is not an upstream OTel attribute")
    for section, defs in model.defs.items():
        for ident, d in defs.items():
            where, item = f"{d.file}: {section} {ident!r}", d.item
            _check_decision(p, where, _ann(item).get("decision"))
            if section != "attributes":
                resolve(model, item.get("attributes") or [], where)
            if section in {"spans", "metrics"}:
                _check_item(p, where, item, {})
            for (sec, name), allowed in CHOICES.items():
                if sec == section and item.get(name) not in allowed:
                    p.append(f"{where}: {name} {item.get(name)!r} not in {sorted(map(str, allowed))}")
            if section == "span_refinements" and item.get("ref") not in model.defs["spans"]:
                p.append(f"{where}: ref {item.get('ref')!r} is not a span")
            if section == "metric_refinements" and item.get("ref") not in model.defs["metrics"]:
                p.append(f"{where}: ref {item.get('ref')!r} is not a metric")
            bounds = _codegen(item).get("explicit_bucket_boundaries")
            if bounds is not None and (not bounds or bounds != sorted(set(bounds))):
                p.append(f"{where}: bucket boundaries must be non-empty and strictly increasing")
    names = [str(c.get("name")) for c in constants(model)]
    p.extend(f"duplicate generated constant {n!r}" for n in sorted({n for n in names if names.count(n) > 1}))


def _check_decision(p: list[str], where: str, decision: Any) -> None:
    """A ``decision`` annotation (a project decision ahead of upstream) needs a reason and what it anticipates."""
    if decision is None:
        return
    if not isinstance(decision, dict) or set(decision) != {"reason", "anticipates"}:
        p.append(f"{where}: decision must be {{reason: ..., anticipates: <upstream issue or pull request>}}")
    elif not all(isinstance(decision[k], str) and decision[k].strip() for k in ("reason", "anticipates")):
        p.append(f"{where}: decision reason and anticipates must be non-empty strings")


def _check_item(
    p: list[str], where: str, item: dict[str, Any], targets: Any, need_brief: bool = True
) -> None:
    """Stability, brief and ``deprecated`` (whose ``renamed_to`` must be one of ``targets``)."""
    if item.get("stability") not in STABILITIES:
        p.append(f"{where}: stability {item.get('stability')!r} not in {sorted(STABILITIES)}")
    if need_brief and not isinstance(item.get("brief"), str):
        p.append(f"{where}: brief missing")
    dep = item.get("deprecated")
    if dep is None:
        return
    if not isinstance(dep, dict) or dep.get("reason") not in {"renamed", "obsoleted", "uncategorized"}:
        p.append(f"{where}: deprecated.reason must be renamed, obsoleted or uncategorized")
    elif (dep["reason"] == "renamed") != ("renamed_to" in dep):
        p.append(f"{where}: deprecated.renamed_to is required with, and only with, reason renamed")
    elif "renamed_to" in dep and dep["renamed_to"] not in targets:
        p.append(f"{where}: deprecated.renamed_to {dep['renamed_to']!r} does not resolve")


def _check_type(p: list[str], where: str, typ: Any) -> str:
    """Validate an attribute type; return its primitive (``string`` for string enums and templates)."""
    if isinstance(typ, str):
        base = typ[9:-1] if typ.startswith("template[") and typ.endswith("]") else typ
        if base not in PRIMITIVES:
            p.append(f"{where}: unknown type {typ!r}")
        return base
    members = typ.get("members") if isinstance(typ, dict) and set(typ) == {"members"} else None
    if not members:
        p.append(f"{where}: type must be a primitive, template[primitive] or {{members: [...]}}")
        return "any"
    ids = [m.get("id") for m in members]
    for m in members:
        if extra := set(m) - MEMBER_KEYS:
            p.append(f"{where} member {m.get('id')!r}: unknown keys {sorted(extra)}")
        _check_item(p, f"{where} member {m.get('id')!r}", m, ids, need_brief=False)
    values = [m.get("value") for m in members]
    if len(set(ids)) != len(ids) or len({repr(v) for v in values}) != len(values):
        p.append(f"{where}: duplicate member ids or values")
    for kind in (str, int):
        if all(type(v) is kind for v in values):
            return "string" if kind is str else "int"
    p.append(f"{where}: member values must be all strings or all ints")
    return "any"


def resolve(
    model: Model, entries: list[dict[str, Any]], where: str, seen: tuple[str, ...] = ()
) -> dict[str, str]:
    """Resolve an ``attributes:`` list to ``{key: requirement level}``; a ``ref`` beats a ``ref_group``."""
    groups = model.defs["attribute_groups"]
    grouped: dict[str, str] = {}
    direct: dict[str, str] = {}
    for e in entries:
        if "ref_group" in e:
            gid = e["ref_group"]
            if set(e) != {"ref_group"} or gid not in groups or gid in seen:
                model.problems.append(f"{where}: ref_group {gid!r} is unknown, cyclic or has extra keys")
                continue
            rows = resolve(model, groups[gid].item.get("attributes") or [], where, (*seen, gid))
            for row_key, row_level in rows.items():
                if row_key in grouped:
                    model.problems.append(f"{where}: {row_key!r} reached through two groups")
                grouped[row_key] = row_level
            continue
        key, level = str(e.get("ref")), e.get("requirement_level", "recommended")
        if set(e) - REF_KEYS or key not in model.defs["attributes"] or key in direct:
            model.problems.append(f"{where}: ref {key!r} is unknown, repeated or has unknown keys")
        if isinstance(level, dict) and len(level) == 1 and isinstance(next(iter(level.values())), str):
            level = next(iter(level))  # {conditionally_required: "..."} / {recommended: "..."}
            if level not in {"conditionally_required", "recommended"}:
                model.problems.append(f"{where}: {key!r}: {level} takes no condition")
        elif level not in {"required", "recommended", "opt_in"}:
            model.problems.append(f"{where}: {key!r}: bad requirement_level {level!r}")
        direct[key] = str(level)
    return {**grouped, **direct}


def span_levels(model: Model, span_type: str, refined: bool = True) -> dict[str, str]:
    """Requirement level of each key of a span, with every refinement of it applied on top if ``refined``."""
    levels = resolve(model, model.defs["spans"][span_type].item["attributes"], span_type)
    for rid, d in sorted(model.defs["span_refinements"].items()):
        if refined and d.item["ref"] == span_type:
            levels.update(resolve(model, d.item.get("attributes") or [], rid))
    return levels


def constants(model: Model) -> list[dict[str, Any]]:
    """Every ``annotations.code_generation.constants`` entry anywhere in the model, sorted by name."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(_codegen(node).get("constants") or [])
        for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else []:
            walk(child)

    walk([d.item for defs in model.defs.values() for d in defs.values()])
    return sorted(found, key=lambda c: str(c.get("name")))


# ------------------------------------------------------------------------------------------------- rendering


def screaming(text: str) -> str:
    """``mcp.method.name`` -> ``MCP_METHOD_NAME``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def pascal(text: str) -> str:
    """``gen_ai.operation.name`` -> ``GenAiOperationName``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text))


def pystr(value: Any) -> str:
    """Python literal of a string or number, quoted the way ``ruff format`` quotes it."""
    if not isinstance(value, str):
        return repr(value)
    body = value.replace("\\", "\\\\").replace("\n", "\\n")
    quote = "'" if '"' in body and "'" not in body else '"'
    return quote + body.replace(quote, "\\" + quote) + quote


def doc(paragraphs: list[str], indent: int = 0) -> str:
    """Docstring of the non-empty ``paragraphs``, wrapped; lines after the first indented by ``indent``."""
    paras = [" ".join(p.split()).replace("\\", "\\\\").replace('"""', '\\"""') for p in paragraphs if p]
    width = LINE_LENGTH - indent - 3
    if len(paras) == 1 and len(paras[0]) <= width - 3 and not paras[0].endswith('"'):
        return f'"""{paras[0]}"""'
    lines = [line for p in paras for line in [*textwrap.wrap(p, width, break_on_hyphens=False), ""]]
    return (
        '"""'
        + "\n".join(" " * indent * bool(i and line) + line for i, line in enumerate(lines))
        + " " * indent
        + '"""'
    )


def assign(target: str, value: str) -> str:
    """``target = "value"``, split into implicitly concatenated lines when too long for one."""
    if len(line := f"{target} = {pystr(value)}") <= LINE_LENGTH:
        return line
    chunks = textwrap.wrap(value, LINE_LENGTH - 8, drop_whitespace=False)
    return f"{target} = (\n" + "".join(f"    {pystr(chunk)}\n" for chunk in chunks) + ")"


def collection(target: str, items: list[str], kind: str = "frozenset") -> str:
    """``target = frozenset({...})``, ``(...)`` or ``MappingProxyType({...})``, laid out as ruff does."""
    inner = ", ".join(items)
    one_line = {
        "tuple": f"({inner})",
        "frozenset": f"frozenset({{{inner}}})" if items else "frozenset()",
    }.get(kind)
    if one_line and len(f"{target} = {one_line}") <= LINE_LENGTH:
        return f"{target} = {one_line}"
    if kind == "tuple":
        return f"{target} = (\n" + "".join(f"    {item},\n" for item in items) + ")"
    return f"{target} = {kind}(\n    {{\n" + "".join(f"        {item},\n" for item in items) + "    }\n)"


def _paragraphs(item: dict[str, Any], *extra: str, names: dict[str, str] | None = None) -> list[str]:
    """Brief, note, ``extra`` and deprecation of a model item (``names`` maps member ids to Python names)."""
    dep, note = item.get("deprecated") or {}, item.get("note")
    renamed = (names or {}).get(dep.get("renamed_to", ""), dep.get("renamed_to"))
    how = f"renamed to {renamed}" if dep.get("reason") == "renamed" else dep.get("reason")
    return [
        item.get("brief", ""),
        f"Note: {note}" if note else "",
        *extra,
        f"Deprecated ({how}): {dep.get('note', '')}" if dep else "",
    ]


def _attribute(model: Model, key: str) -> dict[str, Any]:
    a = model.defs["attributes"][key].item
    prefix = "SENTRY_" if model.compat(key) and not key.startswith("sentry.") else ""
    typ, equiv, template = a["type"], _ann(a).get("otel_equivalent"), str(a["type"]).startswith("template[")
    examples = ", ".join(f"`{e}`" if isinstance(e, str) else json.dumps(e) for e in a.get("examples") or [])
    view: dict[str, Any] = {
        "key": key,
        "const": prefix + screaming(key) + "_TEMPLATE" * template,
        "enum": None,
    }
    view["doc"] = _paragraphs(
        a,
        f"Template attribute: set one attribute per item, keyed `{key}.<name>`." if template else "",
        f"Examples: {examples}." if examples else "",
        f"Type: {typ if isinstance(typ, str) else 'enum'}. Stability: {a['stability']}.",
        f"OTel equivalent: `{equiv}` (the key; values may need converting)." if equiv else "",
    )
    if isinstance(typ, dict):
        names = {m["id"]: screaming(m["id"]) for m in typ["members"]}
        members = [
            {"name": names[m["id"]], "value": pystr(m["value"]), "doc": _paragraphs(m, names=names)}
            for m in typ["members"]
        ]
        view["enum"] = {"cls": pascal(prefix) + pascal(key) + "Values", "members": members}
        view["member_constants"] = bool(_codegen(a).get("member_constants"))
    return view


def _metric(model: Model, name: str) -> dict[str, Any]:
    m, const = model.defs["metrics"][name].item, screaming(name)
    levels = resolve(model, m["attributes"], name)
    keys = [pystr(k) for k in sorted(levels) if levels[k] != "opt_in"]
    stats = f"Instrument: {m['instrument']}. Unit: {m['unit']}. Stability: {m['stability']}."
    view: dict[str, Any] = {"name": name, "const": const, "unit": m["unit"], "doc": _paragraphs(m, stats)}
    view["description"] = assign(f"{const}_DESCRIPTION: Final", " ".join(m["brief"].split()))
    view["attributes"] = collection(f"{const}_ATTRIBUTES: Final[frozenset[str]]", keys)
    view["opt_in"] = ", ".join(f"`{k}`" for k in sorted(levels) if levels[k] == "opt_in")
    extensions: dict[str, str] = {}
    for rid, d in sorted(model.defs["metric_refinements"].items()):
        if d.item["ref"] == name:
            extensions.update(resolve(model, d.item.get("attributes") or [], rid))
    view["extensions"] = (
        collection(f"{const}_EXTENSION_ATTRIBUTES: Final[frozenset[str]]", [pystr(k) for k in sorted(extensions)])
        if extensions
        else ""
    )
    return view


def _span(model: Model, span_type: str) -> dict[str, Any]:
    s, prefix = model.defs["spans"][span_type].item, screaming(span_type)
    levels, upstream = span_levels(model, span_type), span_levels(model, span_type, refined=False)
    view: dict[str, Any] = {"type": span_type, "prefix": prefix}
    view["doc"] = _paragraphs(s, f"Span kind: {s['kind']}.", f"Name: {s['name']['note']}")
    view["attributes"] = collection(
        f"{prefix}_SPAN_ATTRIBUTES: Final[frozenset[str]]", [pystr(k) for k in sorted(levels)]
    )
    view["otel_attributes"] = collection(
        f"{prefix}_SPAN_OTEL_ATTRIBUTES: Final[frozenset[str]]", [pystr(k) for k in sorted(upstream)]
    )
    items = [f"{pystr(k)}: {pystr(levels[k])}" for k in sorted(levels)]
    view["levels"] = collection(
        f"{prefix}_SPAN_REQUIREMENT_LEVELS: Final[Mapping[str, str]]", items, "MappingProxyType"
    )
    return view


def _constant(c: dict[str, Any]) -> dict[str, Any]:
    name, value = c["name"], c["value"]
    if not isinstance(value, list):
        return {"code": f"{name}: Final = {pystr(value)}", "doc": [c.get("brief", "")]}
    elem = "int" if all(type(v) is int for v in value) else "str"
    return {
        "code": collection(f"{name}: Final[frozenset[{elem}]]", [pystr(v) for v in value]),
        "doc": [c.get("brief", "")],
    }


def render(model: Model) -> dict[str, str]:
    """Render every output module from a loaded model; returns ``{file name: text}``."""
    loader = jinja2.FileSystemLoader(HERE / "templates")
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(doc=doc, pystr=pystr)
    env.globals.update(collection=collection)
    attrs, metrics = model.defs["attributes"], model.defs["metrics"]
    bounds = {tuple(_codegen(d.item).get("explicit_bucket_boundaries") or ()) for d in metrics.values()}
    if len(bounds) != 1 or not min(bounds):
        raise ModelError(
            ["all metrics need the same explicit_bucket_boundaries (rendered as DURATION_BUCKETS)"]
        )
    compat = [k for k in sorted(attrs) if model.compat(k)]
    equivalents = {
        k: _ann(attrs[k].item)["otel_equivalent"] for k in compat if "otel_equivalent" in _ann(attrs[k].item)
    }
    context = {
        "digest": model.digest(),
        "attributes": [_attribute(model, k) for k in sorted(attrs) if not model.compat(k)],
        "compat": [_attribute(model, k) for k in compat],
        "sentry_to_otel": [f"{pystr(k)}: {pystr(v)}" for k, v in equivalents.items()],
        "metrics": [_metric(model, n) for n in sorted(metrics)],
        "buckets": [pystr(b) for b in min(bounds)],
        "spans": [_span(model, t) for t in sorted(model.defs["spans"])],
        "constants": [_constant(c) for c in constants(model)],
        "templates": [pystr(k) for k in sorted(attrs) if str(attrs[k].item["type"]).startswith("template[")],
    }
    sources = {
        "attributes.py": {attrs[k].file for k in attrs if not model.compat(k)},
        "sentry_compat.py": {attrs[k].file for k in compat},
        "metrics.py": {d.file for d in [*metrics.values(), *model.defs["metric_refinements"].values()]},
        "signals.py": {f for f in model.files if not f.endswith("manifest.yaml")},
    }
    out = {}
    for name in OUTPUTS:
        text = env.get_template(name + ".j2").render(sources=sorted(sources[name]), **context)
        out[name] = text.rstrip("\n") + "\n"
    return out


def check(model_dir: Path = DEFAULT_MODEL_DIR, out_dir: Path = DEFAULT_OUT_DIR) -> int:
    """Print a unified diff of the committed outputs against a fresh render; 1 if they differ, else 0."""
    status = 0
    for name, text in render(load_model(model_dir)).items():
        path = out_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            status = 1
            diff = difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), f"{path} (committed)", f"{path} (model)"
            )
            sys.stdout.writelines(diff)
    if status:
        print("semconv: generated modules are out of date; run `python semconv/generate.py`", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description="Generate mcp_otel.semconv from the semconv/ YAML model.")
    parser.add_argument(
        "--check", action="store_true", help="diff against the committed modules; exit 1 on drift"
    )
    parser.add_argument(
        "--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="model dir (with manifest.yaml)"
    )
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="dir of the generated modules")
    args = parser.parse_args(argv)
    try:
        if args.check:
            return check(args.model_dir, args.out_dir)
        for name, text in render(load_model(args.model_dir)).items():
            (args.out_dir / name).write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {args.out_dir / name}")
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
