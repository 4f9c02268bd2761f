"""SCIM `/Groups` endpoints. Writes go through the command pipeline; `GET /Groups/{id}`
streams its members page by page, so a 100,000-member group is never held in memory."""
from __future__ import annotations

import json
from uuid import UUID

from aiohttp import web

from dsync.messages.commands import CreateGroup, DeleteGroup, PatchGroup, ReplaceGroup
from dsync.scim import resource_logic as logic
from dsync.scim.errors import NotFound
from dsync.scim.filter import project
from dsync.scim.render import with_location
from dsync.store.reads import get_group
from dsync_services.gateway import scim_params
from dsync_services.gateway.scim_http import SCIM_MEDIA_TYPE, read_json, scim_response
from dsync_services.gateway.scim_queries import wants
from dsync_services.gateway.writes import new_command, prechecked, resource_id, submit

MEMBER_PAGE = 5000


async def create_group(request: web.Request) -> web.Response:
    body = await read_json(request)
    doc = await prechecked(request, "Group", lambda: logic.command_resource(body, "Group"))
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
    params = scim_params.parse(request.query)
    tenant_id = request["tenant"].tenant_id
    pool = request.app["pool"]
    resource = await get_group(pool, tenant_id, gid, with_members=False)
    if resource is None:
        raise NotFound(f"Group {gid} not found")
    resource = with_location(resource, request.app["settings"].base_url + "/scim/v2")
    etag = resource["meta"]["version"]
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
    after = UUID(int=0)
    first = True
    base = request.app["settings"].base_url + "/scim/v2"
    while True:
        rows = await pool.fetch(  # type: ignore[attr-defined]
            "SELECT gm.member_id, gm.member_type, COALESCE(u.display_name, u.user_name,"
            " g.display_name) AS display FROM group_members gm"
            " LEFT JOIN users u ON gm.member_type = 'User' AND u.tenant_id = gm.tenant_id"
            "  AND u.id = gm.member_id"
            " LEFT JOIN groups g ON gm.member_type = 'Group' AND g.tenant_id = gm.tenant_id"
            "  AND g.id = gm.member_id"
            " WHERE gm.tenant_id = $1 AND gm.group_id = $2 AND gm.member_id > $3"
            " ORDER BY gm.member_id LIMIT $4", tenant_id, gid, after, MEMBER_PAGE)
        if not rows:
            break
        chunk = []
        for r in rows:
            member = {"value": str(r["member_id"]),
                      "$ref": f"{base}/{r['member_type']}s/{r['member_id']}",
                      "type": r["member_type"]}
            if r["display"] is not None:
                member["display"] = r["display"]
            chunk.append(json.dumps(member, separators=(",", ":")))
        await response.write(((',' if not first else '') + ",".join(chunk)).encode())
        first = False
        after = rows[-1]["member_id"]
        if len(rows) < MEMBER_PAGE:
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
