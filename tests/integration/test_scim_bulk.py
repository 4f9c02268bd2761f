"""`POST /Bulk` through the running stack (RFC 7644 §3.7)."""
from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack, Tenant

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def bulk(*ops: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schemas": [BULK], "Operations": list(ops), **extra}


def new_user(bulk_id: str, user_name: str, **attrs: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id,
            "data": {"schemas": [SCIM_USER], "userName": user_name, **attrs}}


async def post_bulk(stack: RunningStack, tenant: Tenant, body: Any) -> tuple[int, Any]:
    status, answer, _ = await stack.scim(tenant, "POST", "/Bulk", body)
    return status, answer


async def ledger(stack: RunningStack, tenant: Tenant) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetch(  # type: ignore[no-any-return]
            "SELECT method, path, status, reason_code FROM operations WHERE tenant_id = $1"
            " ORDER BY received_at", tenant.id)
    finally:
        await conn.close()


async def test_rfc7644_3_7_2_user_created_then_added_to_a_group(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body = await post_bulk(stack, tenant, bulk(
        new_user("u1", "alice@example.com"),
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [SCIM_GROUP], "displayName": "Tour Guides",
                  "members": [{"type": "User", "value": "bulkId:u1"}]}}))
    assert status == 200, body
    assert body["schemas"] == [BULK_RESPONSE]
    user_op, group_op = body["Operations"]
    assert (user_op["method"], user_op["bulkId"], user_op["status"]) == ("POST", "u1", "201")
    assert (group_op["bulkId"], group_op["status"]) == ("g1", "201"), group_op
    uid = user_op["location"].rsplit("/", 1)[-1]
    assert user_op["location"] == f"{stack.scim_url}/Users/{uid}"
    gid = group_op["location"].rsplit("/", 1)[-1]
    status, group, headers = await stack.scim(tenant, "GET", f"/Groups/{gid}")
    assert status == 200 and [m["value"] for m in group["members"]] == [uid]
    assert group_op["version"] == headers["ETag"]
    status, user, _ = await stack.scim(tenant, "GET", f"/Users/{uid}")
    assert [g["value"] for g in user.get("groups", [])] == [gid]
    rows = await ledger(stack, tenant)  # each operation is its own ledger entry
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("POST", "/Users", "applied"), ("POST", "/Groups", "applied")]


async def test_put_patch_delete_and_path_references(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body = await post_bulk(stack, tenant, bulk(
        new_user("u", "bob@example.com"),
        {"method": "PATCH", "path": "/Users/bulkId:u", "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Bob"}]}},
        {"method": "PUT", "path": "/Users/bulkId:u", "version": 'W/"999"',
         "data": {"schemas": [SCIM_USER], "userName": "bob@example.com"}},
        {"method": "DELETE", "path": "/Users/bulkId:u"}))
    assert status == 200, body
    post, patch, put, delete = body["Operations"]
    uid = post["location"].rsplit("/", 1)[-1]
    assert patch["status"] == "200" and patch["location"] == post["location"]
    assert patch["version"] != post["version"]
    assert put["status"] == "412" and put["response"]["schemas"] == [ERROR]
    assert put["location"] == post["location"]
    assert delete["status"] == "204" and "response" not in delete
    status, _, _ = await stack.scim(tenant, "GET", f"/Users/{uid}")
    assert status == 404


async def test_a_bad_operation_does_not_break_the_others(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body = await post_bulk(stack, tenant, bulk(
        {"method": "GET", "path": "/Users"},
        {"method": "DELETE", "path": "/Widgets/1"},
        "not an object",
        new_user("dup", "carol@example.com"),
        new_user("dup", "dave@example.com"),
        {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [SCIM_USER]}},
        {"method": "PATCH", "path": "/Users/bulkId:nowhere", "data": {"Operations": []}},
        {"method": "DELETE", "path": "/Users/not-a-uuid"},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "schemas": [SCIM_GROUP], "displayName": "G", "members": [{"value": "bulkId:bad"}]}},
        new_user("ok", "erin@example.com")))
    assert status == 200, body
    ops = body["Operations"]
    answers = [(o["status"], o.get("response", {}).get("scimType")) for o in ops]
    assert answers == [("400", "invalidSyntax"), ("400", "invalidPath"),
                       ("400", "invalidSyntax"), ("201", None), ("400", "invalidValue"),
                       ("400", "invalidValue"), ("400", "invalidValue"), ("404", None),
                       ("409", None), ("201", None)], ops
    for op in ops:
        if op["status"] != "201":
            assert op["response"]["schemas"] == [ERROR] and op["response"]["status"] == op[
                "status"]
    assert "location" not in ops[5]  # a failed POST has no location (RFC 7644 §3.7)
    rows = await ledger(stack, tenant)
    assert len(rows) == len(ops)
    assert sorted(r["status"] for r in rows) == ["applied"] * 2 + ["rejected"] * 8


async def test_fail_on_errors_stops_after_that_many_errors(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    await stack.create_user(tenant, "taken@example.com")
    ops = [new_user("a", "taken@example.com"), new_user("b", "TAKEN@example.com"),
           new_user("c", "fresh@example.com")]
    status, body = await post_bulk(stack, tenant, bulk(*ops, failOnErrors=2))
    assert status == 200
    assert [(o["bulkId"], o["status"]) for o in body["Operations"]] == [("a", "409"),
                                                                        ("b", "409")]
    assert body["Operations"][0]["response"]["scimType"] == "uniqueness"
    status, body = await post_bulk(stack, tenant, bulk(*ops))  # default: go on
    assert [o["status"] for o in body["Operations"]] == ["409", "409", "201"]


async def test_rfc7644_3_7_1_circular_references_are_409(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()

    def group(bid: str, other: str) -> dict[str, Any]:
        return {"method": "POST", "path": "/Groups", "bulkId": bid, "data": {
            "schemas": [SCIM_GROUP], "displayName": bid,
            "members": [{"type": "Group", "value": f"bulkId:{other}"}]}}
    status, body = await post_bulk(stack, tenant, bulk(group("qwerty", "ytrewq"),
                                                        group("ytrewq", "qwerty")))
    assert status == 200
    assert [o["status"] for o in body["Operations"]] == ["409", "409"]


async def test_rfc7644_3_7_4_limits_are_413(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, body = await post_bulk(stack, tenant, bulk(
        *[{"method": "DELETE", "path": f"/Users/{i}"} for i in range(1001)]))
    assert status == 413 and body["schemas"] == [ERROR] and "scimType" not in body
    assert "1000" in body["detail"]
    huge = json.dumps(bulk(new_user("big", "big@example.com", displayName="x" * 1_100_000)))
    async with stack.http.post(f"{stack.scim_url}/Bulk", data=io.BytesIO(huge.encode()),
                               headers={"Authorization": f"Bearer {tenant.token}",
                                        "Content-Type": "application/scim+json"}) as r:
        assert r.status == 413
        assert "1048576" in (await r.json(content_type=None))["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for i in range(0, len(huge), 65536):
            yield huge[i:i + 65536].encode()
    async with stack.http.post(f"{stack.scim_url}/Bulk", data=chunks(),
                               headers={"Authorization": f"Bearer {tenant.token}"}) as r:
        assert r.status == 413
    assert await ledger(stack, tenant) == []  # nothing ran


async def test_malformed_requests_are_400(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    async with stack.http.post(f"{stack.scim_url}/Bulk", data=b"[" * 100_000,
                               headers={"Authorization": f"Bearer {tenant.token}"}) as r:
        assert r.status == 400
        assert (await r.json(content_type=None))["scimType"] == "invalidSyntax"
    for body in ({"Operations": []}, bulk(failOnErrors="x"), [1]):
        status, answer = await post_bulk(stack, tenant, body)
        assert status == 400 and answer["schemas"] == [ERROR], answer
    status, answer = await post_bulk(stack, tenant, bulk())
    assert status == 200 and answer["Operations"] == []
    async with stack.http.post(f"{stack.scim_url}/Bulk", json=bulk()) as r:
        assert r.status == 401
