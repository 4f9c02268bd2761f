"""Write-only attributes (`password`) are accepted and dropped: no copy in any table, on any
topic, or in any service log, whichever way a request carries one."""
from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer

from dsync.devservers.supervisor import SERVICES
from dsync_testkit.stack import SCIM_USER, RunningStack

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


async def tables_holding(database_url: str, needle: str) -> list[str]:
    """`table.column` of every text, json, jsonb and bytea column holding `needle`."""
    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type IN"
            " ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY')")
        found = []
        for c in columns:
            column = f'"{c["table_name"]}"."{c["column_name"]}"'
            hit = await conn.fetchval(
                f'SELECT 1 FROM "{c["table_name"]}" WHERE strpos(({column})::text, $1) > 0'
                " LIMIT 1", needle)
            if hit:
                found.append(f"{c['table_name']}.{c['column_name']}")
        return found
    finally:
        await conn.close()


async def topic_bytes(stack: RunningStack) -> bytes:
    """Every record value of the stack's topics, read from the beginning."""
    suffixes = ("commands", "commands.dlq", "events", "events.dlq")
    consumer = AIOKafkaConsumer(*(f"{stack.topic_prefix}.{s}" for s in suffixes),
                                bootstrap_servers=stack.bootstrap,
                                group_id=f"grep-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: list[bytes] = []
    try:
        quiet = 0
        while quiet < 4:  # the group join takes a few seconds; then four empty polls
            batches = await consumer.getmany(timeout_ms=2_000)
            records = [r for rs in batches.values() for r in rs]
            seen.extend((r.value or b"") + (r.key or b"") for r in records)
            quiet = 0 if records or not seen else quiet + 1
    finally:
        await consumer.stop()
    return b"\n".join(seen)


async def test_a_password_leaves_no_copy_anywhere(stack: RunningStack) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, f"{marker}@example.com", password=secret + "-post")
    path = f"/Users/{user['id']}"
    status, body, _ = await stack.scim(tenant, "PUT", path, {
        "schemas": [SCIM_USER], "userName": f"{marker}@example.com", "title": marker,
        "password": secret + "-put"})
    assert status == 200 and "password" not in body
    for ops in ([{"op": "replace", "path": "password", "value": secret + "-path"}],
                [{"op": "Replace", "value": {"password": secret + "-pathless",
                                             "displayName": marker}}],
                [{"op": "add", "path": f"{SCIM_USER}:password", "value": secret + "-urn"}]):
        status, body, _ = await stack.scim(tenant, "PATCH", path,
                                           {"schemas": [PATCH_OP], "Operations": ops})
        assert status == 200 and "password" not in body, body
    status, body, _ = await stack.scim(tenant, "POST", "/Bulk", {
        "schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b",
                                           "data": {"schemas": [SCIM_USER],
                                                    "userName": f"{marker}-bulk@example.com",
                                                    "password": secret + "-bulk"}}]})
    assert status == 200 and body["Operations"][0]["status"] == "201", body
    await asyncio.sleep(1)  # let the events' consumers and the webhook fan-out run

    assert await tables_holding(stack.database_url, marker)  # the scan does find things
    assert await tables_holding(stack.database_url, secret) == []
    on_topics = await topic_bytes(stack)
    assert marker.encode() in on_topics  # the commands were read
    assert secret.encode() not in on_topics
    for service in SERVICES:
        assert secret not in stack.log(service), service
