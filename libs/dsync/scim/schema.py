"""The attribute catalog of the schemas dsync serves (RFC 7643 §4, §8.7): core User,
Enterprise User extension, core Group. The filter compiler, PATCH engine, validation and
the `/Schemas` endpoint all read it, so what we advertise is what we enforce.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

AttrType = Literal["string", "boolean", "decimal", "integer", "dateTime", "reference",
                   "complex", "binary"]
Mutability = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]


@dataclass(frozen=True)
class Attr:
    name: str
    type: AttrType = "string"
    multi: bool = False
    case_exact: bool = False
    mutability: Mutability = "readWrite"
    returned: Returned = "default"
    uniqueness: Literal["none", "server", "global"] = "none"
    required: bool = False
    sub: tuple[Attr, ...] = ()
    canonical: tuple[str, ...] = ()
    description: str = ""

    def child(self, name: str) -> Attr | None:
        lowered = name.lower()
        return next((a for a in self.sub if a.name.lower() == lowered), None)


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attr, ...] = field(default_factory=tuple)

    def attr(self, name: str) -> Attr | None:
        lowered = name.lower()
        return next((a for a in self.attributes if a.name.lower() == lowered), None)


def _multi(name: str, *, types: tuple[str, ...] = ("work", "home", "other"),
           value_type: AttrType = "string", extra: tuple[Attr, ...] = ()) -> Attr:
    return Attr(name, "complex", multi=True, sub=(
        Attr("value", value_type), Attr("display"),
        Attr("type", canonical=types), Attr("primary", "boolean"), *extra,
    ))


_REF_SUB = (Attr("value", mutability="immutable"),
            Attr("$ref", "reference", mutability="immutable"),
            Attr("display", mutability="readOnly"),
            Attr("type", mutability="immutable", canonical=("User", "Group")))

USER = Schema(USER_SCHEMA, "User", "User Account", (
    Attr("userName", required=True, uniqueness="server", returned="always"),
    Attr("name", "complex", sub=(
        Attr("formatted"), Attr("familyName"), Attr("givenName"), Attr("middleName"),
        Attr("honorificPrefix"), Attr("honorificSuffix"))),
    Attr("displayName"), Attr("nickName"), Attr("profileUrl", "reference"), Attr("title"),
    Attr("userType"), Attr("preferredLanguage"), Attr("locale"), Attr("timezone"),
    Attr("active", "boolean"),
    Attr("password", mutability="writeOnly", returned="never"),
    _multi("emails"),
    _multi("phoneNumbers", types=("work", "home", "mobile", "fax", "pager", "other")),
    _multi("ims", types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
    _multi("photos", types=("photo", "thumbnail"), value_type="reference"),
    Attr("addresses", "complex", multi=True, sub=(
        Attr("formatted"), Attr("streetAddress"), Attr("locality"), Attr("region"),
        Attr("postalCode"), Attr("country"), Attr("type", canonical=("work", "home", "other")),
        Attr("primary", "boolean"))),
    Attr("groups", "complex", multi=True, mutability="readOnly", sub=(
        Attr("value", mutability="readOnly"), Attr("$ref", "reference", mutability="readOnly"),
        Attr("display", mutability="readOnly"),
        Attr("type", mutability="readOnly", canonical=("direct", "indirect")))),
    _multi("entitlements", types=()), _multi("roles", types=()),
    Attr("x509Certificates", "complex", multi=True, sub=(
        Attr("value", "binary"), Attr("display"), Attr("type"), Attr("primary", "boolean"))),
))

ENTERPRISE_USER = Schema(ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", (
    Attr("employeeNumber"), Attr("costCenter"), Attr("organization"), Attr("division"),
    Attr("department"),
    Attr("manager", "complex", sub=(
        Attr("value"), Attr("$ref", "reference"), Attr("displayName", mutability="readOnly"))),
))

GROUP = Schema(GROUP_SCHEMA, "Group", "Group", (
    Attr("displayName", required=True, uniqueness="server", returned="always"),
    Attr("members", "complex", multi=True, sub=_REF_SUB),
))

# Attributes every resource has (RFC 7643 §3.1), case-insensitive names.
COMMON = (
    Attr("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server"),
    Attr("externalId", case_exact=True),
    Attr("meta", "complex", mutability="readOnly", sub=(
        Attr("resourceType", case_exact=True, mutability="readOnly"),
        Attr("created", "dateTime", mutability="readOnly"),
        Attr("lastModified", "dateTime", mutability="readOnly"),
        Attr("location", "reference", mutability="readOnly"),
        Attr("version", case_exact=True, mutability="readOnly"))),
)

SCHEMAS_BY_RESOURCE: dict[str, tuple[Schema, ...]] = {
    "User": (USER, ENTERPRISE_USER),
    "Group": (GROUP,),
}
CORE_SCHEMA = {"User": USER_SCHEMA, "Group": GROUP_SCHEMA}
ALL_SCHEMAS = (USER, ENTERPRISE_USER, GROUP)
