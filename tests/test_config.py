"""Every option of ``mcp_otel.config`` as an ``instrument()`` keyword and as an environment variable.

For each option: the keyword and the variable have the same observable effect on the spans or metric points
of an in-memory exchange with the demo server; the keyword beats the variable; an invalid variable value logs
a warning naming the variable and the accepted values, and the default is used; a keyword of the wrong type
raises ``TypeError``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp_otel import config
from support.compat import IS_MCP1
from support.spans import Span, ours, server_request_spans

pytestmark = pytest.mark.anyio

ARGS = {"a": 2, "b": 3}
SERVER_DURATION = "mcp.server.operation.duration"


def redact_from_env(key: str, value: str) -> str:
    """Redactor named by ``OTEL_INSTRUMENTATION_MCP_CONTENT_REDACTOR=test_config:redact_from_env``."""
    return f"env-redacted:{key}"


async def _exchange(connect: Callable[..., Any], transport: str = "memory") -> list[Span]:
    async with connect(transport) as conn:
        await conn.list_tools()
        await conn.call_tool("add", ARGS)
        await conn.read_resource("demo://info")
    return conn.spans()


def _call(spans: list[Span]) -> Span:
    found = [s for s in server_request_spans(spans) if s["name"] == "tools/call add"]
    assert len(found) == 1, [s["name"] for s in spans]
    return found[0]


def _points(metric_reader: Any) -> list[dict[str, Any]]:
    """Attributes of every data point of the server duration histogram."""
    data = metric_reader.get_metrics_data()
    out: list[dict[str, Any]] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == SERVER_DURATION:
                    out.extend(dict(p.attributes) for p in metric.data.data_points)
    return out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Set one environment variable for this test (read at ``instrument()``)."""
    for name in (
        config.ENV_CAPTURE_CONTENT,
        config.ENV_GENAI_CAPTURE_CONTENT,
        config.ENV_MAX_CONTENT_LENGTH,
        config.ENV_CONTENT_REDACTOR,
        config.ENV_RESOURCE_URI_IN_SPAN_NAME,
        config.ENV_EXCLUDED_METHODS,
        config.ENV_METRICS,
        config.ENV_SESSION_ID_ATTRIBUTE,
        config.ENV_SDK_SPANS,
        config.ENV_LOGS,
    ):
        monkeypatch.delenv(name, raising=False)
    return lambda name, value: monkeypatch.setenv(name, value)


# --- capture_content (and the standard GenAI variable)


@pytest.mark.parametrize(
    "how", ["keyword", config.ENV_CAPTURE_CONTENT, config.ENV_GENAI_CAPTURE_CONTENT, "default"]
)
async def test_capture_content(
    how: str, instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    if how == "keyword":
        instrument(capture_content=True)
    else:
        if how != "default":
            env(how, "true")
        instrument()
    attributes = _call(await _exchange(connect))["attributes"]
    if how == "default":
        assert "gen_ai.tool.call.arguments" not in attributes
    else:
        assert json.loads(attributes["gen_ai.tool.call.arguments"]) == ARGS


async def test_capture_content_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_CAPTURE_CONTENT, "true")
    instrument(capture_content=False)
    assert "gen_ai.tool.call.arguments" not in _call(await _exchange(connect))["attributes"]


async def test_mcp_capture_variable_beats_the_genai_one(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_CAPTURE_CONTENT, "false")
    env(config.ENV_GENAI_CAPTURE_CONTENT, "true")
    instrument()
    assert "gen_ai.tool.call.arguments" not in _call(await _exchange(connect))["attributes"]


# --- max_content_length


@pytest.mark.parametrize("how", ["keyword", "env"])
async def test_max_content_length(
    how: str, instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    if how == "keyword":
        instrument(capture_content=True, max_content_length=5)
    else:
        env(config.ENV_MAX_CONTENT_LENGTH, "5")
        instrument(capture_content=True)
    assert _call(await _exchange(connect))["attributes"]["gen_ai.tool.call.arguments"] == '{"a":'


async def test_max_content_length_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_MAX_CONTENT_LENGTH, "5")
    instrument(capture_content=True, max_content_length=8)
    assert _call(await _exchange(connect))["attributes"]["gen_ai.tool.call.arguments"] == '{"a": 2,'


# --- content_redactor


async def test_content_redactor_keyword(instrument: Callable[..., Any], connect: Callable[..., Any]) -> None:
    instrument(capture_content=True, content_redactor=lambda key, value: f"{key}={len(value)}")
    attributes = _call(await _exchange(connect))["attributes"]
    assert attributes["gen_ai.tool.call.arguments"] == f"gen_ai.tool.call.arguments={len(json.dumps(ARGS))}"


async def test_content_redactor_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_CONTENT_REDACTOR, "test_config:redact_from_env")
    instrument(capture_content=True)
    attributes = _call(await _exchange(connect))["attributes"]
    assert attributes["gen_ai.tool.call.arguments"] == "env-redacted:gen_ai.tool.call.arguments"


async def test_content_redactor_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_CONTENT_REDACTOR, "test_config:redact_from_env")
    instrument(capture_content=True, content_redactor=lambda key, value: None)
    assert "gen_ai.tool.call.arguments" not in _call(await _exchange(connect))["attributes"]


# --- resource_uri_in_span_name


@pytest.mark.parametrize("how", ["keyword", "env"])
async def test_resource_uri_in_span_name(
    how: str,
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    env: Any,
) -> None:
    if how == "keyword":
        instrument(resource_uri_in_span_name=True)
    else:
        env(config.ENV_RESOURCE_URI_IN_SPAN_NAME, "true")
        instrument()
    names = {s["name"] for s in server_request_spans(await _exchange(connect))}
    assert "resources/read demo://info" in names and "resources/read" not in names


async def test_resource_uri_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_RESOURCE_URI_IN_SPAN_NAME, "true")
    instrument(resource_uri_in_span_name=False)
    names = {s["name"] for s in server_request_spans(await _exchange(connect))}
    assert "resources/read" in names


# --- excluded_methods


@pytest.mark.parametrize("how", ["keyword", "env"])
async def test_excluded_methods(
    how: str,
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    env: Any,
    metric_reader: Any,
) -> None:
    if how == "keyword":
        instrument(excluded_methods=["tools/list", "resources/read"])
    else:
        env(config.ENV_EXCLUDED_METHODS, " tools/list , resources/read ")
        instrument()
    spans = await _exchange(connect)
    methods = {s["attributes"]["mcp.method.name"] for s in ours(spans)}
    assert "tools/call" in methods
    assert not methods & {"tools/list", "resources/read"}
    measured = {p["mcp.method.name"] for p in _points(metric_reader)}
    assert "tools/call" in measured and not measured & {"tools/list", "resources/read"}


async def test_excluded_methods_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_EXCLUDED_METHODS, "tools/call")
    instrument(excluded_methods=[])
    assert _call(await _exchange(connect))


# --- metrics


@pytest.mark.parametrize("how", ["keyword", "env", "default"])
async def test_metrics(
    how: str, instrument: Callable[..., Any], connect: Callable[..., Any], env: Any, metric_reader: Any
) -> None:
    if how == "keyword":
        instrument(metrics=False)
    else:
        if how == "env":
            env(config.ENV_METRICS, "false")
        instrument()
    spans = await _exchange(connect)
    assert _call(spans)  # spans either way
    points = _points(metric_reader)
    if how == "default":
        assert "tools/call" in {p["mcp.method.name"] for p in points}
    else:
        assert points == []


async def test_metrics_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any, metric_reader: Any
) -> None:
    env(config.ENV_METRICS, "false")
    instrument(metrics=True)
    await _exchange(connect)
    assert _points(metric_reader)


# --- session_id_attribute (needs a transport with sessions: stateful streamable HTTP)


@pytest.mark.parametrize("how", ["keyword", "env", "default"])
async def test_session_id_attribute(
    how: str, instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    if how == "keyword":
        instrument(session_id_attribute=False)
    else:
        if how == "env":
            env(config.ENV_SESSION_ID_ATTRIBUTE, "false")
        instrument()
    attributes = _call(await _exchange(connect, "http"))["attributes"]
    assert attributes["mcp.session.id"]
    if how == "default":
        assert attributes["session.id"] == attributes["mcp.session.id"]
    else:
        assert "session.id" not in attributes


async def test_session_id_attribute_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_SESSION_ID_ATTRIBUTE, "false")
    instrument(session_id_attribute=True)
    attributes = _call(await _exchange(connect, "http"))["attributes"]
    assert attributes["session.id"] == attributes["mcp.session.id"]


# --- sdk_spans (mcp 2.x: the SDK's own spans; mcp 1.x has none)


def _scopes(spans: list[Span]) -> set[str]:
    return {s["scope"] for s in spans if s["kind"] in ("SERVER", "CLIENT")}


@pytest.mark.parametrize("how", ["keyword", "env", "default"])
async def test_sdk_spans(
    how: str, instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    if how == "keyword":
        instrument(sdk_spans="enrich")
    else:
        if how == "env":
            env(config.ENV_SDK_SPANS, "enrich")
        instrument()
    spans = await _exchange(connect)
    if how == "default" or IS_MCP1:
        assert _scopes(spans) == {"mcp_otel"}
    else:
        assert _scopes(spans) == {"mcp-python-sdk"}
        call = next(s for s in spans if s["kind"] == "SERVER" and s["name"] == "tools/call add")
        assert call["attributes"]["mcp.transport"] == "memory"  # mcp-otel's attributes on the SDK's span


async def test_sdk_spans_keyword_beats_env(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any
) -> None:
    env(config.ENV_SDK_SPANS, "enrich")
    instrument(sdk_spans="own")
    assert _scopes(await _exchange(connect)) == {"mcp_otel"}


@pytest.mark.skipif(IS_MCP1, reason="mcp 1.x has no OpenTelemetry middleware")
@pytest.mark.parametrize("sdk_spans", ["own", "enrich", "uninstrumented"])
async def test_sdk_middleware_work(
    sdk_spans: str,
    instrument: Callable[..., Any],
    connect: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``own`` skips the SDK's server middleware (its span would be silent, its ``_meta`` extraction a
    repeat of ours); ``enrich`` keeps it; ``uninstrument()`` puts it back."""
    import mcp.server._otel as sdk_otel

    extracted: list[object] = []
    original = sdk_otel.extract_trace_context

    def counting(meta: Any) -> Any:
        extracted.append(meta)
        return original(meta)

    monkeypatch.setattr(sdk_otel, "extract_trace_context", counting)
    instrumentor = instrument(sdk_spans="enrich" if sdk_spans == "enrich" else "own")
    if sdk_spans == "uninstrumented":
        instrumentor.uninstrument()
    spans = await _exchange(connect)
    if sdk_spans == "own":
        assert extracted == []
        assert _scopes(spans) == {"mcp_otel"}
    else:
        assert extracted  # the middleware ran for every request


# --- invalid environment values: one warning naming the variable and the accepted values, then the default


@pytest.mark.parametrize(
    ("name", "value", "accepted", "default"),
    [
        (config.ENV_CAPTURE_CONTENT, "maybe", "true, false", {"capture_content": False}),
        (config.ENV_GENAI_CAPTURE_CONTENT, "sometimes", "true, false", {"capture_content": False}),
        (config.ENV_MAX_CONTENT_LENGTH, "-3", "non-negative integer", {"max_content_length": 4096}),
        (config.ENV_MAX_CONTENT_LENGTH, "lots", "non-negative integer", {"max_content_length": 4096}),
        (config.ENV_CONTENT_REDACTOR, "no_such_module:nope", "module:function", {"content_redactor": None}),
        (config.ENV_RESOURCE_URI_IN_SPAN_NAME, "2", "true, false", {"resource_uri_in_span_name": False}),
        (config.ENV_METRICS, "nah", "true, false", {"metrics": True}),
        (config.ENV_METRICS_CLIENT_NAME, "yep", "true, false", {"metrics_client_name": False}),
        (
            config.ENV_METRICS_CLIENT_NAME_LIMIT,
            "-1",
            "non-negative integer",
            {"metrics_client_name_limit": 20},
        ),
        (config.ENV_SESSION_ID_ATTRIBUTE, "perhaps", "true, false", {"session_id_attribute": True}),
        (config.ENV_SDK_SPANS, "mine", "own, enrich", {"sdk_spans": "own"}),
        (config.ENV_LOGS, "loud", "true, false", {"logs": True}),
    ],
)
def test_invalid_env_value_warns_and_uses_the_default(
    name: str,
    value: str,
    accepted: str,
    default: dict[str, Any],
    env: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env(name, value)
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        resolved = config.McpOtelConfig.from_kwargs({})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert name in warnings[0] and repr(value) in warnings[0]
    assert accepted in warnings[0]
    for key, expected in default.items():
        assert getattr(resolved, key) == expected


@pytest.mark.parametrize("error", ["RuntimeError('configuration missing')", "SyntaxError('bad module')"])
def test_redactor_module_failing_at_import_warns_and_uses_no_redactor(
    error: str, env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A redactor module that raises while it is imported (any exception) is reported like a missing one."""
    module = f"redactor_raising_{error.split('(')[0].lower()}"
    (tmp_path / f"{module}.py").write_text(f"raise {error}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    env(config.ENV_CONTENT_REDACTOR, f"{module}:redact")
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        resolved = config.McpOtelConfig.from_kwargs({})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert config.ENV_CONTENT_REDACTOR in warnings[0] and "module:function" in warnings[0]
    assert resolved.content_redactor is None


async def test_invalid_env_value_at_instrument(
    instrument: Callable[..., Any], connect: Callable[..., Any], env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Through ``instrument()``: the warning, and spans with the default behaviour."""
    env(config.ENV_MAX_CONTENT_LENGTH, "huge")
    with caplog.at_level(logging.WARNING, logger="mcp_otel"):
        instrument(capture_content=True)
    assert any(config.ENV_MAX_CONTENT_LENGTH in r.getMessage() for r in caplog.records)
    assert json.loads(_call(await _exchange(connect))["attributes"]["gen_ai.tool.call.arguments"]) == ARGS


# --- keywords of the wrong type


@pytest.mark.parametrize(
    "options",
    [
        {"max_content_length": "5"},
        {"max_content_length": -1},
        {"max_content_length": True},
        {"content_redactor": "module:function"},
        {"excluded_methods": "ping"},
        {"sdk_spans": "mine"},
        {"sdk_spans": 1},
        {"metrics_client_name_limit": "5"},
        {"metrics_client_name_limit": -1},
    ],
)
def test_bad_keyword_type_raises(options: dict[str, Any], instrument: Callable[..., Any]) -> None:
    with pytest.raises(TypeError):
        instrument(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"capture_content": "false"},
        {"resource_uri_in_span_name": 1},
        {"metrics": "no"},
        {"metrics_client_name": "yes"},
        {"session_id_attribute": "off"},
        {"logs": "false"},
        {"excluded_methods": [1, 2]},
    ],
)
def test_bad_bool_and_list_keyword_types_raise(options: dict[str, Any]) -> None:
    """A string where a bool is expected would silently mean ``True``: it must be refused."""
    with pytest.raises(TypeError):
        config.McpOtelConfig.from_kwargs(options)


def test_logs_keyword_and_environment() -> None:
    """``logs``: on by default; the variable switches it off; the keyword wins over the variable."""
    assert config.McpOtelConfig.from_kwargs({}, {}).logs is True
    assert config.McpOtelConfig.from_kwargs({}, {config.ENV_LOGS: "false"}).logs is False
    assert config.McpOtelConfig.from_kwargs({"logs": True}, {config.ENV_LOGS: "false"}).logs is True
    assert config.McpOtelConfig.from_kwargs({"logs": False}, {}).logs is False
