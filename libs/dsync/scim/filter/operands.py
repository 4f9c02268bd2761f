"""Where each SCIM attribute lives in SQL, over table alias `r` (a users or groups row).

Index-backed attributes map to columns (`userName` → `r.user_name`, `meta.created` →
`r.created_at`, ...); other attributes are jsonb paths into `r.doc` (extensions under
`r.doc->'<urn>'`); the multi-valued `groups` (User) and `members` (Group) come from
`group_members`. Only catalog names and fixed SQL are written here, never filter values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dsync.scim.filter.attributes import Resolved, ResourceType

Kind = Literal["text", "uuid", "bool", "timestamptz", "version"]


@dataclass(frozen=True)
class Typed:
    """A scalar SQL expression of a known PostgreSQL type."""

    sql: str
    kind: Kind
    nullable: bool = False


@dataclass(frozen=True)
class Json:
    """A jsonb node (`json`) and its text (`text`, SQL NULL for a missing key or JSON null)."""

    json: str
    text: str
    depth: int = 0          # levels of nesting that `pr` must look into (complex: 1)


@dataclass(frozen=True)
class Const:
    """A value known at compile time (`meta.resourceType`)."""

    value: str


@dataclass(frozen=True)
class Unfilterable:
    """An attribute that is always present but cannot be compared (`meta.location`)."""

    reason: str


Operand = Typed | Json | Const | Unfilterable


def sql_string(text: str) -> str:
    """A SQL string literal for a catalog name (never for a filter value)."""
    return "'" + text.replace("'", "''") + "'"


def _key(base: str, name: str) -> Json:
    return Json(f"{base}->{sql_string(name)}", f"({base}->>{sql_string(name)})")


_COLUMNS: dict[tuple[ResourceType, str], Operand] = {
    ("User", "id"): Typed("r.id", "uuid"),
    ("User", "username"): Typed("r.user_name", "text"),
    ("User", "externalid"): Typed("r.external_id", "text", nullable=True),
    ("User", "active"): Typed("r.active", "bool"),
    ("User", "displayname"): Typed("r.display_name", "text", nullable=True),
    ("Group", "id"): Typed("r.id", "uuid"),
    ("Group", "displayname"): Typed("r.display_name", "text"),
    ("Group", "externalid"): Typed("r.external_id", "text", nullable=True),
}
_META: dict[str, Operand] = {
    "created": Typed("r.created_at", "timestamptz"),
    "lastmodified": Typed("r.updated_at", "timestamptz"),
    "version": Typed("r.version", "version"),
    "location": Unfilterable("meta.location depends on the request URL and is not filterable"),
}


def doc_base(resolved: Resolved) -> str:
    """The jsonb object that holds the attribute: `r.doc` or the extension object."""
    return f"(r.doc->{sql_string(resolved.schema)})" if resolved.extension else "r.doc"


def single_operand(resolved: Resolved, resource_type: ResourceType) -> Operand:
    """The operand of a single-valued attribute (or of a sub-attribute of one)."""
    name = resolved.attr.name.lower()
    if not resolved.extension and resolved.sub is None:
        column = _COLUMNS.get((resource_type, name))
        if column is not None:
            return column
    if not resolved.extension and name == "meta":
        return MetaObject(resource_type).operand(resolved.sub.name if resolved.sub else None)
    node = _key(doc_base(resolved), resolved.attr.name)
    if resolved.sub is None:
        return Json(node.json, node.text, depth=1 if resolved.attr.type == "complex" else 0)
    return _key(f"({node.json})", resolved.sub.name)


class Elements:
    """The values of one multi-valued attribute, enumerated in an EXISTS subquery.

    `operand(sub)` gives a sub-attribute of the current value (the value itself for None);
    `exists(condition)` wraps a condition over those operands into one boolean SQL term.
    """

    def operand(self, sub: str | None) -> Operand:
        raise NotImplementedError

    def exists(self, condition: str) -> str:
        raise NotImplementedError


@dataclass
class JsonArray(Elements):
    """Elements of a jsonb array (`emails`, `schemas`, ...); non-arrays count as empty."""

    array: str
    alias: str
    complex: bool

    def operand(self, sub: str | None) -> Operand:
        value = f"{self.alias}.v"
        if sub is None:
            return Json(value, f"({value} #>> '{{}}')", depth=1 if self.complex else 0)
        return _key(value, sub)

    def exists(self, condition: str) -> str:
        array = (f"CASE WHEN jsonb_typeof({self.array}) = 'array' THEN {self.array} "
                 "ELSE '[]'::jsonb END")
        return (f"EXISTS (SELECT 1 FROM jsonb_array_elements({array}) AS {self.alias}(v) "
                f"WHERE {condition})")


@dataclass
class JsonObject(Elements):
    """The one value of a single-valued complex attribute used as `name[givenName eq "x"]`."""

    node: str

    def operand(self, sub: str | None) -> Operand:
        return Json(self.node, f"({self.node} #>> '{{}}')", 1) if sub is None \
            else _key(f"({self.node})", sub)

    def exists(self, condition: str) -> str:
        return f"(jsonb_typeof({self.node}) = 'object' AND {condition})"


@dataclass
class MetaObject(Elements):
    """`meta`, which is not stored in doc: its sub-attributes are columns or constants."""

    resource_type: ResourceType

    def operand(self, sub: str | None) -> Operand:
        if sub is None:
            return Unfilterable("meta is complex; filter on one of its sub-attributes")
        if sub.lower() == "resourcetype":
            return Const(self.resource_type)
        return _META.get(sub.lower(), Unfilterable(f"meta.{sub} is not filterable"))

    def exists(self, condition: str) -> str:
        return f"({condition})"


@dataclass
class UserGroups(Elements):
    """A user's `groups`: direct and nested memberships, as the User resource renders them."""

    alias: str

    def operand(self, sub: str | None) -> Operand:
        a = self.alias
        return {
            None: Typed(f"{a}.group_id", "uuid"), "value": Typed(f"{a}.group_id", "uuid"),
            "display": Typed(f"{a}_g.display_name", "text"),
            "type": Typed(f"(CASE WHEN {a}.depth = 1 THEN 'direct' ELSE 'indirect' END)", "text"),
        }.get(sub and sub.lower(), Unfilterable(f"groups.{sub} is not filterable"))

    def exists(self, condition: str) -> str:
        a = self.alias
        return (
            f"EXISTS (SELECT 1 FROM (WITH RECURSIVE {a}_up(group_id, depth) AS ("
            f"SELECT gm.group_id, 1 FROM group_members gm "
            f"WHERE gm.tenant_id = r.tenant_id AND gm.member_id = r.id "
            f"UNION SELECT gm.group_id, {a}_up.depth + 1 FROM group_members gm JOIN {a}_up "
            f"ON gm.tenant_id = r.tenant_id AND gm.member_id = {a}_up.group_id "
            f"WHERE {a}_up.depth < 32) "
            f"SELECT group_id, min(depth) AS depth FROM {a}_up GROUP BY group_id) AS {a} "
            f"JOIN groups {a}_g ON {a}_g.tenant_id = r.tenant_id AND {a}_g.id = {a}.group_id "
            f"WHERE {condition})")


@dataclass
class GroupMembers(Elements):
    """A group's `members`: rows of group_members (display joined only when used)."""

    alias: str
    _joins: bool = field(default=False, init=False)

    def operand(self, sub: str | None) -> Operand:
        a = self.alias
        if sub is not None and sub.lower() == "display":
            self._joins = True
            return Typed(f"COALESCE({a}_u.display_name, {a}_u.user_name, {a}_g.display_name)",
                         "text", nullable=True)
        return {
            None: Typed(f"{a}.member_id", "uuid"), "value": Typed(f"{a}.member_id", "uuid"),
            "type": Typed(f"{a}.member_type", "text"),
        }.get(sub and sub.lower(), Unfilterable(f"members.{sub} is not filterable"))

    def exists(self, condition: str) -> str:
        a = self.alias
        joins = (
            f" LEFT JOIN users {a}_u ON {a}.member_type = 'User' AND {a}_u.tenant_id = "
            f"{a}.tenant_id AND {a}_u.id = {a}.member_id"
            f" LEFT JOIN groups {a}_g ON {a}.member_type = 'Group' AND {a}_g.tenant_id = "
            f"{a}.tenant_id AND {a}_g.id = {a}.member_id") if self._joins else ""
        return (f"EXISTS (SELECT 1 FROM group_members {a}{joins} WHERE {a}.tenant_id = "
                f"r.tenant_id AND {a}.group_id = r.id AND {condition})")


def elements(resolved: Resolved, resource_type: ResourceType, alias: str) -> Elements:
    """The element source of a multi-valued attribute (or a complex one, for a value path)."""
    name = resolved.attr.name.lower()
    if not resolved.extension and resource_type == "User" and name == "groups":
        return UserGroups(alias)
    if not resolved.extension and resource_type == "Group" and name == "members":
        return GroupMembers(alias)
    if not resolved.extension and name == "meta":
        return MetaObject(resource_type)
    node = _key(doc_base(resolved), resolved.attr.name).json
    if not resolved.attr.multi:
        return JsonObject(node)
    return JsonArray(node, alias, complex=resolved.attr.type == "complex")
