"""Group member references: `{value, type?, display?, $ref?}` -> `MemberRef`.

Memberships are rows in their own table (a group can have 100,000 members), so members
never live in the group's stored document; validation and PATCH hand them over as
`MemberRef`s. `display` is readOnly in our catalog and is ignored; `$ref` is only used
to infer `type` when `type` is absent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dsync.scim.errors import InvalidValue
from dsync.scim.resources.values import json_type

MemberType = Literal["User", "Group"]
_TYPES: dict[str, MemberType] = {"user": "User", "group": "Group"}


@dataclass(frozen=True, slots=True)
class MemberRef:
    """One member of a group: the member resource's `id`, and its type when the IdP said."""

    value: str
    type: MemberType | None = None


def parse_member(item: Any, where: str = "members") -> MemberRef:
    """One member object -> MemberRef. Raises InvalidValue naming `where`."""
    if not isinstance(item, dict):
        raise InvalidValue(f"'{where}' must be an object with a 'value', got {json_type(item)}")
    fields = {k.lower(): v for k, v in item.items() if isinstance(k, str)}
    value = fields.get("value")
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"'{where}.value' must be a non-empty string (the member's id)")
    kind = fields.get("type")
    member_type: MemberType | None = None
    if isinstance(kind, str) and kind.strip():
        member_type = _TYPES.get(kind.strip().lower())
        if member_type is None:
            raise InvalidValue(f"'{where}.type' must be 'User' or 'Group', got {kind!r}")
    elif kind is not None:
        raise InvalidValue(f"'{where}.type' must be a string, got {json_type(kind)}")
    else:
        ref = fields.get("$ref")
        if isinstance(ref, str):
            lowered = ref.lower()
            member_type = ("Group" if "/groups/" in lowered
                           else "User" if "/users/" in lowered else None)
    return MemberRef(value.strip(), member_type)


def parse_members(value: Any, where: str = "members") -> list[MemberRef]:
    """An array of member objects (a single object is accepted) -> MemberRefs in order,
    without duplicate ids (the first occurrence wins). O(n). Raises InvalidValue."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    seen: dict[str, MemberRef] = {}
    for index, item in enumerate(items):
        ref = parse_member(item, f"{where}[{index}]")
        seen.setdefault(ref.value, ref)
    return list(seen.values())
