"""Setup links: the operator's create/revoke (on the tenant page) and the IT admin's setup
page. A setup session sees its own tenant only — the tenant comes from the session, never
from the URL — and none of the operator pages."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from dsync_services.gateway import admin_operations as ops
from dsync_services.gateway import admin_tenants
from dsync_services.gateway.console import sessions, setup_links
from dsync_services.gateway.console.idp_guides import GUIDES, guide, steps
from dsync_services.gateway.console.pages_tenants import scim_base_url, tenant_id, tenant_view
from dsync_services.gateway.console.plain_errors import explain
from dsync_services.gateway.console.plumbing import (
    form_uuid,
    pool,
    public,
    redirect,
    render,
    session,
    set_cookie,
    setup_only,
)
from dsync_services.gateway.console.settings import ConsoleSettings

LINK_PATH = "/console/setup/open/"


def _settings(request: web.Request) -> ConsoleSettings:
    return request.config_dict["console_settings"]  # type: ignore[no-any-return]


async def create_link(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    await admin_tenants.tenant(pool(request), tid)
    _, token = await setup_links.create(
        pool(request), tid, timedelta(seconds=_settings(request).console_setup_link_ttl_s))
    url = f"{request.config_dict['settings'].base_url}{LINK_PATH}{token}"
    return await tenant_view(request, tid, new_link=url, status=201)


async def revoke_link(request: web.Request) -> web.StreamResponse:
    tid = tenant_id(request)
    form = await request.post()
    await setup_links.revoke(pool(request), tid, form_uuid(form.get("link_id"), "Setup link"))
    raise redirect(f"/console/tenants/{tid}#setup-links")


@public
async def link_landing(request: web.Request) -> web.Response:
    """What the link shows before it is used: a button (a preview bot cannot use it up)."""
    token = request.match_info["token"]
    await setup_links.check(pool(request), token)
    return render(request, "setup_landing.html", token=token)


@public
async def open_link(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    ttl = timedelta(seconds=_settings(request).console_setup_session_ttl_s)
    async with pool(request).acquire() as conn, conn.transaction():
        tid, link_id = await setup_links.use(conn, token)
        new = await sessions.open_session(conn, ttl, tenant_id=tid, setup_link_id=link_id)
    response = redirect("/console/setup")
    set_cookie(request, response, sessions.COOKIE, new.cookie, ttl)
    return response


def _own_tenant(request: web.Request) -> UUID:
    tid = session(request).tenant_id
    assert tid is not None  # setup_only guarantees a tenant-scoped session
    return tid


async def _connection(request: web.Request, tid: UUID) -> dict[str, Any] | None:
    row = await pool(request).fetchrow(
        "SELECT first_used_at, last_used_at, last_method, last_path, last_status"
        " FROM scim_token_usage WHERE tenant_id = $1 ORDER BY last_used_at DESC LIMIT 1", tid)
    return dict(row) if row else None


async def _setup_view(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    tid = _own_tenant(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    idp = guide(request.query.get("idp"))
    scim_url = scim_base_url(request)
    errors = await ops.find_operations(pool(request), tid,
                                       ops.OperationFilter(status="rejected", limit=5))
    errors += await ops.find_operations(pool(request), tid,
                                        ops.OperationFilter(status="failed", limit=5))
    errors.sort(key=lambda o: o["received_at"], reverse=True)
    explained = [{**e, "plain": explain(e["reason_code"])} for e in errors[:8]]
    check = await _connection(request, tid)
    green = bool(check and check["last_status"] < 500)  # authenticated and answered
    return render(request, "setup.html", status=status, tenant=tenant, guides=GUIDES.values(),
                  idp=idp, idp_steps=steps(idp, scim_url) if idp else [], scim_url=scim_url,
                  check=check, green=green, errors=explained,
                  refresh=None if green else 5, **extra)


@setup_only
async def setup_page(request: web.Request) -> web.Response:
    return await _setup_view(request)


@setup_only
async def setup_token(request: web.Request) -> web.Response:
    created = await admin_tenants.add_token(pool(request), _own_tenant(request))
    return await _setup_view(request, status=201, new_token=created["scim_token"])


@setup_only
async def to_setup(request: web.Request) -> web.StreamResponse:
    raise redirect("/console/setup")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/tenants/{tid}/setup-links", create_link)
    r.add_post("/tenants/{tid}/setup-links/revoke", revoke_link)
    r.add_get("/setup/open/{token}", link_landing)
    r.add_post("/setup/open/{token}", open_link)
    r.add_get("/setup", setup_page)
    r.add_post("/setup/token", setup_token)
    r.add_get("/setup/token", to_setup)
