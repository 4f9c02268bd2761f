"""Admin API: tenants, their lifecycle and their SCIM tokens (docs/tenants.md).

Thin HTTP over `dsync.tenants.lifecycle`: parse, call, render; lifecycle errors become
answers in the admin middleware through `as_admin_error`. A token is shown once, in
the answer that creates it; only its hash is stored, and listings show token ids only.
The plain functions below the handlers' helpers (`tenants`, `tenant`,
`create_tenant_record`, `add_token`, `revoke_scim_token`, `set_tenant_status`,
`token_rows`) are what the console calls: the same lifecycle, as JSON-ready dicts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web

from dsync.admin_http import AdminError, iso, json_body, path_uuid
from dsync.tenants import lifecycle
from dsync.tenants.lifecycle import (
    Tenant,
    TenantConflict,
    TenantError,
    TenantInvalid,
    TenantNotFound,
    TokenInfo,
)

_STATUS: dict[type[TenantError], int] = {TenantInvalid: 400, TenantNotFound: 404,
                                         TenantConflict: 409}


def as_admin_error(exc: TenantError) -> AdminError:
    """The admin API's answer to a lifecycle error (the admin middleware applies it)."""
    return AdminError(_STATUS.get(type(exc), 400), exc.code, exc.detail)


def tenant_json(t: Tenant) -> dict[str, object]:
    return {"id": str(t.id), "name": t.name, "status": t.status,
            "created_at": iso(t.created_at), "status_changed_at": iso(t.status_changed_at)}


def token_json(t: TokenInfo) -> dict[str, object]:
    return {"id": str(t.id), "created_at": iso(t.created_at), "revoked_at": iso(t.revoked_at),
            "active": t.revoked_at is None}


async def tenants(pool: asyncpg.Pool, search: str = "", limit: int | None = None
                  ) -> list[dict[str, object]]:
    """Tenants oldest first; `search` keeps those whose name contains it (any case) or
    whose id starts with it."""
    rows = await pool.fetch(
        "SELECT id, name, status, created_at, status_changed_at FROM tenants"
        " WHERE $1 = '' OR name ILIKE '%' ||"
        " replace(replace(replace($1, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"
        " OR id::text LIKE lower($1) || '%' ORDER BY created_at, id LIMIT $2",
        search, limit)
    return [{"id": str(r["id"]), "name": r["name"], "status": r["status"],
             "created_at": iso(r["created_at"]),
             "status_changed_at": iso(r["status_changed_at"])} for r in rows]


async def tenant(pool: asyncpg.Pool, tenant_id: UUID) -> dict[str, object]:
    """The tenant's JSON; AdminError 404 when there is none."""
    try:
        return tenant_json(await lifecycle.get_tenant(pool, tenant_id))
    except TenantError as exc:
        raise as_admin_error(exc) from None


async def create_tenant_record(pool: asyncpg.Pool, name: object) -> dict[str, Any]:
    """A tenant and its first token: the tenant's JSON plus `scim_token` (shown only
    here) and `scim_token_id`. AdminError 400 on a bad name."""
    try:
        created, token_id, token = await lifecycle.create_tenant(pool, name)
    except TenantError as exc:
        raise as_admin_error(exc) from None
    return {**tenant_json(created), "scim_token": token, "scim_token_id": str(token_id)}


async def add_token(pool: asyncpg.Pool, tenant_id: UUID) -> dict[str, str]:
    """A further SCIM token: `{"id", "scim_token"}` (the token shown only here)."""
    try:
        token_id, token = await lifecycle.create_token(pool, tenant_id)
    except TenantError as exc:
        raise as_admin_error(exc) from None
    return {"id": str(token_id), "scim_token": token}


async def revoke_scim_token(app: Mapping[Any, Any], tenant_id: UUID, token_id: UUID) -> None:
    """Revoke a token (idempotent); this gateway forgets it before returning, the others
    at the NOTIFY. AdminError 404 for an unknown tenant or token."""
    try:
        await lifecycle.revoke_token(app["pool"], tenant_id, token_id)
    except TenantError as exc:
        raise as_admin_error(exc) from None
    app["auth"].forget_token(token_id)


async def set_tenant_status(app: Mapping[Any, Any], tenant_id: UUID,
                            status: str) -> dict[str, object]:
    """Disable or enable a tenant (SCIM answers 403 while disabled; data kept); this
    gateway forgets its cached tokens before returning, the others at the NOTIFY."""
    try:
        changed = await lifecycle.set_status(app["pool"], tenant_id, status)
    except TenantError as exc:
        raise as_admin_error(exc) from None
    app["auth"].forget_tenant(tenant_id)
    return tenant_json(changed)


async def token_rows(pool: asyncpg.Pool, tenant_id: UUID) -> list[asyncpg.Record]:
    """A tenant's tokens (never their values), newest first, with their last use if any."""
    return await pool.fetch(
        "SELECT t.id, t.created_at, t.revoked_at, u.last_used_at, u.last_status"
        " FROM scim_tokens t LEFT JOIN scim_token_usage u ON u.token_id = t.id"
        " WHERE t.tenant_id = $1 ORDER BY t.created_at DESC, t.id", tenant_id)


def _tid(request: web.Request) -> UUID:
    return path_uuid(request, "tid", "Tenant")


async def create_tenant(request: web.Request) -> web.Response:
    body = await json_body(request)
    tenant, token_id, token = await lifecycle.create_tenant(request.app["pool"],
                                                            body.get("name"))
    return web.json_response({**tenant_json(tenant), "scim_token": token,
                              "scim_token_id": str(token_id)}, status=201)


def _limit(request: web.Request) -> int | None:
    """The page size; None (every tenant, as before paging existed) when not given."""
    raw = request.query.get("limit")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise AdminError(400, "invalid_value", f"'limit' must be an integer, not {raw!r}"
                         ) from None


async def list_tenants(request: web.Request) -> web.Response:
    """`?limit=&after=<next_cursor>&name=<substring>&status=active|disabled`."""
    q = request.query
    page = await lifecycle.list_tenants(request.app["pool"], limit=_limit(request),
                                        after=q.get("after") or None,
                                        name=q.get("name") or None,
                                        status=q.get("status") or None)
    return web.json_response({"tenants": [tenant_json(t) for t in page.tenants],
                              "next_cursor": page.next_cursor})


async def get_tenant(request: web.Request) -> web.Response:
    return web.json_response(tenant_json(await lifecycle.get_tenant(request.app["pool"],
                                                                    _tid(request))))


async def patch_tenant(request: web.Request) -> web.Response:
    """`{"status": "disabled" | "active"}`."""
    tid = _tid(request)
    body = await json_body(request)
    unknown = sorted(set(body) - {"status"})
    if unknown or "status" not in body:
        raise AdminError(400, "invalid_value", "The body must be {\"status\": \"active\" |"
                         f" \"disabled\"}}{'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    return web.json_response(await set_tenant_status(request.app, tid, body["status"]))


async def delete_tenant(request: web.Request) -> web.Response:
    tid = _tid(request)
    await lifecycle.delete_tenant(request.app["pool"], tid)
    request.app["auth"].forget_tenant(tid)
    return web.Response(status=204)


async def list_tokens(request: web.Request) -> web.Response:
    tokens = await lifecycle.list_tokens(request.app["pool"], _tid(request))
    return web.json_response({"tokens": [token_json(t) for t in tokens]})


async def create_token(request: web.Request) -> web.Response:
    token_id, token = await lifecycle.create_token(request.app["pool"], _tid(request))
    return web.json_response({"id": str(token_id), "scim_token": token}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    await revoke_scim_token(request.app, _tid(request), path_uuid(request, "token_id", "Token"))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/v1/tenants", create_tenant)
    app.router.add_get("/admin/v1/tenants", list_tenants)
    app.router.add_get("/admin/v1/tenants/{tid}", get_tenant)
    app.router.add_patch("/admin/v1/tenants/{tid}", patch_tenant)
    app.router.add_delete("/admin/v1/tenants/{tid}", delete_tenant)
    app.router.add_get("/admin/v1/tenants/{tid}/tokens", list_tokens)
    app.router.add_post("/admin/v1/tenants/{tid}/tokens", create_token)
    app.router.add_delete("/admin/v1/tenants/{tid}/tokens/{token_id}", revoke_token)
