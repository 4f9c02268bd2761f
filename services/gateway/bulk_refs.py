"""A Bulk request, read and planned (RFC 7644 §3.7–3.7.2). Pure: no I/O.

`parse_request` checks the BulkRequest message and each operation; an operation that is
wrong carries its own error and the others go on (§3.7: "continue performing as many
changes as possible"). `plan` orders the operations: request order, except that an
operation referencing `bulkId:x` runs after the POST that declares `x` (§3.7.2 allows
forward references). A reference no POST declares is 400 `invalidValue`; operations on a
reference cycle, or depending on one, are 409 (§3.7.1 lets a server answer 409 instead of
breaking the cycle).
`substitute` replaces the references by the ids created so far; one that cannot be
resolved (its POST failed) is 409.

Every function here raises nothing but `ScimError`.
"""
from __future__ import annotations

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dsync.scim.errors import InvalidPath, InvalidSyntax, InvalidValue, ScimError, TooLarge
from dsync.scim.schema import BULK_REQUEST_SCHEMA

METHODS = ("POST", "PUT", "PATCH", "DELETE")
ENDPOINTS = {"users": "User", "groups": "Group"}
PREFIX = "bulkId:"
MAX_DEPTH = 64
_QUOTED = re.compile(r'"bulkId:([^"]+)"')


class UnresolvedReference(ScimError):
    """409: a `bulkId` that cannot be resolved (circular, or its POST failed)."""

    status = 409
    scim_type = None
    reason_code = "unresolved_reference"


@dataclass(frozen=True)
class Operation:
    """One operation as sent. `resource_id` is as written (maybe `bulkId:x`); `refs` are
    the bulkIds it references (path and data); `error`, if set, is its answer."""

    index: int
    method: str | None = None
    bulk_id: str | None = None
    version: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    data: Any = None
    refs: frozenset[str] = frozenset()
    error: ScimError | None = None


@dataclass(frozen=True)
class BulkPlan:
    operations: list[Operation]
    order: list[int] = field(default_factory=list)
    fail_on_errors: int | None = None


def _get(obj: dict[str, Any], name: str) -> Any:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    lowered = name.lower()
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == lowered), None)


def parse_request(body: Any, max_operations: int) -> BulkPlan:
    """The planned request. Raises InvalidSyntax/InvalidValue for a malformed message and
    TooLarge when it has more than `max_operations` operations."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A Bulk body must be a BulkRequest object")
    schemas = _get(body, "schemas")
    if not isinstance(schemas, list) or BULK_REQUEST_SCHEMA not in schemas:
        raise InvalidSyntax(f"A Bulk body must declare the schema {BULK_REQUEST_SCHEMA}")
    raw_ops = _get(body, "Operations")
    if not isinstance(raw_ops, list):
        raise InvalidSyntax("A BulkRequest needs an 'Operations' array")
    if len(raw_ops) > max_operations:
        raise TooLarge(f"The number of operations ({len(raw_ops)}) exceeds the maxOperations "
                       f"({max_operations})")
    fail_on = _get(body, "failOnErrors")
    if fail_on is not None and (type(fail_on) is not int or fail_on < 1):
        raise InvalidValue("failOnErrors must be a positive integer")
    return plan([parse_operation(i, raw) for i, raw in enumerate(raw_ops)], fail_on)


def parse_operation(index: int, raw: Any) -> Operation:
    """One operation; what is wrong with it is in `.error` (never raised)."""
    op = Operation(index)
    if not isinstance(raw, dict):
        return replace(op, error=InvalidSyntax("A bulk operation must be a JSON object"))
    method, bulk_id, version = _get(raw, "method"), _get(raw, "bulkId"), _get(raw, "version")
    op = replace(op, method=method.upper() if isinstance(method, str) else None,
                 bulk_id=bulk_id if isinstance(bulk_id, str) and bulk_id else None,
                 version=version if isinstance(version, str) else None)
    try:
        return _checked(op, raw, method, bulk_id, version)
    except ScimError as exc:
        return replace(op, error=exc)


def _checked(op: Operation, raw: dict[str, Any], method: Any, bulk_id: Any,
             version: Any) -> Operation:
    if op.method not in METHODS:
        raise InvalidSyntax(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if bulk_id is not None and op.bulk_id is None:
        raise InvalidSyntax("bulkId must be a non-empty string")
    if op.method == "POST" and op.bulk_id is None:
        raise InvalidSyntax("bulkId is required for a POST operation (RFC 7644 §3.7)")
    if version is not None and op.version is None:
        raise InvalidSyntax("version must be a string (an ETag)")
    resource_type, resource_id = parse_path(_get(raw, "path"))
    if (op.method == "POST") != (resource_id is None):
        raise InvalidPath(f"{op.method} must target "
                          + ("a resource type endpoint such as /Users" if op.method == "POST"
                             else "one resource, such as /Users/{id}"))
    data = _get(raw, "data")
    if op.method != "DELETE" and not isinstance(data, dict):
        raise InvalidSyntax(f"A {op.method} operation needs 'data' (a JSON object)")
    refs = references(data) if op.method != "DELETE" else set()
    if resource_id is not None and resource_id.startswith(PREFIX):
        refs.add(resource_id[len(PREFIX):])
    return replace(op, resource_type=resource_type, resource_id=resource_id,
                   data=data if op.method != "DELETE" else None, refs=frozenset(refs))


def parse_path(path: Any) -> tuple[str, str | None]:
    """`/Users`, `/Groups/{id}` (leading slash optional) -> (resource type, id or None)."""
    if not isinstance(path, str) or not path.strip():
        raise InvalidPath("A bulk operation needs a 'path' such as /Users or /Groups/{id}")
    parts = path.strip().strip("/").split("/")
    kind = ENDPOINTS.get(parts[0].lower())
    if kind is None or len(parts) > 2 or any(c in path for c in "?#") or "" in parts:
        raise InvalidPath(f"path {path[:200]!r} is not /Users, /Groups or one of their "
                          "resources")
    return kind, parts[1] if len(parts) == 2 else None


def references(value: Any) -> set[str]:
    """The bulkIds referenced in a JSON value: strings that are exactly `bulkId:x`, and
    `"bulkId:x"` literals inside strings (a PATCH path filter). Raises InvalidValue for
    data nested deeper than MAX_DEPTH."""
    found: set[str] = set()
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidValue(f"Operation data is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            if item.startswith(PREFIX) and len(item) > len(PREFIX):
                found.add(item[len(PREFIX):])
            found.update(_QUOTED.findall(item))
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return found


def plan(ops: list[Operation], fail_on_errors: int | None = None) -> BulkPlan:
    """Declared bulkIds checked, cycles marked 409, and the execution order fixed."""
    declared: dict[str, int] = {}
    for op in ops:
        if op.method == "POST" and op.bulk_id is not None:
            if op.bulk_id in declared:
                ops[op.index] = replace(op, error=op.error or InvalidValue(
                    f"bulkId {op.bulk_id!r} is already used by operation "
                    f"{declared[op.bulk_id] + 1}"))
            else:
                declared[op.bulk_id] = op.index
    for op in ops:
        missing = sorted(r for r in op.refs if r not in declared)
        if op.error is None and missing:
            ops[op.index] = replace(op, error=InvalidValue(
                f"bulkId {missing[0]!r} is not declared by any POST operation of this request"))
    deps = [[] if op.error else sorted({declared[r] for r in op.refs}) for op in ops]
    order = _order(deps)
    stuck = sorted(set(range(len(ops))) - set(order))
    for i in stuck:
        ops[i] = replace(ops[i], error=UnresolvedReference(
            "Circular bulkId reference: this operation is on a reference cycle or depends "
            "on one, and was not applied (RFC 7644 §3.7.1)"))
    return BulkPlan(ops, order + stuck, fail_on_errors)


def _order(deps: list[list[int]]) -> list[int]:
    """Topological order, the lowest index first whenever free; the operations on a
    cycle, or depending on one, are left out."""
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in deps]
    for i, d in enumerate(deps):
        for j in d:
            dependents[j].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for k in dependents[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, k)
    return order


def resolve_id(resource_id: str, created: Mapping[str, str]) -> str:
    """A path id, with `bulkId:x` replaced by the id created for `x`."""
    if not resource_id.startswith(PREFIX):
        return resource_id
    return _resolved(resource_id[len(PREFIX):], created)


def substitute(value: Any, created: Mapping[str, str], depth: int = 0) -> Any:
    """A copy of `value` with every reference replaced by the id created for it.
    Raises UnresolvedReference (409) for one that was not created, InvalidValue when
    nested deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise InvalidValue(f"Operation data is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if value.startswith(PREFIX) and len(value) > len(PREFIX):
            return _resolved(value[len(PREFIX):], created)
        if '"bulkId:' in value:
            return _QUOTED.sub(lambda m: f'"{_resolved(m.group(1), created)}"', value)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, created, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, created, depth + 1) for v in value]
    return value


def _resolved(bulk_id: str, created: Mapping[str, str]) -> str:
    found = created.get(bulk_id)
    if found is None:
        raise UnresolvedReference(f"bulkId {bulk_id!r} could not be resolved: the operation "
                                  "that creates it failed or was not applied")
    return found
