"""Strict type checking of attribute values against the catalog (RFC 7643 §2.3).

`check_value` is shared by resource validation (POST/PUT) and the PATCH engine, so a value
is accepted or refused the same way whichever request carries it. Dialect leniency (the
"True" strings, a manager given as a bare id) is *not* here: it lives in `dialects.py`
and runs before these checks.

Cleaning rules, applied everywhere:
- null means unassigned (RFC 7643 §2.5): a null attribute or sub-attribute is dropped,
  and so is an empty array or a complex value left with no sub-attributes.
- unknown sub-attributes and readOnly sub-attributes (e.g. `manager.displayName`) in a
  request are ignored (readOnly values in a request "SHALL be ignored", RFC 7644 §3.3).
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from dsync.scim.errors import InvalidValue, ScimError
from dsync.scim.schema import Attr

_TYPE_WORDS = {
    "string": "a string", "reference": "a string (URI reference)",
    "binary": "a string (base64)", "boolean": "a boolean", "integer": "an integer",
    "decimal": "a number", "dateTime": "a string (xsd:dateTime)", "complex": "an object",
}


def json_type(value: Any) -> str:
    """The JSON type name of a Python value, for error details."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _wrong(attr: Attr, value: Any, where: str) -> ScimError:
    return InvalidValue(f"attribute '{where}' must be {_TYPE_WORDS[attr.type]}, "
                        f"got {json_type(value)}")


def check_simple(attr: Attr, value: Any, where: str) -> Any:
    """A non-complex single value, checked against `attr.type`. Raises InvalidValue."""
    if value is None:
        return None
    kind = attr.type
    if kind in ("string", "reference", "binary"):
        if not isinstance(value, str):
            raise _wrong(attr, value, where)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong(attr, value, where)
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(attr, value, where)
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise _wrong(attr, value, where)
    elif kind == "dateTime":
        if not isinstance(value, str) or not is_datetime(value):
            raise _wrong(attr, value, where)
    else:  # a complex value where a simple one is expected (sub-attributes are simple)
        raise _wrong(attr, value, where)
    return value


def is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text.upper()  # xsd:dateTime has a time part; a bare date is refused


def check_single(attr: Attr, value: Any, where: str) -> Any:
    """One value of `attr` (an element, when multi-valued). None when it is unassigned."""
    if value is None:
        return None
    if attr.type != "complex":
        return check_simple(attr, value, where)
    if not isinstance(value, dict):
        raise _wrong(attr, value, where)
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = attr.child(key) if isinstance(key, str) else None
        if sub is None or sub.mutability == "readOnly":
            continue
        checked = check_simple(sub, item, f"{where}.{sub.name}")
        if checked is not None:
            out[sub.name] = checked
    return out or None


def check_value(attr: Attr, value: Any, where: str | None = None) -> Any:
    """The full value of `attr` cleaned for storage, or None when it is unassigned.

    Multi-valued attributes must be arrays, and at most one of their values may carry
    `primary: true` (RFC 7643 §2.4). Raises InvalidValue naming the attribute.
    """
    where = where or attr.name
    if value is None:
        return None
    if not attr.multi:
        return check_single(attr, value, where)
    if not isinstance(value, list):
        raise InvalidValue(f"attribute '{where}' is multi-valued and must be an array, "
                           f"got {json_type(value)}")
    out = []
    for index, item in enumerate(value):
        checked = check_single(attr, item, f"{where}[{index}]")
        if checked is not None:
            out.append(checked)
    check_one_primary(attr, out, where)
    return out or None


def check_one_primary(attr: Attr, values: list[Any], where: str | None = None) -> None:
    """Raise InvalidValue when more than one value has `primary: true` (RFC 7643 §2.4)."""
    primaries = sum(1 for v in values if isinstance(v, dict) and v.get("primary") is True)
    if primaries > 1:
        raise InvalidValue(f"at most one value of '{where or attr.name}' may have "
                           f"primary true (RFC 7643 §2.4), got {primaries}")
