"""Introspection credentials for resource servers: HTTP Basic client id + secret, scoped to
one tenant or to all; the admin token keeps working; a client cannot use the admin API."""
from __future__ import annotations

from typing import Any

import aiohttp

from dsync_testkit.stack import RunningStack, Tenant


async def _session(stack: RunningStack, tenant: Tenant, name: str) -> str:
    user = await stack.create_user(tenant, name)
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": user["id"]})
    assert status == 201, body
    return str(body["token"])


async def _introspect(stack: RunningStack, token: str,
                      auth: aiohttp.BasicAuth | None) -> tuple[int, Any]:
    async with stack.http.post(f"{stack.base_url}/auth/v1/introspect", json={"token": token},
                               auth=auth) as r:
        return r.status, await r.json(content_type=None)


async def test_scoped_and_global_clients(stack: RunningStack) -> None:
    acme, other = await stack.new_tenant(), await stack.new_tenant()
    acme_token = await _session(stack, acme, "ada@acme.test")
    other_token = await _session(stack, other, "bob@other.test")

    status, scoped = await stack.admin("POST", "/admin/v1/introspection-clients",
                                       {"name": "acme-api", "tenant_id": acme.id})
    assert status == 201 and scoped["tenant_id"] == acme.id
    status, everyone = await stack.admin("POST", "/admin/v1/introspection-clients",
                                         {"name": "edge"})
    assert status == 201 and everyone["tenant_id"] is None
    acme_auth = aiohttp.BasicAuth(scoped["client_id"], scoped["client_secret"])
    all_auth = aiohttp.BasicAuth(everyone["client_id"], everyone["client_secret"])

    status, body = await _introspect(stack, acme_token, acme_auth)
    assert status == 200 and body["active"] is True and body["tenant_id"] == acme.id
    status, body = await _introspect(stack, other_token, acme_auth)
    assert status == 200 and body == {"active": False}  # another tenant's session
    status, body = await _introspect(stack, other_token, all_auth)
    assert status == 200 and body["active"] is True and body["tenant_id"] == other.id
    status, body = await stack.admin("POST", "/auth/v1/introspect", {"token": other_token})
    assert status == 200 and body["active"] is True  # the admin token keeps working

    # listing shows no secret; wrong secrets, unknown ids and no credential get 401
    status, listing = await stack.admin("GET", "/admin/v1/introspection-clients")
    assert status == 200 and {c["client_id"] for c in listing["clients"]} >= {
        scoped["client_id"], everyone["client_id"]}
    assert all("client_secret" not in c for c in listing["clients"])
    for bad in (aiohttp.BasicAuth(scoped["client_id"], everyone["client_secret"]),
                aiohttp.BasicAuth("not-a-uuid", "x"), None):
        status, body = await _introspect(stack, acme_token, bad)
        assert status == 401 and body["error"] in ("invalid_client", "unauthorized"), body

    # a client credential is not an admin credential
    async with stack.http.get(f"{stack.base_url}/admin/v1/tenants", auth=acme_auth) as r:
        assert r.status == 401
    async with stack.http.post(f"{stack.base_url}/admin/v1/tenants", json={"name": "x"},
                               headers={"Authorization":
                                        f"Bearer {scoped['client_secret']}"}) as r:
        assert r.status == 401

    # revocation is in effect at once
    status, _ = await stack.admin("DELETE",
                                  f"/admin/v1/introspection-clients/{scoped['client_id']}")
    assert status == 204
    status, _ = await _introspect(stack, acme_token, acme_auth)
    assert status == 401


async def test_create_client_validates_its_input(stack: RunningStack) -> None:
    for bad in ({}, {"name": ""}, {"name": "x", "tenant_id": "nope"},
                {"name": "x", "tenant_id": 7}):
        status, body = await stack.admin("POST", "/admin/v1/introspection-clients", bad)
        assert status == 400 and body["error"] == "invalid_value", (bad, body)
    status, _ = await stack.admin("POST", "/admin/v1/introspection-clients",
                                  {"name": "x",
                                   "tenant_id": "00000000-0000-0000-0000-000000000000"})
    assert status == 404
    status, _ = await stack.admin("DELETE", "/admin/v1/introspection-clients/"
                                  "00000000-0000-0000-0000-000000000000")
    assert status == 404
