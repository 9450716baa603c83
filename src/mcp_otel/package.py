"""The packages this instrumentation instruments, for ``BaseInstrumentor`` dependency checks."""

_instruments = ("mcp >= 1.15, < 3",)
_supports_metrics = True
