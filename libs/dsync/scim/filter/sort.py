"""`sortBy` / `sortOrder` (RFC 7644 §3.4.2.3) as an ORDER BY list over alias `r`.

Strings sort case-insensitively unless caseExact, in code-point order (COLLATE "C");
multi-valued attributes sort by their primary value, else the first one; resources without a
value come last ascending and first descending. The list always ends with `r.id`, so paging
with OFFSET is stable. Only catalog names are written into the SQL.
"""
from __future__ import annotations

from dsync.scim import errors
from dsync.scim.filter.attributes import Resolved, ResourceType, resolve
from dsync.scim.filter.operands import (
    Const,
    JsonArray,
    Typed,
    Unfilterable,
    doc_base,
    elements,
    single_operand,
    sql_string,
)
from dsync.scim.filter.parser import parse_attr_path

DEFAULT_ORDER = "r.created_at ASC, r.id ASC"
_ORDERS = {"ascending": "ASC NULLS LAST", "descending": "DESC NULLS FIRST"}


def compile_sort(sort_by: str | None, sort_order: str | None,
                 resource_type: ResourceType) -> str:
    """ORDER BY expressions (without the keywords) ending with the `r.id` tiebreak.

    No `sortBy` gives creation order. Raises InvalidValue for a `sortOrder` other than
    ascending/descending (any case) and for a `sortBy` that is malformed, unknown, or not
    sortable (complex without sub-attribute, `groups`, `members`, `meta.location`).
    """
    direction = _direction(sort_order)
    if sort_by is None or not sort_by.strip():
        return DEFAULT_ORDER
    path = parse_attr_path(sort_by)
    resolved = resolve(path, resource_type) if path is not None else None
    if resolved is None:
        raise errors.InvalidValue(f"sortBy {sort_by!r} is not an attribute of {resource_type}")
    key = _sort_key(resolved, resource_type, sort_by)
    if key is None:
        return "r.id ASC"
    return f"{key} {direction}, r.id ASC"


def _direction(sort_order: str | None) -> str:
    if sort_order is None or not sort_order.strip():
        return _ORDERS["ascending"]
    found = _ORDERS.get(sort_order.strip().lower())
    if found is None:
        raise errors.InvalidValue(f"sortOrder must be 'ascending' or 'descending', "
                                  f"not {sort_order!r}")
    return found


def _sort_key(resolved: Resolved, resource_type: ResourceType, text: str) -> str | None:
    attr = resolved.attr
    if attr.multi:
        return _multi_key(resolved, resource_type, text)
    if attr.type == "complex" and resolved.sub is None:
        raise errors.InvalidValue(f"sortBy {text!r} is complex; name a sub-attribute such as "
                                  f"{attr.name}.{attr.sub[0].name}")
    operand = single_operand(resolved, resource_type)
    if isinstance(operand, Const):
        return None                               # meta.resourceType: all rows equal
    if isinstance(operand, Unfilterable):
        raise errors.InvalidValue(f"cannot sort by {text!r}: {operand.reason}")
    if isinstance(operand, Typed):
        return _text_key(operand.sql, resolved.leaf.case_exact) \
            if operand.kind == "text" else operand.sql
    return _text_key(operand.text, resolved.leaf.case_exact)


def _multi_key(resolved: Resolved, resource_type: ResourceType, text: str) -> str:
    source = elements(resolved, resource_type, "s")
    if not isinstance(source, JsonArray) or resolved.attr.type != "complex":
        raise errors.InvalidValue(f"cannot sort by {text!r}")
    sub = resolved.sub or resolved.attr.child("value")
    assert sub is not None
    value = _text_key(f"(s.v->>{sql_string(sub.name)})", sub.case_exact)
    array = f"{doc_base(resolved)}->{sql_string(resolved.attr.name)}"
    return (f"(SELECT {value} FROM jsonb_array_elements(CASE WHEN jsonb_typeof({array}) = "
            f"'array' THEN {array} ELSE '[]'::jsonb END) WITH ORDINALITY AS s(v, n) "
            f"ORDER BY COALESCE(s.v->'primary' = 'true'::jsonb, FALSE) DESC, s.n LIMIT 1)")


def _text_key(sql: str, case_exact: bool) -> str:
    return f'{sql} COLLATE "C"' if case_exact else f'lower({sql}) COLLATE "C"'
