"""The PATCH engine: apply normalised operations to a stored document (RFC 7644 §3.5.2).

Pure and atomic: works on a deep copy and returns it; when any operation fails the
caller's document is untouched and the exception propagates (all or nothing).

Targets: attributes, sub-attributes (`name.familyName`), URN-qualified paths
(`urn:...:enterprise:2.0:User:manager`, `urn:...:core:2.0:User:name.givenName`), a bare
extension URN (the whole extension object), value filters (`emails[type eq "work"]`,
`addresses[type eq "work"].streetAddress`). Paths into a schema we do not serve (an
unknown extension URN) are ignored, as unknown attributes are on POST/PUT; an unknown
attribute of a schema we serve is InvalidPath. `schemas` is maintained here (core URN +
each extension present) and a path to it is ignored.

Mutability (RFC 7643 §7, RFC 7644 §3.5.2): readOnly targets (`id`, `meta`, `groups`,
`manager.displayName`) -> Mutability; immutable values already set -> Mutability;
removing or nulling a required attribute (`userName`, Group `displayName`) -> Mutability
(RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as
a required attribute or a read-only attribute, the server SHALL return ... mutability").
writeOnly `password` ops are accepted and dropped (never stored).

Null values (RFC 7643 §2.5, null = unassigned): add/replace of null on a single-valued
target unassigns it; add of null to a multi-valued attribute adds nothing.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dsync.scim.errors import InvalidValue, Mutability, NoTarget
from dsync.scim.resources.catalog import Catalog, catalog_for
from dsync.scim.resources.diff import diff_previous
from dsync.scim.resources.patch.members import (
    MembersDelta,
    MembersDeltaBuilder,
    apply_members_op,
)
from dsync.scim.resources.patch.multivalued import apply_multi
from dsync.scim.resources.patch.ops import PatchOp, coerce_for_path, expand_pathless
from dsync.scim.resources.patch.paths import parse_path
from dsync.scim.resources.patch.targets import Target, resolve_target
from dsync.scim.resources.values import check_simple, check_value, json_type
from dsync.scim.schema import Attr


@dataclass(frozen=True)
class PatchResult:
    """`doc`: the new stored document. `changed`: previous values of the top-level
    attributes that changed (None where there was none). `members`: for a Group, the
    membership change (possibly empty); None for a User."""

    doc: dict[str, Any]
    changed: dict[str, Any]
    members: MembersDelta | None = None


def _check_mutability(op: PatchOp, target: Target, container: dict[str, Any],
                      value: Any) -> None:
    attr = target.attr
    assert attr is not None
    leaf = target.sub or attr
    if attr.mutability == "readOnly" or leaf.mutability == "readOnly":
        raise Mutability(f"'{op.path}' is readOnly (RFC 7643 §7)")
    if leaf.mutability == "immutable" and target.node is None:
        current = container.get(attr.name)
        if target.sub is not None:
            current = current.get(target.sub.name) if isinstance(current, dict) else None
        if current is not None and (op.op != "add" or current != value):
            raise Mutability(f"'{op.path}' is immutable and already set")
    if attr.required and target.sub is None and target.node is None and (
            op.op == "remove" or value is None):
        raise Mutability(f"'{attr.name}' is required and cannot be removed "
                         "(RFC 7644 §3.5.2.2)")


def _set(holder: dict[str, Any], attr: Attr, value: Any) -> None:
    if value is None:
        holder.pop(attr.name, None)
    else:
        holder[attr.name] = value


def _apply_complex(op: str, container: dict[str, Any], attr: Attr, sub: Attr | None,
                   value: Any, where: str) -> None:
    current = container.get(attr.name)
    current = dict(current) if isinstance(current, dict) else {}
    if sub is not None:
        _set(current, sub, None if op == "remove" else check_simple(sub, value, where))
    elif op == "remove" or value is None:
        current = {}
    elif not isinstance(value, dict):
        raise InvalidValue(f"attribute '{where}' must be an object, got {json_type(value)}")
    else:  # merge: sub-attributes not given are left unchanged (RFC 7644 §3.5.2.3)
        for key, item in value.items():
            child = attr.child(key) if isinstance(key, str) else None
            if child is None or child.mutability == "readOnly":
                continue
            _set(current, child, check_simple(child, item, f"{where}.{child.name}"))
    if current:
        container[attr.name] = current
    else:
        container.pop(attr.name, None)


def _apply_one(work: dict[str, Any], op: PatchOp, catalog: Catalog,
               members: MembersDeltaBuilder | None) -> None:
    if op.path is None:
        if op.op == "remove":
            raise NoTarget("remove needs a path (RFC 7644 §3.5.2.2)")
        for one in expand_pathless(op.op, op.value):
            _apply_one(work, one, catalog, members)
        return
    path = parse_path(op.path)
    if path.urn is None and (path.attr or "").lower() == "schemas":
        return
    target = resolve_target(path, catalog, op.path)
    if target is None:
        return
    value = coerce_for_path(path, op.value, catalog)
    if target.attr is None:
        _apply_extension(work, op, value, target, catalog, members)
        return
    attr = target.attr
    if attr.name == "members" and members is not None:
        apply_members_op(members, op.op, value, target.node,
                         target.sub.name if target.sub else None)
        return
    holder = work if target.urn is None else work.get(target.urn)
    container = holder if isinstance(holder, dict) else {}
    _check_mutability(op, target, container, value)
    if attr.mutability == "writeOnly":
        return
    where = op.path
    if attr.multi:
        items = container.get(attr.name)
        items = apply_multi(op.op, list(items) if isinstance(items, list) else [], attr,
                            target.node, target.sub, value, where)
        container[attr.name] = items
        if not items:
            container.pop(attr.name)
    elif attr.type == "complex":
        _apply_complex(op.op, container, attr, target.sub, value, where)
    elif op.op == "remove" or value is None:
        container.pop(attr.name, None)
    else:
        container[attr.name] = check_value(attr, value, where)
    if target.urn is not None:
        work[target.urn] = container


def _apply_extension(work: dict[str, Any], op: PatchOp, value: Any, target: Target,
                     catalog: Catalog, members: MembersDeltaBuilder | None) -> None:
    assert target.urn is not None
    if op.op == "remove" or (op.op == "replace" and value is None):
        work.pop(target.urn, None)
        return
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"'{target.urn}' must be an object, got {json_type(value)}")
    schema = catalog.extensions[target.urn]
    for key, item in value.items():
        attr = schema.attr(key) if isinstance(key, str) else None
        if attr is not None and attr.mutability != "readOnly":
            _apply_one(work, PatchOp(op.op, f"{target.urn}:{attr.name}", item), catalog,
                       members)


def _finish(work: dict[str, Any], catalog: Catalog) -> None:
    for urn in catalog.extensions:
        if not work.get(urn) or not isinstance(work.get(urn), dict):
            work.pop(urn, None)
    work["schemas"] = [catalog.core.id, *(u for u in catalog.extensions if u in work)]
    for attr in catalog.required:
        value = work.get(attr.name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue(f"'{attr.name}' is required and must be a non-empty string")


def apply_patch(doc: dict[str, Any], ops: list[PatchOp], resource_type: str) -> PatchResult:
    """Apply `ops` in order to a copy of `doc` (a stored User or Group document).

    Returns the new document, the previous values of changed top-level attributes, and
    for a Group the members delta (members never live in `doc`). Raises InvalidPath,
    InvalidFilter, InvalidValue, NoTarget, Mutability; `doc` is never modified.
    """
    catalog = catalog_for(resource_type)
    work = copy.deepcopy(doc)
    members = MembersDeltaBuilder() if resource_type == "Group" else None
    for op in ops:
        _apply_one(work, op, catalog, members)
    _finish(work, catalog)
    return PatchResult(work, diff_previous(doc, work), members.build() if members else None)
