"""Test helpers: version shims, the transport harness, test servers and span helpers."""
