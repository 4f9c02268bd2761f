"""PostgreSQL reads and writes of the directory service. Every function runs on the
connection (and so inside the transaction) it is given."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from dsync.db import DbConnection
from dsync.pipeline import channels
from dsync.pipeline.outbox import append_events
from dsync.scim.errors import Uniqueness
from dsync_services.directory.decisions import (
    MembersChange,
    RemoveResource,
    SaveResource,
    StoredResource,
)

__all__ = ["append_events"]  # the shared outbox writer, used here
_TABLE = {"User": "users", "Group": "groups"}


def outcome_payloads(outcomes: list[tuple[UUID, dict[str, Any] | None]]) -> list[str]:
    """NOTIFY payloads for `dsync_outcomes`: JSON lists of `[operation id, response or
    null]`, packed under PostgreSQL's 8000-byte NOTIFY limit; a response too large to fit
    travels as null and the gateway reads it from the ledger."""
    payloads: list[str] = []
    chunk: list[str] = []
    size = 2
    for op_id, response in outcomes:
        item = dumps([str(op_id), response])
        if len(item) > _NOTIFY_ITEM_MAX:
            item = dumps([str(op_id), None])
        if size + len(item) + 1 > _NOTIFY_MAX and chunk:
            payloads.append("[" + ",".join(chunk) + "]")
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        payloads.append("[" + ",".join(chunk) + "]")
    return payloads


async def notify_outcomes(conn: DbConnection,
                          outcomes: list[tuple[UUID, dict[str, Any] | None]],
                          also: str | None = None) -> None:
    """Wake gateways waiting on these operations (delivered at commit; saves the gateway
    a query per write), and NOTIFY the channel `also` (empty payload) in one statement."""
    payloads = outcome_payloads(outcomes)
    await conn.execute(
        "SELECT count(pg_notify($1, p)), CASE WHEN $2::text IS NOT NULL"
        " THEN pg_notify($2, '') END FROM unnest($3::text[]) AS p",
        channels.OUTCOMES, also, payloads)


_NOTIFY_MAX = 7900
_NOTIFY_ITEM_MAX = 7000


async def check_unique(conn: DbConnection, tenant_id: UUID,
                       writes: tuple[object, ...]) -> None:
    """Raise Uniqueness when a saved user's userName (or group's displayName) is taken by
    another resource of the tenant (case-insensitive). The unique indexes stay the
    last line of defence."""
    for w in writes:
        if not isinstance(w, SaveResource):
            continue
        table, column, attr = (("users", "user_name", "userName") if w.resource_type == "User"
                               else ("groups", "display_name", "displayName"))
        taken = await conn.fetchval(
            f"SELECT 1 FROM {table} WHERE tenant_id = $1 AND lower({column}) = lower($2)"  # noqa: S608
            " AND id <> $3", tenant_id, w.doc[attr], w.id)
        if taken:
            raise Uniqueness(f"{attr} is already taken in this tenant (case-insensitive)")


async def load(conn: DbConnection, resource_type: str, tenant_id: UUID,
               resource_id: UUID) -> StoredResource | None:
    row = await conn.fetchrow(
        f"SELECT id, doc, version, created_at, updated_at FROM {_TABLE[resource_type]}"  # noqa: S608
        " WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant_id, resource_id)
    if row is None:
        return None
    return StoredResource(row["id"], row["doc"], row["version"], row["created_at"],
                          row["updated_at"])


async def groups_of_member(conn: DbConnection, tenant_id: UUID,
                           member_id: UUID) -> list[UUID]:
    rows = await conn.fetch("SELECT group_id FROM group_members WHERE tenant_id = $1"
                            " AND member_id = $2 ORDER BY group_id", tenant_id, member_id)
    return [r["group_id"] for r in rows]


async def save(conn: DbConnection, tenant_id: UUID,
               write: SaveResource | RemoveResource | MembersChange) -> None:
    """Apply one write. Raises asyncpg.UniqueViolationError on a uniqueness conflict."""
    if isinstance(write, SaveResource):
        await _save_resource(conn, tenant_id, write)
    elif isinstance(write, RemoveResource):
        await conn.execute(f"DELETE FROM {_TABLE[write.resource_type]}"  # noqa: S608
                           " WHERE tenant_id = $1 AND id = $2", tenant_id, write.id)
        await conn.execute("DELETE FROM group_members WHERE tenant_id = $1 AND"
                           " (member_id = $2 OR group_id = $2)", tenant_id, write.id)
    else:
        await _change_members(conn, tenant_id, write)


async def _change_members(conn: DbConnection, tenant_id: UUID, c: MembersChange) -> None:
    if c.remove:
        await conn.execute("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2"
                           " AND member_id = ANY($3::uuid[])", tenant_id, c.group_id,
                           list(c.remove))
    if c.add:
        await conn.execute(
            "INSERT INTO group_members (tenant_id, group_id, member_id, member_type)"
            " SELECT $1, $2, m, t FROM unnest($3::uuid[], $4::text[]) AS x(m, t)"
            " ON CONFLICT DO NOTHING", tenant_id, c.group_id,
            [m for m, _ in c.add], [t for _, t in c.add])


async def kinds_of(conn: DbConnection, tenant_id: UUID, ids: list[UUID]) -> dict[str, str]:
    """id -> "User" | "Group" for the ids that exist in the tenant."""
    rows = await conn.fetch(
        "SELECT id, 'User' AS kind FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])"
        " UNION ALL SELECT id, 'Group' FROM groups WHERE tenant_id = $1"
        " AND id = ANY($2::uuid[])", tenant_id, ids)
    return {str(r["id"]): r["kind"] for r in rows}


async def members_of(conn: DbConnection, tenant_id: UUID, group_id: UUID,
                     among: list[UUID] | None) -> dict[str, str]:
    """Current members of a group (all, or only those among `among`): id -> type."""
    if among is None:
        rows = await conn.fetch("SELECT member_id, member_type FROM group_members"
                                " WHERE tenant_id = $1 AND group_id = $2", tenant_id, group_id)
    else:
        rows = await conn.fetch("SELECT member_id, member_type FROM group_members"
                                " WHERE tenant_id = $1 AND group_id = $2"
                                " AND member_id = ANY($3::uuid[])", tenant_id, group_id, among)
    return {str(r["member_id"]): r["member_type"] for r in rows}


async def _save_resource(conn: DbConnection, tenant_id: UUID, w: SaveResource) -> None:
    doc = w.doc
    if w.resource_type == "User":
        await conn.execute(
            "INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name,"
            " doc, version, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
            " ON CONFLICT (tenant_id, id) DO UPDATE SET user_name = $3, external_id = $4,"
            " active = $5, display_name = $6, doc = $7, version = $8, updated_at = $10",
            tenant_id, w.id, doc["userName"], doc.get("externalId"),
            doc.get("active", True) is not False, doc.get("displayName"), doc, w.version,
            w.created_at, w.updated_at)
    else:
        await conn.execute(
            "INSERT INTO groups (tenant_id, id, display_name, external_id, doc, version,"
            " created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
            " ON CONFLICT (tenant_id, id) DO UPDATE SET display_name = $3, external_id = $4,"
            " doc = $5, version = $6, updated_at = $8",
            tenant_id, w.id, doc["displayName"], doc.get("externalId"), doc, w.version,
            w.created_at, w.updated_at)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
