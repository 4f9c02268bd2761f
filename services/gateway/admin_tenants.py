"""Admin API: tenants and their SCIM tokens (README, "Calling it").

A token is shown once, in the answer that creates it; only its hash is stored. Revoking a
token notifies every gateway, which drops it from its cache before the answer goes out.
The plain functions (`create_tenant_record`, `tenants`, `tenant`, `add_token`,
`revoke_scim_token`, `token_rows`) are what both the JSON handlers and the console call.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync.pipeline import channels
from dsync.tokens import new_token, token_hash

TOKEN_PREFIX = "dsync_scim_"  # noqa: S105 - a prefix, not a secret
MAX_NAME = 200


def _tenant_json(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "name": row["name"], "created_at": iso(row["created_at"])}


def valid_name(name: object) -> str:
    """The stripped tenant name; AdminError 400 when it is not a non-empty string ≤ 200."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise AdminError(400, "invalid_value", "'name' must be a non-empty string (≤ 200 chars)")
    return name.strip()


async def create_tenant_record(pool: asyncpg.Pool, name: object) -> dict[str, Any]:
    """Create a tenant and its first token: the tenant's JSON plus `scim_token` (the only
    time it is shown) and `scim_token_id`."""
    clean = valid_name(name)
    tenant_id, token_id, token = uuid.uuid4(), uuid.uuid4(), new_token(TOKEN_PREFIX)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("INSERT INTO tenants (id, name) VALUES ($1, $2)"
                                  " RETURNING id, name, created_at", tenant_id, clean)
        await conn.execute("INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES"
                           " ($1, $2, $3)", token_id, tenant_id, token_hash(token))
    return {**_tenant_json(row), "scim_token": token, "scim_token_id": str(token_id)}


async def tenants(pool: asyncpg.Pool, search: str = "", limit: int | None = None
                  ) -> list[dict[str, Any]]:
    """Tenants oldest first; `search` keeps those whose name contains it (any case) or whose
    id starts with it."""
    rows = await pool.fetch(
        "SELECT id, name, created_at FROM tenants WHERE $1 = '' OR name ILIKE '%' ||"
        " replace(replace(replace($1, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"
        " OR id::text LIKE lower($1) || '%' ORDER BY created_at, id LIMIT $2",
        search, limit)
    return [_tenant_json(r) for r in rows]


async def tenant(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's JSON; AdminError 404 when there is none."""
    row = await pool.fetchrow("SELECT id, name, created_at FROM tenants WHERE id = $1",
                              tenant_id)
    if row is None:
        raise AdminError(404, "not_found", f"Tenant {tenant_id} not found")
    return _tenant_json(row)


async def add_token(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> dict[str, str]:
    """A new SCIM token for an existing tenant: `{"id", "scim_token"}` (shown only here)."""
    await tenant(pool, tenant_id)
    token_id, token = uuid.uuid4(), new_token(TOKEN_PREFIX)
    await pool.execute("INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES ($1, $2, $3)",
                       token_id, tenant_id, token_hash(token))
    return {"id": str(token_id), "scim_token": token}


async def revoke_scim_token(app: Mapping[Any, Any], tenant_id: uuid.UUID,
                            token_id: uuid.UUID) -> None:
    """Revoke a token (idempotent); every gateway forgets it before this returns here.
    AdminError 404 for an unknown tenant or token."""
    await tenant(app["pool"], tenant_id)
    async with app["pool"].acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, now())"
            " WHERE id = $1 AND tenant_id = $2 RETURNING id", token_id, tenant_id)
        if found is None:
            raise AdminError(404, "not_found", f"Token {token_id} not found")
        await conn.execute("SELECT pg_notify($1, $2)", channels.TOKENS, str(token_id))
    app["auth"].forget_token(token_id)


async def token_rows(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    """A tenant's tokens (never their values), newest first, with their last use if any."""
    return await pool.fetch(
        "SELECT t.id, t.created_at, t.revoked_at, u.last_used_at, u.last_status"
        " FROM scim_tokens t LEFT JOIN scim_token_usage u ON u.token_id = t.id"
        " WHERE t.tenant_id = $1 ORDER BY t.created_at DESC, t.id", tenant_id)


async def create_tenant(request: web.Request) -> web.Response:
    body = await json_body(request)
    return web.json_response(await create_tenant_record(request.app["pool"], body.get("name")),
                             status=201)


async def list_tenants(request: web.Request) -> web.Response:
    return web.json_response({"tenants": await tenants(request.app["pool"])})


async def get_tenant(request: web.Request) -> web.Response:
    return web.json_response(await tenant(request.app["pool"],
                                          path_uuid(request, "tid", "Tenant")))


async def create_token(request: web.Request) -> web.Response:
    answer = await add_token(request.app["pool"], path_uuid(request, "tid", "Tenant"))
    return web.json_response(answer, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    tid = path_uuid(request, "tid", "Tenant")
    await revoke_scim_token(request.app, tid, path_uuid(request, "token_id", "Token"))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/v1/tenants", create_tenant)
    app.router.add_get("/admin/v1/tenants", list_tenants)
    app.router.add_get("/admin/v1/tenants/{tid}", get_tenant)
    app.router.add_post("/admin/v1/tenants/{tid}/tokens", create_token)
    app.router.add_delete("/admin/v1/tenants/{tid}/tokens/{token_id}", revoke_token)
