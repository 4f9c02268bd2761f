"""SCIM discovery (RFC 7644 §4; RFC 7643 §5–7): `/ServiceProviderConfig`, `/ResourceTypes`,
`/Schemas` and their `/{id}` forms, generated from the attribute catalog
(`dsync.scim.schema`) and the gateway's limits, so what we advertise is what we enforce.

The documents are built by pure functions of the base URL; the handlers only pick one.
As RFC 7644 §4 says, the query parameters of §3.4.2 (sorting, paging, attributes) are
ignored on these endpoints, and a `filter` is answered 403.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from dsync.scim.errors import Forbidden, NotFound
from dsync.scim.schema import (
    ALL_SCHEMAS,
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    SCHEMAS_BY_RESOURCE,
    USER_SCHEMA,
    Attr,
    Schema,
)
from dsync_services.gateway.scim_http import scim_response
from dsync_services.gateway.scim_limits import ScimLimits, limits

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

# `referenceTypes` (RFC 7643 §7) of the reference attributes, as in RFC 7643 §8.7.1;
# any other reference attribute points outside SCIM ("external").
REFERENCE_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    (USER_SCHEMA, "groups.$ref"): ("User", "Group"),
    (GROUP_SCHEMA, "members.$ref"): ("User", "Group"),
    (ENTERPRISE_SCHEMA, "manager.$ref"): ("User",),
}
RESOURCE_TYPES: dict[str, tuple[str, str]] = {  # name -> (endpoint, description)
    "User": ("/Users", "User Account"),
    "Group": ("/Groups", "Group"),
}


def attribute_doc(attr: Attr, schema_id: str, parent: str = "") -> dict[str, Any]:
    """One attribute definition (RFC 7643 §7), sub-attributes included."""
    doc: dict[str, Any] = {"name": attr.name, "type": attr.type, "multiValued": attr.multi}
    if attr.description:
        doc["description"] = attr.description
    doc.update(required=attr.required, caseExact=attr.case_exact,
               mutability=attr.mutability, returned=attr.returned, uniqueness=attr.uniqueness)
    if attr.canonical:
        doc["canonicalValues"] = list(attr.canonical)
    path = f"{parent}{attr.name}"
    if attr.type == "reference":
        doc["referenceTypes"] = list(REFERENCE_TYPES.get((schema_id, path), ("external",)))
    if attr.sub:
        doc["subAttributes"] = [attribute_doc(s, schema_id, f"{path}.") for s in attr.sub]
    return doc


def schema_doc(schema: Schema, base_url: str) -> dict[str, Any]:
    """A schema as `/Schemas/{id}` shows it (RFC 7643 §7, §8.7.1)."""
    return {"schemas": [SCHEMA_SCHEMA], "id": schema.id, "name": schema.name,
            "description": schema.description,
            "attributes": [attribute_doc(a, schema.id) for a in schema.attributes],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{schema.id}"}}


def resource_type_doc(name: str, base_url: str) -> dict[str, Any]:
    """A resource type as `/ResourceTypes/{id}` shows it (RFC 7643 §6, §8.6)."""
    core, *extensions = SCHEMAS_BY_RESOURCE[name]
    endpoint, description = RESOURCE_TYPES[name]
    doc: dict[str, Any] = {"schemas": [RESOURCE_TYPE_SCHEMA], "id": name, "name": name,
                           "endpoint": endpoint, "description": description, "schema": core.id}
    if extensions:
        doc["schemaExtensions"] = [{"schema": e.id, "required": False} for e in extensions]
    doc["meta"] = {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{name}"}
    return doc


def service_provider_config_doc(base_url: str, scim_limits: ScimLimits) -> dict[str, Any]:
    """What this server supports (RFC 7643 §5), with the limits it enforces."""
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": scim_limits.bulk_max_operations,
                 "maxPayloadSize": scim_limits.bulk_max_payload_bytes},
        "filter": {"supported": True, "maxResults": scim_limits.max_count},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
            "description": "Authentication with the tenant's SCIM bearer token "
                           "(Authorization: Bearer <token>)",
            "specUri": "https://www.rfc-editor.org/info/rfc6750"}],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}/ServiceProviderConfig"},
    }


def list_response(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The whole collection in one page (RFC 7644 §4: paging parameters are ignored)."""
    return {"schemas": [LIST_SCHEMA], "totalResults": len(resources),
            "itemsPerPage": len(resources), "startIndex": 1, "Resources": list(resources)}


def find_schema(schema_id: str) -> Schema | None:
    """The schema with that URN (compared case-insensitively), or None."""
    wanted = schema_id.lower()
    return next((s for s in ALL_SCHEMAS if s.id.lower() == wanted), None)


def find_resource_type(name: str) -> str | None:
    return next((n for n in RESOURCE_TYPES if n.lower() == name.lower()), None)


def add_routes(app: web.Application, prefix: str) -> None:
    """GET only: other methods get aiohttp's 405 (rendered as a SCIM error)."""
    scim_limits = limits(app)

    def base(request: web.Request) -> str:
        if "filter" in request.query:
            raise Forbidden("Filtering is not supported on discovery endpoints (RFC 7644 §4)")
        return str(request.app["settings"].base_url) + prefix

    async def spc(request: web.Request) -> web.Response:
        return scim_response(200, service_provider_config_doc(base(request), scim_limits))

    async def resource_types(request: web.Request) -> web.Response:
        url = base(request)
        return scim_response(200, list_response([resource_type_doc(n, url)
                                                 for n in RESOURCE_TYPES]))

    async def resource_type(request: web.Request) -> web.Response:
        url, raw = base(request), request.match_info["id"]
        name = find_resource_type(raw)
        if name is None:
            raise NotFound(f"ResourceType {raw} not found")
        return scim_response(200, resource_type_doc(name, url))

    async def schemas(request: web.Request) -> web.Response:
        url = base(request)
        return scim_response(200, list_response([schema_doc(s, url) for s in ALL_SCHEMAS]))

    async def schema(request: web.Request) -> web.Response:
        url, raw = base(request), request.match_info["id"]
        found = find_schema(raw)
        if found is None:
            raise NotFound(f"Schema {raw} not found")
        return scim_response(200, schema_doc(found, url))

    app.router.add_get(f"{prefix}/ServiceProviderConfig", spc)
    app.router.add_get(f"{prefix}/ResourceTypes", resource_types)
    app.router.add_get(f"{prefix}/ResourceTypes/{{id}}", resource_type)
    app.router.add_get(f"{prefix}/Schemas", schemas)
    app.router.add_get(f"{prefix}/Schemas/{{id}}", schema)
