"""Effective roles, as a pure function of the membership graph and the role mappings.

A user holds a group when it is a direct member of it or of any group nested in it,
at any depth. Its effective roles are the union of the roles mapped to every group it
holds — and none at all while the user is inactive or gone. Cycles in the group graph
(A in B in A) are allowed by SCIM and terminate here: each group is visited once.

Nothing in this module performs I/O; ids are any hashable values (UUIDs in production).
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

G = TypeVar("G", bound=Hashable)
U = TypeVar("U", bound=Hashable)


@dataclass(frozen=True)
class Access(Generic[G]):
    """What one user holds: its groups (direct and inherited) and its roles, both sorted."""

    groups: tuple[G, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class RolesChange(Generic[U]):
    """A user's effective roles before and after one recomputation (never equal)."""

    user_id: U
    before: tuple[str, ...]
    after: tuple[str, ...]


def closure(start: Iterable[G], parents: Mapping[G, Iterable[G]]) -> frozenset[G]:
    """`start` and every group reachable from it through `parents` (child -> parents).

    Cycle-safe: a group already seen is not expanded again.
    """
    seen: set[G] = set()
    todo = list(start)
    while todo:
        group = todo.pop()
        if group in seen:
            continue
        seen.add(group)
        todo.extend(p for p in parents.get(group, ()) if p not in seen)
    return frozenset(seen)


def _sorted(values: Iterable[G]) -> tuple[G, ...]:
    return tuple(sorted(values, key=str))


def access_of(direct: Iterable[G], parents: Mapping[G, Iterable[G]],
              mappings: Mapping[G, Iterable[str]], *, active: bool) -> Access[G]:
    """The access of one user whose direct groups are `direct`.

    `groups` lists every group held, even while inactive (membership is still true);
    `roles` is empty while inactive.
    """
    held = closure(direct, parents)
    roles: set[str] = set()
    if active:
        for group in held:
            roles.update(mappings.get(group, ()))
    return Access(groups=_sorted(held), roles=tuple(sorted(roles)))


def effective_access(users: Iterable[U], direct: Mapping[U, Iterable[G]],
                     parents: Mapping[G, Iterable[G]], mappings: Mapping[G, Iterable[str]],
                     active: Mapping[U, bool]) -> dict[U, Access[G]]:
    """The access of each of `users`. A user missing from `active` no longer exists:
    it holds nothing."""
    out: dict[U, Access[G]] = {}
    for user in users:
        if user not in active:
            out[user] = Access()
        else:
            out[user] = access_of(direct.get(user, ()), parents, mappings, active=active[user])
    return out


def roles_changes(before: Mapping[U, Access[G]],
                  after: Mapping[U, Access[G]]) -> list[RolesChange[U]]:
    """One change per user whose roles differ, sorted by user id (a stable event order)."""
    changes = []
    for user in sorted(after, key=str):
        old = before.get(user)
        old_roles = old.roles if old is not None else ()
        if old_roles != after[user].roles:
            changes.append(RolesChange(user, old_roles, after[user].roles))
    return changes


def normalise_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """A mapping's roles as stored: stripped, deduplicated, sorted, empty strings dropped."""
    return tuple(sorted({r.strip() for r in roles if r.strip()}))
