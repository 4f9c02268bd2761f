"""The roles service's admin API, mounted by the gateway with `setup(app)`: group -> role
mappings and a user's effective access.

A mapping is keyed by SCIM group id (a rename keeps it). PUT stores it together with an
`accepted` `role_recomputation` operation and wakes the roles service; the answer waits
(at most `DSYNC_MAPPING_WAIT_S`) until every user holding the group was recomputed, so a
200 means members hold the roles ("recomputation": "applied"; "pending" after the wait).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from aiohttp import web
from pydantic import Field

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync.db import DbConnection
from dsync.ledger import writes
from dsync.pipeline import channels
from dsync.settings import _Frozen
from dsync_services.roles.effective_roles import normalise_roles

MAX_ROLES, MAX_ROLE_LEN = 100, 200


class RoleMappingSettings(_Frozen):
    """`DSYNC_MAPPING_WAIT_S`: how long a mapping change waits for its recomputation."""

    mapping_wait_s: float = Field(10.0, ge=0)


def _roles(body: dict[str, Any]) -> list[str]:
    roles = body.get("roles")
    if not isinstance(roles, list) or len(roles) > MAX_ROLES or not all(
            isinstance(r, str) and 0 < len(r.strip()) <= MAX_ROLE_LEN for r in roles):
        raise AdminError(400, "invalid_value", f"'roles' must be a list of at most {MAX_ROLES}"
                         f" non-empty strings (≤ {MAX_ROLE_LEN} chars)")
    return list(normalise_roles(roles))


async def _tenant_exists(conn: DbConnection | asyncpg.Pool, tenant_id: UUID) -> UUID:
    if not await conn.fetchval("SELECT true FROM tenants WHERE id = $1", tenant_id):
        raise AdminError(404, "not_found", f"Tenant {tenant_id} not found")
    return tenant_id


async def _tenant(conn: DbConnection | asyncpg.Pool, request: web.Request) -> UUID:
    return await _tenant_exists(conn, path_uuid(request, "tid", "Tenant"))


async def _queue_recomputation(conn: DbConnection, method: str, path: str, op_id: UUID,
                               tenant_id: UUID, group_id: UUID, roles: list[str] | None) -> None:
    await writes.queue_role_recomputation(
        conn, op_id=op_id, tenant_id=tenant_id, method=method, path=path,
        group_id=group_id, command_json=json.dumps({"group_id": str(group_id), "roles": roles}))
    await conn.execute("SELECT pg_notify($1, 'role_recomputation')", channels.ACCESS_WORK)


def parse_roles(value: object) -> list[str]:
    """Normalised roles from a request's `roles`; AdminError 400 when not a list of at most
    100 non-empty strings (≤ 200 chars)."""
    return _roles({"roles": value})


async def change_mapping(app: Mapping[Any, Any], tenant_id: UUID, group_id: UUID,
                         roles: list[str] | None, method: str, path: str) -> tuple[UUID, str]:
    """Store (roles) or delete (None) a group's mapping and wait (at most
    `DSYNC_MAPPING_WAIT_S`) for its recomputation: (operation id, "applied" | "pending").
    AdminError 404 for an unknown tenant or group, or deleting a mapping that is not there.
    What the admin API's PUT/DELETE and the console both call."""
    op_id = uuid4()
    waiter = app["bus"].waiter
    done = waiter.register(op_id)
    try:
        async with app["pool"].acquire() as conn, conn.transaction():
            await _tenant_exists(conn, tenant_id)
            if roles is not None:
                if not await conn.fetchval("SELECT true FROM directory_groups WHERE"
                                           " tenant_id = $1 AND id = $2 FOR SHARE",
                                           tenant_id, group_id):
                    raise AdminError(404, "not_found", f"Group {group_id} not found")
                await conn.execute(
                    "INSERT INTO group_roles (tenant_id, group_id, roles) VALUES ($1, $2, $3)"
                    " ON CONFLICT (tenant_id, group_id) DO UPDATE SET roles = $3,"
                    " updated_at = now()", tenant_id, group_id, roles)
            elif not await conn.fetchval("DELETE FROM group_roles WHERE tenant_id = $1 AND"
                                         " group_id = $2 RETURNING true", tenant_id, group_id):
                raise AdminError(404, "not_found", f"No mapping for group {group_id}")
            await _queue_recomputation(conn, method, path, op_id, tenant_id, group_id, roles)
        try:
            await asyncio.wait_for(asyncio.shield(done), app["role_mapping_settings"]
                                   .mapping_wait_s)
            state = "applied"
        except TimeoutError:
            state = "pending"
    finally:
        waiter.forget(op_id)
    return op_id, state


async def _change_mapping(request: web.Request, roles: list[str] | None) -> tuple[UUID, str]:
    tenant_id = path_uuid(request, "tid", "Tenant")
    group_id = path_uuid(request, "group_id", "Group")
    return await change_mapping(request.app, tenant_id, group_id, roles, request.method,
                                request.path)


async def mapped_roles(pool: asyncpg.Pool, tenant_id: UUID, group_id: UUID) -> list[str]:
    """The roles mapped to a group (empty when it has no mapping)."""
    roles = await pool.fetchval("SELECT roles FROM group_roles WHERE tenant_id = $1"
                                " AND group_id = $2", tenant_id, group_id)
    return list(roles or ())


async def put_group_roles(request: web.Request) -> web.Response:
    roles = _roles(await json_body(request))
    op_id, state = await _change_mapping(request, roles)
    return web.json_response({"group_id": request.match_info["group_id"], "roles": roles,
                              "operation_id": str(op_id), "recomputation": state})


async def delete_group_roles(request: web.Request) -> web.Response:
    await _change_mapping(request, None)
    return web.Response(status=204)


async def list_group_roles(request: web.Request) -> web.Response:
    pool = request.app["pool"]
    tenant_id = await _tenant(pool, request)
    rows = await pool.fetch("SELECT group_id, roles, updated_at FROM group_roles"
                            " WHERE tenant_id = $1 ORDER BY group_id", tenant_id)
    return web.json_response({"mappings": [
        {"group_id": str(r["group_id"]), "roles": list(r["roles"]),
         "updated_at": iso(r["updated_at"])} for r in rows]})


async def get_group_roles(request: web.Request) -> web.Response:
    pool = request.app["pool"]
    tenant_id = await _tenant(pool, request)
    group_id = path_uuid(request, "group_id", "Group")
    row = await pool.fetchrow("SELECT roles, updated_at FROM group_roles WHERE tenant_id = $1"
                              " AND group_id = $2", tenant_id, group_id)
    if row is None:
        raise AdminError(404, "not_found", f"No mapping for group {group_id}")
    return web.json_response({"group_id": str(group_id), "roles": list(row["roles"]),
                              "updated_at": iso(row["updated_at"])})


_ACCESS_SQL = """
SELECT u.active, a.groups, a.roles FROM directory_users u
  LEFT JOIN user_access a ON a.tenant_id = u.tenant_id AND a.user_id = u.id
 WHERE u.tenant_id = $1 AND u.id = $2
"""
_EXISTED_SQL = """
SELECT true FROM operations WHERE tenant_id = $1 AND resource_id = $2
   AND resource_type = 'User' AND status = 'applied' LIMIT 1
"""


async def user_access(pool: asyncpg.Pool, tenant_id: UUID, user_id: UUID) -> dict[str, Any]:
    """`{"user_id", "active", "roles", "groups"}` (+ `"deleted": true`): `active` is the
    directory's `directory_users.active` (in effect from the SCIM answer on); `roles` and
    `groups` are the roles service's state; an inactive or deleted user holds no roles.
    AdminError 404 for an unknown tenant or a never-seen user id."""
    await _tenant_exists(pool, tenant_id)
    row = await pool.fetchrow(_ACCESS_SQL, tenant_id, user_id)
    if row is None:
        if not await pool.fetchval(_EXISTED_SQL, tenant_id, user_id):
            raise AdminError(404, "not_found", f"User {user_id} not found")
        return {"user_id": str(user_id), "active": False, "roles": [], "groups": [],
                "deleted": True}
    active = bool(row["active"])
    return {"user_id": str(user_id), "active": active,
            "roles": sorted(row["roles"] or ()) if active else [],
            "groups": sorted(str(g) for g in (row["groups"] or ()))}


async def get_access(request: web.Request) -> web.Response:
    tenant_id = path_uuid(request, "tid", "Tenant")
    user_id = path_uuid(request, "user_id", "User")
    return web.json_response(await user_access(request.app["pool"], tenant_id, user_id))


def setup(app: web.Application) -> None:
    """Mount the group-role and access routes (admin API) and read their settings."""
    app["role_mapping_settings"] = RoleMappingSettings()
    base = "/admin/v1/tenants/{tid}"
    app.router.add_get(f"{base}/group-roles", list_group_roles)
    app.router.add_put(f"{base}/group-roles/{{group_id}}", put_group_roles)
    app.router.add_get(f"{base}/group-roles/{{group_id}}", get_group_roles)
    app.router.add_delete(f"{base}/group-roles/{{group_id}}", delete_group_roles)
    app.router.add_get(f"{base}/users/{{user_id}}/access", get_access)
