"""Tenant lifecycle on the admin API, on the real stack: paging and search, disable
(SCIM 403, data kept) and enable, token listing without secrets, and deletion (every
table with a `tenant_id` column purged, the event stream ending with `directory.deleted`,
other tenants untouched)."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg

from dsync.tenants.purge import TENANT_TABLES
from dsync_services.gateway.console import sessions as console_sessions
from dsync_services.gateway.console import setup_links
from dsync_testkit.events import by_tenant, read_topic
from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack, Tenant

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = time.monotonic() + 60.0
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_list_pages_through_tenants_and_searches_by_name(stack: RunningStack) -> None:
    mark = uuid.uuid4().hex[:8]
    made = [await stack.new_tenant(f"Lifecycle-{mark}-{i}") for i in range(3)]
    await stack.new_tenant(f"other-{mark}")
    status, first = await stack.admin("GET", f"/admin/v1/tenants?name=lifecycle-{mark}&limit=2")
    assert status == 200, first
    assert [t["id"] for t in first["tenants"]] == [t.id for t in made[:2]]
    assert first["tenants"][0]["status"] == "active" and first["next_cursor"]
    status, second = await stack.admin(
        "GET", f"/admin/v1/tenants?name=lifecycle-{mark}&limit=2&after={first['next_cursor']}")
    assert [t["id"] for t in second["tenants"]] == [made[2].id]
    assert second["next_cursor"] is None
    status, unpaged = await stack.admin("GET", f"/admin/v1/tenants?name=lifecycle-{mark}")
    assert [t["id"] for t in unpaged["tenants"]] == [t.id for t in made]  # no limit: all
    assert unpaged["next_cursor"] is None
    # LIKE wildcards in the search are literal
    status, none = await stack.admin("GET", "/admin/v1/tenants?name=%25_%25")
    assert status == 200 and none["tenants"] == []
    for query, error in (("limit=0", "invalid_value"), ("limit=x", "invalid_value"),
                         ("after=bogus", "invalid_value"), ("status=gone", "invalid_value")):
        status, body = await stack.admin("GET", f"/admin/v1/tenants?{query}")
        assert (status, body["error"]) == (400, error), (query, body)


async def test_token_listing_shows_ids_and_no_secrets(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    status, second = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/tokens")
    await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}/tokens/{tenant.token_id}")
    status, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/tokens")
    assert status == 200
    assert [(t["id"], t["active"]) for t in body["tokens"]] == [
        (tenant.token_id, False), (second["id"], True)]
    assert body["tokens"][0]["revoked_at"] and body["tokens"][1]["revoked_at"] is None
    text = str(body)
    assert second["scim_token"] not in text and tenant.token not in text
    assert {k for t in body["tokens"] for k in t} == {"id", "created_at", "revoked_at", "active"}
    status, body = await stack.admin("GET", f"/admin/v1/tenants/{uuid.uuid4()}/tokens")
    assert status == 404 and body["error"] == "not_found"


async def test_a_disabled_tenant_gets_403_and_keeps_its_data(stack: RunningStack) -> None:
    tenant, other = await stack.new_tenant(), await stack.new_tenant()
    user = await stack.create_user(tenant, "kept@example.com")
    path = f"/admin/v1/tenants/{tenant.id}"
    for bad in ({"status": "gone"}, {}, {"status": "disabled", "name": "x"}):
        status, body = await stack.admin("PATCH", path, bad)
        assert status == 400 and body["error"] == "invalid_value", body
    status, body = await stack.admin("GET", path)
    assert body["status"] == "active"  # bad input changed nothing
    status, body = await stack.admin("PATCH", path, {"status": "disabled"})
    assert status == 200 and body["status"] == "disabled" and body["status_changed_at"]
    for method, scim_path, payload in (
            ("GET", f"/Users/{user['id']}", None), ("GET", "/Users", None),
            ("POST", "/Users", {"schemas": [SCIM_USER], "userName": "new@example.com"})):
        status, err, _ = await stack.scim(tenant, method, scim_path, payload)
        assert status == 403 and err["status"] == "403", (method, scim_path, err)
    status, _, _ = await stack.scim(other, "GET", "/Users")
    assert status == 200  # other tenants are served
    status, listing = await stack.admin("GET", "/admin/v1/tenants?status=disabled")
    assert tenant.id in [t["id"] for t in listing["tenants"]]
    status, body = await stack.admin("PATCH", path, {"status": "active"})
    assert status == 200 and body["status"] == "active"
    status, fetched, _ = await stack.scim(tenant, "GET", f"/Users/{user['id']}")
    assert status == 200 and fetched["userName"] == "kept@example.com"
    status, found, _ = await stack.scim(
        tenant, "GET", "/Users?filter=userName%20eq%20%22new@example.com%22")
    assert status == 200 and found["totalResults"] == 0  # the 403 write changed nothing
    status, body = await stack.admin("PATCH", f"/admin/v1/tenants/{uuid.uuid4()}",
                                     {"status": "disabled"})
    assert status == 404


async def _tenant_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.table_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'"
        " AND c.table_schema = current_schema() ORDER BY 1")
    return [r["table_name"] for r in rows]


async def _populate(stack: RunningStack, tenant: Tenant) -> None:
    """Rows in every table a tenant normally fills: directory, roles, sessions, webhooks,
    ledger, outbox; then wait until every consumer has caught up."""
    status, _ = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                  {"url": "http://127.0.0.1:1/hook", "secret": "s" * 32})
    assert status == 201
    alice = (await stack.create_user(tenant, "alice@example.com"))["id"]
    status, group, _ = await stack.scim(tenant, "POST", "/Groups", {
        "schemas": [SCIM_GROUP], "displayName": "eng", "members": [{"value": alice}]})
    assert status == 201, group
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{tenant.id}/group-roles/"
                                  f"{group['id']}", {"roles": ["admin"]})
    assert status == 200
    status, _ = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                  {"user_id": alice})
    assert status == 201
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{alice}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]})
    assert status == 200
    status, _, _ = await stack.scim(tenant, "POST", "/Users", {
        "schemas": [SCIM_USER], "userName": "ALICE@example.com"})
    assert status == 409  # a rejected write: a ledger row
    # the console: a setup link for the tenant's IT admin, opened (a setup session)
    conn = await asyncpg.connect(stack.database_url)
    try:
        _, token = await setup_links.create(conn, uuid.UUID(tenant.id), timedelta(hours=1))
        tid, used = await setup_links.use(conn, token)
        await console_sessions.open_session(conn, timedelta(hours=1), tid, used)
    finally:
        await conn.close()

    async def settled() -> bool:
        conn = await asyncpg.connect(stack.database_url)
        try:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE published_at IS NULL) AS pending,"
                " count(*) AS events,"
                " count(*) FILTER (WHERE event->>'type' = 'session.revoked') AS revoked,"
                " (SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1) AS deliveries"
                " FROM outbox WHERE tenant_id = $1", uuid.UUID(tenant.id))
        finally:
            await conn.close()
        return bool(row["pending"] == 0 and row["revoked"] == 1
                    and row["deliveries"] == row["events"])
    await eventually(settled, "the tenant's events to be relayed and consumed")


async def test_delete_purges_every_table_and_ends_the_event_stream(
        stack: RunningStack) -> None:
    tenant, bystander = await stack.new_tenant("doomed"), await stack.new_tenant()
    await _populate(stack, tenant)
    kept = await stack.create_user(bystander, "bystander@example.com")
    tid = uuid.UUID(tenant.id)
    conn = await asyncpg.connect(stack.database_url)
    try:
        tables = await _tenant_tables(conn)
        unregistered = sorted(set(tables) - set(TENANT_TABLES))
        assert not unregistered, (
            f"tables with a tenant_id column not registered in dsync.tenants.purge."
            f"TENANT_TABLES (say how a deleted tenant's rows go): {unregistered}")
        before = {t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE tenant_id = $1",  # noqa: S608
                                         tid) for t in tables}
        empty = sorted(t for t in TENANT_TABLES if not before.get(t))
        assert not empty, f"the test must fill every tenant table; empty: {empty}"

        status, body = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}")
        assert status == 409 and body["error"] == "tenant_active"  # disable first
        assert await conn.fetchval("SELECT count(*) FROM users WHERE tenant_id = $1", tid) == 1
        status, _ = await stack.admin("PATCH", f"/admin/v1/tenants/{tenant.id}",
                                      {"status": "disabled"})
        # a write that answered 503 and is still to be applied holds the deletion back
        op_id = uuid.uuid4()
        await conn.execute("INSERT INTO operations (id, tenant_id, method, path, status)"
                           " VALUES ($1, $2, 'POST', '/Users', 'accepted')", op_id, tid)
        status, body = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}")
        assert status == 409 and body["error"] == "operations_in_flight", body
        await conn.execute("UPDATE operations SET status = 'applied' WHERE id = $1", op_id)
        status, _ = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}")
        assert status == 204

        left = {t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE tenant_id = $1",  # noqa: S608
                                       tid) for t in tables}
        last = await conn.fetch("SELECT event->>'type' AS type FROM outbox WHERE tenant_id = $1",
                                tid)
        assert [r["type"] for r in last] == ["directory.deleted"]
        assert {t: n for t, n in left.items() if n} == {"outbox": 1}
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE id = $1", tid) == 0
    finally:
        await conn.close()

    status, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}")
    assert status == 404
    status, _, _ = await stack.scim(tenant, "GET", "/Users")
    assert status == 401  # its tokens are gone
    status, body = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}")
    assert status == 404
    status, fetched, _ = await stack.scim(bystander, "GET", f"/Users/{kept['id']}")
    assert status == 200

    def ended(records: list[dict[str, Any]]) -> bool:
        return any(r["type"] == "directory.deleted" and r["tenantid"] == tenant.id
                   for r in records)
    records = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", until=ended,
                               timeout=60)
    stream = by_tenant(records)[tenant.id]
    assert stream[-1]["type"] == "directory.deleted"
    assert stream[-1]["data"] == {"tenant_id": tenant.id, "name": "doomed"}
    assert stream[-1]["subject"] == tenant.id
    assert [e["sequence"] for e in stream] == list(range(1, len(stream) + 1))


async def test_the_openapi_document_is_served_to_the_admin(stack: RunningStack) -> None:
    status, doc = await stack.admin("GET", "/admin/v1/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    assert "/admin/v1/tenants/{tid}" in doc["paths"]
    async with stack.http.get(f"{stack.base_url}/admin/v1/openapi.json") as r:
        assert r.status == 401
