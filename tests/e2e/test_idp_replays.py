"""Replays of the request sequences Okta and Entra ID send, against the whole stack
(every service as its own process, as `make run` starts them). Shapes follow the IdPs'
published SCIM 2.0 integration guides (Okta "SCIM 2.0 protocol reference", Microsoft
"Tutorial: Develop a sample SCIM endpoint" / "Known issues for SCIM 2.0 compliance")."""
from __future__ import annotations

import uuid
from urllib.parse import quote

from dsync_testkit.stack import RunningStack

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def test_okta_lifecycle(stack: RunningStack) -> None:
    t = await stack.new_tenant("okta")
    # 1. Okta looks the user up before creating it
    status, body, _ = await stack.scim(
        t, "GET", "/Users?filter=" + quote('userName eq "isabella@okta.local"')
        + "&startIndex=1&count=100")
    assert status == 200 and body["totalResults"] == 0
    # 2. create, with a password and an empty groups list
    status, user, headers = await stack.scim(t, "POST", "/Users", {
        "schemas": [USER], "userName": "isabella@okta.local",
        "name": {"givenName": "Isabella", "familyName": "Doe"},
        "emails": [{"primary": True, "value": "isabella@okta.local", "type": "work"}],
        "displayName": "Isabella Doe", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq", "active": True})
    assert status == 201, user
    assert "password" not in user and user["active"] is True
    uid = user["id"]
    # 3. GET then PUT (Okta's profile update is a full replace)
    status, current, _ = await stack.scim(t, "GET", f"/Users/{uid}")
    current["name"]["familyName"] = "Smith"
    current["displayName"] = "Isabella Smith"
    status, replaced, _ = await stack.scim(t, "PUT", f"/Users/{uid}", current)
    assert status == 200 and replaced["name"]["familyName"] == "Smith"
    assert replaced["meta"]["version"] != user["meta"]["version"]
    # 4. pathless replace to deactivate
    status, patched, _ = await stack.scim(t, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200 and patched["active"] is False
    # 5. groups: create, rename (value carries id), add, remove+add in one PATCH, full push
    others = [(await stack.create_user(t, f"o{i}@okta.local"))["id"] for i in range(3)]
    status, group, _ = await stack.scim(t, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})
    assert status == 201
    gid = group["id"]
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "value": {
            "id": gid, "displayName": "Test SCIMv2 renamed"}}]})
    assert status in (200, 204)
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [
            {"value": uid, "display": "isabella@okta.local"}, {"value": others[0]}]}]})
    assert status in (200, 204)
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [
            {"op": "remove", "path": f'members[value eq "{others[0]}"]'},
            {"op": "add", "path": "members", "value": [{"value": others[1]}]}]})
    status, g, _ = await stack.scim(t, "GET", f"/Groups/{gid}")
    assert g["displayName"] == "Test SCIMv2 renamed"
    assert {m["value"] for m in g["members"]} == {uid, others[1]}
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": [
            {"value": others[2]}]}]})
    status, g, _ = await stack.scim(t, "GET", f"/Groups/{gid}")
    assert {m["value"] for m in g["members"]} == {others[2]}
    status, _, _ = await stack.scim(t, "DELETE", f"/Groups/{gid}")
    assert status == 204


async def test_entra_lifecycle(stack: RunningStack) -> None:
    t = await stack.new_tenant("entra")
    # 1. Entra's connectivity probe: a random userName, answered with an empty list
    status, body, _ = await stack.scim(
        t, "GET", "/Users?filter=" + quote(f'userName eq "{uuid.uuid4()}"'))
    assert status == 200 and body["totalResults"] == 0 and body["Resources"] == []
    manager = await stack.create_user(t, "boss@contoso.test")
    # 2. create with the enterprise extension
    status, user, _ = await stack.scim(t, "POST", "/Users", {
        "schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@contoso.test", "active": True,
        "displayName": "Test User", "emails": [{"primary": True, "type": "work",
                                                "value": "Test_User@contoso.test"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName",
                 "givenName": "givenName"},
        "roles": [], ENTERPRISE: {"department": "Sales", "employeeNumber": "42"}})
    assert status == 201, user
    uid = user["id"]
    # 3. lookup by externalId
    status, body, _ = await stack.scim(
        t, "GET", "/Users?filter=" + quote('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'))
    assert [r["id"] for r in body["Resources"]] == [uid]
    # 4. capitalised ops, string booleans, URN paths, value-path add, manager as string
    status, patched, _ = await stack.scim(t, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Test User 2"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.test"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]},
            {"op": "Replace", "value": {"name.givenName": "Given2"}}]})
    assert status == 200, patched
    assert patched["displayName"] == "Test User 2"
    assert patched["emails"][0]["value"] == "new@contoso.test"
    assert patched[ENTERPRISE]["department"] == "Marketing"
    assert patched[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert patched["name"]["givenName"] == "Given2"
    status, patched, _ = await stack.scim(t, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert status == 200 and patched["active"] is False  # a real boolean, not "False"
    # 5. groups: lookup without members, add, legacy remove with a value list
    status, group, _ = await stack.scim(t, "POST", "/Groups", {
        "schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName", "meta": {"resourceType": "Group"}})
    assert status == 201
    gid = group["id"]
    status, body, _ = await stack.scim(
        t, "GET", "/Groups?excludedAttributes=members&filter="
        + quote('displayName eq "displayName"'))
    assert [r["id"] for r in body["Resources"]] == [gid] and "members" not in body["Resources"][0]
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [
            {"value": uid}, {"value": manager["id"]}]}]})
    assert status in (200, 204)
    status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [
            {"value": manager["id"]}]}]})
    status, g, _ = await stack.scim(t, "GET", f"/Groups/{gid}")
    assert [m["value"] for m in g["members"]] == [uid]
    # 6. delete the user: gone from the group too
    status, _, _ = await stack.scim(t, "DELETE", f"/Users/{uid}")
    assert status == 204
    status, g, _ = await stack.scim(t, "GET", f"/Groups/{gid}")
    assert g.get("members", []) == []


async def test_onelogin_old_urns_and_jumpcloud_repeated_adds(stack: RunningStack) -> None:
    t = await stack.new_tenant("misc")
    status, user, _ = await stack.scim(t, "POST", "/Users", {
        "schemas": ["urn:scim:schemas:core:2.0:User"], "userName": "legacy@onelogin.test"})
    assert status == 201, user
    assert USER in user["schemas"]
    status, group, _ = await stack.scim(t, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": "jc"})
    for _ in range(3):
        status, _, _ = await stack.scim(t, "PATCH", f"/Groups/{group['id']}", {
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                "value": [{"value": user["id"]}]}]})
        assert status in (200, 204)
    status, g, _ = await stack.scim(t, "GET", f"/Groups/{group['id']}")
    assert [m["value"] for m in g["members"]] == [user["id"]]


async def test_if_match_and_etags(stack: RunningStack) -> None:
    t = await stack.new_tenant("etag")
    user = await stack.create_user(t, "etag@example.com")
    version = user["meta"]["version"]
    status, body, _ = await stack.scim(t, "PATCH", f"/Users/{user['id']}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName",
                                            "value": "x"}]}, headers={"If-Match": 'W/"999"'})
    assert status == 412 and body["status"] == "412"
    status, body, headers = await stack.scim(t, "PATCH", f"/Users/{user['id']}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName",
                                            "value": "x"}]}, headers={"If-Match": version})
    assert status == 200 and headers["ETag"] != version
