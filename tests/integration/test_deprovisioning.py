"""Deprovisioning through the running stack: sessions die in the SCIM answer; revocation,
`session.revoked` events and ledger rows follow asynchronously (polled, bounded)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from dsync_testkit.events import read_topic
from dsync_testkit.stack import SCIM_USER, RunningStack, Tenant

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WAIT_S = 30.0


async def introspect(stack: RunningStack, token: str) -> dict[str, Any]:
    status, body = await stack.admin("POST", "/auth/v1/introspect", {"token": token})
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def issue(stack: RunningStack, tenant: Tenant, user_id: str) -> dict[str, Any]:
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": user_id})
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def eventually(check: Callable[[], Awaitable[Any]], within: float = WAIT_S) -> Any:
    """Poll `check` until it returns a truthy value; fail with its last value on timeout."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s: {value!r}")
        await asyncio.sleep(0.05)


async def _patch_okta(stack: RunningStack, tenant: Tenant, uid: str) -> int:
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    return status


async def _patch_entra(stack: RunningStack, tenant: Tenant, uid: str) -> int:
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    return status


async def _put(stack: RunningStack, tenant: Tenant, uid: str) -> int:
    _, current, _ = await stack.scim(tenant, "GET", f"/Users/{uid}")
    status, _, _ = await stack.scim(tenant, "PUT", f"/Users/{uid}", {
        "schemas": [SCIM_USER], "userName": current["userName"], "active": False})
    return status


async def _delete(stack: RunningStack, tenant: Tenant, uid: str) -> int:
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Users/{uid}")
    return status


DEPROVISION = {"patch-okta": (_patch_okta, 200, "user_deactivated"),
               "patch-entra": (_patch_entra, 200, "user_deactivated"),
               "put": (_put, 200, "user_deactivated"),
               "delete": (_delete, 204, "user_deleted")}


async def _ledger(stack: RunningStack, tenant: Tenant, uid: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetch(
            "SELECT kind, status, attempts, detail, received_at, completed_at FROM operations"
            " WHERE tenant_id = $1 AND resource_id = $2 AND kind <> 'scim_write'"
            " ORDER BY kind", tenant.id, uid)
    finally:
        await conn.close()


@pytest.mark.parametrize("how", list(DEPROVISION))
async def test_deprovisioning_kills_sessions_in_the_answer_then_revokes_them(
        stack: RunningStack, how: str) -> None:
    action, expected_status, reason = DEPROVISION[how]
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, f"{how}@example.com")
    other = await stack.create_user(tenant, f"other-{how}@example.com")
    sessions = [await issue(stack, tenant, user["id"]) for _ in range(3)]
    bystander = await issue(stack, tenant, other["id"])
    for s in sessions:
        assert (await introspect(stack, s["token"]))["active"] is True

    assert await action(stack, tenant, user["id"]) == expected_status
    # In effect from the answer on: no wait at all.
    for s in sessions:
        assert await introspect(stack, s["token"]) == {"active": False}
    status, access = await stack.admin(
        "GET", f"/admin/v1/tenants/{tenant.id}/users/{user['id']}/access")
    assert status == 200 and access["active"] is False and access["roles"] == []
    assert (await introspect(stack, bystander["token"]))["active"] is True

    # Then, asynchronously: one session.revoked per session, and the ledger rows.
    wanted = {s["session_id"] for s in sessions}

    def revoked(records: list[dict[str, Any]]) -> bool:
        got = {r["data"]["session_id"] for r in records if r["type"] == "session.revoked"
               and r["tenantid"] == tenant.id}
        return wanted <= got

    events = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", until=revoked,
                              timeout=WAIT_S)
    mine = [e for e in events if e["type"] == "session.revoked" and e["tenantid"] == tenant.id]
    assert {e["data"]["session_id"] for e in mine} == wanted  # the bystander's is untouched
    assert all(e["data"]["user_id"] == user["id"] and e["data"]["reason"] == reason
               and e["subject"] == e["data"]["session_id"] for e in mine)

    rows = await eventually(lambda: _ledger_done(stack, tenant, user["id"]))
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["session_revocation"]["status"] == "applied"
    assert by_kind["session_revocation"]["detail"] == "3 sessions revoked"
    assert by_kind["role_recomputation"]["status"] == "applied"
    assert by_kind["session_revocation"]["completed_at"] >= \
        by_kind["session_revocation"]["received_at"]
    assert (await introspect(stack, bystander["token"]))["active"] is True


async def _ledger_done(stack: RunningStack, tenant: Tenant, uid: str) -> list[asyncpg.Record]:
    rows = await _ledger(stack, tenant, uid)
    kinds = {r["kind"] for r in rows if r["status"] == "applied"}
    return rows if {"session_revocation", "role_recomputation"} <= kinds else []


async def test_reactivation_restores_access_but_never_revoked_sessions(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "back@example.com")
    old = await issue(stack, tenant, user["id"])
    assert await _patch_okta(stack, tenant, user["id"]) == 200
    # Reactivate at once, before the revocation may have run: the old session stays dead.
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{user['id']}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                               "value": True}]})
    assert status == 200
    assert await introspect(stack, old["token"]) == {"active": False}
    new = await issue(stack, tenant, user["id"])
    assert (await introspect(stack, new["token"]))["active"] is True
    # Once the revocation of the deactivation has run: old revoked, new untouched.
    await eventually(lambda: _ledger_done(stack, tenant, user["id"]))
    assert await introspect(stack, old["token"]) == {"active": False}
    assert (await introspect(stack, new["token"]))["active"] is True


async def test_sessions_for_inactive_unknown_or_foreign_users(stack: RunningStack) -> None:
    tenant, other_tenant = await stack.new_tenant(), await stack.new_tenant()
    inactive = await stack.create_user(tenant, "off@example.com", active=False)
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": inactive["id"]})
    assert status == 403 and body["error"] == "user_inactive"
    status, body = await stack.admin(
        "POST", f"/admin/v1/tenants/{tenant.id}/sessions",
        {"user_id": "00000000-0000-0000-0000-000000000000"})
    assert status == 404
    foreign = await stack.create_user(other_tenant, "foreign@example.com")
    status, _ = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                  {"user_id": foreign["id"]})
    assert status == 404  # a tenant never issues sessions for another tenant's users
    status, _ = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions", {})
    assert status == 400
    status, _ = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/users/"
                                  "00000000-0000-0000-0000-000000000000/access")
    assert status == 404


async def test_introspection_contract_and_auth(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "intro@example.com")
    session = await issue(stack, tenant, user["id"])
    assert len(session["token"]) >= 43 + len("dsync_sess_")
    answer = await introspect(stack, session["token"])
    assert answer["active"] is True and answer["tenant_id"] == tenant.id
    assert answer["user_id"] == user["id"] and answer["session_id"] == session["session_id"]
    assert answer["roles"] == []
    assert await introspect(stack, session["token"] + "x") == {"active": False}
    # RFC 7662 form encoding works too
    async with stack.http.post(f"{stack.base_url}/auth/v1/introspect",
                               data={"token": session["token"]},
                               headers=stack.admin_headers()) as r:
        assert r.status == 200 and (await r.json())["active"] is True
        assert r.headers["Cache-Control"] == "no-store"
    # protected: no credential, or a SCIM token, is 401
    for headers in ({}, {"Authorization": f"Bearer {tenant.token}"}):
        async with stack.http.post(f"{stack.base_url}/auth/v1/introspect",
                                   json={"token": session["token"]}, headers=headers) as r:
            assert r.status == 401
    status, body = await stack.admin("POST", "/auth/v1/introspect", {})
    assert status == 400 and body["error"] == "invalid_request"


async def test_expired_session_is_inactive(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "short@example.com")
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": user["id"], "ttl_seconds": 0.3})
    assert status == 201
    assert (await introspect(stack, body["token"]))["active"] is True
    await asyncio.sleep(0.4)
    assert await introspect(stack, body["token"]) == {"active": False}


async def test_deprovisioning_lag_metric_is_exported(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "metric@example.com")
    await issue(stack, tenant, user["id"])
    assert await _patch_okta(stack, tenant, user["id"]) == 200
    port = stack.supervisor.per_service_env["sessions"]["DSYNC_METRICS_PORT"]

    async def exported() -> bool:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/metrics") as r:
            text = await r.text()
        return any(line.startswith("dsync_deprovisioning_lag_seconds_count") and
                   float(line.split()[-1]) >= 1 for line in text.splitlines())

    await eventually(exported)


async def test_operator_retry_reruns_a_failed_revocation(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "retry@example.com")
    session = await issue(stack, tenant, user["id"])
    assert await _patch_okta(stack, tenant, user["id"]) == 200
    rows = await eventually(lambda: _ledger_done(stack, tenant, user["id"]))
    # Pretend the revocation had failed and its session was never revoked.
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE sessions SET revoked_at = NULL WHERE id = $1",
                           session["session_id"])
        op_id = await conn.fetchval(
            "UPDATE operations SET status = 'failed', retryable = true, reason_code ="
            " 'internal' WHERE tenant_id = $1 AND resource_id = $2 AND kind ="
            " 'session_revocation' RETURNING id", tenant.id, user["id"])
        attempts = next(r["attempts"] for r in rows if r["kind"] == "session_revocation")
        status, body = await stack.admin(
            "POST", f"/admin/v1/tenants/{tenant.id}/operations/{op_id}/retry")
        assert status == 202, body

        async def reapplied() -> bool:
            row = await conn.fetchrow("SELECT status, attempts FROM operations WHERE id = $1",
                                      op_id)
            revoked = await conn.fetchval("SELECT revoked_at FROM sessions WHERE id = $1",
                                          session["session_id"])
            return row["status"] == "applied" and row["attempts"] > attempts and bool(revoked)

        await eventually(reapplied)
    finally:
        await conn.close()
    assert await introspect(stack, session["token"]) == {"active": False}
