"""load -> compute (pure) -> persist state, and say which `access.roles_changed` events to
emit, in the caller's transaction.

Recomputations of one tenant are serialised by a transaction-scoped advisory lock, so the
`before` of each `access.roles_changed` is the `after` of the previous one for that user.
"""
from __future__ import annotations

from uuid import UUID

from dsync.db import DbConnection
from dsync.messages.events import DraftEvent
from dsync_services.roles import repository as repo
from dsync_services.roles.effective_roles import (
    Access,
    RolesChange,
    effective_access,
    roles_changes,
)
from dsync_services.roles.targets import Targets


async def _affected(conn: DbConnection, tenant_id: UUID, targets: Targets) -> list[UUID]:
    users = set(targets.users)
    if targets.groups:
        users |= await repo.users_under(conn, tenant_id, targets.groups)
        users |= await repo.users_holding(conn, tenant_id, targets.groups)
    return sorted(users, key=str)


async def compute(conn: DbConnection, tenant_id: UUID,
                  users: list[UUID]) -> dict[UUID, Access[UUID]]:
    """The effective access of `users` from the directory's current state and mappings."""
    active = await repo.activity(conn, tenant_id, users)
    direct = await repo.direct_groups(conn, tenant_id, users)
    all_direct = {g for groups in direct.values() for g in groups}
    parents = await repo.ancestor_edges(conn, tenant_id, all_direct)
    held = all_direct | set(parents) | {p for ps in parents.values() for p in ps}
    mapped = await repo.mappings(conn, tenant_id, held)
    return effective_access(users, direct, parents, mapped, active)


def _event(change: RolesChange[UUID], cause: str) -> DraftEvent:
    return DraftEvent(type="access.roles_changed", subject=str(change.user_id),
                      data={"user_id": str(change.user_id), "before": list(change.before),
                            "after": list(change.after), "cause": cause})


async def recompute(conn: DbConnection, tenant_id: UUID, targets: Targets,
                    emit: list[DraftEvent]) -> list[RolesChange[UUID]]:
    """Recompute every user `targets` can affect; store what changed and add one
    `access.roles_changed` per user whose roles changed to `emit` (the caller puts them in
    the outbox before commit). Returns those changes."""
    return await recompute_many(conn, tenant_id, [targets], emit)


async def recompute_many(conn: DbConnection, tenant_id: UUID, many: list[Targets],
                         emit: list[DraftEvent]) -> list[RolesChange[UUID]]:
    """`recompute` for several targets at once (the events of a batch): one pass over
    their union. Recomputation reads the current state, so one pass gives what passes in
    turn would: the first would reach the final state and the others change nothing. A
    change's `cause` is that of the last targets naming the user, else of the last ones."""
    many = [t for t in many if not t.empty]
    if not many:
        return []
    await repo.lock_tenant(conn, tenant_id)
    for group_id in dict.fromkeys(t.drop_mapping for t in many if t.drop_mapping is not None):
        await repo.drop_mapping(conn, tenant_id, group_id)
    union = Targets(users=frozenset().union(*(t.users for t in many)),
                    groups=frozenset().union(*(t.groups for t in many)))
    users = await _affected(conn, tenant_id, union)
    if not users:
        return []
    forget = {t.forget_user for t in many if t.forget_user is not None}
    before = await repo.stored_access(conn, tenant_id, users)
    after = await compute(conn, tenant_id, users)
    changed = {u: a for u, a in after.items()
               if before.get(u, Access()) != a and u not in forget}
    await repo.save_access(conn, tenant_id, changed)
    for user_id in sorted(forget, key=str):
        await repo.forget_user(conn, tenant_id, user_id)
    cause = {u: t.cause for t in many for u in t.users}
    changes = roles_changes(before, after)
    emit.extend(_event(c, cause.get(c.user_id, many[-1].cause)) for c in changes)
    return changes
