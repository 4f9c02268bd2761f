"""The console over plain HTTP (no browser): sign-in, cookie flags, CSRF, security headers,
tenant scoping of setup sessions. The browser flows are in tests/browser/."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from dsync_testkit.stack import RunningStack

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _page(http: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, str]]:
    async with http.get(url, allow_redirects=False) as r:
        return r.status, await r.text(), dict(r.headers)


@pytest.fixture
async def browser_like(stack: RunningStack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http


async def sign_in(stack: RunningStack, http: aiohttp.ClientSession,
                  token: str | None = None) -> int:
    _, html, _ = await _page(http, f"{stack.base_url}/console/sign-in")
    csrf = CSRF.search(html).group(1)  # type: ignore[union-attr]
    async with http.post(f"{stack.base_url}/console/sign-in", allow_redirects=False,
                         data={"csrf": csrf, "admin_token": token or stack.admin_token}) as r:
        return r.status


async def test_operator_pages_need_a_session_and_send_security_headers(
        stack: RunningStack, browser_like: aiohttp.ClientSession) -> None:
    status, _, headers = await _page(browser_like, f"{stack.base_url}/console/")
    assert status == 303 and headers["Location"] == "/console/sign-in"
    status, html, headers = await _page(browser_like, f"{stack.base_url}/console/sign-in")
    assert status == 200 and "Admin token" in html
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_sign_in_sets_a_strict_httponly_cookie_and_stores_only_its_hash(
        stack: RunningStack, browser_like: aiohttp.ClientSession) -> None:
    assert await sign_in(stack, browser_like, "wrong-token") == 401
    _, html, _ = await _page(browser_like, f"{stack.base_url}/console/sign-in")
    csrf = CSRF.search(html).group(1)  # type: ignore[union-attr]
    async with browser_like.post(f"{stack.base_url}/console/sign-in", allow_redirects=False,
                                 data={"csrf": csrf, "admin_token": stack.admin_token}) as r:
        assert r.status == 303
        cookie = r.headers["Set-Cookie"]
        value = r.cookies["dsync_console"].value
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind TLS it is set
    import asyncpg

    conn = await asyncpg.connect(stack.database_url)
    try:
        stored = await conn.fetch("SELECT id_hash FROM console_sessions")
    finally:
        await conn.close()
    assert stored and all(value.encode() not in bytes(r["id_hash"]) for r in stored)
    status, html, headers = await _page(browser_like, f"{stack.base_url}/console/")
    assert status == 200 and "Tenants" in html and headers["X-Frame-Options"] == "DENY"


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
        stack: RunningStack, browser_like: aiohttp.ClientSession) -> None:
    assert await sign_in(stack, browser_like) == 303
    name = "csrf-probe-tenant"
    for data in ({"name": name}, {"name": name, "csrf": "forged"}):
        async with browser_like.post(f"{stack.base_url}/console/tenants", data=data,
                                     allow_redirects=False) as r:
            assert r.status == 403
            assert r.headers["X-Frame-Options"] == "DENY"
    _, body = await stack.admin("GET", "/admin/v1/tenants")
    assert name not in [t["name"] for t in body["tenants"]]
    # the same form with its token works
    _, html, _ = await _page(browser_like, f"{stack.base_url}/console/")
    csrf = CSRF.search(html).group(1)  # type: ignore[union-attr]
    async with browser_like.post(f"{stack.base_url}/console/tenants",
                                 data={"name": name, "csrf": csrf}) as r:
        assert r.status == 201 and "dsync_scim_" in await r.text()


async def test_behind_tls_the_cookie_is_secure(stack: RunningStack,
                                               browser_like: aiohttp.ClientSession) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    async with browser_like.get(f"{stack.base_url}/console/sign-in", headers=headers) as r:
        csrf = CSRF.search(await r.text()).group(1)  # type: ignore[union-attr]
        assert "Secure" in r.headers["Set-Cookie"]
        pre = r.cookies["dsync_console_pre"].value
    # the client's jar keeps Secure cookies off plain HTTP: send it as the proxy would
    headers["Cookie"] = f"dsync_console_pre={pre}"
    async with stack.http.post(f"{stack.base_url}/console/sign-in", headers=headers,
                                 allow_redirects=False,
                                 data={"csrf": csrf, "admin_token": stack.admin_token}) as r:
        assert r.status == 303 and "Secure" in r.headers["Set-Cookie"]


async def test_group_members_page_through_by_keyset_and_search_escapes_quotes(
        stack: RunningStack, browser_like: aiohttp.ClientSession) -> None:
    """A group's members come 50 a page, each exactly once across the pages (the keyset
    `after` link), and a search for a name with a quote neither fails nor matches all."""
    tenant = await stack.new_tenant()
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
            "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "userName": f"member{i:03d}@example.com"}} for i in range(120)]
    ops.append({"method": "POST", "path": "/Groups", "bulkId": "g",
                "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                         "displayName": 'Big "quoted" group',
                         "members": [{"value": f"bulkId:u{i}"} for i in range(120)]}})
    status, body, _ = await stack.scim(tenant, "POST", "/Bulk", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    assert status == 200, body
    group_id = body["Operations"][-1]["location"].rsplit("/", 1)[1]
    assert await sign_in(stack, browser_like) == 303
    base = f"{stack.base_url}/console/tenants/{tenant.id}"
    seen: list[str] = []
    url: str | None = f"{base}/groups/{group_id}"
    pages = 0
    while url:
        status, html, _ = await _page(browser_like, url)
        assert status == 200
        pages += 1
        seen += re.findall(r"member\d{3}@example\.com", html)
        nxt = re.search(r'href="\?after=([0-9a-f-]+)" rel="next"', html)
        url = f"{base}/groups/{group_id}?after={nxt.group(1)}" if nxt else None
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    status, html, _ = await _page(browser_like, f"{base}/groups?q=%22quoted%22")
    assert status == 200 and "1 group matching" in html
    status, html, _ = await _page(browser_like, f"{base}/users?q=%22%5C")
    assert status == 200 and "0 users matching" in html
