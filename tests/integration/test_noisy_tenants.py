"""Noisy tenants: per-tenant rate limit and concurrency cap (429 + Retry-After), overridden
through the admin API, counted in /metrics; other tenants are not affected. Unknown tokens
are answered from a negative cache."""
from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack


async def _wait_for_lock_waiter(dsn: str, wait_s: float = 60.0) -> None:
    """Until some backend waits on a lock (the held request is in the database)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(wait_s / 0.05)):
            if await conn.fetchval("SELECT count(*) FROM pg_stat_activity"
                                   " WHERE wait_event_type = 'Lock'"):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("no request reached the lock")
    finally:
        await conn.close()


async def _metric(stack: RunningStack, pattern: str) -> float:
    async with stack.http.get(f"{stack.base_url}/metrics") as r:
        text = await r.text()
    m = re.search("^" + pattern + r" (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


async def _throttled_count(stack: RunningStack, reason: str, tier: str) -> float:
    return await _metric(stack, rf'dsync_gateway_throttled_total\{{reason="{reason}",'
                                rf'tier="{tier}"\}}')


async def test_limits_admin_api_validates_and_shows_effective_values(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    path = f"/admin/v1/tenants/{tenant.id}/limits"
    status, body = await stack.admin("GET", path)
    assert status == 200 and body["tier"] == "default"
    assert body["effective"]["rate_per_s"] > 0 and body["overrides"]["burst"] is None
    for bad in ({"burst": 0}, {"rate_per_s": -1}, {"max_users": "9"}, {"tier": "Bad Tier"},
                {"nope": 1}, {"max_concurrency": True}):
        status, err = await stack.admin("PUT", path, bad)
        assert status == 400 and err["error"] == "invalid_value", (bad, err)
    status, body = await stack.admin("GET", path)
    assert body["tier"] == "default"  # nothing stored by the refused calls
    status, body = await stack.admin("PUT", path, {"tier": "gold", "burst": 7})
    assert status == 200 and body["effective"]["burst"] == 7 and body["tier"] == "gold"
    status, _ = await stack.admin("PUT", "/admin/v1/tenants/"
                                  "00000000-0000-0000-0000-000000000000/limits", {})
    assert status == 404


async def test_rate_limit_answers_429_with_retry_after(stack: RunningStack) -> None:
    noisy, quiet = await stack.new_tenant(), await stack.new_tenant()
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{noisy.id}/limits",
                                  {"tier": "tiny", "rate_per_s": 0.01, "burst": 3})
    assert status == 200
    before = await _throttled_count(stack, "rate", "tiny")
    for _ in range(3):
        status, _, _ = await stack.scim(noisy, "GET", "/Users?count=1")
        assert status == 200
    status, body, headers = await stack.scim(noisy, "GET", "/Users?count=1")
    assert status == 429, body
    assert body["status"] == "429" and body["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"]
    assert int(headers["Retry-After"]) >= 1
    status, _, _ = await stack.scim(quiet, "GET", "/Users?count=1")
    assert status == 200  # another tenant keeps its own bucket
    assert await _throttled_count(stack, "rate", "tiny") == before + 1
    # lifting the override (PUT {} = defaults) lets the tenant through again
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{noisy.id}/limits", {})
    status, _, _ = await stack.scim(noisy, "GET", "/Users?count=1")
    assert status == 200


async def test_concurrency_cap_answers_429_while_a_request_is_in_flight(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{tenant.id}/limits",
                                  {"tier": "single", "max_concurrency": 1})
    assert status == 200
    status, _, _ = await stack.scim(tenant, "GET", "/Users?count=1")  # token now cached
    assert status == 200
    holder = await asyncpg.connect(stack.database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        held = asyncio.ensure_future(stack.scim(tenant, "GET", "/Users?count=1"))
        await _wait_for_lock_waiter(stack.database_url)
        status, body, headers = await stack.scim(tenant, "GET", "/Users?count=1")
        assert status == 429, body
        assert headers["Retry-After"] == "1" and "concurrent" in body["detail"]
        await tx.rollback()
        status, _, _ = await asyncio.wait_for(held, 60)
        assert status == 200
    finally:
        await holder.close()
    status, _, _ = await stack.scim(tenant, "GET", "/Users?count=1")
    assert status == 200  # the slot was released
    assert await _throttled_count(stack, "concurrency", "single") == 1


async def test_unknown_token_is_refused_from_the_negative_cache(stack: RunningStack) -> None:
    lookups = r"dsync_gateway_token_lookups_total"
    bogus = "dsync_scim_" + "x" * 43
    before = await _metric(stack, lookups)
    for _ in range(5):
        status, body, _ = await stack.scim(bogus, "GET", "/Users?count=1")
        assert status == 401 and body["status"] == "401"
    assert await _metric(stack, lookups) == before + 1  # one query, four cache answers
    # a token created now works at once
    tenant = await stack.new_tenant()
    status, second = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/tokens")
    assert status == 201
    status, _, _ = await stack.scim(second["scim_token"], "GET", "/Users?count=1")
    assert status == 200
    # a revoked token is refused, then also answered from the negative cache
    await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}/tokens/{second['id']}")
    for _ in range(3):
        status, _, _ = await stack.scim(second["scim_token"], "GET", "/Users?count=1")
        assert status == 401


async def _usage(stack: RunningStack, tenant_id: str) -> tuple[int, int]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        row = await conn.fetchrow("SELECT users, groups FROM tenant_usage WHERE tenant_id = $1",
                                  uuid.UUID(tenant_id))
    finally:
        await conn.close()
    return (row["users"], row["groups"]) if row else (0, 0)


async def test_quotas_refuse_creates_with_403_and_change_nothing(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{tenant.id}/limits",
                                  {"max_users": 2, "max_groups": 1})
    assert status == 200
    first = await stack.create_user(tenant, "q1@example.com")
    await stack.create_user(tenant, "q2@example.com")
    # a replace and a patch of a stored user do not count as new users
    status, _, _ = await stack.scim(tenant, "PUT", f"/Users/{first['id']}",
                                    {"schemas": [SCIM_USER], "userName": "q1@example.com",
                                     "displayName": "Q"})
    assert status == 200
    assert await _usage(stack, tenant.id) == (2, 0)
    status, body, _ = await stack.scim(tenant, "POST", "/Users",
                                       {"schemas": [SCIM_USER], "userName": "q3@example.com"})
    assert status == 403, body
    assert body["status"] == "403" and "quota is 2" in body["detail"]
    status, listing, _ = await stack.scim(tenant, "GET", "/Users")
    assert listing["totalResults"] == 2
    status, ops = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/operations"
                                    "?status=rejected&limit=10")
    assert [o["reason_code"] for o in ops["operations"]] == ["quota_exceeded"]
    # Bulk POSTs meet the same quota, per operation
    status, bulk, _ = await stack.scim(tenant, "POST", "/Bulk", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": [SCIM_GROUP], "displayName": "one"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g2",
             "data": {"schemas": [SCIM_GROUP], "displayName": "two"}}]})
    assert status == 200, bulk
    assert [o["status"] for o in bulk["Operations"]] == ["201", "403"]
    assert await _usage(stack, tenant.id) == (2, 1)
    # deleting frees room
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Users/{first['id']}")
    assert status == 204
    assert await _usage(stack, tenant.id) == (1, 1)
    await stack.create_user(tenant, "q3@example.com")


async def test_costly_searches_have_their_own_cap(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{tenant.id}/limits",
                                  {"tier": "searchy", "max_searches": 1})
    assert status == 200
    status, _, _ = await stack.scim(tenant, "GET", "/Users?count=1")
    assert status == 200
    holder = await asyncpg.connect(stack.database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        held = asyncio.ensure_future(stack.scim(
            tenant, "GET", '/Users?filter=displayName%20co%20%22a%22'))
        await _wait_for_lock_waiter(stack.database_url)
        status, body, headers = await stack.scim(tenant, "POST", "/Users/.search",
                                                 {"filter": 'userName sw "a"'})
        assert status == 429 and "list/search" in body["detail"], body
        assert headers["Retry-After"] == "1"
        # the IdP's lookup before a create is not a costly search: it only waits
        lookup = asyncio.ensure_future(stack.scim(
            tenant, "GET", '/Users?filter=userName%20eq%20%22a%40example.com%22'))
        await tx.rollback()
        assert (await asyncio.wait_for(held, 60))[0] == 200
        assert (await asyncio.wait_for(lookup, 60))[0] == 200
    finally:
        await holder.close()
    assert await _throttled_count(stack, "searches", "searchy") == 1
