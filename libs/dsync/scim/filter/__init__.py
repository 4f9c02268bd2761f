"""SCIM filtering, sorting and attribute projection (RFC 7644 §3.4.2) for PostgreSQL.

Pure functions, no I/O:

- `compile_filter(text, resource_type, first_param=n)` → `SqlFragment(sql, params)`: a boolean
  expression over table alias `r` (a `users` or `groups` row; the caller adds the tenant
  condition) with `$n, $n+1, ...` placeholders. Raises only `errors.InvalidFilter`.
- `compile_sort(sort_by, sort_order, resource_type)` → ORDER BY list over `r` ending with
  `r.id`. Raises `errors.InvalidValue`.
- `project(resource, resource_type, attributes=..., excluded=...)` → the resource narrowed as
  `attributes` / `excludedAttributes` ask; `compile_projection(...)` → a `Projection` to
  apply to every resource of a page (names parsed once per request).
"""
from __future__ import annotations

from dsync.scim import errors
from dsync.scim.filter.attributes import ResourceType
from dsync.scim.filter.parser import MAX_FILTER_BYTES, parse_filter
from dsync.scim.filter.projection import Projection, compile_projection, project
from dsync.scim.filter.sort import DEFAULT_ORDER, compile_sort
from dsync.scim.filter.to_sql import SqlFragment, compile_tree

__all__ = ["DEFAULT_ORDER", "MAX_FILTER_BYTES", "Projection", "SqlFragment", "compile_filter",
           "compile_projection", "compile_sort", "project"]


def compile_filter(text: str, resource_type: ResourceType, *, first_param: int) -> SqlFragment:
    """Compile a SCIM filter into SQL over alias `r`, placeholders numbered from `first_param`.

    Every comparison value is a bound parameter (str, bool, int, uuid.UUID or an aware UTC
    datetime), never part of `sql`. Raises `errors.InvalidFilter` with a precise detail for
    malformed filters, filters over `MAX_FILTER_BYTES`, and operator/value combinations the
    attribute does not support (e.g. `active gt true`); never another exception type.
    `resource_type` must be "User" or "Group" and `first_param` ≥ 1 (else ValueError: a bug
    in the caller, not bad input).
    """
    if resource_type not in ("User", "Group"):
        raise ValueError(f"unknown resource type {resource_type!r}")
    if isinstance(first_param, bool) or not isinstance(first_param, int) or first_param < 1:
        raise ValueError(f"first_param must be a positive int, not {first_param!r}")
    tree = parse_filter(text)
    try:
        return compile_tree(tree, resource_type, first_param)
    except RecursionError:
        raise errors.InvalidFilter("the filter nests too deeply") from None
