"""PATCH operations on Group `members`: they never touch the stored document, they fold
into one `MembersDelta` that the repository applies to the membership table.

Shapes handled (RFC 7644 §3.5.2 and captured IdP requests):
- `add members [..]` (Okta, Entra; JumpCloud repeats adds: duplicates are dropped here and
  the repository inserts with ON CONFLICT DO NOTHING);
- `replace members [..]` (Okta "push group": the full member list);
- `remove members` without value: every member goes (RFC 7644 §3.5.2.2);
- `remove members[value eq "id"]`, also `or` chains of `value eq` (Okta, Entra with
  `aadOptscim062020`);
- `remove members` *with* a value list `[{"value": "id"}]` (Entra without the flag):
  only those members go, never all of them.
O(n) in the number of members named: a 1,000-member add is one dict pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsync.scim.errors import InvalidFilter, InvalidPath, Mutability
from dsync.scim.resources.members import MemberRef, parse_members
from dsync.scim.resources.valuefilter import Compare, Node, Or


@dataclass(frozen=True)
class MembersDelta:
    """The net change to a group's members asked by one PATCH request.

    Apply in this order: if `replace` is not None the members become exactly `replace`
    (and the other fields are empty); otherwise delete all members when `remove_all`,
    then delete the ids in `remove`, then insert `add` (ignoring ids already members).
    `add` and `remove` never share an id; `add` has no duplicates and keeps request order.
    """

    add: list[MemberRef] = field(default_factory=list)
    remove: frozenset[str] = frozenset()
    replace: list[MemberRef] | None = None
    remove_all: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.remove or self.remove_all or self.replace is not None)


class MembersDeltaBuilder:
    """Folds members operations, in request order, into one MembersDelta."""

    def __init__(self) -> None:
        self._add: dict[str, MemberRef] = {}
        self._remove: set[str] = set()
        self._replace: dict[str, MemberRef] | None = None
        self._remove_all = False

    def add(self, refs: list[MemberRef]) -> None:
        target = self._replace if self._replace is not None else self._add
        for ref in refs:
            target.setdefault(ref.value, ref)
            self._remove.discard(ref.value)

    def replace(self, refs: list[MemberRef]) -> None:
        self._replace = {ref.value: ref for ref in refs}
        self._add.clear()
        self._remove.clear()
        self._remove_all = False

    def remove_all(self) -> None:
        if self._replace is not None:
            self._replace.clear()
            return
        self._remove_all = True
        self._add.clear()
        self._remove.clear()

    def remove(self, ids: set[str]) -> None:
        if self._replace is not None:
            for member_id in ids:
                self._replace.pop(member_id, None)
            return
        for member_id in ids:
            self._add.pop(member_id, None)
        if not self._remove_all:
            self._remove.update(ids)

    def build(self) -> MembersDelta:
        if self._replace is not None:
            return MembersDelta(replace=list(self._replace.values()))
        return MembersDelta(list(self._add.values()), frozenset(self._remove), None,
                            self._remove_all)


def member_ids(node: Node) -> set[str]:
    """Ids selected by `value eq "id"` or an `or` chain of them. Raises InvalidFilter for
    any other filter (members are not in memory, so only selection by id is supported)."""
    items = node.items if isinstance(node, Or) else (node,)
    ids: set[str] = set()
    for item in items:
        if not (isinstance(item, Compare) and item.attr == "value" and item.op == "eq"
                and isinstance(item.value, str)):
            raise InvalidFilter('a members filter must be value eq "<id>" terms joined by or')
        ids.add(item.value.strip())
    return ids


def apply_members_op(builder: MembersDeltaBuilder, op: str, value: Any,
                     node: Node | None, sub: str | None) -> None:
    """Fold one `add`/`replace`/`remove` on `members` (filter already bound) into `builder`.

    Raises Mutability (a member's sub-attribute is targeted: value/$ref/type are
    immutable, display readOnly), InvalidPath (a filter on add/replace), InvalidFilter,
    InvalidValue (malformed member objects).
    """
    if sub is not None:
        raise Mutability(f"'members.{sub}' cannot be modified; add or remove the member")
    if node is not None:
        if op != "remove":
            raise InvalidPath("a filter on 'members' is only supported in a remove")
        builder.remove(member_ids(node))
    elif op == "add":
        builder.add(parse_members(value))
    elif op == "replace":
        builder.replace(parse_members(value))
    elif value is None:
        builder.remove_all()
    else:
        builder.remove({ref.value for ref in parse_members(value)})
