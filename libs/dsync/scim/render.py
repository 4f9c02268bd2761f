"""Rendering stored rows as SCIM resources (RFC 7643 §3.1 `meta`, weak ETags)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID


def etag(version: int) -> str:
    """The weak ETag of a resource version, as `meta.version` and the `ETag` header."""
    return f'W/"{version}"'


def version_matches(if_match: str | None, version: int) -> bool:
    """RFC 7232 If-Match against our weak ETags: `*` or any listed tag of this version."""
    if if_match is None:
        return True
    wanted = str(version)
    for tag in (t.strip() for t in if_match.split(",")):
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == wanted:
            return True
    return False


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def meta(resource_type: str, created: datetime, modified: datetime, version: int) -> dict[str, Any]:
    return {"resourceType": resource_type, "created": _iso(created),
            "lastModified": _iso(modified), "version": etag(version)}


def _ordered(resource_id: UUID, doc: dict[str, Any]) -> dict[str, Any]:
    """`schemas`, `id`, `externalId` first, like the RFC examples (jsonb loses key order)."""
    out: dict[str, Any] = {"schemas": doc.get("schemas", []), "id": str(resource_id)}
    if "externalId" in doc:
        out["externalId"] = doc["externalId"]
    for key in ("userName", "displayName", "name", "active"):
        if key in doc:
            out[key] = doc[key]
    out.update(doc)
    return out


def user_resource(user_id: UUID, doc: dict[str, Any], version: int, created: datetime,
                  modified: datetime, groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The SCIM User: stored attributes + `id`, `meta`, and the read-only `groups`."""
    out = _ordered(user_id, doc)
    if groups:
        out["groups"] = groups
    out["meta"] = meta("User", created, modified, version)
    return out


def group_resource(group_id: UUID, doc: dict[str, Any], version: int, created: datetime,
                   modified: datetime, members: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The SCIM Group; `members` is omitted when None (e.g. `excludedAttributes=members`)."""
    out = _ordered(group_id, doc)
    if members is not None:
        out["members"] = members
    out["meta"] = meta("Group", created, modified, version)
    return out


def with_location(resource: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Add `meta.location` (the gateway knows its public base URL; the directory does not)."""
    kind = resource.get("meta", {}).get("resourceType", "User")
    location = f"{base_url}/{kind}s/{resource['id']}"
    out = {**resource, "meta": {**resource.get("meta", {}), "location": location}}
    for attr in ("members", "groups"):  # stored refs are relative ("../Users/<id>")
        if isinstance(out.get(attr), list):
            out[attr] = [{**m, "$ref": f"{base_url}/{m['$ref'][3:]}"}
                         if isinstance(m, dict) and str(m.get("$ref", "")).startswith("../")
                         else m for m in out[attr]]
    return out
