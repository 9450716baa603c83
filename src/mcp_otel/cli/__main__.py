"""``python -m mcp_otel.cli``: the same as the ``mcp-otel`` console script."""

import sys

from mcp_otel.cli import main

sys.exit(main())
