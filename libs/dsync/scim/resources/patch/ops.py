"""The PatchOp message (RFC 7644 §3.5.2) normalised into a list of `PatchOp`s.

`normalize_patch` runs at the edge (the gateway), so a malformed request gets its 400
before anything is queued; it does not know the resource type, so it resolves attributes
against User and Group together (their names do not conflict). Decisions:
- `schemas` may be absent (tolerated), but when present it must list the PatchOp URN;
- `Operations` must be a non-empty array, else InvalidSyntax;
- `op` is case-insensitive (Entra sends "Replace", "Add", "Remove");
- `remove` without `path` is NoTarget (RFC 7644 §3.5.2.2); `add`/`replace` need `value`
  (an explicit null unassigns, RFC 7643 §2.5);
- a pathless `add`/`replace` (Okta `{"op":"replace","value":{"active":false}}`, Entra's
  URN-prefixed or dotted keys, Okta's group rename `{"id":..,"displayName":..}`) becomes
  one path op per key, in order; readOnly keys (`id`, `meta`, `groups`) and `schemas` are
  ignored (RFC 7643 §7), so are keys no schema defines;
- `"True"`/`"False"` strings and the other dialect quirks of `dialects.py` are undone
  where the target attribute is known.
Idempotent: `normalize_patch({"Operations": [op.as_dict() for op in ops]}) == ops`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dsync.scim.errors import InvalidSyntax, InvalidValue, NoTarget
from dsync.scim.resources.catalog import (
    Catalog,
    any_extension,
    any_top_attr,
    canonical_urn,
    split_urn,
)
from dsync.scim.resources.dialects import coerce_simple, coerce_value
from dsync.scim.resources.patch.paths import AttrPath, parse_path
from dsync.scim.resources.values import json_type
from dsync.scim.schema import PATCH_SCHEMA, Attr

OpName = Literal["add", "replace", "remove"]
_OPS: dict[str, OpName] = {"add": "add", "replace": "replace", "remove": "remove"}
MAX_OPERATIONS = 10_000


@dataclass(frozen=True)
class PatchOp:
    """One operation. `path` None only for add/replace (pathless ops are expanded by
    `normalize_patch`); `value` None for a remove without value or an explicit null."""

    op: OpName
    path: str | None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, e.g. for a queued command; `normalize_patch` reads it back."""
        out: dict[str, Any] = {"op": self.op}
        if self.path is not None:
            out["path"] = self.path
        if self.op != "remove" or self.value is not None:
            out["value"] = self.value
        return out


def _field(item: dict[str, Any], name: str) -> tuple[bool, Any]:
    for key, value in item.items():
        if isinstance(key, str) and key.lower() == name:
            return True, value
    return False, None


def _attr_for(path: AttrPath, catalog: Catalog | None) -> Attr | None:
    if path.attr is None:
        return None
    if path.urn is not None:
        canonical = canonical_urn(path.urn)
        schema = (catalog.extension(path.urn) if catalog and canonical
                  else any_extension(path.urn) if canonical else None)
        if schema is not None:
            return schema.attr(path.attr)
    if catalog is not None:
        return catalog.top_attr(path.attr)
    return any_top_attr(path.attr)


def coerce_for_path(path: AttrPath, value: Any, catalog: Catalog | None = None) -> Any:
    """`value` with the dialect quirks undone for the attribute `path` targets (looked up
    in `catalog`, or in every catalog when None). Never raises."""
    attr = _attr_for(path, catalog)
    if attr is None:
        return value
    if path.sub is not None:
        sub = attr.child(path.sub)
        return coerce_simple(sub, value) if sub is not None else value
    if path.filter is not None and attr.multi:
        return coerce_value(attr, value) if not isinstance(value, list) else value
    return coerce_value(attr, value)


def _keep_pathless_key(key: str) -> bool:
    if key.lower() == "schemas":
        return False
    split = split_urn(key)
    if split is not None:
        return True  # the engine resolves extension / core URN keys
    if key.lower().startswith("urn:"):
        return False  # an extension we do not serve
    attr = any_top_attr(key.partition(".")[0].partition("[")[0])
    return attr is not None and attr.mutability != "readOnly"


def expand_pathless(op: OpName, value: Any) -> list[PatchOp]:
    """A pathless add/replace -> one PatchOp per attribute of `value`. Raises InvalidValue."""
    if not isinstance(value, dict):
        raise InvalidValue(f"a '{op}' without 'path' needs an object value, "
                           f"got {json_type(value)}")
    out: list[PatchOp] = []
    for key, item in value.items():
        if not isinstance(key, str) or not _keep_pathless_key(key.strip()):
            continue
        key = key.strip()
        split = split_urn(key)
        if split is not None and not split[1] and isinstance(item, dict):
            # {"urn:...:enterprise:2.0:User": {"department": "x"}} -> urn:...:department
            out.extend(PatchOp(op, f"{key}:{sub}", sub_value)
                       for sub, sub_value in item.items()
                       if isinstance(sub, str) and sub.strip())
        else:
            out.append(PatchOp(op, key, item))
    return [PatchOp(o.op, o.path, coerce_for_path(parse_path(o.path), o.value))
            for o in out if o.path is not None]


def _one(item: Any, index: int) -> list[PatchOp]:
    if not isinstance(item, dict):
        raise InvalidSyntax(f"Operations[{index}] must be an object, got {json_type(item)}")
    _, raw_op = _field(item, "op")
    op = _OPS.get(raw_op.strip().lower()) if isinstance(raw_op, str) else None
    if op is None:
        raise InvalidSyntax(f"Operations[{index}].op must be add, replace or remove, "
                            f"got {raw_op!r}"[:200])
    _, path = _field(item, "path")
    has_value, value = _field(item, "value")
    if path is not None and not isinstance(path, str):
        raise InvalidSyntax(f"Operations[{index}].path must be a string")
    path = path.strip() if path and path.strip() else None
    if op == "remove" and path is None:
        raise NoTarget(f"Operations[{index}]: remove needs a path (RFC 7644 §3.5.2.2)")
    if op != "remove" and not has_value:
        raise InvalidValue(f"Operations[{index}]: {op} needs a value")
    if path is None:
        return expand_pathless(op, value)
    return [PatchOp(op, path, coerce_for_path(parse_path(path), value))]


def normalize_patch(body: dict[str, Any]) -> list[PatchOp]:
    """Validate a PatchOp message and return its operations, normalised, in order.

    Raises InvalidSyntax (not a PatchOp message / bad op), NoTarget (remove without
    path), InvalidPath or InvalidFilter (malformed path), InvalidValue (missing value,
    non-object pathless value). Never returns an empty list for a valid message, unless
    every pathless key was ignorable.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("the PATCH body must be a JSON object (a PatchOp message)")
    has_schemas, schemas = _field(body, "schemas")
    if has_schemas and not (isinstance(schemas, list) and any(
            isinstance(u, str) and u.strip().lower() == PATCH_SCHEMA.lower() for u in schemas)):
        raise InvalidSyntax(f"'schemas' must include '{PATCH_SCHEMA}'")
    _, operations = _field(body, "operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be a non-empty array")
    if len(operations) > MAX_OPERATIONS:
        raise InvalidSyntax(f"at most {MAX_OPERATIONS} operations per request")
    out: list[PatchOp] = []
    for index, item in enumerate(operations):
        out.extend(_one(item, index))
    return out


def patch_ops_from_dicts(raw: list[dict[str, Any]]) -> list[PatchOp]:
    """Operations stored as `PatchOp.as_dict()` (e.g. in a queued command) -> PatchOps.

    An empty list (every pathless key was ignorable) reads back as no operation."""
    if isinstance(raw, list) and not raw:
        return []
    return normalize_patch({"schemas": [PATCH_SCHEMA], "Operations": raw})
