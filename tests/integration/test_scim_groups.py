"""Groups through the running stack: CRUD, membership PATCH in IdP dialects, nesting,
concurrency, large groups."""
from __future__ import annotations

import asyncio

from dsync_testkit.stack import SCIM_GROUP, RunningStack

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _group(stack: RunningStack, tenant, name: str, members=()):  # type: ignore[no-untyped-def]
    status, body, headers = await stack.scim(tenant, "POST", "/Groups", {
        "schemas": [SCIM_GROUP], "displayName": name,
        "members": [{"value": m} for m in members]})
    assert status == 201, body
    return body


async def _member_ids(stack: RunningStack, tenant, gid: str) -> set[str]:  # type: ignore[no-untyped-def]
    status, body, _ = await stack.scim(tenant, "GET", f"/Groups/{gid}")
    assert status == 200, body
    return {m["value"] for m in body.get("members", [])}


async def test_group_crud_and_membership_dialects(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    users = [(await stack.create_user(tenant, f"g{i}@example.com"))["id"] for i in range(4)]
    group = await _group(stack, tenant, "Engineering", users[:2])
    gid = group["id"]
    assert {m["value"] for m in group["members"]} == set(users[:2])
    assert group["meta"]["resourceType"] == "Group"
    # Okta: add members
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                            "value": [{"value": users[2]}]}]})
    assert status in (200, 204)
    assert await _member_ids(stack, tenant, gid) == set(users[:3])
    # Entra: capitalised op, filter path removal
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "Remove",
                                            "path": f'members[value eq "{users[0]}"]'}]})
    assert status in (200, 204)
    assert await _member_ids(stack, tenant, gid) == {users[1], users[2]}
    # Entra legacy: remove with a value list removes only those
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members",
                                            "value": [{"value": users[1]}]}]})
    assert await _member_ids(stack, tenant, gid) == {users[2]}
    # Okta: replace members (full push) and rename in one request
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [
            {"op": "replace", "value": {"id": gid, "displayName": "Eng"}},
            {"op": "replace", "path": "members", "value": [{"value": users[0]},
                                                           {"value": users[3]}]}]})
    assert status in (200, 204)
    status, body, _ = await stack.scim(tenant, "GET", f"/Groups/{gid}")
    assert body["displayName"] == "Eng"
    assert {m["value"] for m in body["members"]} == {users[0], users[3]}
    # the user's read-only groups attribute
    status, user, _ = await stack.scim(tenant, "GET", f"/Users/{users[0]}")
    assert [g["value"] for g in user["groups"]] == [gid]
    # excludedAttributes=members
    status, body, _ = await stack.scim(tenant, "GET", f"/Groups/{gid}?excludedAttributes=members")
    assert status == 200 and "members" not in body and body["displayName"] == "Eng"
    # unknown member is a 400, nothing changes
    status, body, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", {
        "schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [
            {"value": "7d4c2c4e-3b68-4d8a-9a0c-2b8e9c1c0000"}]}]})
    assert status == 400 and body["scimType"] == "invalidValue"
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Groups/{gid}")
    assert status == 204
    status, _, _ = await stack.scim(tenant, "GET", f"/Groups/{gid}")
    assert status == 404
    status, user, _ = await stack.scim(tenant, "GET", f"/Users/{users[0]}")
    assert "groups" not in user or user["groups"] == []


async def test_display_name_unique_per_tenant(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    await _group(stack, tenant, "Sales")
    status, body, _ = await stack.scim(tenant, "POST", "/Groups",
                                       {"schemas": [SCIM_GROUP], "displayName": "sales"})
    assert status == 409 and body["scimType"] == "uniqueness"


async def test_nested_groups_show_as_indirect_membership(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "nested@example.com")
    inner = await _group(stack, tenant, "inner", [user["id"]])
    outer = await _group(stack, tenant, "outer", [inner["id"]])
    assert outer["members"] == [{"value": inner["id"], "type": "Group", "display": "inner",
                                 "$ref": f"{stack.scim_url}/Groups/{inner['id']}"}]
    status, body, _ = await stack.scim(tenant, "GET", f"/Users/{user['id']}")
    types = {g["value"]: g["type"] for g in body["groups"]}
    assert types == {inner["id"]: "direct", outer["id"]: "indirect"}


async def test_fifty_concurrent_member_adds_lose_nothing(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    users = await asyncio.gather(*(stack.create_user(tenant, f"c{i}@example.com")
                                   for i in range(50)))
    group = await _group(stack, tenant, "concurrent")

    async def add(uid: str) -> int:
        status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{group['id']}", {
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                "value": [{"value": uid}]}]})
        return status

    statuses = await asyncio.gather(*(add(u["id"]) for u in users))
    assert set(statuses) <= {200, 204}
    assert await _member_ids(stack, tenant, group["id"]) == {u["id"] for u in users}


async def test_thousand_member_patch_and_paged_read(stack: RunningStack) -> None:
    import uuid as _uuid
    from datetime import UTC, datetime

    import asyncpg

    tenant = await stack.new_tenant()
    conn = await asyncpg.connect(stack.database_url)
    try:  # seed 1,200 users directly (the SCIM path is exercised elsewhere)
        now = datetime.now(UTC)
        ids = [_uuid.uuid4() for _ in range(1200)]
        await conn.executemany(
            "INSERT INTO users (tenant_id, id, user_name, doc, created_at, updated_at)"
            " VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $5)",
            [(tenant.id, i, f"bulk{n}@example.com",
              f'{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
              f'"userName":"bulk{n}@example.com"}}', now) for n, i in enumerate(ids)])
    finally:
        await conn.close()
    group = await _group(stack, tenant, "big")
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{group['id']}", {
        "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                            "value": [{"value": str(i)} for i in ids[:1000]]}]})
    assert status in (200, 204)
    assert len(await _member_ids(stack, tenant, group["id"])) == 1000
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Groups/{group['id']}", {
        "schemas": [PATCH], "Operations": [
            {"op": "remove", "path": "members", "value": [{"value": str(i)} for i in ids[:500]]},
            {"op": "add", "path": "members", "value": [{"value": str(i)} for i in ids[1000:]]}]})
    assert status in (200, 204)
    members = await _member_ids(stack, tenant, group["id"])
    assert members == {str(i) for i in ids[500:]}
