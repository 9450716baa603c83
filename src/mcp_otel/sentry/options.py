"""What the Sentry integration may send, resolved against the client the user set up with ``sentry_sdk.init``.

Settings left at ``None`` follow the Sentry client at the time each span, error or session is sent, so
``mcp_otel.sentry.setup()`` may run before or after ``sentry_sdk.init()``. What wins, first to last:

- content: inputs (tool arguments, prompt variables) and outputs (tool results, prompt result descriptions),
  each on its own, as Sentry's JavaScript SDK 11.17 resolves ``dataCollection.mcp``:

  1. ``setup(record_inputs=..., record_outputs=...)``;
  2. the ``mcp`` entry of ``data_collection`` (``{"mcp": {"inputs": ..., "outputs": ...}}``), where the
     client keeps it: sentry-sdk ≤ 2.76 resolves ``data_collection`` into a dict without it, so only a raw
     ``_experiments={"data_collection": ...}`` (or a future sentry-sdk) shows it;
  3. ``data_collection.gen_ai.inputs`` / ``.outputs`` (sentry-sdk ≥ 2.66: ``data_collection`` given at the
     top level or, before 2.70, in ``_experiments``; when the user gave none, sentry-sdk derives it from
     ``send_default_pii``);
  4. ``send_default_pii`` (sentry-sdk < 2.66).
- user data (``client.address``, ``client.port``, ``mcp.resource.uri``, the release-health distinct id and
  IP): ``setup(send_user_info=...)``, then ``data_collection.user_info``, then ``send_default_pii``.
- the resource naming rule: ``setup(resource_uri_in_name=...)``, else the mode's rule (Sentry JS 11.17):
  ``resources/read {uri}`` for transactions, ``resources/read`` in span streaming mode
  (``trace_lifecycle="stream"``, top level or, before sentry-sdk 2.7x, in ``_experiments``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sentry_sdk

from mcp_otel.sentry.fact_keys import AuthClientName
from mcp_otel.sentry.mapping import MappingOptions
from mcp_otel.sentry.streaming import streaming_enabled


@dataclass(frozen=True)
class SentryMcpOptions:
    """User settings of the Sentry integration; ``None`` means "as the Sentry client says".

    Attributes:
        record_inputs: send tool arguments and prompt variables (they exist only if mcp-otel captured them:
            ``McpInstrumentor().instrument(capture_content=True)``).
        record_outputs: send tool results (same condition).
        send_user_info: send the client's address and port, the resource URI attribute and, in release
            health, the client address as distinct id.
        resource_uri_in_name: name ``resources/read`` spans ``resources/read {uri}`` (``True``) or
            ``resources/read`` (``False``); ``None``: Sentry JS 11.17's rule for the mode — with the URI for
            transactions, without it for streamed spans and on the OTLP path (span names must be
            low-cardinality there).
        auth_client_name: ``(access_token) -> str | None``, the ``mcp.auth.client.name`` of a request whose
            OAuth access token the server's auth verified (the SDK's ``AccessToken``, as
            ``get_access_token()`` returns it); ``None``: the token's ``client_id``. Sentry JS 11.17's
            ``getOAuthClientName`` option.
    """

    record_inputs: bool | None = None
    record_outputs: bool | None = None
    send_user_info: bool | None = None
    resource_uri_in_name: bool | None = None
    auth_client_name: AuthClientName | None = None
    # (client options, send_default_pii, data_collection, trace_lifecycle, _experiments, result) per mode
    _last: dict[bool | None, tuple[Any, Any, Any, Any, Any, MappingOptions]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def resolve(self, client: Any = None, *, streamed: bool | None = None) -> MappingOptions:
        """The effective :class:`~mcp_otel.sentry.mapping.MappingOptions` for ``client`` (or the current).

        Args:
            client: a sentry-sdk client (default: the current one).
            streamed: the spans go out as streamed (span-v2) spans; ``None``: as the client's
                ``trace_lifecycle`` says (the OTLP path passes ``True``).
        """
        client_options = client_options_of(client)
        pii_option = client_options.get("send_default_pii")
        collection = client_options.get("data_collection")
        lifecycle = client_options.get("trace_lifecycle")
        experiments = client_options.get("_experiments")
        last = self._last.get(streamed)
        if (
            last is not None
            and last[0] is client_options
            and last[1] == pii_option
            and last[2] is collection
            and last[3] == lifecycle
            and last[4] is experiments
        ):
            return last[5]
        mode = streaming_enabled(client_options) if streamed is None else streamed
        resolved = self._resolve(pii_option, collection, experiments, mode)
        self._last[streamed] = (client_options, pii_option, collection, lifecycle, experiments, resolved)
        return resolved

    def _resolve(self, pii_option: Any, collection: Any, experiments: Any, streamed: bool) -> MappingOptions:
        pii = bool(pii_option)
        user_info = pii
        inputs = outputs = pii
        if isinstance(collection, Mapping):
            user_info = bool(collection.get("user_info", pii))
            gen_ai = collection.get("gen_ai")
            if isinstance(gen_ai, Mapping):
                inputs = bool(gen_ai.get("inputs", pii))
                outputs = bool(gen_ai.get("outputs", pii))
        mcp = _mcp_entry(collection, experiments)
        if mcp is not None:
            inputs = bool(mcp.get("inputs", inputs))
            outputs = bool(mcp.get("outputs", outputs))
        uri_in_name = (not streamed) if self.resource_uri_in_name is None else self.resource_uri_in_name
        return MappingOptions(
            record_inputs=inputs if self.record_inputs is None else self.record_inputs,
            record_outputs=outputs if self.record_outputs is None else self.record_outputs,
            send_user_info=user_info if self.send_user_info is None else self.send_user_info,
            resource_uri_in_name=uri_in_name,
        )


def _mcp_entry(collection: Any, experiments: Any) -> Mapping[str, Any] | None:
    """The ``mcp`` entry of ``data_collection``: in the resolved option, else in the raw experimental one."""
    raw = experiments.get("data_collection") if isinstance(experiments, Mapping) else None
    for source in (collection, raw):
        if isinstance(source, Mapping):
            entry = source.get("mcp")
            if isinstance(entry, Mapping):
                return entry
    return None


def client_options_of(client: Any = None) -> Mapping[str, Any]:
    """The options of ``client`` (default: the current Sentry client); empty when no client is active."""
    if client is None:
        client = sentry_sdk.get_client()
    if not client.is_active():
        return {}
    options = getattr(client, "options", None)
    return options if isinstance(options, Mapping) else {}
