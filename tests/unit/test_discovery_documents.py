"""Discovery documents (RFC 7643 §5–7) built from the attribute catalog, checked against
scim2-models' reading of the RFC and against the catalog itself."""
from __future__ import annotations

from typing import Any

from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig

from dsync.scim import schema as catalog
from dsync_services.gateway.scim_discovery import (
    RESOURCE_TYPES,
    find_resource_type,
    find_schema,
    list_response,
    resource_type_doc,
    schema_doc,
    service_provider_config_doc,
)
from dsync_services.gateway.scim_limits import ScimLimits

BASE = "https://scim.example.com/scim/v2"


def _attr(doc: dict[str, Any], path: str) -> dict[str, Any]:
    name, _, rest = path.partition(".")
    found = next(a for a in doc.get("attributes", doc.get("subAttributes", []))
                 if a["name"] == name)
    return _attr(found, rest) if rest else found


def test_documents_read_as_a_scim_provider() -> None:
    schemas = [Schema.model_validate(schema_doc(s, BASE)) for s in catalog.ALL_SCHEMAS]
    types = [ResourceType.model_validate(resource_type_doc(n, BASE)) for n in RESOURCE_TYPES]
    config = ServiceProviderConfig.model_validate(
        service_provider_config_doc(BASE, ScimLimits()))
    provider = ScimProvider.from_discovery(schemas, types, config)
    user = provider.model_for(types[0])
    assert user is not None and "user_name" in user.model_fields


def test_every_catalog_attribute_is_published_with_its_characteristics() -> None:
    for schema in catalog.ALL_SCHEMAS:
        doc = schema_doc(schema, BASE)
        assert doc["id"] == schema.id
        assert doc["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{schema.id}"}
        assert [a["name"] for a in doc["attributes"]] == [a.name for a in schema.attributes]
        for attr, published in zip(schema.attributes, doc["attributes"], strict=True):
            assert published["type"] == attr.type
            assert published["multiValued"] == attr.multi
            assert published["mutability"] == attr.mutability
            assert published["returned"] == attr.returned
            assert published["uniqueness"] == attr.uniqueness
            assert published["required"] == attr.required
            assert published["caseExact"] == attr.case_exact
            assert len(published.get("subAttributes", [])) == len(attr.sub)


def test_rfc7643_8_7_1_notable_attributes() -> None:
    user = schema_doc(catalog.USER, BASE)
    assert _attr(user, "userName")["uniqueness"] == "server"
    assert _attr(user, "userName")["required"] is True
    assert _attr(user, "password")["mutability"] == "writeOnly"
    assert _attr(user, "password")["returned"] == "never"
    assert _attr(user, "groups")["mutability"] == "readOnly"
    assert _attr(user, "groups.$ref")["referenceTypes"] == ["User", "Group"]
    assert _attr(user, "profileUrl")["referenceTypes"] == ["external"]
    assert _attr(user, "emails.type")["canonicalValues"] == ["work", "home", "other"]
    group = schema_doc(catalog.GROUP, BASE)
    assert _attr(group, "members.$ref")["referenceTypes"] == ["User", "Group"]
    assert _attr(group, "members.value")["mutability"] == "immutable"
    manager = _attr(schema_doc(catalog.ENTERPRISE_USER, BASE), "manager.$ref")
    assert manager["referenceTypes"] == ["User"]


def test_resource_types() -> None:
    user = resource_type_doc("User", BASE)
    assert user["endpoint"] == "/Users" and user["schema"] == catalog.USER_SCHEMA
    assert user["schemaExtensions"] == [{"schema": catalog.ENTERPRISE_SCHEMA,
                                         "required": False}]
    assert user["meta"] == {"resourceType": "ResourceType",
                            "location": f"{BASE}/ResourceTypes/User"}
    group = resource_type_doc("Group", BASE)
    assert group["endpoint"] == "/Groups" and "schemaExtensions" not in group


def test_service_provider_config_tells_the_limits_we_enforce() -> None:
    doc = service_provider_config_doc(BASE, ScimLimits(bulk_max_operations=7,
                                                       bulk_max_payload_bytes=4096))
    assert doc["bulk"] == {"supported": True, "maxOperations": 7, "maxPayloadSize": 4096}
    assert doc["patch"] == {"supported": True}
    assert doc["changePassword"] == {"supported": False}
    assert doc["filter"]["supported"] is True and doc["filter"]["maxResults"] >= 1
    assert doc["sort"] == {"supported": True} and doc["etag"] == {"supported": True}
    assert doc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert doc["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


def test_lookups_and_list_response() -> None:
    assert find_schema(catalog.USER_SCHEMA.upper()) is catalog.USER
    assert find_schema("urn:nope") is None
    assert find_resource_type("group") == "Group"
    assert find_resource_type("Widget") is None
    listed = list_response([{"id": "a"}])
    assert listed["totalResults"] == 1 and listed["Resources"] == [{"id": "a"}]
