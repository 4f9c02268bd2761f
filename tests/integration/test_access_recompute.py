"""The roles service's recomputation against real PostgreSQL: the recursive membership
queries, cycles, inactive and deleted users, tenant isolation, emitted events.

(The same behaviour end to end, through SCIM /Groups and the admin API, is in
test_access_roles.py; this file pins the SQL on its own.)
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest

from dsync.db.pool import connect
from dsync.messages.events import DraftEvent
from dsync.pipeline.outbox import append_events
from dsync_services.roles.recompute import recompute
from dsync_services.roles.targets import Targets, mapping_targets

NOW = datetime.now(UTC)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await connect(database_url)
    try:
        yield c
    finally:
        await c.close()


async def user(conn: asyncpg.Connection, tenant: UUID, active: bool = True) -> UUID:
    uid = uuid4()
    await conn.execute("INSERT INTO users (tenant_id, id, user_name, active, doc, created_at,"
                       " updated_at) VALUES ($1, $2, $3, $4, '{}', $5, $5)",
                       tenant, uid, f"u-{uid}", active, NOW)
    return uid


async def group(conn: asyncpg.Connection, tenant: UUID, *members: tuple[UUID, str]) -> UUID:
    gid = uuid4()
    await conn.execute("INSERT INTO groups (tenant_id, id, display_name, doc, created_at,"
                       " updated_at) VALUES ($1, $2, $3, '{}', $4, $4)",
                       tenant, gid, f"g-{gid}", NOW)
    for member, kind in members:
        await add(conn, tenant, gid, member, kind)
    return gid


async def add(conn: asyncpg.Connection, tenant: UUID, gid: UUID, member: UUID,
              kind: str = "User") -> None:
    await conn.execute("INSERT INTO group_members VALUES ($1, $2, $3, $4)",
                       tenant, gid, member, kind)


async def remove(conn: asyncpg.Connection, tenant: UUID, gid: UUID, member: UUID) -> None:
    await conn.execute("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2"
                       " AND member_id = $3", tenant, gid, member)


async def mapping(conn: asyncpg.Connection, tenant: UUID, gid: UUID, *roles: str) -> None:
    await conn.execute("INSERT INTO group_roles (tenant_id, group_id, roles) VALUES ($1,$2,$3)"
                       " ON CONFLICT (tenant_id, group_id) DO UPDATE SET roles = $3",
                       tenant, gid, list(roles))


async def run(conn: asyncpg.Connection, tenant: UUID, targets: Targets) -> list[object]:
    """One recomputation as the services run it: state and outbox in one transaction."""
    async with conn.transaction():
        emit: list[DraftEvent] = []
        changes = await recompute(conn, tenant, targets, emit)
        await append_events(conn, tenant, emit, datetime.now(UTC))
        return changes  # type: ignore[return-value]


async def roles(conn: asyncpg.Connection, tenant: UUID, uid: UUID) -> list[str] | None:
    value = await conn.fetchval("SELECT roles FROM user_access WHERE tenant_id = $1"
                                " AND user_id = $2", tenant, uid)
    return list(value) if value is not None else None


def users(*ids: UUID) -> Targets:
    return Targets(users=frozenset(ids), cause="test")


async def test_direct_nested_and_cyclic_membership(conn: asyncpg.Connection) -> None:
    t = uuid4()
    alice, bob = await user(conn, t), await user(conn, t)
    team = await group(conn, t, (alice, "User"))
    eng = await group(conn, t, (team, "Group"), (bob, "User"))
    company = await group(conn, t, (eng, "Group"))
    await add(conn, t, team, company, "Group")  # a cycle: company -> eng -> team -> company
    await mapping(conn, t, company, "employee")
    await mapping(conn, t, eng, "deploy")
    changes = await run(conn, t, mapping_targets(company))
    assert len(changes) == 2
    assert await roles(conn, t, alice) == ["deploy", "employee"]
    assert await roles(conn, t, bob) == ["deploy", "employee"]
    groups = await conn.fetchval("SELECT groups FROM user_access WHERE user_id = $1", alice)
    assert set(groups) == {team, eng, company}


async def test_removing_a_nested_group_recomputes_its_users(conn: asyncpg.Connection) -> None:
    t = uuid4()
    alice = await user(conn, t)
    team = await group(conn, t, (alice, "User"))
    eng = await group(conn, t, (team, "Group"))
    await mapping(conn, t, eng, "deploy")
    await run(conn, t, Targets(groups=frozenset({team}), cause="group.member_added"))
    assert await roles(conn, t, alice) == ["deploy"]
    await remove(conn, t, eng, team)
    await run(conn, t, Targets(groups=frozenset({team}), cause="group.member_removed"))
    assert await roles(conn, t, alice) == []


async def test_deleted_group_drops_mapping_and_roles_of_former_holders(
        conn: asyncpg.Connection) -> None:
    t = uuid4()
    alice = await user(conn, t)
    team = await group(conn, t, (alice, "User"))
    eng = await group(conn, t, (team, "Group"))
    await mapping(conn, t, eng, "deploy")
    await run(conn, t, mapping_targets(eng))
    # the directory deletes the group and every membership row that names it
    await conn.execute("DELETE FROM group_members WHERE group_id = $1 OR member_id = $1", eng)
    await conn.execute("DELETE FROM groups WHERE id = $1", eng)
    await run(conn, t, Targets(groups=frozenset({eng}), drop_mapping=eng, cause="group.deleted"))
    assert await roles(conn, t, alice) == []
    assert await conn.fetchval("SELECT count(*) FROM group_roles WHERE tenant_id = $1", t) == 0


async def test_inactive_and_deleted_users_hold_nothing(conn: asyncpg.Connection) -> None:
    t = uuid4()
    alice = await user(conn, t)
    eng = await group(conn, t, (alice, "User"))
    await mapping(conn, t, eng, "deploy")
    await run(conn, t, users(alice))
    await conn.execute("UPDATE users SET active = false, version = version + 1 WHERE id = $1",
                       alice)
    await run(conn, t, users(alice))
    assert await roles(conn, t, alice) == []
    await conn.execute("UPDATE users SET active = true, version = version + 1 WHERE id = $1",
                       alice)
    await run(conn, t, users(alice))
    assert await roles(conn, t, alice) == ["deploy"]
    await conn.execute("DELETE FROM group_members WHERE member_id = $1", alice)
    await conn.execute("DELETE FROM users WHERE id = $1", alice)
    await run(conn, t, Targets(users=frozenset({alice}), forget_user=alice, cause="x"))
    assert await roles(conn, t, alice) is None


async def test_tenants_never_see_each_others_mappings(conn: asyncpg.Connection) -> None:
    a, b = uuid4(), uuid4()
    alice, bob = await user(conn, a), await user(conn, b)
    ga = await group(conn, a, (alice, "User"))
    # a row in tenant B naming tenant A's group id (ids are global; rows are per tenant)
    await conn.execute("INSERT INTO group_members VALUES ($1, $2, $3, 'User')", b, ga, bob)
    await mapping(conn, a, ga, "admin")
    await run(conn, a, mapping_targets(ga))
    await run(conn, b, users(bob))
    assert await roles(conn, a, alice) == ["admin"]
    assert await roles(conn, b, bob) == []  # B holds the row, not A's mapping


async def test_roles_changed_events_carry_before_and_after(conn: asyncpg.Connection) -> None:
    t = uuid4()
    alice = await user(conn, t)
    eng = await group(conn, t, (alice, "User"))
    await mapping(conn, t, eng, "read")
    await run(conn, t, mapping_targets(eng))
    await mapping(conn, t, eng, "read", "write")
    await run(conn, t, mapping_targets(eng))
    await run(conn, t, mapping_targets(eng))  # nothing changed: no event
    rows = await conn.fetch("SELECT sequence, event FROM outbox WHERE tenant_id = $1"
                            " ORDER BY sequence", t)
    events = [r["event"] if isinstance(r["event"], dict) else json.loads(r["event"])
              for r in rows]
    assert [e["type"] for e in events] == ["access.roles_changed"] * 2
    assert [(e["data"]["before"], e["data"]["after"]) for e in events] == [
        ([], ["read"]), (["read"], ["read", "write"])]
    assert all(e["subject"] == str(alice) == e["data"]["user_id"] for e in events)
    assert [r["sequence"] for r in rows] == [1, 2]
