"""The directory's batch paths against a real PostgreSQL: the one-statement hot path, its
optimistic checks, and the careful path it falls back to (redelivery, conflicts)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from dsync.db.pool import create_pool
from dsync.messages.commands import Command, CreateUser, PatchUser, encode_command
from dsync.settings import PostgresSettings
from dsync_services.directory.apply_commands import apply_batch
from dsync_services.directory.user_batch import UserBatch

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(PostgresSettings(database_url=database_url, db_pool_min=1,
                                           db_pool_max=2))
    yield p
    await p.close()


def create(tenant: uuid.UUID, name: str) -> CreateUser:
    return CreateUser(command_id=uuid.uuid4(), tenant_id=tenant, issued_at=datetime.now(UTC),
                      resource={"schemas": [USER], "userName": name})


def deactivate(tenant: uuid.UUID, user: uuid.UUID) -> PatchUser:
    return PatchUser(command_id=uuid.uuid4(), tenant_id=tenant, issued_at=datetime.now(UTC),
                     resource_id=user, operations=[{"op": "replace",
                                                    "value": {"active": False}}])


async def run(pool: asyncpg.Pool, commands: list[Command]) -> list[str]:
    statuses: list[str] = []
    await apply_batch(pool, [(c, encode_command(c)) for c in commands], statuses.append)
    return statuses


async def test_hot_path_applies_in_order_with_contiguous_sequences(pool: asyncpg.Pool) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    assert await run(pool, [create(tenant, "a@x.test"), create(other, "a@x.test"),
                            create(tenant, "b@x.test")]) == ["applied"] * 3
    a = await pool.fetchval("SELECT id FROM users WHERE tenant_id = $1 AND user_name = 'a@x.test'",
                            tenant)
    # two PATCHes of one user in one batch: the second sees the first (no change: no event)
    assert await run(pool, [deactivate(tenant, a), deactivate(tenant, a),
                            create(tenant, "c@x.test")]) == ["applied"] * 3
    row = await pool.fetchrow("SELECT active, version FROM users WHERE id = $1", a)
    assert (row["active"], row["version"]) == (False, 2)
    outbox = await pool.fetch("SELECT sequence, event FROM outbox WHERE tenant_id = $1"
                              " ORDER BY id", tenant)
    assert [r["sequence"] for r in outbox] == [1, 2, 3, 4]  # ids follow sequences
    assert [r["event"]["sequence"] for r in outbox] == [1, 2, 3, 4]
    assert [r["event"]["type"] for r in outbox] == ["user.created", "user.created",
                                                    "user.deactivated", "user.created"]
    ops = await pool.fetch("SELECT status, attempts, command FROM operations"
                           " WHERE tenant_id = $1", tenant)
    assert len(ops) == 5 and {(o["status"], o["attempts"]) for o in ops} == {("applied", 1)}
    floor = await pool.fetchval("SELECT min_version FROM user_session_floors WHERE user_id = $1",
                                a)
    assert floor == 2  # the deactivation trigger fired inside the one statement


async def test_redelivered_batch_changes_nothing(pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    batch = [create(tenant, "r1@x.test"), create(tenant, "r2@x.test")]
    assert await run(pool, batch) == ["applied", "applied"]
    assert await run(pool, batch) == ["duplicate", "duplicate"]
    assert await pool.fetchval("SELECT count(*) FROM users WHERE tenant_id = $1", tenant) == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant) == 2


async def test_a_conflict_rejects_only_its_command(pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    assert await run(pool, [create(tenant, "dup@x.test"), create(tenant, "DUP@x.test"),
                            create(tenant, "ok@x.test")]) == ["applied", "rejected", "applied"]
    rejected = await pool.fetchrow("SELECT reason_code, command FROM operations"
                                   " WHERE tenant_id = $1 AND status = 'rejected'", tenant)
    assert rejected["reason_code"] == "uniqueness"
    seqs = [r["sequence"] for r in await pool.fetch(
        "SELECT sequence FROM outbox WHERE tenant_id = $1 ORDER BY id", tenant)]
    assert seqs == [1, 2]


async def test_user_changed_after_it_was_read_aborts_the_statement(pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    await run(pool, [create(tenant, "race@x.test")])
    uid = await pool.fetchval("SELECT id FROM users WHERE tenant_id = $1", tenant)
    command = deactivate(tenant, uid)
    batch = UserBatch(datetime.now(UTC))
    async with pool.acquire() as conn:
        await batch.load(conn, [(tenant, uid)])
        await conn.execute("UPDATE users SET version = version + 1 WHERE id = $1", uid)
        from dsync_services.directory import decide_users
        from dsync_services.directory.apply_commands import _user_answer
        from dsync_services.directory.user_batch import Applied
        decision = decide_users.decide_patch(command, batch.state[uid], batch.now)
        batch.record(Applied(command, encode_command(command), "PATCH", "/Users/x", decision))
        with pytest.raises(asyncpg.SerializationError):
            await batch.write(conn, _user_answer)
    assert await pool.fetchval("SELECT active FROM users WHERE id = $1", uid) is True
    assert await pool.fetchval("SELECT count(*) FROM operations WHERE id = $1",
                               command.command_id) == 0
    # the same command through apply_batch: applied (the careful path if need be)
    assert await run(pool, [command]) == ["applied"]
    response = await pool.fetchval("SELECT response FROM operations WHERE id = $1",
                                   command.command_id)
    assert response["resource"]["active"] is False
    assert orjson.loads(orjson.dumps(response))["status"] == 200
