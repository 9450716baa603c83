"""The demo MCP server with mcp-otel reporting to Sentry: MCP Insights, linked errors and release health.

Run it over stdio (as an MCP client would start it) or streamable HTTP::

    SENTRY_DSN=https://<key>@o<org>.ingest.sentry.io/<project> python examples/sentry_setup.py
    SENTRY_DSN=... python examples/sentry_setup.py streamable-http     # http://127.0.0.1:8000/mcp

Without ``SENTRY_DSN`` it reports to a local Spotlight (``npx @spotlightjs/spotlight``, port 8969). Needs
``pip install "mcp-otel[sentry]"``. Set ``MCP_OTEL_SENTRY_OTLP=1`` to send the spans over Sentry's OTLP
endpoint (sentry-sdk's ``OTLPIntegration``) instead of as Sentry transactions.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import sentry_sdk

import mcp_otel.sentry
from mcp_otel import McpInstrumentor


def init_sentry() -> mcp_otel.sentry.McpSentry:
    """``sentry_sdk.init`` as docs/sentry.md recommends, then connect mcp-otel to it."""
    otlp = os.environ.get("MCP_OTEL_SENTRY_OTLP") == "1"
    integrations = []
    if otlp:
        from sentry_sdk.integrations.otlp import OTLPIntegration

        integrations.append(OTLPIntegration())
    disabled = []
    try:  # mcp-otel replaces sentry-sdk's own MCP integration (which would count every request twice)
        from sentry_sdk.integrations.mcp import MCPIntegration

        disabled.append(MCPIntegration())
    except Exception:  # ImportError / DidNotEnable: this sentry-sdk has no MCP integration for this mcp
        pass
    dsn = os.environ.get("SENTRY_DSN")
    sentry_sdk.init(
        dsn=dsn,
        spotlight=None if dsn else "http://127.0.0.1:8969/stream",
        release=os.environ.get("SENTRY_RELEASE", "demo-weather@1.0.0"),  # release health needs a release
        environment=os.environ.get("SENTRY_ENVIRONMENT", "development"),
        traces_sample_rate=1.0,  # every MCP request becomes a transaction; lower it in production
        send_default_pii=False,  # no tool arguments/results, client addresses or resource URIs
        integrations=integrations,
        disabled_integrations=disabled,
    )
    # before the server is built; spans, errors and sessions all go through the client above
    return mcp_otel.sentry.setup(otlp=otlp)


def main() -> None:
    handle = init_sentry()
    McpInstrumentor().instrument(capture_content=handle.capture_content)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo_server import build_server

    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    server: Any = build_server()  # FastMCP on mcp 1.x, MCPServer on 2.x
    server.run(transport)


if __name__ == "__main__":
    main()
