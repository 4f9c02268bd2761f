"""CloudEvents Kafka protocol binding headers for `dsync.events` records.

Records stay in **structured** mode (the value is the whole CloudEvent JSON, as the event
contract says), so `content-type` is `application/cloudevents+json; charset=utf-8`. Beside
it every context attribute is copied into a `ce_<name>` header (UTF-8 text), so routers,
filters and tools can read `ce_type`, `ce_tenantid` or `ce_sequence` without parsing the
value. The headers always equal the attributes in the value.
"""
from __future__ import annotations

from functools import cache
from typing import Protocol

CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
ATTRIBUTES: tuple[str, ...] = ("specversion", "id", "source", "type", "subject", "time",
                               "datacontenttype", "dataschema", "tenantid", "sequence")
"""The context attributes dsync sets, in header order (`data` stays in the value)."""


class Attributes(Protocol):
    """A dict, or an asyncpg record with one column per attribute."""

    def get(self, key: str, /) -> object: ...


def ce_headers(attributes: Attributes, *, prefix: str = "") -> list[tuple[str, bytes]]:
    """The record headers of one event: `content-type` then `ce_<attribute>` for every
    attribute present (None is left out); attribute `a` is read as `attributes[prefix + a]`.
    Pure; raises nothing."""
    headers = [("content-type", CONTENT_TYPE)]
    for key, header in _keys(prefix):
        value = attributes.get(key)
        if value is not None:
            headers.append((header, str(value).encode()))
    return headers


@cache
def _keys(prefix: str) -> tuple[tuple[str, str], ...]:
    return tuple((prefix + name, f"ce_{name}") for name in ATTRIBUTES)
