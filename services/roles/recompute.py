"""load -> compute (pure) -> persist state, and say which `access.roles_changed` events to
emit, in the caller's transaction.

Recomputations of one tenant are serialised by a transaction-scoped advisory lock, so the
`before` of each `access.roles_changed` is the `after` of the previous one for that user.
"""
from __future__ import annotations

from uuid import UUID

import asyncpg

from dsync.messages.events import DraftEvent
from dsync_services.roles import repository as repo
from dsync_services.roles.effective_roles import (
    Access,
    RolesChange,
    effective_access,
    roles_changes,
)
from dsync_services.roles.targets import Targets


async def _affected(conn: asyncpg.Connection, tenant_id: UUID, targets: Targets) -> list[UUID]:
    users = set(targets.users)
    if targets.groups:
        users |= await repo.users_under(conn, tenant_id, targets.groups)
        users |= await repo.users_holding(conn, tenant_id, targets.groups)
    return sorted(users, key=str)


async def compute(conn: asyncpg.Connection, tenant_id: UUID,
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


async def recompute(conn: asyncpg.Connection, tenant_id: UUID, targets: Targets,
                    emit: list[DraftEvent]) -> list[RolesChange[UUID]]:
    """Recompute every user `targets` can affect; store what changed and add one
    `access.roles_changed` per user whose roles changed to `emit` (the caller puts them in
    the outbox before commit). Returns those changes."""
    if targets.empty:
        return []
    await repo.lock_tenant(conn, tenant_id)
    if targets.drop_mapping is not None:
        await repo.drop_mapping(conn, tenant_id, targets.drop_mapping)
    users = await _affected(conn, tenant_id, targets)
    if not users:
        return []
    before = await repo.stored_access(conn, tenant_id, users)
    after = await compute(conn, tenant_id, users)
    changed = {u: a for u, a in after.items() if before.get(u, Access()) != a}
    if targets.forget_user is not None:
        changed.pop(targets.forget_user, None)
    await repo.save_access(conn, tenant_id, changed)
    if targets.forget_user is not None:
        await repo.forget_user(conn, tenant_id, targets.forget_user)
    changes = roles_changes(before, after)
    emit.extend(_event(c, targets.cause) for c in changes)
    return changes
