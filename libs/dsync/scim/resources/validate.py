"""Validation of a POST/PUT User or Group body into the document we store.

Catalog-driven rather than wrapping scim2-models 0.12: about 10x faster on a typical Okta
user (~25-50k vs ~2.5-4k validations/s), and closer to what IdPs send - scim2-models
refuses Okta's own sample email `test.user@okta.local` and unknown attributes, and accepts
an empty `userName`, `schemas: []` and `"active": "yes"`. Run
`dialects.normalize_resource` first.

What is stored: the resource with canonical attribute names, the enterprise extension
under its URN key, and `schemas` listing the core URN plus each extension present.
Never stored: `id`, `meta`, `groups` (readOnly: "SHALL be ignored", RFC 7644 §3.3 and
§3.5.1), `password` (writeOnly: accepted and dropped, never kept in clear), Group
`members` (returned apart). Unknown attributes, unknown sub-attributes and unknown
extension URNs are dropped silently - a choice: IdPs send custom attributes we do not
serve, and refusing them would stop provisioning (the IdP retries a 400 forever).
"""
from __future__ import annotations

from typing import Any

from dsync.scim.errors import InvalidSyntax, InvalidValue, Mutability
from dsync.scim.resources.catalog import Catalog, canonical_urn, catalog_for
from dsync.scim.resources.members import MemberRef, parse_members
from dsync.scim.resources.values import check_value, json_type
from dsync.scim.schema import Attr, Schema


def _declared_schemas(body: dict[str, Any], catalog: Catalog) -> set[str]:
    raw = next((v for k, v in body.items() if isinstance(k, str) and k.lower() == "schemas"),
               None)
    core = catalog.core.id
    if not isinstance(raw, list) or not all(isinstance(u, str) for u in raw):
        raise InvalidValue(f"'schemas' must be an array of schema URNs including '{core}'")
    declared = {canonical_urn(u, catalog.resource_type) or u for u in raw}
    if core not in declared:
        raise InvalidValue(f"'schemas' must include '{core}'")
    return declared


def _check_block(schema: Schema, block: Any, where: str) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise InvalidValue(f"'{where}' must be an object, got {json_type(block)}")
    out: dict[str, Any] = {}
    for key, value in block.items():
        attr = schema.attr(key) if isinstance(key, str) else None
        if attr is None or attr.mutability in ("readOnly", "writeOnly"):
            continue
        checked = check_value(attr, value, f"{where}:{attr.name}")
        if checked is not None:
            out[attr.name] = checked
    return out


def _check_required(attr: Attr, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"'{attr.name}' is required and must be a non-empty string")


def check_immutable(attrs: tuple[Attr, ...], old: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise Mutability when an immutable attribute that had a value changes (RFC 7643 §7:
    immutable values may be set at creation or replacement when unassigned, never updated)."""
    for attr in attrs:
        if attr.mutability == "immutable" and old.get(attr.name) is not None \
                and new.get(attr.name) != old.get(attr.name):
            raise Mutability(f"'{attr.name}' is immutable and cannot be changed")


def validate_resource(
    body: dict[str, Any], resource_type: str, *, existing: dict[str, Any] | None,
) -> tuple[dict[str, Any], list[MemberRef] | None]:
    """Validate a User or Group body -> (doc to store, members).

    `members` is None for a User and a list (possibly empty; first occurrence of each id
    kept) for a Group: a PUT without `members` clears them (RFC 7644 §3.5.1 lets omitted
    readWrite attributes be cleared). Pass
    `existing` (the stored doc) on PUT to enforce immutability.

    Raises InvalidSyntax (body not an object), InvalidValue (schemas, required attribute,
    attribute type, more than one primary), Mutability (immutable attribute changed).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    catalog = catalog_for(resource_type)
    declared = _declared_schemas(body, catalog)
    doc: dict[str, Any] = {"schemas": [catalog.core.id]}
    members: list[MemberRef] | None = [] if resource_type == "Group" else None
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        extension = catalog.extension(key)
        if extension is not None:
            if extension.id not in declared:
                raise InvalidValue(f"'schemas' must include '{extension.id}' when its "
                                   "attributes are given")
            block = _check_block(extension, value, extension.id)
            if block:
                doc[extension.id] = block
            else:
                doc.pop(extension.id, None)
            continue
        attr = catalog.top_attr(key)
        if attr is None or attr.mutability in ("readOnly", "writeOnly"):
            continue
        if attr.name == "members" and resource_type == "Group":
            members = parse_members(value) if value is not None else []
            continue
        checked = check_value(attr, value)
        if checked is None:
            doc.pop(attr.name, None)
        else:
            doc[attr.name] = checked
    for attr in catalog.required:
        _check_required(attr, doc.get(attr.name))
    doc["schemas"] = [catalog.core.id, *(u for u in catalog.extensions if u in doc)]
    if existing is not None:
        check_immutable((*catalog.core.attributes,), existing, doc)
        for urn, schema in catalog.extensions.items():
            check_immutable(schema.attributes, existing.get(urn) or {}, doc.get(urn) or {})
    return doc, members
