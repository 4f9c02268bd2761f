"""PATCH `path` syntax (RFC 7644 §3.5.2, Figure 7), parsed without knowing the resource.

    PATH      = attrPath / valuePath [subAttr] / schemaURN
    attrPath  = [schemaURN ":"] ATTRNAME [subAttr]
    valuePath = attrPath "[" valFilter "]"

A known schema URN (any case, OneLogin's draft URNs included) is split off by prefix;
for an unknown URN everything up to the last ':' before the attribute is the URN.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from dsync.scim.errors import InvalidPath
from dsync.scim.resources.catalog import split_urn
from dsync.scim.resources.valuefilter import Node, parse_value_filter

_NAME = re.compile(r"\$?[A-Za-z][\w\-$]*")
MAX_PATH = 1_000_100


@dataclass(frozen=True)
class AttrPath:
    """`urn` as written (None when unqualified), `attr` None for a bare schema URN,
    `filter` the unbound bracket filter, `sub` the sub-attribute name."""

    urn: str | None
    attr: str | None
    filter: Node | None = None
    sub: str | None = None


def _closing_bracket(text: str, start: int) -> int:
    quoted = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "]" and not quoted:
            return index
    raise InvalidPath(f"unbalanced '[' in path {text[:80]!r}")


def _name(text: str, whole: str) -> str:
    if not _NAME.fullmatch(text):
        raise InvalidPath(f"invalid attribute name {text[:80]!r} in path {whole[:80]!r}")
    return text


def _split_unknown_urn(text: str) -> tuple[str, str]:
    head = text.split("[", 1)[0]
    urn, _, attr = head.rpartition(":")
    return urn, text[len(urn) + 1:]


def parse_path(text: str) -> AttrPath:
    """Parse a PATCH path. Raises InvalidPath (malformed path or bracket filter).

    Short paths (the usual ones) are cached; the result is immutable.
    """
    return _parse_cached(text) if len(text) <= 512 else _parse(text)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> AttrPath:
    return _parse(text)


def _parse(text: str) -> AttrPath:
    whole = text.strip()
    if not whole or len(whole) > MAX_PATH:
        raise InvalidPath("the PATCH path is empty or too long")
    urn: str | None = None
    rest = whole
    if whole.lower().startswith("urn:"):
        split = split_urn(whole)
        urn, rest = split if split is not None else _split_unknown_urn(whole)
        if not rest:
            return AttrPath(urn, None)
    bracket = rest.find("[")
    if bracket < 0:
        attr, dot, sub = rest.partition(".")
        return AttrPath(urn, _name(attr, whole), None, _name(sub, whole) if dot else None)
    attr = _name(rest[:bracket], whole)
    end = _closing_bracket(rest, bracket + 1)
    node = parse_value_filter(rest[bracket + 1:end])
    tail = rest[end + 1:]
    if not tail:
        return AttrPath(urn, attr, node)
    if not tail.startswith("."):
        raise InvalidPath(f"unexpected {tail[:40]!r} after ']' in path {whole[:80]!r}")
    return AttrPath(urn, attr, node, _name(tail[1:], whole))
