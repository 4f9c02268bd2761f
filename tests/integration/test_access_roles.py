"""Group -> role mappings end to end: SCIM /Groups and the admin API on the running stack.

Roles follow membership changes (polled: the roles service consumes `dsync.events`),
mapping changes (in the PUT answer), nested groups, group deletion, deactivation; a
tenant's mappings never reach another tenant.
"""
from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dsync_testkit.events import read_topic
from dsync_testkit.stack import SCIM_GROUP, RunningStack, Tenant

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WAIT_S = 30.0

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dsync_services.gateway.scim_groups") is None,
    reason="needs /Groups")


async def eventually(check: Callable[[], Awaitable[Any]], within: float = WAIT_S) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s: {value!r}")
        await asyncio.sleep(0.05)


async def create_group(stack: RunningStack, tenant: Tenant, name: str,
                       members: list[dict[str, str]] | None = None) -> str:
    status, body, _ = await stack.scim(tenant, "POST", "/Groups", {
        "schemas": [SCIM_GROUP], "displayName": name, "members": members or []})
    assert status == 201, body
    return body["id"]  # type: ignore[no-any-return]


async def patch_group(stack: RunningStack, tenant: Tenant, gid: str,
                      *ops: dict[str, Any]) -> None:
    status, body, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}",
                                       {"schemas": [PATCH_OP], "Operations": list(ops)})
    assert status in (200, 204), body


def add_members(*ids: str, kind: str = "User") -> dict[str, Any]:
    return {"op": "add", "path": "members", "value": [{"value": i, "type": kind} for i in ids]}


def remove_member(member_id: str) -> dict[str, Any]:
    return {"op": "remove", "path": f'members[value eq "{member_id}"]'}


async def put_mapping(stack: RunningStack, tenant: Tenant, gid: str, roles: list[str]) -> None:
    status, body = await stack.admin("PUT", f"/admin/v1/tenants/{tenant.id}/group-roles/{gid}",
                                     {"roles": roles})
    assert status == 200, body
    assert body["recomputation"] == "applied"


async def access(stack: RunningStack, tenant: Tenant, uid: str) -> dict[str, Any]:
    status, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/users/{uid}/access")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def roles_become(stack: RunningStack, tenant: Tenant, uid: str,
                       roles: list[str]) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await access(stack, tenant, uid)
        return body if body["roles"] == roles else None
    return await eventually(check)  # type: ignore[no-any-return]


async def test_mapping_gives_members_roles_and_introspection_shows_them(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    alice = (await stack.create_user(tenant, "alice@example.com"))["id"]
    eng = await create_group(stack, tenant, "eng", [{"value": alice}])
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": alice})
    token = body["token"]
    await put_mapping(stack, tenant, eng, ["deploy", "billing-admin", "deploy"])
    got = await roles_become(stack, tenant, alice, ["billing-admin", "deploy"])
    assert got["active"] is True and got["groups"] == [eng] and got["user_id"] == alice
    status, listing = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/group-roles")
    assert status == 200
    assert [(m["group_id"], m["roles"]) for m in listing["mappings"]] == [
        (eng, ["billing-admin", "deploy"])]
    status, intro = await stack.admin("POST", "/auth/v1/introspect", {"token": token})
    assert intro["active"] is True and intro["roles"] == ["billing-admin", "deploy"]
    # a rename keeps the mapping (keyed by SCIM id)
    await patch_group(stack, tenant, eng, {"op": "replace", "path": "displayName",
                                           "value": "engineering"})
    await asyncio.sleep(0.3)
    assert (await access(stack, tenant, alice))["roles"] == ["billing-admin", "deploy"]


async def test_roles_follow_membership_changes(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    alice = (await stack.create_user(tenant, "a@example.com"))["id"]
    bob = (await stack.create_user(tenant, "b@example.com"))["id"]
    eng = await create_group(stack, tenant, "eng", [{"value": alice}])
    await put_mapping(stack, tenant, eng, ["deploy"])
    await patch_group(stack, tenant, eng, add_members(bob))
    await roles_become(stack, tenant, bob, ["deploy"])
    await patch_group(stack, tenant, eng, remove_member(alice))
    gone = await roles_become(stack, tenant, alice, [])
    assert gone["groups"] == []
    assert (await access(stack, tenant, bob))["roles"] == ["deploy"]


async def test_mapping_changes_recompute_every_member_in_the_answer(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    ids = [(await stack.create_user(tenant, f"m{i}@example.com"))["id"] for i in range(5)]
    eng = await create_group(stack, tenant, "eng", [{"value": i} for i in ids])
    await put_mapping(stack, tenant, eng, ["read"])
    await eventually(lambda: _all_have(stack, tenant, ids, ["read"]))
    await put_mapping(stack, tenant, eng, ["read", "write"])
    assert await _all_have(stack, tenant, ids, ["read", "write"])  # no wait: in the answer
    status, _ = await stack.admin("DELETE", f"/admin/v1/tenants/{tenant.id}/group-roles/{eng}")
    assert status == 204
    assert await _all_have(stack, tenant, ids, [])
    # access.roles_changed carries before/after
    def seen(records: list[dict[str, Any]]) -> bool:
        return len(_roles_changed(records, tenant, ids[0])) >= 3

    events = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", until=seen,
                              timeout=WAIT_S)
    changes = _roles_changed(events, tenant, ids[0])
    assert [(c["before"], c["after"]) for c in changes[-2:]] == [
        (["read"], ["read", "write"]), (["read", "write"], [])]


def _roles_changed(records: list[dict[str, Any]], tenant: Tenant,
                   uid: str) -> list[dict[str, Any]]:
    return [r["data"] for r in sorted(records, key=lambda r: r["sequence"])
            if r["type"] == "access.roles_changed" and r["tenantid"] == tenant.id
            and r["subject"] == uid]


async def _all_have(stack: RunningStack, tenant: Tenant, ids: list[str],
                    roles: list[str]) -> bool:
    got = [(await access(stack, tenant, i))["roles"] for i in ids]
    return all(r == roles for r in got)


async def test_nested_groups_inherit_and_lose_roles(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    alice = (await stack.create_user(tenant, "n@example.com"))["id"]
    team = await create_group(stack, tenant, "team", [{"value": alice}])
    eng = await create_group(stack, tenant, "eng")
    company = await create_group(stack, tenant, "company")
    await put_mapping(stack, tenant, company, ["employee"])
    await put_mapping(stack, tenant, eng, ["deploy"])
    await patch_group(stack, tenant, eng, add_members(team, kind="Group"))
    await patch_group(stack, tenant, company, add_members(eng, kind="Group"))
    got = await roles_become(stack, tenant, alice, ["deploy", "employee"])
    assert sorted(got["groups"]) == sorted([team, eng, company])
    # a cycle: company is now also a member of team (team in eng in company in team)
    await patch_group(stack, tenant, team, add_members(company, kind="Group"))
    await asyncio.sleep(0.3)
    assert (await access(stack, tenant, alice))["roles"] == ["deploy", "employee"]
    # membership flows upwards only: without team in eng, alice holds team alone
    await patch_group(stack, tenant, eng, remove_member(team))
    alone = await roles_become(stack, tenant, alice, [])
    assert alone["groups"] == [team]


async def test_group_deletion_removes_roles_and_mapping(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    alice = (await stack.create_user(tenant, "d@example.com"))["id"]
    team = await create_group(stack, tenant, "team", [{"value": alice}])
    eng = await create_group(stack, tenant, "eng", [{"value": team, "type": "Group"}])
    await put_mapping(stack, tenant, eng, ["deploy"])
    await roles_become(stack, tenant, alice, ["deploy"])
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Groups/{eng}")
    assert status == 204
    await roles_become(stack, tenant, alice, [])

    async def unmapped() -> bool:
        _, listing = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/group-roles")
        return listing["mappings"] == []
    await eventually(unmapped)


async def test_deactivation_drops_roles_and_reactivation_restores_them(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    alice = (await stack.create_user(tenant, "r@example.com"))["id"]
    eng = await create_group(stack, tenant, "eng", [{"value": alice}])
    await put_mapping(stack, tenant, eng, ["deploy"])
    await roles_become(stack, tenant, alice, ["deploy"])
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{alice}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert status == 200
    now = await access(stack, tenant, alice)
    assert now["active"] is False and now["roles"] == []  # in the answer
    # the roles service recomputes from the directory's state when it gets the event:
    # let it see the deactivation before reactivating, or it would find nothing changed
    await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", timeout=WAIT_S,
                     until=lambda rs: len(_roles_changed(rs, tenant, alice)) >= 2)
    status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{alice}", {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]})
    assert status == 200
    back = await roles_become(stack, tenant, alice, ["deploy"])
    assert back["active"] is True

    def seen(records: list[dict[str, Any]]) -> bool:
        return len(_roles_changed(records, tenant, alice)) >= 3

    events = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events", until=seen,
                              timeout=WAIT_S)
    assert [(c["before"], c["after"]) for c in _roles_changed(events, tenant, alice)] == [
        ([], ["deploy"]), (["deploy"], []), ([], ["deploy"])]


async def test_tenant_mappings_never_affect_another_tenant(stack: RunningStack) -> None:
    a, b = await stack.new_tenant(), await stack.new_tenant()
    alice = (await stack.create_user(a, "same@example.com"))["id"]
    bob = (await stack.create_user(b, "same@example.com"))["id"]
    ga = await create_group(stack, a, "eng", [{"value": alice}])
    gb = await create_group(stack, b, "eng", [{"value": bob}])
    await put_mapping(stack, a, ga, ["admin"])
    # B cannot map A's group, nor read A's user
    status, _ = await stack.admin("PUT", f"/admin/v1/tenants/{b.id}/group-roles/{ga}",
                                  {"roles": ["x"]})
    assert status == 404
    status, _ = await stack.admin("GET", f"/admin/v1/tenants/{b.id}/users/{alice}/access")
    assert status == 404
    await roles_become(stack, a, alice, ["admin"])
    await asyncio.sleep(0.3)
    assert (await access(stack, b, bob))["roles"] == []
    _, listing = await stack.admin("GET", f"/admin/v1/tenants/{b.id}/group-roles")
    assert listing["mappings"] == []
    await put_mapping(stack, b, gb, ["viewer"])
    assert (await access(stack, b, bob))["roles"] == ["viewer"]
    assert (await access(stack, a, alice))["roles"] == ["admin"]


async def test_mapping_validation(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    gid = await create_group(stack, tenant, "v")
    base = f"/admin/v1/tenants/{tenant.id}/group-roles"
    for bad in ({}, {"roles": "admin"}, {"roles": [1]}, {"roles": [""]}):
        status, body = await stack.admin("PUT", f"{base}/{gid}", bad)
        assert status == 400 and body["error"] == "invalid_value"
    status, _ = await stack.admin("PUT", f"{base}/00000000-0000-0000-0000-000000000000",
                                  {"roles": ["x"]})
    assert status == 404
