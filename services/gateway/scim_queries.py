"""SCIM queries: `GET /Users`, `GET /Groups`, `POST /.search` on each (RFC 7644 §3.4.2–3),
with index paging (`startIndex`/`count`) or RFC 9865 cursors (`cursor`/`nextCursor`)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from dsync.db.tenant_scope import tenant_scope
from dsync.scim.errors import InvalidSyntax, NotImplementedYet
from dsync.scim.filter import compile_projection
from dsync.scim.render import with_location
from dsync.scim.schema import LIST_SCHEMA, SEARCH_SCHEMA
from dsync.store.listing import list_resources
from dsync_services.gateway import scim_params
from dsync_services.gateway.scim_http import (
    EXTRA_COST,
    FILTERED,
    RESOURCES_PER_TOKEN,
    read_json,
    scim_response,
)
from dsync_services.gateway.scim_limits import limits

_RELATED = {"User": "groups", "Group": "members"}


def wants(attr: str, params: scim_params.ReadParams) -> bool:
    """Whether `attr` (groups/members) survives attributes/excludedAttributes."""
    lowered = attr.lower()
    if params.excluded and any(e.lower() == lowered for e in params.excluded):
        return False
    if params.attributes:
        return any(a.lower().split(".")[0].split(":")[-1] == lowered for a in params.attributes)
    return True


async def query(request: web.Request, resource_type: str,
                params: scim_params.ReadParams) -> web.Response:
    base = request.app["settings"].base_url + "/scim/v2"
    request[FILTERED] = params.filter is not None
    tenant_id = request["tenant"].tenant_id
    async with tenant_scope(request.app["pool"], tenant_id) as conn:
        page = await list_resources(
            conn, tenant_id, resource_type,
            filter_text=params.filter, sort_by=params.sort_by, sort_order=params.sort_order,
            offset=params.offset, limit=params.count,
            with_related=wants(_RELATED[resource_type], params),
            member_budget=limits(request.app).max_list_members)
    request[EXTRA_COST] = len(page.resources) // RESOURCES_PER_TOKEN
    projection = compile_projection(resource_type,  # type: ignore[arg-type]
                                    attributes=params.attributes, excluded=params.excluded)
    resources = [projection.apply(with_location(r, base)) for r in page.resources]
    body: dict[str, Any] = {"schemas": [LIST_SCHEMA], "totalResults": page.total,
                            "itemsPerPage": len(resources)}
    if params.cursor is None:
        body["startIndex"] = params.start_index
    elif params.offset + len(resources) < page.total:
        body["nextCursor"] = scim_params.encode_cursor(params.offset + len(resources))
    body["Resources"] = resources
    return scim_response(200, body)


def _handlers(resource_type: str):  # type: ignore[no-untyped-def]
    async def listing(request: web.Request) -> web.Response:
        params = scim_params.parse(request.query, limits(request.app))
        return await query(request, resource_type, params)

    async def search(request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidSyntax("A search body must be a SearchRequest object")
        schemas = body.get("schemas")
        if schemas is not None and (not isinstance(schemas, list)
                                    or SEARCH_SCHEMA not in schemas):
            raise InvalidSyntax(f"A search body must declare the schema {SEARCH_SCHEMA}")
        return await query(request, resource_type, scim_params.parse(body, limits(request.app)))

    return listing, search


async def root_search(_: web.Request) -> web.Response:
    raise NotImplementedYet("Searching across resource types at /.search is not supported; "
                            "use /Users/.search or /Groups/.search")


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/.search", root_search)
    for resource_type in ("User", "Group"):
        listing, search = _handlers(resource_type)
        app.router.add_get(f"{prefix}/{resource_type}s", listing)
        app.router.add_post(f"{prefix}/{resource_type}s/.search", search)
