"""Case-insensitive lookups over the attribute catalog (`dsync.scim.schema`) per resource type.

Attribute names and schema URNs are case-insensitive in SCIM (RFC 7643 §2.1, RFC 7644
§3.10); everything here answers with the catalog's canonical spelling. OneLogin's pre-RFC
URNs (`urn:scim:schemas:core:2.0`, `urn:scim:schemas:core:2.0:User`, ...) are accepted
as aliases of the RFC ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dsync.scim.schema import (
    COMMON,
    CORE_SCHEMA,
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    SCHEMAS_BY_RESOURCE,
    USER_SCHEMA,
    Attr,
    Schema,
)

# OneLogin (and other pre-RFC-draft clients) use the SCIM 2.0 draft URNs.
_LEGACY_URNS: dict[str, str | None] = {
    "urn:scim:schemas:core:2.0": None,  # "the core schema of this resource type"
    "urn:scim:schemas:core:2.0:user": USER_SCHEMA,
    "urn:scim:schemas:core:2.0:group": GROUP_SCHEMA,
    "urn:scim:schemas:extension:enterprise:2.0": ENTERPRISE_SCHEMA,
    "urn:scim:schemas:extension:enterprise:2.0:user": ENTERPRISE_SCHEMA,
}
_RFC_URNS = {urn.lower(): urn for urn in (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA)}

KNOWN_URNS: tuple[str, ...] = tuple(sorted(
    [*_RFC_URNS.values(), *_LEGACY_URNS], key=len, reverse=True))
"""Every schema URN spelling we recognise, longest first (for prefix matching)."""


def canonical_urn(urn: str, resource_type: str | None = None) -> str | None:
    """The RFC spelling of a schema URN (any case, legacy aliases included), else None.

    The bare legacy core URN maps to the core schema of `resource_type` (None if not given).
    """
    lowered = urn.strip().lower()
    if lowered in _RFC_URNS:
        return _RFC_URNS[lowered]
    if lowered in _LEGACY_URNS:
        mapped = _LEGACY_URNS[lowered]
        if mapped is None and resource_type in CORE_SCHEMA:
            return CORE_SCHEMA[resource_type]
        return mapped
    return None


@dataclass(frozen=True)
class Catalog:
    """The schemas of one resource type: core attributes (+ common ones) and extensions."""

    resource_type: str
    core: Schema
    extensions: dict[str, Schema]
    _top: dict[str, Attr] = field(repr=False)

    def top_attr(self, name: str) -> Attr | None:
        """A core or common (`id`, `externalId`, `meta`) attribute by any-case name."""
        return self._top.get(name.lower())

    def extension(self, urn: str) -> Schema | None:
        """An extension schema of this resource type by any URN spelling."""
        canonical = canonical_urn(urn, self.resource_type)
        return self.extensions.get(canonical) if canonical else None

    @property
    def required(self) -> tuple[Attr, ...]:
        return tuple(a for a in self.core.attributes if a.required)


def _build(resource_type: str) -> Catalog:
    core, *extensions = SCHEMAS_BY_RESOURCE[resource_type]
    top = {a.name.lower(): a for a in (*core.attributes, *COMMON)}
    return Catalog(resource_type, core, {s.id: s for s in extensions}, top)


CATALOGS: dict[str, Catalog] = {rt: _build(rt) for rt in SCHEMAS_BY_RESOURCE}


def catalog_for(resource_type: str) -> Catalog:
    """The catalog of "User" or "Group". A different name is a programming error (KeyError)."""
    return CATALOGS[resource_type]


def any_top_attr(name: str) -> Attr | None:
    """A top-level attribute of User or Group (for code that does not know the type)."""
    for catalog in CATALOGS.values():
        found = catalog.top_attr(name)
        if found is not None:
            return found
    return None


def any_extension(urn: str) -> Schema | None:
    """An extension schema of any resource type, by any URN spelling."""
    for catalog in CATALOGS.values():
        found = catalog.extension(urn)
        if found is not None:
            return found
    return None


def split_urn(text: str) -> tuple[str, str] | None:
    """Split `urn:...:Schema[:attr...]` into (URN as written, rest) for a known URN.

    `rest` is "" for a bare URN. Unknown URNs answer None.
    """
    lowered = text.lower()
    for urn in KNOWN_URNS:
        low = urn.lower()
        if lowered == low:
            return text, ""
        if lowered.startswith(low + ":"):
            return text[:len(urn)], text[len(urn) + 1:]
    return None
