"""Metric points of an OpenTelemetry SDK metric reader as plain dicts, for assertions and for files a
subprocess writes."""

from __future__ import annotations

from typing import Any


def metric_points(data: Any) -> list[dict[str, Any]]:
    """Histogram points of ``MetricsData`` (or a metric reader) as plain dicts.

    Keys: ``name``, ``unit``, ``kind`` (``histogram`` or the class name), ``attributes``, ``count``, ``sum``,
    ``bounds`` (explicit bucket boundaries), ``scope``.
    """
    from opentelemetry.sdk.metrics.export import Histogram

    if hasattr(data, "get_metrics_data"):
        data = data.get_metrics_data()
    out: list[dict[str, Any]] = []
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                is_hist = isinstance(metric.data, Histogram)
                for point in metric.data.data_points:
                    out.append(
                        {
                            "name": metric.name,
                            "unit": metric.unit,
                            "kind": "histogram" if is_hist else type(metric.data).__name__,
                            "scope": sm.scope.name,
                            "attributes": dict(point.attributes or {}),
                            "count": getattr(point, "count", None),
                            "sum": getattr(point, "sum", None),
                            "bounds": [float(b) for b in getattr(point, "explicit_bounds", None) or []],
                        }
                    )
    return out
