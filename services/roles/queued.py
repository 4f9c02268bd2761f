"""`role_recomputation` operations taken from the ledger queue (see dsync.ledger.worker).

Queued by a mapping change (resource: the Group) or by an operator's retry of a failed
recomputation (resource: the User or the Group). Either way the affected users are
recomputed from the current state, which is what the operation asked for.
"""
from __future__ import annotations

import asyncpg

from dsync.db import DbConnection
from dsync.messages.events import DraftEvent
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.recompute import recompute
from dsync_services.roles.targets import Targets, mapping_targets

KIND = "role_recomputation"


def targets_for(resource_type: str | None, resource_id: object, exists: bool) -> Targets:
    """What a queued operation on `resource_type`/`resource_id` recomputes (pure)."""
    if resource_id is None:
        return Targets()
    if resource_type == "User":
        return Targets(users=frozenset({resource_id}), cause="retry",  # type: ignore[arg-type]
                       forget_user=None if exists else resource_id)  # type: ignore[arg-type]
    return mapping_targets(resource_id)  # type: ignore[arg-type]


def make_perform(metrics: RolesMetrics):  # type: ignore[no-untyped-def]
    async def perform(conn: DbConnection, op: asyncpg.Record,
                      emit: list[DraftEvent]) -> str:
        exists = op["resource_type"] != "User" or bool(await conn.fetchval(
            "SELECT true FROM directory_users WHERE tenant_id = $1 AND id = $2",
            op["tenant_id"], op["resource_id"]))
        targets = targets_for(op["resource_type"], op["resource_id"], exists)
        with metrics.recompute_seconds.labels("queued").time():
            changes = await recompute(conn, op["tenant_id"], targets, emit)
        metrics.roles_changed.labels(targets.cause or "retry").inc(len(changes))
        return f"{len(changes)} users' roles changed"
    return perform
