"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a rendered resource.

Names are case-insensitive, may carry a schema URN prefix (`urn:...:User:userName`), may
name a sub-attribute (`name.givenName`, `emails.value`: applied to every value) or a whole
extension (`urn:...:enterprise:2.0:User`). Attributes returned "always" (id, schemas,
userName, Group displayName) are kept whatever is asked; "never" ones (password) are always
dropped. Unknown names are ignored. The input is not modified.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dsync.scim.filter.attributes import ResourceType, extension_schema, resolve, top_level
from dsync.scim.filter.parser import parse_attr_path

WHOLE = frozenset({"*"})
Plan = dict[tuple[str | None, str], frozenset[str]]   # (extension URN|None, attr) -> subs


@dataclass(frozen=True)
class Projection:
    """`attributes` / `excludedAttributes` compiled once per request (`compile_projection`),
    applied to each resource of a page with `apply`: the names are parsed and resolved once,
    not once per resource."""

    resource_type: ResourceType
    include: Plan | None
    exclude: Plan | None

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as the client asked to see it: `attributes` narrows to the named
        attributes (plus "always" ones), then `excluded` removes the named ones."""
        rtype = self.resource_type
        out = {k: v for k, v in resource.items() if _returned(k, rtype) != "never"}
        if self.include is not None:
            out = _include(out, self.include, rtype)
        else:
            out = {k: v for k, v in out.items() if _returned(k, rtype) != "request"}
        if self.exclude:  # an empty plan excludes nothing
            out = _exclude(out, self.exclude, rtype)
        return out


def compile_projection(resource_type: ResourceType, *, attributes: list[str] | None,
                       excluded: list[str] | None) -> Projection:
    names, drop = _names(attributes), _names(excluded)
    return Projection(resource_type, _plan(names, resource_type) if names else None,
                      _plan(drop, resource_type) if drop else None)


def project(resource: dict[str, Any], resource_type: ResourceType, *,
            attributes: list[str] | None, excluded: list[str] | None) -> dict[str, Any]:
    """One resource projected (for many, compile once with `compile_projection`)."""
    return compile_projection(resource_type, attributes=attributes,
                              excluded=excluded).apply(resource)


def _names(values: Iterable[str] | None) -> list[str]:
    return [n.strip() for v in values or () for n in v.split(",") if n.strip()]


@functools.lru_cache(maxsize=4096)
def _returned(key: str, resource_type: ResourceType) -> str:
    found = top_level(key, None, resource_type) if _plain(key) else None
    return "default" if found is None or found[2] else found[1].returned


def _plain(key: str) -> bool:
    return parse_attr_path(key) is not None and ":" not in key and "." not in key


def _plan(names: list[str], resource_type: ResourceType) -> Plan:
    plan: Plan = {}
    for name in names:
        ext = extension_schema(name, resource_type)
        if ext is not None:
            plan[(None, ext.id.lower())] = WHOLE
            continue
        path = parse_attr_path(name)
        resolved = resolve(path, resource_type) if path is not None else None
        if resolved is None:
            continue
        where = (resolved.schema.lower() if resolved.extension else None,
                 resolved.attr.name.lower())
        subs = frozenset({resolved.sub.name.lower()}) if resolved.sub else WHOLE
        before = plan.get(where)
        plan[where] = WHOLE if WHOLE in (before, subs) else (before or frozenset()) | subs
    return plan


def _include(resource: dict[str, Any], plan: Plan, resource_type: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in resource.items():
        lowered = key.lower()
        if _returned(key, resource_type) == "always" or plan.get((None, lowered)) == WHOLE:
            out[key] = value
        elif extension_schema(key, resource_type) is not None and isinstance(value, dict):
            inner = {k: _keep(v, plan[(lowered, k.lower())]) for k, v in value.items()
                     if (lowered, k.lower()) in plan}
            inner = {k: v for k, v in inner.items() if not _empty(v)}
            if inner:
                out[key] = inner
        elif (None, lowered) in plan:
            kept = _keep(value, plan[(None, lowered)])
            if not _empty(kept):
                out[key] = kept
    return out


def _exclude(resource: dict[str, Any], plan: Plan, resource_type: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in resource.items():
        lowered = key.lower()
        if _returned(key, resource_type) == "always":
            out[key] = value
        elif plan.get((None, lowered)) == WHOLE:
            continue
        elif extension_schema(key, resource_type) is not None and isinstance(value, dict):
            inner = {k: _drop(v, plan.get((lowered, k.lower()))) for k, v in value.items()
                     if plan.get((lowered, k.lower())) != WHOLE}
            inner = {k: v for k, v in inner.items() if not _empty(v)}
            if inner:
                out[key] = inner
        else:
            kept = _drop(value, plan.get((None, lowered)))
            if not _empty(kept) or _empty(value):
                out[key] = kept
    return out


def _keep(value: Any, subs: frozenset[str]) -> Any:
    if subs == WHOLE:
        return value
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() in subs}
    if isinstance(value, list):
        picked = [_keep(v, subs) for v in value]
        return [v for v in picked if not _empty(v)]
    return value


def _drop(value: Any, subs: frozenset[str] | None) -> Any:
    if not subs:
        return value
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() not in subs}
    if isinstance(value, list):
        return [d for d in (_drop(v, subs) for v in value) if not _empty(d)]
    return value


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []
