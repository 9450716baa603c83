"""``optional_field``: ``getattr(obj, name, None)`` for request params, without pydantic's exception path."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pydantic
import pytest

from mcp_otel.hooks.common import optional_field


class Named(pydantic.BaseModel):
    name: str


class Located(pydantic.BaseModel):
    uri: str


class Loose(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    name: str

    @property
    def title(self) -> str:
        return self.name.upper()


def _no_getattr(monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
    """Fail when pydantic's ``__getattr__`` (the raising path) is entered for ``cls``."""

    def refuse(self: Any, item: str) -> Any:
        raise AssertionError(f"__getattr__({item!r}) was called")

    monkeypatch.setattr(cls, "__getattr__", refuse)


@pytest.mark.once
def test_a_missing_field_is_none_without_pydantics_getattr(monkeypatch: pytest.MonkeyPatch) -> None:
    params = Named(name="add")
    assert getattr(params, "uri", None) is None  # the same answer the plain read gives
    _no_getattr(monkeypatch, Named)
    assert optional_field(params, "uri") is None
    assert optional_field(params, "uri") is None  # the class's answer is remembered
    assert optional_field(params, "name") == "add"


@pytest.mark.once
def test_declared_fields_extras_and_properties_read_as_getattr_does() -> None:
    assert optional_field(Located(uri="file:///a"), "uri") == "file:///a"
    loose = Loose(name="x", uri="file:///extra")
    extra = "uri"
    assert optional_field(loose, extra) == getattr(loose, extra) == "file:///extra"
    assert optional_field(Loose(name="x"), "uri") is None
    assert optional_field(loose, "title") == "X"


@pytest.mark.once
@pytest.mark.parametrize(
    ("obj", "expected"),
    [(None, None), (SimpleNamespace(uri="u"), "u"), (SimpleNamespace(), None), ({"uri": "u"}, None)],
)
def test_other_objects_read_with_getattr(obj: Any, expected: Any) -> None:
    assert optional_field(obj, "uri") == expected
