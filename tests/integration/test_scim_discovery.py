"""SCIM discovery endpoints through the running stack (RFC 7644 §4)."""
from __future__ import annotations

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_service_provider_config(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body, headers = await stack.scim(tenant, "GET", "/ServiceProviderConfig")
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"] == {"supported": True}
    assert body["bulk"] == {"supported": True, "maxOperations": 1000,
                            "maxPayloadSize": 1048576}
    assert body["filter"]["supported"] is True and body["filter"]["maxResults"] > 0
    assert body["changePassword"] == {"supported": False}
    assert body["sort"] == {"supported": True} and body["etag"] == {"supported": True}
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]
    assert body["meta"] == {"resourceType": "ServiceProviderConfig",
                            "location": f"{stack.scim_url}/ServiceProviderConfig"}


async def test_resource_types(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body, _ = await stack.scim(tenant, "GET", "/ResourceTypes")
    assert status == 200 and body["schemas"] == [LIST]
    assert body["totalResults"] == 2 == len(body["Resources"])
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["User"]["schema"] == SCIM_USER
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_id["Group"]["endpoint"] == "/Groups" and by_id["Group"]["schema"] == SCIM_GROUP
    status, group, _ = await stack.scim(tenant, "GET", "/ResourceTypes/Group")
    assert status == 200 and group == by_id["Group"]
    assert group["meta"]["location"] == f"{stack.scim_url}/ResourceTypes/Group"
    status, body, _ = await stack.scim(tenant, "GET", "/ResourceTypes/Widget")
    assert status == 404 and body["schemas"] == [ERROR] and body["status"] == "404"


async def test_schemas(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body, _ = await stack.scim(tenant, "GET", "/Schemas")
    assert status == 200 and body["schemas"] == [LIST]
    ids = [s["id"] for s in body["Resources"]]
    assert sorted(ids) == sorted([SCIM_USER, SCIM_GROUP, ENTERPRISE])
    status, user, _ = await stack.scim(tenant, "GET", f"/Schemas/{SCIM_USER}")
    assert status == 200 and user["name"] == "User"
    assert user["meta"] == {"resourceType": "Schema",
                            "location": f"{stack.scim_url}/Schemas/{SCIM_USER}"}
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert user_name == {"name": "userName", "type": "string", "multiValued": False,
                         "required": True, "caseExact": False, "mutability": "readWrite",
                         "returned": "always", "uniqueness": "server"}
    emails = next(a for a in user["attributes"] if a["name"] == "emails")
    assert emails["multiValued"] is True
    assert {s["name"] for s in emails["subAttributes"]} >= {"value", "type", "primary"}
    status, body, _ = await stack.scim(tenant, "GET", "/Schemas/urn:nope")
    assert status == 404 and body["schemas"] == [ERROR]


async def test_discovery_needs_a_token_and_refuses_other_methods(stack: RunningStack) -> None:
    async with stack.http.get(f"{stack.scim_url}/Schemas") as r:
        assert r.status == 401
    tenant = await stack.new_tenant()
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            status, body, _ = await stack.scim(tenant, method, path, {})
            assert status == 405 and body["schemas"] == [ERROR], (method, path, body)


async def test_rfc7644_4_filter_is_403_and_paging_is_ignored(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body, _ = await stack.scim(tenant, "GET", '/Schemas?filter=id eq "x"')
    assert status == 403 and body["schemas"] == [ERROR]
    status, body, _ = await stack.scim(tenant, "GET", "/ResourceTypes?count=1&startIndex=2")
    assert status == 200 and body["totalResults"] == 2 == len(body["Resources"])
