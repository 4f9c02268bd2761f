"""Parsing SCIM filters (RFC 7644 §3.4.2.2) and bare attribute paths (§3.10).

Filters are parsed by `scim2_models` (a maintained LALR grammar with the RFC errata applied:
`and` binds tighter than `or`, JSON strings and numbers, Entra's `emails[type eq "work"].value
eq "x"`, nesting capped at 32). We only bound the input size and turn every failure into
`InvalidFilter` with a detail that points at the offending text.
"""
from __future__ import annotations

import re

from scim2_models import ScimFilter
from scim2_models.exceptions import InvalidFilterException
from scim2_models.path import AttrPath, FilterNode

from dsync.scim import errors

MAX_FILTER_BYTES = 10 * 1024

_ATTR_PATH = re.compile(
    r"(?:(?P<uri>urn:[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9][A-Za-z0-9._-]*)*):)?"
    r"(?P<attr>\$?[A-Za-z][A-Za-z0-9$_-]*)(?:\.(?P<sub>\$?[A-Za-z][A-Za-z0-9$_-]*))?",
    re.IGNORECASE)


def parse_filter(text: str) -> FilterNode:
    """Parse a filter into the `scim2_models.path` syntax tree.

    Raises `errors.InvalidFilter` (and nothing else) for input that is empty, longer than
    `MAX_FILTER_BYTES` UTF-8 bytes, not encodable, or not a filter.
    """
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise errors.InvalidFilter("the filter is not valid UTF-8 text") from None
    if size > MAX_FILTER_BYTES:
        raise errors.InvalidFilter(f"the filter is {size} bytes long; at most "
                                   f"{MAX_FILTER_BYTES} are accepted")
    if not text.strip():
        raise errors.InvalidFilter("the filter is empty")
    try:
        return ScimFilter(text).ast
    except InvalidFilterException as exc:
        raise errors.InvalidFilter(_detail(text, exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: library internals
        raise errors.InvalidFilter(f"invalid filter: {exc}") from None


def parse_attr_path(text: str) -> AttrPath | None:
    """Split `[URN ":"] attr ["." sub]` (as used by sortBy and attributes); None if malformed."""
    match = _ATTR_PATH.fullmatch(text.strip())
    if match is None:
        return None
    return AttrPath(attr=match["attr"], sub_attr=match["sub"], uri=match["uri"])


_EXPECTED = {
    "COMPARE_OP": "an operator (eq ne co sw ew gt ge lt le)", "PR": "pr", "_LBRACKET": "'['",
    "STRING": "a value (string, number, true, false or null)", "ATTR_PATH": "an attribute",
    "_LPAR": "'('", "_NOT": "not", "_AND": "and", "_OR": "or", "_RBRACKET": "']'",
    "_RPAR": "')'", "SUB_ATTR": "a sub-attribute", "_DOT": "'.'",
}


def _detail(text: str, exc: Exception) -> str:
    """Say where the filter breaks and what was expected there, from lark's error."""
    cause, detail = exc.__cause__, str(getattr(exc, "detail", "") or "")
    column = getattr(cause, "column", None)
    if cause is None or not isinstance(column, int):
        return f"invalid filter: {detail or 'invalid syntax'}"
    expected = sorted(getattr(cause, "expected", None) or getattr(cause, "allowed", None) or ())
    wanted = sorted({_EXPECTED.get(e, _EXPECTED["STRING"] if e in _VALUES else e.lower())
                     for e in expected})
    hint = f"; expected {' or '.join(wanted)}" if wanted else ""
    token = getattr(cause, "token", None)
    if token is not None and token.type == "$END":
        return f"unexpected end of filter{hint}"
    if token is not None and token.type == "ATTR_PATH" and "COMPARE_OP" in expected:
        return f"the operator {str(token)!r} is not supported (column {column}){hint}"
    near = text[column - 1:column + 19]
    return f"invalid filter syntax at column {column} near {near!r}{hint}"


_VALUES = {"FALSE", "NULL", "NUMBER", "STRING", "TRUE"}
