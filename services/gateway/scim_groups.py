"""SCIM `/Groups` endpoints. Writes go through the command pipeline; `GET /Groups/{id}`
streams its members page by page, so a 100,000-member group is never held in memory."""
from __future__ import annotations

import json
from uuid import UUID

from aiohttp import web

from dsync.db.tenant_scope import tenant_scope
from dsync.messages.commands import CreateGroup, DeleteGroup, PatchGroup, ReplaceGroup
from dsync.scim import resource_logic as logic
from dsync.scim.errors import NotFound
from dsync.scim.filter import project
from dsync.scim.render import with_location
from dsync.store.reads import get_group, group_members
from dsync_services.gateway import quotas, scim_params
from dsync_services.gateway.scim_http import (
    SCIM_MEDIA_TYPE,
    not_modified,
    read_json,
    scim_response,
)
from dsync_services.gateway.scim_limits import limits
from dsync_services.gateway.scim_queries import wants
from dsync_services.gateway.writes import new_command, prechecked, resource_id, submit

MEMBER_PAGE = 5000


async def create_group(request: web.Request) -> web.Response:
    body = await read_json(request)
    doc = await prechecked(request, "Group", lambda: logic.command_resource(body, "Group"))
    await quotas.check_create(request, "Group")
    return await submit(request, new_command(CreateGroup, request, resource=doc), "Group")


async def replace_group(request: web.Request) -> web.Response:
    gid = resource_id(request)
    body = await read_json(request)
    doc = await prechecked(request, "Group", lambda: logic.command_resource(body, "Group"))
    return await submit(request, new_command(ReplaceGroup, request, resource_id=gid,
                                             resource=doc,
                                             if_match=request.headers.get("If-Match")), "Group")


async def patch_group(request: web.Request) -> web.Response:
    gid = resource_id(request)
    body = await read_json(request)
    ops = await prechecked(request, "Group", lambda: logic.parse_patch_request(body))
    return await submit(request, new_command(PatchGroup, request, resource_id=gid,
                                             operations=ops,
                                             if_match=request.headers.get("If-Match")), "Group")


async def delete_group(request: web.Request) -> web.Response:
    gid = resource_id(request)
    return await submit(request, new_command(DeleteGroup, request, resource_id=gid,
                                             if_match=request.headers.get("If-Match")), "Group")


async def get_group_handler(request: web.Request) -> web.StreamResponse:
    gid = resource_id(request)
    params = scim_params.parse(request.query, limits(request.app))
    tenant_id = request["tenant"].tenant_id
    pool = request.app["pool"]
    async with tenant_scope(pool, tenant_id) as conn:
        resource = await get_group(conn, tenant_id, gid, with_members=False)
    if resource is None:
        raise NotFound(f"Group {gid} not found")
    resource = with_location(resource, request.app["settings"].base_url + "/scim/v2")
    etag = resource["meta"]["version"]
    if not_modified(request, etag):
        return scim_response(304, headers={"ETag": etag})
    if not wants("members", params):
        return scim_response(200, project(resource, "Group", attributes=params.attributes,
                                          excluded=params.excluded), {"ETag": etag})
    return await _stream_with_members(request, pool, tenant_id, gid, resource, params, etag)


async def _stream_with_members(request: web.Request, pool: object, tenant_id: UUID,
                               gid: UUID, resource: dict[str, object],
                               params: scim_params.ReadParams, etag: str) -> web.StreamResponse:
    head = project(resource, "Group", attributes=params.attributes, excluded=params.excluded)
    head.pop("members", None)
    response = web.StreamResponse(status=200, headers={"ETag": etag})
    response.content_type = SCIM_MEDIA_TYPE
    await response.prepare(request)
    prefix = json.dumps(head, separators=(",", ":"))[:-1]
    await response.write((prefix + (',' if head else '') + '"members":[').encode())
    after: UUID | None = None
    first = True
    base = request.app["settings"].base_url + "/scim/v2"
    while True:
        members = await group_members(pool, tenant_id, gid, limit=MEMBER_PAGE,  # type: ignore[arg-type]
                                      after=after)
        if not members:
            break
        chunk = ",".join(json.dumps({**m, "$ref": f"{base}/{m['$ref'][3:]}"},
                                    separators=(",", ":")) for m in members)
        await response.write(((',' if not first else '') + chunk).encode())
        first = False
        after = UUID(members[-1]["value"])
        if len(members) < MEMBER_PAGE:
            break
    await response.write(b"]}")
    await response.write_eof()
    return response


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/Groups", create_group)
    app.router.add_get(f"{prefix}/Groups/{{id}}", get_group_handler)
    app.router.add_put(f"{prefix}/Groups/{{id}}", replace_group)
    app.router.add_patch(f"{prefix}/Groups/{{id}}", patch_group)
    app.router.add_delete(f"{prefix}/Groups/{{id}}", delete_group)
