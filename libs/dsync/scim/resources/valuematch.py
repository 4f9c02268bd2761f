"""Matching a bound value filter (`valuefilter.bind`) against the in-memory values of one
multi-valued attribute (a list of dicts of sub-attributes), per RFC 7644 §3.4.2.2.

String comparisons follow the sub-attribute's caseExact; dateTime sub-attributes compare
chronologically; values of different JSON types never match (no error); `pr` is false
for null, "", [] and {}.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dsync.scim.resources.valuefilter import And, Compare, Node, Not
from dsync.scim.schema import Attr


def _fold(value: Any, sub: Attr | None) -> Any:
    if isinstance(value, str):
        if sub is not None and sub.type == "dateTime":
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                return value
        return value if sub is not None and sub.case_exact else value.casefold()
    return value


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or type(a) is type(b)


def _compare(node: Compare, element: dict[str, Any], parent: Attr) -> bool:
    sub = parent.child(node.attr)
    actual = element.get(node.attr)
    if node.op == "pr":
        return actual not in (None, "", [], {})
    if node.op in ("eq", "ne"):
        left, right = _fold(actual, sub), _fold(node.value, sub)
        equal = (_comparable(left, right) and left == right) or (
            actual is None and node.value is None)
        return equal if node.op == "eq" else not equal
    left, right = _fold(actual, sub), _fold(node.value, sub)
    if node.op in ("co", "sw", "ew"):
        if not (isinstance(left, str) and isinstance(right, str)):
            return False
        return (right in left if node.op == "co"
                else left.startswith(right) if node.op == "sw" else left.endswith(right))
    if actual is None or not _comparable(left, right):
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right,
                     "lt": left < right, "le": left <= right}[node.op])
    except TypeError:  # naive vs aware datetimes
        return False


def matches(node: Node, element: Any, parent: Attr) -> bool:
    """Whether one value of `parent` (a dict of sub-attributes) satisfies `node`.

    `node` must come from `bind(..., parent)`. Non-dict elements never match.
    """
    if not isinstance(element, dict):
        return False
    if isinstance(node, Compare):
        return _compare(node, element, parent)
    if isinstance(node, Not):
        return not matches(node.inner, element, parent)
    if isinstance(node, And):
        return all(matches(item, element, parent) for item in node.items)
    return any(matches(item, element, parent) for item in node.items)


def equality_terms(node: Node) -> dict[str, Any] | None:
    """`{attr: value}` when `node` is `a eq x [and b eq y ...]`, else None (used to build
    the value an `add` creates when its filter matches nothing)."""
    if isinstance(node, Compare):
        return {node.attr: node.value} if node.op == "eq" and node.value is not None else None
    if isinstance(node, And):
        terms: dict[str, Any] = {}
        for item in node.items:
            found = equality_terms(item)
            if found is None:
                return None
            terms.update(found)
        return terms
    return None
