"""The whole path on real parts: HTTP -> gateway -> Kafka -> directory -> PostgreSQL."""
from __future__ import annotations

import asyncio

from dsync_testkit.events import by_tenant, read_topic
from dsync_testkit.stack import SCIM_USER, RunningStack


async def test_healthz_and_metrics_are_served(stack: RunningStack) -> None:
    async with stack.http.get(f"{stack.base_url}/healthz") as r:
        assert r.status == 200
        body = await r.json()
    assert body["checks"]["directory"] == "ok" and body["checks"]["database"] == "ok"
    async with stack.http.get(f"{stack.base_url}/metrics") as r:
        assert r.status == 200
        assert "dsync_gateway_requests_total" in await r.text()


async def test_admin_tenants_and_tokens(stack: RunningStack) -> None:
    tenant = await stack.new_tenant("acme")
    status, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}")
    assert status == 200 and body["name"] == "acme" and "scim_token" not in body
    status, listing = await stack.admin("GET", "/admin/v1/tenants")
    assert tenant.id in [t["id"] for t in listing["tenants"]]
    status, second = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/tokens")
    assert status == 201 and second["scim_token"] != tenant.token
    # both tokens work
    for token in (tenant.token, second["scim_token"]):
        status, _, _ = await stack.scim(token, "GET", "/Users/00000000-0000-0000-0000-000000000000")
        assert status == 404
    status, _ = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}/tokens/{second['id']}")
    assert status == 204
    status, body, headers = await stack.scim(second["scim_token"], "GET", "/Users/x")
    assert status == 401 and body["status"] == "401"
    status, _, _ = await stack.scim(tenant.token, "GET", "/Users/x")
    assert status == 404


async def test_admin_api_requires_the_admin_token(stack: RunningStack) -> None:
    async with stack.http.get(f"{stack.base_url}/admin/v1/tenants",
                              headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401
    tenant = await stack.new_tenant()
    async with stack.http.get(f"{stack.base_url}/admin/v1/tenants",
                              headers={"Authorization": f"Bearer {tenant.token}"}) as r:
        assert r.status == 401  # a SCIM token is not an admin token


async def test_missing_or_unknown_token_gets_401(stack: RunningStack) -> None:
    async with stack.http.get(f"{stack.scim_url}/Users/x") as r:
        assert r.status == 401
        body = await r.json(content_type=None)
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    status, _, _ = await stack.scim("dsync_scim_unknown", "POST", "/Users",
                                    {"schemas": [SCIM_USER], "userName": "x"})
    assert status == 401


async def test_create_get_delete_user(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, created, headers = await stack.scim(
        tenant, "POST", "/Users", {"schemas": [SCIM_USER], "userName": "alice@example.com",
                                   "name": {"givenName": "Alice"}, "active": True})
    assert status == 201, created
    uid = created["id"]
    assert headers["Location"].endswith(f"/scim/v2/Users/{uid}")
    assert headers["ETag"] == created["meta"]["version"]
    assert created["meta"]["resourceType"] == "User"
    status, fetched, _ = await stack.scim(tenant, "GET", f"/Users/{uid}")
    assert status == 200 and fetched["userName"] == "alice@example.com"
    assert fetched["name"] == {"givenName": "Alice"}
    status, body, _ = await stack.scim(tenant, "DELETE", f"/Users/{uid}")
    assert status == 204 and body is None
    status, body, _ = await stack.scim(tenant, "GET", f"/Users/{uid}")
    assert status == 404 and body["status"] == "404"
    status, body, _ = await stack.scim(tenant, "DELETE", f"/Users/{uid}")
    assert status == 404


async def test_duplicate_user_name_is_409_case_insensitive(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    await stack.create_user(tenant, "bob@example.com")
    status, body, _ = await stack.scim(tenant, "POST", "/Users",
                                       {"schemas": [SCIM_USER], "userName": "BOB@example.com"})
    assert status == 409 and body["scimType"] == "uniqueness"
    other = await stack.new_tenant()  # uniqueness is per tenant
    await stack.create_user(other, "bob@example.com")


async def test_bad_input_is_a_scim_error_and_changes_nothing(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    async with stack.http.post(f"{stack.scim_url}/Users", data=b"{not json",
                               headers={"Authorization": f"Bearer {tenant.token}"}) as r:
        assert r.status == 400
        assert (await r.json(content_type=None))["scimType"] == "invalidSyntax"
    status, body, _ = await stack.scim(tenant, "POST", "/Users", {"schemas": [SCIM_USER]})
    assert status == 400 and body["scimType"] == "invalidValue"
    count = await _count_users(stack, tenant.id)
    assert count == 0


async def test_tenant_cannot_read_or_delete_another_tenants_user(stack: RunningStack) -> None:
    a, b = await stack.new_tenant(), await stack.new_tenant()
    user_b = await stack.create_user(b, "carol@example.com")
    status, _, _ = await stack.scim(a, "GET", f"/Users/{user_b['id']}")
    assert status == 404
    status, _, _ = await stack.scim(a, "DELETE", f"/Users/{user_b['id']}")
    assert status == 404
    # a header or body naming the other tenant routes nothing
    status, _, _ = await stack.scim(a, "GET", f"/Users/{user_b['id']}",
                                    headers={"X-Tenant-Id": b.id})
    assert status == 404
    status, still, _ = await stack.scim(b, "GET", f"/Users/{user_b['id']}")
    assert status == 200 and still["userName"] == "carol@example.com"


async def test_events_are_published_in_order_with_contiguous_sequences(
        stack: RunningStack) -> None:
    tenants = [await stack.new_tenant() for _ in range(3)]

    async def churn(t):  # type: ignore[no-untyped-def]
        for i in range(8):
            user = await stack.create_user(t, f"u{i}@example.com")
            if i % 3 == 0:
                status, _, _ = await stack.scim(t, "DELETE", f"/Users/{user['id']}")
                assert status == 204

    await asyncio.gather(*(churn(t) for t in tenants))
    ids = {t.id for t in tenants}
    expected = 8 + 3  # creates + deletes per tenant

    def complete(records):  # type: ignore[no-untyped-def]
        per = by_tenant([r for r in records if r["tenantid"] in ids])
        return len(per) == 3 and all(len(v) >= expected for v in per.values())

    records = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", until=complete)
    for tenant_id, events in by_tenant([r for r in records if r["tenantid"] in ids]).items():
        assert [e["sequence"] for e in events] == list(range(1, expected + 1))
        assert {e["key"] for e in events} == {tenant_id.encode()}
        assert len({e["partition"] for e in events}) == 1
        first = events[0]
        assert first["specversion"] == "1.0" and first["type"] == "user.created"
        assert first["source"] and first["time"] and first["subject"]
        deleted = [e for e in events if e["type"] == "user.deleted"]
        assert len(deleted) == 3


async def _count_users(stack: RunningStack, tenant_id: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(stack.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM users WHERE tenant_id = $1::uuid",
                                       tenant_id))
    finally:
        await conn.close()
