"""Request ids and operation ids on the real stack, with the gateway at DSYNC_LOG_LEVEL=DEBUG:
every answer has `X-Request-Id` (a sane incoming one is kept), every log line written while
a request is served carries it, and every SCIM write recorded in the ledger answers
`Dsync-Operation-Id` — successes and rejections, not only 503s."""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator

import pytest

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import SCIM_USER, RunningStack, start_stack


@pytest.fixture(scope="module")
async def debug_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_LOG_LEVEL="debug")
    try:
        yield running
    finally:
        await running.close()


async def test_every_answer_has_a_request_id_and_keeps_a_sane_one(
        debug_stack: RunningStack) -> None:
    s = debug_stack
    tenant = await s.new_tenant()
    seen = set()
    for method, url, headers in (
            ("GET", f"{s.base_url}/healthz", {}),
            ("GET", f"{s.base_url}/admin/v1/tenants", s.admin_headers()),
            ("GET", f"{s.base_url}/admin/v1/tenants", {}),                       # 401
            ("GET", f"{s.scim_url}/Users", {}),                                  # SCIM 401
            ("GET", f"{s.scim_url}/Users/{uuid.uuid4()}",
             {"Authorization": f"Bearer {tenant.token}"}),                        # 404
            ("PUT", f"{s.scim_url}/Users", {"Authorization": f"Bearer {tenant.token}"}),  # 405
            ("GET", f"{s.base_url}/nowhere", {})):                              # 404
        async with s.http.request(method, url, headers=headers) as r:
            rid = r.headers.get("X-Request-Id")
            assert rid and re.fullmatch(r"[0-9a-f]{32}", rid), (method, url, r.status)
            seen.add(rid)
    assert len(seen) == 7
    async with s.http.get(f"{s.base_url}/healthz", headers={"X-Request-Id": "lb-42.a"}) as r:
        assert r.headers["X-Request-Id"] == "lb-42.a"
    async with s.http.get(f"{s.base_url}/healthz", headers={"X-Request-Id": "no spaces"}) as r:
        assert r.headers["X-Request-Id"] != "no spaces"


async def test_writes_answer_their_operation_id(debug_stack: RunningStack) -> None:
    s = debug_stack
    tenant = await s.new_tenant()
    user = {"schemas": [SCIM_USER], "userName": "op@example.com"}
    answers = []
    for payload, expected in ((user, 201), (user, 409), ({"schemas": [SCIM_USER]}, 400)):
        async with s.http.post(f"{s.scim_url}/Users", json=payload, headers={
                "Authorization": f"Bearer {tenant.token}"}) as r:
            assert r.status == expected, await r.text()
            answers.append((r.status, r.headers.get("Dsync-Operation-Id")))
    for status, op_id in answers:
        assert op_id, status
        code, op = await s.admin("GET", f"/admin/v1/tenants/{tenant.id}/operations/{op_id}")
        assert code == 200, (status, op)
        assert op["status"] == ("applied" if status == 201 else "rejected")
    async with s.http.get(f"{s.scim_url}/Users", headers={
            "Authorization": f"Bearer {tenant.token}"}) as r:
        assert "Dsync-Operation-Id" not in r.headers  # reads are not operations


async def test_log_lines_of_a_request_carry_its_id(debug_stack: RunningStack) -> None:
    s = debug_stack
    tenant = await s.new_tenant()
    rid = f"trace-{uuid.uuid4().hex}"
    async with s.http.post(f"{s.scim_url}/Users", headers={
            "Authorization": f"Bearer {tenant.token}", "X-Request-Id": rid},
            json={"schemas": [SCIM_USER], "userName": "logged@example.com"}) as r:
        assert r.status == 201 and r.headers["X-Request-Id"] == rid
    lines = [json.loads(line) for line in s.log("gateway").splitlines()
             if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == rid]
    assert any(line["level"] == "debug" and "/scim/v2/Users -> 201" in line["msg"]
               for line in mine), mine
    per_request = [line for line in lines if " -> " in line["msg"]]
    assert per_request and all("request_id" in line for line in per_request)
    assert "logged@example.com" not in s.log("gateway")
