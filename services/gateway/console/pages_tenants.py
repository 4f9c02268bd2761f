"""Console pages: sign-in/out, the tenant list (search, create) and a tenant's page (SCIM
base URL, tokens: create — shown once — and revoke; setup links).

Everything goes through the admin API's own functions (`admin_tenants`), so the console
and the JSON API cannot disagree.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from dsync.admin_http import AdminError
from dsync.tokens import token_matches
from dsync_services.gateway import admin_tenants
from dsync_services.gateway.console import sessions, setup_links
from dsync_services.gateway.console.plumbing import (
    any_session,
    form_uuid,
    pool,
    public,
    redirect,
    render,
    session,
    set_cookie,
)
from dsync_services.gateway.console.settings import ConsoleSettings


def scim_base_url(request: web.Request) -> str:
    return f"{request.config_dict['settings'].base_url}/scim/v2"


def tenant_id(request: web.Request) -> UUID:
    return form_uuid(request.match_info["tid"], "Tenant")


@public
async def sign_in_page(request: web.Request) -> web.Response:
    return render(request, "sign_in.html")


@public
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    presented = form.get("admin_token")
    expected = request.config_dict["settings"].http.admin_token
    if not isinstance(presented, str) or not presented or not expected \
            or not token_matches(presented, expected):
        request.config_dict["metrics"].auth_failures.labels("console").inc()
        return render(request, "sign_in.html", status=401,
                      message="That is not the admin token of this dsync.")
    settings: ConsoleSettings = request.config_dict["console_settings"]
    ttl = timedelta(seconds=settings.console_session_ttl_s)
    new = await sessions.open_session(pool(request), ttl)
    response = redirect(str(request.app.router["tenants"].url_for()))
    set_cookie(request, response, sessions.COOKIE, new.cookie, ttl)
    return response


@any_session
async def sign_out(request: web.Request) -> web.StreamResponse:
    await sessions.close_session(pool(request), session(request).cookie)
    response = redirect(str(request.app.router["sign_in"].url_for()))
    response.del_cookie(sessions.COOKIE, path="/console")
    return response


async def tenants_page(request: web.Request) -> web.Response:
    search = request.query.get("q", "").strip()[:200]
    rows = await admin_tenants.tenants(pool(request), search, limit=500)
    return render(request, "tenants.html", tenants=rows, q=search)


async def create_tenant(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        created = await admin_tenants.create_tenant_record(pool(request), form.get("name"))
    except AdminError as exc:
        rows = await admin_tenants.tenants(pool(request), "", limit=500)
        return render(request, "tenants.html", status=exc.status, tenants=rows, q="",
                      message=exc.detail)
    return await tenant_view(request, UUID(created["id"]), new_token=created["scim_token"],
                              status=201)


async def tenant_view(request: web.Request, tid: UUID, status: int = 200,
                       **extra: Any) -> web.Response:
    tenant = await admin_tenants.tenant(pool(request), tid)
    tokens = await admin_tenants.token_rows(pool(request), tid)
    links = await setup_links.links(pool(request), tid)
    return render(request, "tenant.html", status=status, tenant=tenant, tokens=tokens,
                  links=links, scim_url=scim_base_url(request), **extra)


async def tenant_page(request: web.Request) -> web.Response:
    return await tenant_view(request, tenant_id(request))


async def create_token(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    created = await admin_tenants.add_token(pool(request), tid)
    return await tenant_view(request, tid, new_token=created["scim_token"], status=201)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    tid = tenant_id(request)
    form = await request.post()
    await admin_tenants.revoke_scim_token(request.config_dict, tid,
                                          form_uuid(form.get("token_id"), "Token"))
    raise redirect(str(request.app.router["tenant"].url_for(tid=str(tid))) + "#tokens")


async def set_status(request: web.Request) -> web.StreamResponse:
    """Disable or enable the tenant (the admin API's PATCH status), back to its page."""
    tid = tenant_id(request)
    form = await request.post()
    status = form.get("status")
    await admin_tenants.set_tenant_status(request.config_dict, tid,
                                          status if isinstance(status, str) else "")
    raise redirect(str(request.app.router["tenant"].url_for(tid=str(tid))))


async def to_tenant(request: web.Request) -> web.StreamResponse:
    """GET of a form's URL (a reload after a POST): back to the tenant's page."""
    raise redirect(str(request.app.router["tenant"].url_for(tid=str(tenant_id(request)))))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/sign-in", sign_in_page, name="sign_in")
    r.add_post("/sign-in", sign_in)
    r.add_post("/sign-out", sign_out, name="sign_out")
    r.add_get("/", tenants_page, name="tenants")
    r.add_get("/tenants", tenants_page)
    r.add_post("/tenants", create_tenant)
    r.add_get("/tenants/{tid}", tenant_page, name="tenant")
    r.add_post("/tenants/{tid}/tokens", create_token)
    r.add_get("/tenants/{tid}/tokens", to_tenant)
    r.add_post("/tenants/{tid}/tokens/revoke", revoke_token)
    r.add_post("/tenants/{tid}/status", set_status)
    r.add_get("/tenants/{tid}/status", to_tenant)
