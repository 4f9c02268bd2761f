"""One attribute compared with one value (RFC 7644 §3.4.2.2 operators) as SQL.

Every term built here is TRUE or FALSE, never NULL (a missing attribute compares FALSE), so
`not` and `ne` (compiled as NOT eq) match resources that lack the attribute. Comparison values
are always bound parameters; strings compare case-insensitively (lower()) unless the catalog
marks the attribute caseExact; ordering uses code-point order (COLLATE "C").
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from dsync.scim import errors
from dsync.scim.filter.operands import Const, Json, Operand, Typed, Unfilterable
from dsync.scim.schema import Attr

ORDERING = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
LIKE = {"co": ("%", "%"), "sw": ("", "%"), "ew": ("%", "")}
LIKE_ESCAPE = "!"
_ETAG = re.compile(r'(?:W/)?"?(\d{1,18})"?')


class Params:
    """Collects bound values; `add` returns the `$N` placeholder for the value."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${self.first + len(self.values) - 1}"


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so that `text` matches only itself (escape char `!`)."""
    return re.sub(r"([!%_])", r"!\1", text)


def present(operand: Operand) -> str:
    """`pr`: a non-null value that is not "" and, for complex values, has a present member."""
    if isinstance(operand, Typed):
        if operand.kind == "text":
            test = f"{operand.sql} <> ''"
            return f"COALESCE({test}, FALSE)" if operand.nullable else f"({test})"
        return f"({operand.sql} IS NOT NULL)" if operand.nullable else "TRUE"
    if isinstance(operand, Json):
        return _json_present(operand.json, operand.text, operand.depth)
    return "TRUE"


def _json_present(node: str, text: str, depth: int) -> str:
    scalar = f"COALESCE({text} <> '', FALSE)"
    if depth == 0:
        return scalar
    p = f"p{depth}"                               # unique along one nesting chain
    inner = _json_present(f"{p}.v", f"({p}.v #>> '{{}}')", depth - 1)
    return (f"(CASE jsonb_typeof({node}) "
            f"WHEN 'object' THEN EXISTS (SELECT 1 FROM jsonb_each({node}) AS {p}(k, v) "
            f"WHERE {inner}) "
            f"WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({node}) AS {p}(v) "
            f"WHERE {inner}) ELSE {scalar} END)")


def compare(operand: Operand, attr: Attr, name: str, op: str, value: Any,
            params: Params) -> str:
    """SQL for `name op value` with op in eq co sw ew gt ge lt le (ne is NOT eq).

    Raises InvalidFilter when the operator or the value does not suit the attribute type.
    """
    if isinstance(operand, Unfilterable):
        raise errors.InvalidFilter(operand.reason)
    if attr.type == "complex":
        raise errors.InvalidFilter(f"{name} is complex; compare one of its sub-attributes")
    if attr.type == "boolean":
        return _boolean(operand, name, op, value, params)
    if attr.type == "dateTime":
        return _datetime(operand, name, op, value, params)
    if attr.type in ("decimal", "integer"):
        raise errors.InvalidFilter(f"filtering on the number attribute {name} is not supported")
    if attr.type == "binary" and op in ORDERING:
        raise errors.InvalidFilter(f"{op} is not defined for the binary attribute {name}")
    text = _string_value(name, value)
    if isinstance(operand, Const):
        return "TRUE" if _const_matches(operand.value, attr.case_exact, op, text) else "FALSE"
    if isinstance(operand, Typed) and operand.kind == "uuid":
        return _uuid(operand, op, text, params)
    if isinstance(operand, Typed) and operand.kind == "version":
        return _version(operand, name, op, text, params)
    sql, nullable = (operand.sql, operand.nullable) if isinstance(operand, Typed) \
        else (operand.text, True)
    return compare_text(sql, nullable, attr.case_exact, op, text, params)


def compare_text(sql: str, nullable: bool, case_exact: bool, op: str, value: str,
                 params: Params) -> str:
    """A text comparison; `lower(col) = lower($n)` keeps expression indexes usable."""
    bound = params.add(_like_pattern(op, value) if op in LIKE else value)
    lhs, rhs = (sql, f"{bound}::text") if case_exact else (f"lower({sql})",
                                                            f"lower({bound}::text)")
    if op == "eq":
        term = f"{lhs} = {rhs}"
    elif op in LIKE:
        term = f"{lhs} LIKE {rhs} ESCAPE '{LIKE_ESCAPE}'"
    else:
        term = f'{lhs} COLLATE "C" {ORDERING[op]} {rhs}'
    return f"({sql} IS NOT NULL AND {term})" if nullable else f"({term})"


def _like_pattern(op: str, value: str) -> str:
    before, after = LIKE[op]
    return f"{before}{escape_like(value)}{after}"


def _string_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise errors.InvalidFilter(f"{name} is a string attribute; compare it with a quoted "
                                   f"string, not {_json_name(value)}")
    return checked_text(value)


def checked_text(value: str) -> str:
    """A string PostgreSQL can store: valid UTF-8 and no NUL characters."""
    if "\x00" in value:
        raise errors.InvalidFilter("comparison values may not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidFilter("comparison value is not valid Unicode "
                                   "(unpaired surrogate escape)") from None
    return value


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "this value"


def _boolean(operand: Operand, name: str, op: str, value: Any, params: Params) -> str:
    if op != "eq":
        raise errors.InvalidFilter(f"{op} is not defined for the boolean attribute {name}; "
                                   "use eq, ne or pr")
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"          # Entra sends "True"/"False"
    if not isinstance(value, bool):
        raise errors.InvalidFilter(f"{name} is a boolean attribute; compare it with true "
                                   "or false")
    if isinstance(operand, Typed) and operand.kind == "bool":
        return f"({operand.sql} = {params.add(value)}::boolean)"
    if isinstance(operand, Json):
        # JSON true/false, or a "True"/"False" string stored by a lenient writer.
        return compare_text(operand.text, True, False, "eq", "true" if value else "false",
                            params)
    raise errors.InvalidFilter(f"{name} cannot be compared with a boolean")


def parse_datetime(name: str, value: Any) -> datetime:
    """An RFC 3339 dateTime value (naive means UTC), normalised to UTC."""
    if not isinstance(value, str):
        raise errors.InvalidFilter(f"{name} is a dateTime; compare it with a quoted "
                                   'RFC 3339 timestamp such as "2011-05-13T04:42:34Z"')
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise errors.InvalidFilter(f"{value!r} is not a valid dateTime for {name}") from None


def _datetime(operand: Operand, name: str, op: str, value: Any, params: Params) -> str:
    if op in LIKE:
        raise errors.InvalidFilter(f"{op} is not defined for the dateTime attribute {name}; "
                                   "use eq, ne, gt, ge, lt or le")
    moment = parse_datetime(name, value)
    if not (isinstance(operand, Typed) and operand.kind == "timestamptz"):
        raise errors.InvalidFilter(f"filtering on {name} is not supported")
    sql_op = "=" if op == "eq" else ORDERING[op]
    return f"({operand.sql} {sql_op} {params.add(moment)}::timestamptz)"


def _uuid(operand: Typed, op: str, value: str, params: Params) -> str:
    if op == "eq":
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            return "FALSE"                        # no resource has a malformed id
        return f"({operand.sql} = {params.add(parsed)}::uuid)"
    return compare_text(f"{operand.sql}::text", False, False, op, value, params)


def _version(operand: Typed, name: str, op: str, value: str, params: Params) -> str:
    if op != "eq":
        raise errors.InvalidFilter(f"{name} supports only eq, ne and pr")
    match = _ETAG.fullmatch(value.strip())
    if match is None:
        return "FALSE"
    return f"({operand.sql} = {params.add(int(match.group(1)))}::bigint)"


def _const_matches(actual: str, case_exact: bool, op: str, value: str) -> bool:
    left, right = (actual, value) if case_exact else (actual.lower(), value.lower())
    checks = {"eq": left == right, "co": right in left, "sw": left.startswith(right),
              "ew": left.endswith(right), "gt": left > right, "ge": left >= right,
              "lt": left < right, "le": left <= right}
    return checks[op]
