"""What the Sentry integration may send, resolved against the client's options (``mcp_otel.sentry.options``).

Precedence, per key: ``setup()`` argument → ``data_collection`` ``mcp`` entry → ``data_collection.gen_ai`` →
``send_default_pii``; the resource naming rule follows the client's mode (Sentry JS 11.17). The last test
checks the same against real ``sentry_sdk.init`` clients of the installed sentry-sdk.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("sentry_sdk")

import sentry_sdk  # noqa: E402

from mcp_otel.sentry.options import SentryMcpOptions  # noqa: E402


class FakeClient:
    """The two things ``resolve`` reads of a sentry-sdk client."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def is_active(self) -> bool:
        return True


def resolved(options: SentryMcpOptions | None = None, **client_options: Any) -> tuple[bool, bool, bool, bool]:
    mapping = (options or SentryMcpOptions()).resolve(FakeClient(**client_options))
    return mapping.record_inputs, mapping.record_outputs, mapping.send_user_info, mapping.resource_uri_in_name


def test_send_default_pii_alone() -> None:
    """sentry-sdk < 2.66 has no ``data_collection``: ``send_default_pii`` decides everything."""
    assert resolved(send_default_pii=True) == (True, True, True, True)
    assert resolved(send_default_pii=False) == (False, False, False, True)
    assert resolved() == (False, False, False, True)


def test_data_collection_gen_ai_and_user_info_win_over_send_default_pii() -> None:
    collection = {"user_info": False, "gen_ai": {"inputs": True, "outputs": False}}
    assert resolved(send_default_pii=True, data_collection=collection) == (True, False, False, True)


def test_the_mcp_entry_wins_over_gen_ai_key_by_key() -> None:
    """Sentry JS 11.17's ``dataCollection.mcp``: each key falls back to ``gen_ai`` on its own."""
    collection = {"user_info": True, "gen_ai": {"inputs": True, "outputs": True}, "mcp": {"outputs": False}}
    assert resolved(data_collection=collection) == (True, False, True, True)


def test_the_raw_experimental_mcp_entry_is_honoured() -> None:
    """sentry-sdk resolves ``data_collection`` without ``mcp``; the raw ``_experiments`` copy keeps it."""
    resolved_collection = {"user_info": False, "gen_ai": {"inputs": True, "outputs": True}}
    experiments = {"data_collection": {"mcp": {"inputs": False}}}
    mapping = resolved(data_collection=resolved_collection, _experiments=experiments)
    assert mapping == (False, True, False, True)


def test_setup_arguments_win() -> None:
    options = SentryMcpOptions(record_inputs=False, record_outputs=True, send_user_info=True)
    collection = {"user_info": False, "gen_ai": {"inputs": True, "outputs": False}, "mcp": {"inputs": True}}
    assert resolved(options, data_collection=collection) == (False, True, True, True)


@pytest.mark.parametrize(
    ("client_options", "uri_in_name"),
    [
        ({}, True),
        ({"trace_lifecycle": "static"}, True),
        ({"trace_lifecycle": "stream"}, False),
        ({"_experiments": {"trace_lifecycle": "stream"}}, False),
        ({"trace_lifecycle": "static", "_experiments": {"trace_lifecycle": "stream"}}, True),
    ],
    ids=["transactions", "static", "stream", "stream (experiments, before 2.7x)", "top level wins"],
)
def test_the_resource_naming_rule_follows_the_mode(client_options: dict[str, Any], uri_in_name: bool) -> None:
    """JS 11.17: ``resources/read {uri}`` for transactions, ``resources/read`` for streamed spans."""
    if "stream" in str(client_options):
        pytest.importorskip("sentry_sdk.traces")
    assert resolved(**client_options)[3] is uri_in_name


def test_an_explicit_naming_rule_wins_in_both_modes() -> None:
    pytest.importorskip("sentry_sdk.traces")
    assert resolved(SentryMcpOptions(resource_uri_in_name=True), trace_lifecycle="stream")[3] is True
    assert resolved(SentryMcpOptions(resource_uri_in_name=False))[3] is False


def test_the_otlp_path_uses_the_streaming_rule() -> None:
    options = SentryMcpOptions()
    assert options.resolve(FakeClient(), streamed=True).resource_uri_in_name is False
    assert options.resolve(FakeClient(), streamed=False).resource_uri_in_name is True
    assert options.resolve(FakeClient()).resource_uri_in_name is True


def test_a_changed_client_is_resolved_again() -> None:
    options = SentryMcpOptions()
    first = FakeClient(send_default_pii=False)
    assert options.resolve(first).record_inputs is False
    assert options.resolve(FakeClient(send_default_pii=True)).record_inputs is True
    first.options["send_default_pii"] = True
    assert options.resolve(first).record_inputs is True


def test_real_clients() -> None:
    """The installed sentry-sdk's own resolution of ``send_default_pii`` / ``data_collection``."""
    options = SentryMcpOptions()
    try:
        sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", send_default_pii=True, default_integrations=False)
        pii = options.resolve()
        assert (pii.record_inputs, pii.record_outputs, pii.send_user_info) == (True, True, True)
        if "data_collection" in sentry_sdk.get_client().options:  # sentry-sdk >= 2.66
            collection = {"user_info": False, "gen_ai": {"inputs": True, "outputs": False}}
            try:  # top level from 2.70, in _experiments before
                sentry_sdk.init(
                    dsn="http://key@127.0.0.1:9/1", default_integrations=False, data_collection=collection
                )
            except TypeError:
                sentry_sdk.init(
                    dsn="http://key@127.0.0.1:9/1",
                    default_integrations=False,
                    _experiments={"data_collection": collection},
                )
            collected = options.resolve()
            assert (collected.record_inputs, collected.record_outputs, collected.send_user_info) == (
                True,
                False,
                False,
            )
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.Scope.get_global_scope().set_client(None)
