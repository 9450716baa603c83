"""What the Sentry integration may send, resolved against the client the user set up with ``sentry_sdk.init``.

Settings left at ``None`` follow the Sentry client at the time each span, error or session is sent, so
``mcp_otel.sentry.setup()`` may run before or after ``sentry_sdk.init()``:

- content (tool arguments, prompt variables, tool results) follows ``data_collection.gen_ai.inputs`` /
  ``.outputs`` when the client has ``data_collection`` (sentry-sdk ≥ 2.6x), else ``send_default_pii``;
- user data (``client.address``, ``client.port``, ``mcp.resource.uri``, the release-health distinct id and IP)
  follows ``data_collection.user_info``, else ``send_default_pii``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sentry_sdk

from mcp_otel.sentry.mapping import MappingOptions


@dataclass(frozen=True)
class SentryMcpOptions:
    """User settings of the Sentry integration; ``None`` means "as the Sentry client says".

    Attributes:
        record_inputs: send tool arguments and prompt variables (they exist only if mcp-otel captured them:
            ``McpInstrumentor().instrument(capture_content=True)``).
        record_outputs: send tool results (same condition).
        send_user_info: send the client's address and port, the resource URI attribute and, in release
            health, the client address as distinct id.
        resource_uri_in_name: name ``resources/read`` transactions ``resources/read {uri}`` (Sentry's rule,
            the default); ``False``: the low-cardinality ``resources/read``.
    """

    record_inputs: bool | None = None
    record_outputs: bool | None = None
    send_user_info: bool | None = None
    resource_uri_in_name: bool = True
    # (client options, send_default_pii, data_collection, result) of the last resolve: resolved once per span
    _last: tuple[Any, Any, Any, MappingOptions] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def resolve(self, client: Any = None) -> MappingOptions:
        """The effective :class:`~mcp_otel.sentry.mapping.MappingOptions` for ``client`` (or the current)."""
        client_options = client_options_of(client)
        pii_option = client_options.get("send_default_pii")
        collection = client_options.get("data_collection")
        last = self._last
        if last is not None and last[0] is client_options and last[1] == pii_option and last[2] is collection:
            return last[3]
        resolved = self._resolve(client_options, pii_option, collection)
        object.__setattr__(self, "_last", (client_options, pii_option, collection, resolved))
        return resolved

    def _resolve(self, client_options: Mapping[str, Any], pii_option: Any, collection: Any) -> MappingOptions:
        pii = bool(pii_option)
        user_info = pii
        inputs = outputs = pii
        if isinstance(collection, Mapping):
            user_info = bool(collection.get("user_info", pii))
            gen_ai = collection.get("gen_ai")
            if isinstance(gen_ai, Mapping):
                inputs = bool(gen_ai.get("inputs", pii))
                outputs = bool(gen_ai.get("outputs", pii))
        return MappingOptions(
            record_inputs=inputs if self.record_inputs is None else self.record_inputs,
            record_outputs=outputs if self.record_outputs is None else self.record_outputs,
            send_user_info=user_info if self.send_user_info is None else self.send_user_info,
            resource_uri_in_name=self.resource_uri_in_name,
        )


def client_options_of(client: Any = None) -> Mapping[str, Any]:
    """The options of ``client`` (default: the current Sentry client); empty when no client is active."""
    if client is None:
        client = sentry_sdk.get_client()
    if not client.is_active():
        return {}
    options = getattr(client, "options", None)
    return options if isinstance(options, Mapping) else {}
