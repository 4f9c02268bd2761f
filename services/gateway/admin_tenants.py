"""Admin API: tenants and their SCIM tokens (README, "Calling it").

A token is shown once, in the answer that creates it; only its hash is stored. Revoking a
token notifies every gateway, which drops it from its cache before the answer goes out.
"""
from __future__ import annotations

import uuid

from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync.pipeline import channels
from dsync.tokens import new_token, token_hash

TOKEN_PREFIX = "dsync_scim_"


def _tenant_json(row: object) -> dict[str, object]:
    return {"id": str(row["id"]), "name": row["name"], "created_at": iso(row["created_at"])}  # type: ignore[index]


async def create_tenant(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise AdminError(400, "invalid_value", "'name' must be a non-empty string (≤ 200 chars)")
    tenant_id, token_id, token = uuid.uuid4(), uuid.uuid4(), new_token(TOKEN_PREFIX)
    pool = request.app["pool"]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("INSERT INTO tenants (id, name) VALUES ($1, $2)"
                                  " RETURNING id, name, created_at", tenant_id, name.strip())
        await conn.execute("INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES"
                           " ($1, $2, $3)", token_id, tenant_id, token_hash(token))
    request.app["auth"].token_created(token_hash(token))
    return web.json_response({**_tenant_json(row), "scim_token": token,
                              "scim_token_id": str(token_id)}, status=201)


async def list_tenants(request: web.Request) -> web.Response:
    rows = await request.app["pool"].fetch(
        "SELECT id, name, created_at FROM tenants ORDER BY created_at, id")
    return web.json_response({"tenants": [_tenant_json(r) for r in rows]})


async def _tenant_or_404(request: web.Request) -> dict[str, object]:
    tid = path_uuid(request, "tid", "Tenant")
    row = await request.app["pool"].fetchrow(
        "SELECT id, name, created_at FROM tenants WHERE id = $1", tid)
    if row is None:
        raise AdminError(404, "not_found", f"Tenant {tid} not found")
    return _tenant_json(row)


async def get_tenant(request: web.Request) -> web.Response:
    return web.json_response(await _tenant_or_404(request))


async def create_token(request: web.Request) -> web.Response:
    tenant = await _tenant_or_404(request)
    token_id, token = uuid.uuid4(), new_token(TOKEN_PREFIX)
    await request.app["pool"].execute(
        "INSERT INTO scim_tokens (id, tenant_id, token_hash) VALUES ($1, $2, $3)",
        token_id, uuid.UUID(str(tenant["id"])), token_hash(token))
    request.app["auth"].token_created(token_hash(token))
    return web.json_response({"id": str(token_id), "scim_token": token}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    tenant = await _tenant_or_404(request)
    token_id = path_uuid(request, "token_id", "Token")
    async with request.app["pool"].acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, now())"
            " WHERE id = $1 AND tenant_id = $2 RETURNING id", token_id,
            uuid.UUID(str(tenant["id"])))
        if found is None:
            raise AdminError(404, "not_found", f"Token {token_id} not found")
        await conn.execute("SELECT pg_notify($1, $2)", channels.TOKENS, str(token_id))
    request.app["auth"].forget_token(token_id)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/v1/tenants", create_tenant)
    app.router.add_get("/admin/v1/tenants", list_tenants)
    app.router.add_get("/admin/v1/tenants/{tid}", get_tenant)
    app.router.add_post("/admin/v1/tenants/{tid}/tokens", create_token)
    app.router.add_delete("/admin/v1/tenants/{tid}/tokens/{token_id}", revoke_token)
