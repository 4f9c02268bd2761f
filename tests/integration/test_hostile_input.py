"""Hostile input against the running stack: every request gets its SCIM 4xx, never a 5xx,
and changes nothing.

`tests/corpus/hostile/*.json` holds past crashers (each once answered 500 or 503), replayed
here as regression tests. A case is `{"method", "path", "body" | "raw_body",
"raw_headers"?, "admin"?, "status", "scimType"?}`: `raw_body` is sent byte for byte (so it
can carry `\\u0000`, lone surrogates, `Infinity`); `"admin": true` sends it to the admin
API (path as is, admin token); `raw_headers` values are Python-escaped bytes
(`"Bearer \\\\xff"`) sent on a raw socket, since HTTP clients refuse to send them;
`{user}` in the path is an existing user of the tenant.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest

from dsync_testkit.stack import RunningStack, Tenant

CORPUS = Path(__file__).parent.parent / "corpus" / "hostile"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(CORPUS.glob("*.json"))}


async def tenant_fingerprint(database_url: str, tenant_id: str) -> Any:
    """Everything a request could have changed for a tenant, except the ledger of rejections
    (recording a rejected request is intended)."""
    conn = await asyncpg.connect(database_url)
    try:
        users = await conn.fetch("SELECT id, doc::text, version FROM users"
                                 " WHERE tenant_id = $1 ORDER BY id", tenant_id)
        groups = await conn.fetch("SELECT id, doc::text, version FROM groups"
                                  " WHERE tenant_id = $1 ORDER BY id", tenant_id)
        members = await conn.fetch("SELECT group_id, member_id FROM group_members"
                                   " WHERE tenant_id = $1 ORDER BY 1, 2", tenant_id)
        applied = await conn.fetchval("SELECT count(*) FROM operations WHERE tenant_id = $1"
                                      " AND status <> 'rejected'", tenant_id)
        return ([tuple(r) for r in users], [tuple(r) for r in groups],
                [tuple(r) for r in members], applied)
    finally:
        await conn.close()


async def send_raw(base_url: str, method: str, path: str, headers: dict[str, bytes],
                   body: bytes = b"") -> tuple[int, Any]:
    """One HTTP/1.1 request with arbitrary header bytes; (status, parsed JSON body)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n"
        raw = head.encode() + b"".join(k.encode() + b": " + v + b"\r\n"
                                       for k, v in headers.items())
        raw += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        writer.write(raw)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        parsed = payload.decode(errors="replace")
    return int(status_line.split()[1]), parsed


async def replay(stack: RunningStack, tenant: Tenant, user_id: str,
                 case: dict[str, Any]) -> tuple[int, Any]:
    path = ("" if case.get("admin") else "/scim/v2") + case["path"].replace("{user}", user_id)
    token = stack.admin_token if case.get("admin") else tenant.token
    if "raw_headers" in case:
        headers = {k: v.encode().decode("unicode_escape").encode("latin-1")
                   for k, v in case["raw_headers"].items()}
        return await send_raw(stack.base_url, case["method"], path, headers)
    body = case["raw_body"].encode() if "raw_body" in case else (
        orjson.dumps(case["body"]) if "body" in case else b"")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    async with stack.http.request(case["method"], stack.base_url + path, data=body,
                                  headers=headers) as r:
        raw = await r.read()
        try:
            return r.status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return r.status, raw.decode(errors="replace")


@pytest.mark.parametrize("name", CASES)
async def test_past_crasher_gets_its_4xx_and_changes_nothing(
        stack: RunningStack, name: str) -> None:
    case = CASES[name]
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "existing@example.com", displayName="Existing")
    before = await tenant_fingerprint(stack.database_url, tenant.id)
    status, body = await replay(stack, tenant, user["id"], case)
    assert status == case["status"], body
    if status >= 400 and case.get("admin"):
        assert isinstance(body, dict) and "error" in body, body
    elif status >= 400:
        assert isinstance(body, dict) and body.get("status") == str(status), body
    if "scimType" in case:
        assert body["scimType"] == case["scimType"], body
    if "bulk_statuses" in case:
        assert [o["status"] for o in body["Operations"]] == case["bulk_statuses"], body
    assert await tenant_fingerprint(stack.database_url, tenant.id) == before


async def test_stack_is_still_healthy_after_the_corpus(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    for case in CASES.values():
        await replay(stack, tenant, "00000000-0000-0000-0000-000000000000", case)
    async with stack.http.get(f"{stack.base_url}/healthz") as r:
        assert r.status == 200, await r.text()
    created = await stack.create_user(tenant, "after-corpus@example.com")
    status, body, _ = await stack.scim(tenant, "GET", f"/Users/{created['id']}")
    assert status == 200 and body["userName"] == "after-corpus@example.com"
