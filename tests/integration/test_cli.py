"""The `dsync` CLI against the running stack, as an operator uses it: create a tenant, a
second token, a SCIM write, the operations list, disable (SCIM 403), delete (confirmed by
typing the name), and the tenant's events ending with `directory.deleted`."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack


async def dsync(stack: RunningStack, *args: str, stdin: str = "",
                token: str | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "DSYNC_ADMIN_URL": stack.base_url,
           "DSYNC_ADMIN_TOKEN": stack.admin_token if token is None else token,
           "DSYNC_KAFKA_BOOTSTRAP": stack.bootstrap,
           "DSYNC_KAFKA_TOPIC_PREFIX": stack.topic_prefix}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dsync_services.cli", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def ok_json(stack: RunningStack, *args: str) -> Any:
    code, out, err = await dsync(stack, "--json", *args)
    assert code == 0, (args, err)
    return json.loads(out)


async def test_cli_round_trip(stack: RunningStack) -> None:
    tenant = await ok_json(stack, "tenants", "create", "cli-acme")
    tid = tenant["id"]
    assert tenant["status"] == "active" and tenant["scim_token"].startswith("dsync_scim_")
    second = await ok_json(stack, "tokens", "create", tid)
    code, out, _ = await dsync(stack, "tokens", "list", tid)
    assert code == 0 and out.splitlines()[0].split() == ["ID", "ACTIVE", "CREATED_AT",
                                                          "REVOKED_AT"]
    assert second["id"] in out and second["scim_token"] not in out

    status, user, _ = await stack.scim(second["scim_token"], "POST", "/Users",
                                       {"schemas": [SCIM_USER], "userName": "cli@example.com"})
    assert status == 201, user
    ops = await ok_json(stack, "operations", "list", tid)
    assert [(o["method"], o["path"], o["status"]) for o in ops["operations"]] == [
        ("POST", "/Users", "applied")]
    shown = await ok_json(stack, "operations", "show", tid, ops["operations"][0]["id"])
    assert shown["resource_id"] == user["id"]

    status, group, _ = await stack.scim(second["scim_token"], "POST", "/Groups",
                                        {"schemas": [SCIM_GROUP], "displayName": "cli-group"})
    assert status == 201, group
    mapping = await ok_json(stack, "roles", "set", tid, group["id"], "viewer", "admin")
    assert mapping["roles"] == ["admin", "viewer"]
    code, out, _ = await dsync(stack, "roles", "list", tid)
    assert code == 0 and group["id"] in out and "admin,viewer" in out
    code, out, _ = await dsync(stack, "tenants", "list", "--name", "cli-acme")
    assert code == 0 and tid in out and "active" in out

    disabled = await ok_json(stack, "tenants", "disable", tid)
    assert disabled["status"] == "disabled"
    status, body, _ = await stack.scim(second["scim_token"], "GET", f"/Users/{user['id']}")
    assert status == 403, body

    code, _, err = await dsync(stack, "tenants", "delete", tid, stdin="not-the-name\n")
    assert code == 2 and "nothing was deleted" in err
    assert (await ok_json(stack, "tenants", "show", tid))["status"] == "disabled"
    code, out, err = await dsync(stack, "tenants", "delete", tid, stdin="cli-acme\n")
    assert code == 0, err
    code, _, err = await dsync(stack, "tenants", "show", tid)
    assert code == 1 and "404 not_found" in err

    code, out, err = await dsync(stack, "--json", "events", "tail", tid, "--follow",
                                 "--limit", "3")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["user.created", "group.created",
                                            "directory.deleted"]


async def test_cli_errors_are_clear(stack: RunningStack) -> None:
    code, _, err = await dsync(stack, "tenants", "list", token="wrong")  # noqa: S106
    assert code == 1 and "401 unauthorized" in err and "wrong" not in err
    code, _, err = await dsync(stack, "tenants", "list", token="")
    assert code == 2 and "DSYNC_ADMIN_TOKEN" in err
    code, _, err = await dsync(stack, "tenants", "show", "not-a-uuid")
    assert code == 1 and "404" in err
    tenant = await ok_json(stack, "tenants", "create", "cli-active")
    code, _, err = await dsync(stack, "tenants", "delete", tenant["id"], "--yes")
    assert code == 1 and "tenant_active" in err
