"""The OTLP/HTTP endpoints of ``--otlp URL`` (``mcp-otel run`` / ``trace`` / ``demo`` and the bootstrap), and
the error the set-up raises. Re-exported by :mod:`mcp_otel.bootstrap`."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["BootstrapError", "otlp_endpoints", "otlp_logs_endpoint"]


class BootstrapError(RuntimeError):
    """Telemetry could not be set up or the target could not be run (bad arguments, missing package)."""


def otlp_endpoints(url: str) -> tuple[str, str]:
    """Return the OTLP/HTTP traces and metrics endpoints for ``url``.

    Args:
        url: the collector's base URL (``http://localhost:4318``) or its traces endpoint
            (``http://localhost:4318/v1/traces``).

    Returns:
        ``(traces_url, metrics_url)``, e.g. ``("http://localhost:4318/v1/traces",
        "http://localhost:4318/v1/metrics")``.

    Raises:
        BootstrapError: when ``url`` is not an ``http``/``https`` URL with a host.
    """
    return _otlp_endpoint(url, "traces"), _otlp_endpoint(url, "metrics")


def otlp_logs_endpoint(url: str) -> str:
    """The OTLP/HTTP logs endpoint (``…/v1/logs``) for ``url``, as :func:`otlp_endpoints` reads it.

    Raises:
        BootstrapError: when ``url`` is not an ``http``/``https`` URL with a host.
    """
    return _otlp_endpoint(url, "logs")


def _otlp_endpoint(url: str, signal: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BootstrapError(f"--otlp needs an http(s) URL such as http://localhost:4318, got {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1/traces"):
        path = path[: -len("/v1/traces")]
    return urlunsplit(parts._replace(path=f"{path}/v1/{signal}"))
