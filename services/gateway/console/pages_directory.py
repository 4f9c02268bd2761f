"""Console pages: one tenant's directory — users and groups (browse, search), a user's page
(status, groups, effective roles, sessions, revoke sessions), a group's page (members paged
by keyset, fine for 100k members; mapped roles and the group → role mapping editor).

Reads go through the same store functions as SCIM (`dsync.store`), roles and sessions
through their services' public `api` modules."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dsync.admin_http import AdminError
from dsync.store import reads
from dsync.store.listing import list_resources
from dsync_services.gateway import admin_tenants
from dsync_services.gateway.console.pages_tenants import tenant_id
from dsync_services.gateway.console.plumbing import form_uuid, pool, redirect, render
from dsync_services.roles import api as roles_api
from dsync_services.sessions import api as sessions_api

PAGE = 50


def _scim_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_filter(resource_type: str, q: str) -> str | None:
    """A SCIM filter finding `q` in the names people search by (pure)."""
    if not q:
        return None
    s = _scim_string(q)
    if resource_type == "User":
        return f"userName co {s} or displayName co {s} or emails.value co {s}" \
               f" or externalId eq {s}"
    return f"displayName co {s} or externalId eq {s}"


def _offset(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("offset", "0")))
    except ValueError:
        return 0


async def _listing(request: web.Request, resource_type: str, template: str) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    q = request.query.get("q", "").strip()[:200]
    offset = _offset(request)
    page = await list_resources(pool(request), tid, resource_type,
                                filter_text=search_filter(resource_type, q),
                                sort_by="userName" if resource_type == "User" else "displayName",
                                sort_order="ascending", offset=offset, limit=PAGE,
                                with_related=False)
    more = offset + PAGE < page.total
    return render(request, template, tenant=tenant, rows=page.resources, total=page.total,
                  q=q, offset=offset, page_size=PAGE,
                  prev_q=urlencode({"q": q, "offset": max(0, offset - PAGE)}),
                  next_q=urlencode({"q": q, "offset": offset + PAGE}) if more else None)


async def users_page(request: web.Request) -> web.Response:
    return await _listing(request, "User", "users.html")


async def groups_page(request: web.Request) -> web.Response:
    return await _listing(request, "Group", "groups.html")


async def user_page(request: web.Request) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    uid = form_uuid(request.match_info["uid"], "User")
    user = await reads.get_user(pool(request), tid, uid)
    if user is None:
        raise AdminError(404, "not_found", f"User {uid} not found")
    access = await roles_api.user_access(pool(request), tid, uid)
    sessions = await sessions_api.user_sessions(pool(request), tid, uid)
    return render(request, "user.html", tenant=tenant, user=user, access=access,
                  sessions=sessions, info=request.query.get("info", ""))


async def revoke_sessions(request: web.Request) -> web.StreamResponse:
    tid = tenant_id(request)
    uid = form_uuid(request.match_info["uid"], "User")
    n = await sessions_api.revoke_user_sessions(pool(request), tid, uid)
    info = f"Revoked {n} live session{'s' * (n != 1)}."
    raise redirect(f"/console/tenants/{tid}/users/{uid}?{urlencode({'info': info})}")


async def group_page(request: web.Request, **extra: Any) -> web.Response:
    tid = tenant_id(request)
    tenant = await admin_tenants.tenant(pool(request), tid)
    gid = form_uuid(request.match_info["gid"], "Group")
    group = await reads.get_group(pool(request), tid, gid, with_members=False)
    if group is None:
        raise AdminError(404, "not_found", f"Group {gid} not found")
    after_raw = request.query.get("after", "")
    after = form_uuid(after_raw, "Member") if after_raw else None
    members = await reads.group_members(pool(request), tid, gid, limit=PAGE + 1, after=after)
    next_after = members[PAGE - 1]["value"] if len(members) > PAGE else None
    roles = await roles_api.mapped_roles(pool(request), tid, gid)
    return render(request, "group.html", tenant=tenant, group=group, members=members[:PAGE],
                  next_after=next_after, paged=after is not None, roles=roles,
                  info=request.query.get("info", ""), **extra)


async def save_mapping(request: web.Request) -> web.StreamResponse:
    """The mapping editor: roles one per line or comma-separated; empty removes the mapping."""
    tid = tenant_id(request)
    gid = form_uuid(request.match_info["gid"], "Group")
    form = await request.post()
    raw = str(form.get("roles", ""))
    wanted = [r.strip() for r in raw.replace(",", "\n").splitlines() if r.strip()]
    try:
        if wanted:
            roles = roles_api.parse_roles(wanted)
            _, state = await roles_api.change_mapping(request.config_dict, tid, gid, roles,
                                                      "PUT", request.path)
        elif await roles_api.mapped_roles(pool(request), tid, gid):
            _, state = await roles_api.change_mapping(request.config_dict, tid, gid, None,
                                                      "DELETE", request.path)
        else:
            state = "applied"
    except AdminError as exc:
        if exc.status != 400:
            raise
        return await group_page(request, message=exc.detail, roles_text=raw)
    info = "Roles saved; members hold them now." if state == "applied" else \
        "Roles saved; members are still being recomputed."
    raise redirect(f"/console/tenants/{tid}/groups/{gid}?{urlencode({'info': info})}")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/tenants/{tid}/users", users_page)
    r.add_get("/tenants/{tid}/users/{uid}", user_page)
    r.add_post("/tenants/{tid}/users/{uid}/revoke-sessions", revoke_sessions)
    r.add_get("/tenants/{tid}/groups", groups_page)
    r.add_get("/tenants/{tid}/groups/{gid}", group_page)
    r.add_post("/tenants/{tid}/groups/{gid}/roles", save_mapping)
