"""Admin API: tenants, their lifecycle and their SCIM tokens (docs/tenants.md).

Thin HTTP over `dsync.tenants.lifecycle`: parse, call, render; lifecycle errors become
answers in the admin middleware through `as_admin_error`. A token is shown once, in
the answer that creates it; only its hash is stored, and listings show token ids only.
"""
from __future__ import annotations

from uuid import UUID

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
    tenant = await lifecycle.set_status(request.app["pool"], tid, body["status"])
    request.app["auth"].forget_tenant(tid)
    return web.json_response(tenant_json(tenant))


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
    tid, token_id = _tid(request), path_uuid(request, "token_id", "Token")
    await lifecycle.revoke_token(request.app["pool"], tid, token_id)
    request.app["auth"].forget_token(token_id)
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
