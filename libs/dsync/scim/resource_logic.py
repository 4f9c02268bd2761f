"""Facade over the SCIM resource rules (validation, PATCH engine, dialects).

The directory and gateway call these names; the implementation lives in focused modules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsync.scim.errors import InvalidSyntax, InvalidValue
from dsync.scim.schema import CORE_SCHEMA


@dataclass(frozen=True)
class PatchResult:
    doc: dict[str, Any]
    members: Any = None
    changed: dict[str, Any] = field(default_factory=dict)


def validate_resource(body: dict[str, Any], resource_type: str, *,
                      existing: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object")
    key = "userName" if resource_type == "User" else "displayName"
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"'{key}' is required and must be a non-empty string")
    doc = {k: v for k, v in body.items() if k not in ("id", "meta", "groups", "password", "members")}
    doc.setdefault("schemas", [CORE_SCHEMA[resource_type]])
    return doc, None


def parse_patch_ops(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return raw


def apply_patch(doc: dict[str, Any], ops: list[dict[str, Any]], resource_type: str) -> PatchResult:
    new = dict(doc)
    for op in ops:
        if op.get("op", "").lower() in ("replace", "add") and "path" not in op:
            new.update(op.get("value") or {})
        elif op.get("op", "").lower() in ("replace", "add"):
            new[op["path"]] = op.get("value")
    return PatchResult(new)


def diff_previous(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    keys = set(old) | set(new)
    return {k: old.get(k) for k in keys if old.get(k) != new.get(k)}


def parse_patch_request(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise InvalidSyntax("A PATCH body must be a PatchOp message with 'Operations'")
    return list(body["Operations"])
