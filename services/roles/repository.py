"""PostgreSQL reads and writes of the roles service. Every function runs on the connection
(and so inside the transaction) it is given.

Membership and activity are read from the directory's tables, the source of truth; the
service's own state is `user_access` (effective groups and roles per user).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from uuid import UUID

import orjson

from dsync.db import DbConnection
from dsync_services.roles.effective_roles import Access

_USERS_UNDER = """
WITH RECURSIVE g(id) AS (
    SELECT unnest($2::uuid[])
  UNION
    SELECT m.member_id FROM directory_memberships m JOIN g ON m.group_id = g.id
     WHERE m.tenant_id = $1 AND m.member_type = 'Group'
)
SELECT DISTINCT m.member_id FROM directory_memberships m JOIN g ON m.group_id = g.id
 WHERE m.tenant_id = $1 AND m.member_type = 'User'
"""

_ANCESTOR_EDGES = """
WITH RECURSIVE up(child, parent) AS (
    SELECT member_id, group_id FROM directory_memberships
     WHERE tenant_id = $1 AND member_type = 'Group' AND member_id = ANY($2::uuid[])
  UNION
    SELECT m.member_id, m.group_id FROM directory_memberships m JOIN up ON m.member_id = up.parent
     WHERE m.tenant_id = $1 AND m.member_type = 'Group'
)
SELECT child, parent FROM up
"""


async def lock_tenant(conn: DbConnection, tenant_id: UUID) -> None:
    """Serialise recomputations of one tenant until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       f"dsync-access:{tenant_id}")


async def users_under(conn: DbConnection, tenant_id: UUID,
                      groups: Iterable[UUID]) -> set[UUID]:
    """Users that are members of `groups` now, directly or through nested groups."""
    rows = await conn.fetch(_USERS_UNDER, tenant_id, list(groups))
    return {r["member_id"] for r in rows}


async def users_holding(conn: DbConnection, tenant_id: UUID,
                        groups: Iterable[UUID]) -> set[UUID]:
    """Users that held any of `groups` at their last recomputation."""
    rows = await conn.fetch("SELECT user_id FROM user_access WHERE tenant_id = $1"
                            " AND groups && $2::uuid[]", tenant_id, list(groups))
    return {r["user_id"] for r in rows}


async def direct_groups(conn: DbConnection, tenant_id: UUID,
                        users: list[UUID]) -> dict[UUID, set[UUID]]:
    rows = await conn.fetch("SELECT member_id, group_id FROM directory_memberships"
                            " WHERE tenant_id = $1 AND member_type = 'User'"
                            " AND member_id = ANY($2::uuid[])",
                            tenant_id, users)
    out: dict[UUID, set[UUID]] = defaultdict(set)
    for r in rows:
        out[r["member_id"]].add(r["group_id"])
    return out


async def ancestor_edges(conn: DbConnection, tenant_id: UUID,
                         groups: Iterable[UUID]) -> dict[UUID, set[UUID]]:
    """child -> parents, for every nesting edge above `groups` (cycle-safe)."""
    rows = await conn.fetch(_ANCESTOR_EDGES, tenant_id, list(groups))
    out: dict[UUID, set[UUID]] = defaultdict(set)
    for r in rows:
        out[r["child"]].add(r["parent"])
    return out


async def mappings(conn: DbConnection, tenant_id: UUID,
                   groups: Iterable[UUID]) -> dict[UUID, list[str]]:
    rows = await conn.fetch("SELECT group_id, roles FROM group_roles WHERE tenant_id = $1"
                            " AND group_id = ANY($2::uuid[])", tenant_id, list(groups))
    return {r["group_id"]: list(r["roles"]) for r in rows}


async def activity(conn: DbConnection, tenant_id: UUID,
                   users: list[UUID]) -> dict[UUID, bool]:
    """`users.active` of those of `users` that exist."""
    rows = await conn.fetch("SELECT id, active FROM directory_users WHERE tenant_id = $1"
                            " AND id = ANY($2::uuid[])", tenant_id, users)
    return {r["id"]: r["active"] for r in rows}


async def stored_access(conn: DbConnection, tenant_id: UUID,
                        users: list[UUID]) -> dict[UUID, Access[UUID]]:
    rows = await conn.fetch("SELECT user_id, groups, roles FROM user_access WHERE tenant_id = $1"
                            " AND user_id = ANY($2::uuid[])", tenant_id, users)
    return {r["user_id"]: Access(tuple(r["groups"]), tuple(r["roles"])) for r in rows}


_SAVE_ACCESS = """
INSERT INTO user_access (tenant_id, user_id, groups, roles)
SELECT $1, u, ARRAY(SELECT jsonb_array_elements_text(g::jsonb))::uuid[],
       ARRAY(SELECT jsonb_array_elements_text(r::jsonb))
  FROM unnest($2::uuid[], $3::text[], $4::text[]) AS x(u, g, r)
    ON CONFLICT (tenant_id, user_id) DO UPDATE SET groups = EXCLUDED.groups,
       roles = EXCLUDED.roles, updated_at = now()
"""


async def save_access(conn: DbConnection, tenant_id: UUID,
                      changed: dict[UUID, Access[UUID]]) -> None:
    """Upsert the users' effective access in one statement (a group PATCH of 100 members
    changes 100 users: one statement instead of 100 cut the roles service's CPU per
    member; the variable-length arrays travel as JSON text)."""
    if not changed:
        return
    users = list(changed)
    await conn.execute(_SAVE_ACCESS, tenant_id, users,
                       [orjson.dumps([str(g) for g in changed[u].groups]).decode()
                        for u in users],
                       [orjson.dumps(list(changed[u].roles)).decode() for u in users])


async def forget_user(conn: DbConnection, tenant_id: UUID, user_id: UUID) -> None:
    await conn.execute("DELETE FROM user_access WHERE tenant_id = $1 AND user_id = $2",
                       tenant_id, user_id)


async def drop_mapping(conn: DbConnection, tenant_id: UUID, group_id: UUID) -> None:
    await conn.execute("DELETE FROM group_roles WHERE tenant_id = $1 AND group_id = $2",
                       tenant_id, group_id)
