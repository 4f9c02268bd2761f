"""Resolving attribute paths (RFC 7644 §3.10) against the schema catalog of a resource type.

Names match case-insensitively. A URN prefix selects the schema; without one the core schema
(plus the common attributes id/externalId/meta and `schemas`) is tried first, then an
extension that is the only one declaring the name (so `department` finds the Enterprise User
attribute). What is not in the catalog resolves to None: callers treat it as an attribute
with no value (RFC 7644 §3.4.2.1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scim2_models.path import AttrPath

from dsync.scim.schema import COMMON, CORE_SCHEMA, SCHEMAS_BY_RESOURCE, Attr, Schema

ResourceType = Literal["User", "Group"]

# `schemas` is on every resource (RFC 7643 §3) but is not a catalog attribute.
SCHEMAS = Attr("schemas", multi=True, case_exact=False, mutability="readOnly",
               returned="always")


@dataclass(frozen=True)
class Resolved:
    """A catalog attribute, optionally one of its sub-attributes, and where it lives."""

    schema: str            # schema URN that declares the attribute
    attr: Attr
    sub: Attr | None
    extension: bool        # stored under doc[schema] rather than at the top of doc

    @property
    def leaf(self) -> Attr:
        """The attribute whose type and caseExact govern a comparison."""
        return self.sub or self.attr

    @property
    def name(self) -> str:
        return f"{self.attr.name}.{self.sub.name}" if self.sub else self.attr.name


def schemas_of(resource_type: ResourceType) -> tuple[Schema, ...]:
    return SCHEMAS_BY_RESOURCE[resource_type]


def extension_schema(uri: str, resource_type: ResourceType) -> Schema | None:
    """The extension schema of this resource type whose URN is `uri` (case-insensitive)."""
    lowered = uri.lower()
    core = CORE_SCHEMA[resource_type].lower()
    return next((s for s in schemas_of(resource_type)
                 if s.id.lower() == lowered and s.id.lower() != core), None)


def resolve(path: AttrPath, resource_type: ResourceType) -> Resolved | None:
    """Find `path` in the catalog of `resource_type`; None when it names nothing there."""
    found = top_level(path.attr, path.uri, resource_type)
    if found is None:
        return None
    schema, attr, extension = found
    if path.sub_attr is None:
        return Resolved(schema, attr, None, extension)
    sub = attr.child(path.sub_attr)
    return Resolved(schema, attr, sub, extension) if sub is not None else None


def top_level(name: str, uri: str | None,
               resource_type: ResourceType) -> tuple[str, Attr, bool] | None:
    """(schema URN, attribute, is-extension) for a top-level name, or None."""
    core_id = CORE_SCHEMA[resource_type]
    core = next(s for s in schemas_of(resource_type) if s.id == core_id)
    if uri is None or uri.lower() == core_id.lower():
        attr = _core_attr(core, name)
        if attr is not None:
            return core_id, attr, False
        if uri is not None:
            return None
        hits = [(s.id, a) for s in schemas_of(resource_type) if s.id != core_id
                for a in (s.attr(name),) if a is not None]
        return (hits[0][0], hits[0][1], True) if len(hits) == 1 else None
    ext = extension_schema(uri, resource_type)
    attr = ext.attr(name) if ext is not None else None
    return (ext.id, attr, True) if ext is not None and attr is not None else None


def _core_attr(core: Schema, name: str) -> Attr | None:
    if name.lower() == "schemas":
        return SCHEMAS
    lowered = name.lower()
    return core.attr(name) or next((a for a in COMMON if a.name.lower() == lowered), None)
