"""SCIM `/Users` endpoints (RFC 7644 §3.3–3.6). Writes go through the command pipeline;
reads go straight to PostgreSQL, filtered by the authenticated tenant."""
from __future__ import annotations

from aiohttp import web

from dsync.db.tenant_scope import tenant_scope
from dsync.messages.commands import CreateUser, DeleteUser, PatchUser, ReplaceUser
from dsync.scim import resource_logic as logic
from dsync.scim.errors import NotFound
from dsync.scim.filter import project
from dsync.scim.render import with_location
from dsync.store.reads import get_user
from dsync_services.gateway import quotas, scim_params
from dsync_services.gateway.scim_http import not_modified, read_json, scim_response
from dsync_services.gateway.scim_limits import limits
from dsync_services.gateway.writes import new_command, prechecked, resource_id, submit


async def create_user(request: web.Request) -> web.Response:
    body = await read_json(request)
    doc = await prechecked(request, "User", lambda: logic.command_resource(body, "User"))
    await quotas.check_create(request, "User")
    return await submit(request, new_command(CreateUser, request, resource=doc), "User")


async def get_user_handler(request: web.Request) -> web.Response:
    uid = resource_id(request)
    params = scim_params.parse(request.query, limits(request.app))
    tenant_id = request["tenant"].tenant_id
    async with tenant_scope(request.app["pool"], tenant_id) as conn:
        resource = await get_user(conn, tenant_id, uid)
    if resource is None:
        raise NotFound(f"User {uid} not found")
    resource = with_location(resource, request.app["settings"].base_url + "/scim/v2")
    etag = resource["meta"]["version"]
    if not_modified(request, etag):
        return scim_response(304, headers={"ETag": etag})
    resource = project(resource, "User", attributes=params.attributes, excluded=params.excluded)
    return scim_response(200, resource, {"ETag": etag})


async def replace_user(request: web.Request) -> web.Response:
    uid = resource_id(request)
    body = await read_json(request)
    doc = await prechecked(request, "User", lambda: logic.command_resource(body, "User"))
    return await submit(request, new_command(ReplaceUser, request, resource_id=uid, resource=doc,
                                             if_match=request.headers.get("If-Match")), "User")


async def patch_user(request: web.Request) -> web.Response:
    uid = resource_id(request)
    body = await read_json(request)
    ops = await prechecked(request, "User", lambda: logic.parse_patch_request(body))
    return await submit(request, new_command(PatchUser, request, resource_id=uid, operations=ops,
                                             if_match=request.headers.get("If-Match")), "User")


async def delete_user(request: web.Request) -> web.Response:
    uid = resource_id(request)
    return await submit(request, new_command(DeleteUser, request, resource_id=uid,
                                             if_match=request.headers.get("If-Match")), "User")


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/Users", create_user)
    app.router.add_get(f"{prefix}/Users/{{id}}", get_user_handler)
    app.router.add_put(f"{prefix}/Users/{{id}}", replace_user)
    app.router.add_patch(f"{prefix}/Users/{{id}}", patch_user)
    app.router.add_delete(f"{prefix}/Users/{{id}}", delete_user)
