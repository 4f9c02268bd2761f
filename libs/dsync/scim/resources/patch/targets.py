"""Resolve a parsed PATCH path against the catalog of one resource type."""
from __future__ import annotations

from dataclasses import dataclass

from dsync.scim.errors import InvalidPath
from dsync.scim.resources.catalog import Catalog, canonical_urn
from dsync.scim.resources.patch.paths import AttrPath
from dsync.scim.resources.valuefilter import Node, bind
from dsync.scim.schema import Attr


@dataclass(frozen=True)
class Target:
    """Where an operation lands: `urn` the extension object holding the attribute (None:
    top level), `attr` None for the whole extension, `node` the bound value filter."""

    urn: str | None  # the extension holding the attribute; None: top level
    attr: Attr | None  # None: the whole extension object
    node: Node | None = None
    sub: Attr | None = None


def resolve_target(path: AttrPath, catalog: Catalog, text: str) -> Target | None:
    """Resolve a parsed path against `catalog`; None when it names a schema we do not
    serve (the operation is then ignored). Raises InvalidPath (unknown attribute or
    sub-attribute, a schema of another resource type, a filter on a single-valued
    attribute), InvalidFilter (ordering comparison on a boolean)."""
    urn = None
    if path.urn is not None:
        canonical = canonical_urn(path.urn, catalog.resource_type)
        if canonical is None:
            return None  # a schema we do not serve: ignored
        extension = catalog.extension(path.urn)
        if extension is None and canonical != catalog.core.id:
            raise InvalidPath(f"'{canonical}' is not a schema of {catalog.resource_type}")
        if extension is not None and path.attr is None:
            return Target(extension.id, None)
        if path.attr is None:
            raise InvalidPath(f"'{text}' names the core schema, not an attribute")
        urn = extension.id if extension is not None else None
        attr = extension.attr(path.attr) if extension is not None else catalog.top_attr(
            path.attr)
    else:
        attr = catalog.top_attr(path.attr or "")
    if attr is None:
        raise InvalidPath(f"'{path.attr}' is not an attribute of {catalog.resource_type}")
    sub = None
    if path.sub is not None:
        sub = attr.child(path.sub)
        if sub is None:
            raise InvalidPath(f"'{path.sub}' is not a sub-attribute of '{attr.name}'")
    node = None
    if path.filter is not None:
        if not attr.multi or attr.type != "complex":
            raise InvalidPath(f"'{attr.name}' is not multi-valued: it cannot be filtered")
        node = bind(path.filter, attr)
    return Target(urn, attr, node, sub)
