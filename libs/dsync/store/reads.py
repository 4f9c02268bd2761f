"""Tenant-scoped reads of users and groups. Every query is filtered by the tenant id that
authentication decided; nothing else routes a read."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.scim.render import group_resource, user_resource


async def user_groups(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                      user_id: UUID) -> list[dict[str, Any]]:
    """The read-only `groups` of a user: direct memberships, then indirect (nested) ones."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE up(group_id, depth) AS (
            SELECT gm.group_id, 1 FROM group_members gm
             WHERE gm.tenant_id = $1 AND gm.member_id = $2
            UNION
            SELECT gm.group_id, up.depth + 1 FROM group_members gm JOIN up
                ON gm.tenant_id = $1 AND gm.member_id = up.group_id
             WHERE up.depth < 32
        )
        SELECT g.id, g.display_name, min(up.depth) AS depth
          FROM up JOIN groups g ON g.tenant_id = $1 AND g.id = up.group_id
         GROUP BY g.id, g.display_name ORDER BY min(up.depth), g.display_name, g.id
        """, tenant_id, user_id)
    return [{"value": str(r["id"]), "$ref": f"../Groups/{r['id']}",
             "display": r["display_name"],
             "type": "direct" if r["depth"] == 1 else "indirect"} for r in rows]


async def get_user(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                   user_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, doc, version, created_at, updated_at FROM users"
        " WHERE tenant_id = $1 AND id = $2", tenant_id, user_id)
    if row is None:
        return None
    groups = await user_groups(conn, tenant_id, user_id)
    return user_resource(row["id"], row["doc"], row["version"], row["created_at"],
                         row["updated_at"], groups)


MEMBERS_SQL = """
SELECT gm.group_id, gm.member_id, gm.member_type,
       CASE WHEN gm.member_type = 'User'
            THEN (SELECT COALESCE(u.display_name, u.user_name) FROM users u
                   WHERE u.tenant_id = gm.tenant_id AND u.id = gm.member_id)
            ELSE (SELECT g.display_name FROM groups g
                   WHERE g.tenant_id = gm.tenant_id AND g.id = gm.member_id) END AS display
  FROM group_members gm
"""
"""Members with their display names; scalar subqueries keep it to primary-key lookups
(a join let the planner hash the whole tenant's users for every page)."""


def member_json(row: Any) -> dict[str, Any]:
    """A `members` value; `$ref` is relative (`with_location` makes it absolute)."""
    member: dict[str, Any] = {"value": str(row["member_id"]),
                              "$ref": f"../{row['member_type']}s/{row['member_id']}",
                              "type": row["member_type"]}
    if row["display"] is not None:
        member["display"] = row["display"]
    return member


async def group_members(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                        group_id: UUID, *, limit: int | None = None,
                        after: UUID | None = None) -> list[dict[str, Any]]:
    """Members in id order; `after` + `limit` page through a large group (keyset)."""
    rows = await conn.fetch(
        MEMBERS_SQL + " WHERE gm.tenant_id = $1 AND gm.group_id = $2 AND gm.member_id > $3"
        " ORDER BY gm.member_id LIMIT $4", tenant_id, group_id, after or UUID(int=0), limit)
    return [member_json(r) for r in rows]


async def get_group(conn: DbConnection | asyncpg.Pool, tenant_id: UUID, group_id: UUID,
                    *, with_members: bool = True) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, doc, version, created_at, updated_at FROM groups"
        " WHERE tenant_id = $1 AND id = $2", tenant_id, group_id)
    if row is None:
        return None
    members = await group_members(conn, tenant_id, group_id) if with_members else None
    return group_resource(row["id"], row["doc"], row["version"], row["created_at"],
                          row["updated_at"], members)
