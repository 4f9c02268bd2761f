"""Facade over the SCIM resource rules (dialects, validation, PATCH engine) used by the
gateway (early checks) and the directory (decisions). Implementation: `dsync.scim.resources`.
"""
from __future__ import annotations

from typing import Any

from dsync.scim.errors import InvalidSyntax
from dsync.scim.resources import (
    MemberRef,
    MembersDelta,
    PatchOp,
    PatchResult,
    apply_patch,
    diff_previous,
    normalize_patch,
    normalize_resource,
    patch_ops_from_dicts,
)
from dsync.scim.resources import validate_resource as _validate
from dsync.scim.resources.catalog import any_top_attr


def normalize_and_validate(body: Any, resource_type: str, *,
                           existing: dict[str, Any] | None
                           ) -> tuple[dict[str, Any], list[MemberRef] | None]:
    """Normalise IdP dialects, then validate. Returns (doc to store, group members or None).
    Raises ScimError."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object")
    return _validate(normalize_resource(body, resource_type), resource_type, existing=existing)


def command_resource(body: Any, resource_type: str) -> dict[str, Any]:
    """What a POST/PUT puts on Kafka: the validated doc (no password, no read-only
    attributes), plus `members` for groups. Raises ScimError."""
    doc, members = normalize_and_validate(body, resource_type, existing=None)
    if members is not None:
        doc = {**doc, "members": [{"value": m.value, "type": m.type} for m in members]}
    return doc


def parse_patch_request(body: Any) -> list[dict[str, Any]]:
    """A PatchOp message as normalised operation dicts (the command's payload).

    Operations on a writeOnly attribute (`password`) are dropped here, as POST and PUT drop
    the attribute: its value never reaches a command, the topic or the ledger."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH body must be a JSON object (a PatchOp message)")
    return [op.as_dict() for op in normalize_patch(body) if not _write_only(op.path)]


def _write_only(path: str | None) -> bool:
    """Whether a (normalised) PATCH path names a writeOnly attribute of any resource type."""
    if path is None:
        return False
    head = path.split("[", 1)[0]
    if head.lower().startswith("urn:"):
        head = head.rsplit(":", 1)[-1]
    attr = any_top_attr(head.split(".", 1)[0])
    return attr is not None and attr.mutability == "writeOnly"


def parse_patch_ops(raw: list[dict[str, Any]]) -> list[PatchOp]:
    return patch_ops_from_dicts(raw)


__all__ = ["MemberRef", "MembersDelta", "PatchOp", "PatchResult", "apply_patch",
           "command_resource", "diff_previous", "parse_patch_ops", "parse_patch_request",
           "normalize_and_validate"]
