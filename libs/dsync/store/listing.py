"""Tenant-scoped listing of users and groups with filters pushed down to SQL.

The page query is index-backed for the common IdP probes (`userName eq`, `externalId eq`,
`displayName eq`); `totalResults` comes from a separate count over the same predicate.
Groups of the page's users, and members of the page's groups, are fetched in one query
each (never one per row).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.scim.filter import compile_filter, compile_sort
from dsync.scim.render import group_resource, user_resource
from dsync.store.reads import MEMBERS_SQL, member_json

_TABLE = {"User": "users", "Group": "groups"}


@dataclass(frozen=True)
class Page:
    total: int
    resources: list[dict[str, Any]]


async def list_resources(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                         resource_type: str, *, filter_text: str | None, sort_by: str | None,
                         sort_order: str | None, offset: int, limit: int,
                         with_related: bool, count_total: bool = True,
                         member_budget: int | None = None) -> Page:
    """One page of resources. Raises InvalidFilter / InvalidValue for bad parameters.

    With `member_budget`, a page of groups rendered with their members stops early (after
    at least one group) once the members of its groups would exceed the budget: fewer
    `Resources` than `count` (RFC 7644 §3.4.2.4 allows it), the client pages on."""
    where, params = "r.tenant_id = $1", [tenant_id]
    if filter_text:
        fragment = compile_filter(filter_text, resource_type, first_param=2)  # type: ignore[arg-type]
        where += f" AND ({fragment.sql})"
        params += fragment.params
    order = compile_sort(sort_by, sort_order, resource_type)  # type: ignore[arg-type]
    table = _TABLE[resource_type]
    n = len(params)
    rows = await conn.fetch(
        f"SELECT r.id, r.doc, r.version, r.created_at, r.updated_at FROM {table} r"  # noqa: S608
        f" WHERE {where} ORDER BY {order} OFFSET ${n + 1} LIMIT ${n + 2}",
        *params, offset, limit)
    total = len(rows) + offset
    if count_total and (len(rows) == limit or offset > 0):
        total = int(await conn.fetchval(
            f"SELECT count(*) FROM {table} r WHERE {where}", *params))  # noqa: S608
    if resource_type == "Group" and with_related and member_budget is not None and rows:
        rows = rows[:await _groups_within(conn, tenant_id, [r["id"] for r in rows],
                                          member_budget)]
    ids = [r["id"] for r in rows]
    if resource_type == "User":
        groups = await groups_of_users(conn, tenant_id, ids) if with_related and ids else {}
        resources = [user_resource(r["id"], r["doc"], r["version"], r["created_at"],
                                   r["updated_at"], groups.get(r["id"], [])) for r in rows]
    else:
        members = await members_of_groups(conn, tenant_id, ids) if with_related and ids \
            else None
        resources = [group_resource(r["id"], r["doc"], r["version"], r["created_at"],
                                    r["updated_at"],
                                    (members or {}).get(r["id"], []) if with_related else None)
                     for r in rows]
    return Page(total, resources)


async def groups_of_users(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                          user_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    rows = await conn.fetch(
        """
        WITH RECURSIVE up(user_id, group_id, depth) AS (
            SELECT gm.member_id, gm.group_id, 1 FROM group_members gm
             WHERE gm.tenant_id = $1 AND gm.member_id = ANY($2::uuid[])
            UNION
            SELECT up.user_id, gm.group_id, up.depth + 1 FROM group_members gm JOIN up
                ON gm.tenant_id = $1 AND gm.member_id = up.group_id WHERE up.depth < 32
        )
        SELECT up.user_id, g.id, g.display_name, min(up.depth) AS depth
          FROM up JOIN groups g ON g.tenant_id = $1 AND g.id = up.group_id
         GROUP BY up.user_id, g.id, g.display_name
         ORDER BY up.user_id, min(up.depth), g.display_name
        """, tenant_id, user_ids)
    out: dict[UUID, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append(
            {"value": str(r["id"]), "$ref": f"../Groups/{r['id']}",
             "display": r["display_name"],
             "type": "direct" if r["depth"] == 1 else "indirect"})
    return out


async def _groups_within(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                         group_ids: list[UUID], budget: int) -> int:
    """How many of `group_ids` (in order, at least one) fit `budget` members together."""
    rows = await conn.fetch(
        "SELECT group_id, count(*) AS n FROM group_members WHERE tenant_id = $1"
        " AND group_id = ANY($2::uuid[]) GROUP BY group_id", tenant_id, group_ids)
    counts: dict[UUID, int] = {r["group_id"]: int(r["n"]) for r in rows}
    used = 0
    for kept, gid in enumerate(group_ids):
        used += counts.get(gid, 0)
        if used > budget and kept > 0:
            return kept
    return len(group_ids)


async def members_of_groups(conn: DbConnection | asyncpg.Pool, tenant_id: UUID,
                            group_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    rows = await conn.fetch(MEMBERS_SQL + " WHERE gm.tenant_id = $1 AND"
                            " gm.group_id = ANY($2::uuid[]) ORDER BY gm.group_id, gm.member_id",
                            tenant_id, group_ids)
    out: dict[UUID, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["group_id"], []).append(member_json(r))
    return out
