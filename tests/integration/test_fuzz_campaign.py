"""A property-based campaign against the running stack: hypothesis generates ≥ 5,000
requests across SCIM writes (POST/PUT/PATCH/DELETE), reads, `.search`, Bulk and the admin
API, from hostile values (NUL, lone surrogates, huge numbers, wrong JSON types, deep or
long filters, raw bytes) mixed into plausible shapes. It asserts: no 5xx; no stored change
after a 4xx to a SCIM write; the stack still healthy afterwards.

Reproducible: each batch is generated from a fixed seed of `SEEDS` (printed), with
hypothesis' own database off. A request that breaks the rules is printed with its seed;
add it to `tests/corpus/hostile/` as a regression case once fixed.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, RunningStack, Tenant

SEEDS = (11, 12, 13, 14, 15)
PER_SEED = 1_040  # 5 x 1,040 = 5,200 requests
WORKERS = 16
BATCH = 8
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class Req:
    method: str
    path: str                      # may hold {user}, {group}, {tenant}
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    admin: bool = False

    @property
    def scim_write(self) -> bool:
        return not self.admin and self.method != "GET" and not self.path.endswith(".search")


# ------------------------------------------------------------------------------ strategies
NASTY = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "a\udfffb", "1" * 5000, "9" * 25, "-1", "0",
    "Infinity", "NaN", "null", "true", "True", "userName eq \"x\"", "(" * 40, "[" * 40,
    'emails[value eq 1' + "0" * 60 + ']', "members[value eq \"x\"]", "userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName", ENTERPRISE, "\u202e\u200b",
    "ß" * 600, "a" * 20_000, "%00", "../../etc", "' OR 1=1 --", "$ref", "meta.version",
])
TEXT = st.one_of(NASTY, st.text(max_size=24))
ATTRS = st.sampled_from([
    "userName", "displayName", "externalId", "active", "emails", "name", "title", "members",
    "password", "schemas", "id", "meta", "groups", "phoneNumbers", "roles", ENTERPRISE,
    "Operations", "op", "path", "value", "filter", "startIndex", "count", "sortBy",
])
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                 st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(ATTRS, TEXT), inner, max_size=4)),
    max_leaves=4)
ID = st.one_of(st.sampled_from(["{user}", "{group}", str(uuid.UUID(int=0)), "x", "%00",
                                "{user}%00", "9" * 40]), st.uuids().map(str))


def dumps(value: Any) -> bytes:
    """JSON text; lone surrogates go out as `\\udXXX` escapes, as a hostile client sends."""
    return json.dumps(value, ensure_ascii=True).encode()


RAW = st.one_of(st.binary(max_size=40), st.sampled_from([
    b"{", b"[]", b"null", b'{"a":NaN}', b'{"startIndex":Infinity}', b"\xff\xfe",
    b'{"schemas":1}', b"[" * 2000 + b"]" * 2000]))


def body(value: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(value.map(dumps), value.map(dumps), value.map(dumps), RAW)


USER = st.fixed_dictionaries(
    {"schemas": st.one_of(st.just([SCIM_USER]), st.just([SCIM_USER, ENTERPRISE]), JSON),
     "userName": st.one_of(st.uuids().map(lambda u: f"f-{u}@example.com"), TEXT, JSON)},
    optional={"displayName": st.one_of(TEXT, JSON), "active": JSON, "emails": JSON,
              "name": JSON, "externalId": TEXT, "password": TEXT, ENTERPRISE: JSON,
              "title": TEXT})
GROUP = st.fixed_dictionaries(
    {"schemas": st.one_of(st.just([SCIM_GROUP]), JSON),
     "displayName": st.one_of(st.uuids().map(lambda u: f"g-{u}"), TEXT, JSON)},
    optional={"members": st.one_of(
        st.lists(st.fixed_dictionaries({"value": st.one_of(ID, JSON)}), max_size=3), JSON)})
OPERATION = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["add", "replace", "remove", "Replace", "Add"]), TEXT,
                     JSON)},
    optional={"path": st.one_of(st.sampled_from([
        "displayName", "title", "active", "emails", 'emails[type eq "work"].value',
        "members", 'members[value eq "{user}"]', "name.givenName", f"{ENTERPRISE}:department",
        "password", "meta.version", "id"]), TEXT, JSON), "value": JSON})
PATCH = st.fixed_dictionaries({"schemas": st.one_of(st.just([PATCH_OP]), JSON),
                               "Operations": st.one_of(st.lists(OPERATION, max_size=4), JSON)})
FILTER = st.one_of(TEXT, st.sampled_from([
    'userName eq "a"', 'emails[type eq "work" and value co "@"]', "not (active eq true)",
    'meta.lastModified gt "2020-01-01T00:00:00Z"', "userName pr or title pr",
    'members[value eq "x"]', 'displayName sw "g-"']))
PARAMS = st.dictionaries(
    st.sampled_from(["filter", "startIndex", "count", "sortBy", "sortOrder", "attributes",
                     "excludedAttributes", "cursor"]),
    st.one_of(FILTER, st.integers(-(2**64), 2**64).map(str)), max_size=4)
SEARCH_BODY = st.fixed_dictionaries(
    {"schemas": st.one_of(st.just([SEARCH]), JSON)},
    optional={"filter": st.one_of(FILTER, JSON), "startIndex": JSON, "count": JSON,
              "sortBy": JSON, "sortOrder": JSON, "attributes": JSON,
              "excludedAttributes": JSON})
BULK_OP = st.fixed_dictionaries(
    {"method": st.one_of(st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]), JSON),
     "path": st.one_of(st.sampled_from(["/Users", "/Groups", "/Users/{user}",
                                        "/Groups/{group}", "/Users/bulkId:b1"]), TEXT)},
    optional={"bulkId": st.one_of(st.just("b1"), TEXT), "data": st.one_of(USER, GROUP,
                                                                          PATCH, JSON)})
BULK_BODY = st.fixed_dictionaries(
    {"schemas": st.one_of(st.just([BULK]), JSON),
     "Operations": st.one_of(st.lists(BULK_OP, max_size=3), JSON)},
    optional={"failOnErrors": JSON})
KIND = st.sampled_from(["User", "Group"])


def q(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(params.items())


REQUEST = st.one_of(
    body(USER).map(lambda b: Req("POST", "/Users", body=b)),
    st.tuples(ID, body(USER)).map(lambda t: Req("PUT", f"/Users/{t[0]}", body=t[1])),
    st.tuples(ID, body(PATCH)).map(lambda t: Req("PATCH", f"/Users/{t[0]}", body=t[1])),
    body(GROUP).map(lambda b: Req("POST", "/Groups", body=b)),
    st.tuples(ID, body(GROUP)).map(lambda t: Req("PUT", f"/Groups/{t[0]}", body=t[1])),
    st.tuples(ID, body(PATCH)).map(lambda t: Req("PATCH", f"/Groups/{t[0]}", body=t[1])),
    st.tuples(KIND, ID).map(lambda t: Req("DELETE", f"/{t[0]}s/{t[1]}")),
    st.tuples(KIND, PARAMS).map(lambda t: Req("GET", f"/{t[0]}s", q(t[1]))),
    st.tuples(KIND, ID, PARAMS).map(lambda t: Req("GET", f"/{t[0]}s/{t[1]}", q(t[2]))),
    st.tuples(KIND, body(SEARCH_BODY)).map(
        lambda t: Req("POST", f"/{t[0]}s/.search", body=t[1])),
    body(BULK_BODY).map(lambda b: Req("POST", "/Bulk", body=b)),
    st.sampled_from(["/ServiceProviderConfig", "/Schemas", "/ResourceTypes/User", "/Me",
                     "/.search"]).map(lambda p: Req("GET", p)),
    # the admin API
    body(st.dictionaries(st.sampled_from(["name", "id"]), JSON, max_size=2)).map(
        lambda b: Req("POST", "/admin/v1/tenants", body=b, admin=True)),
    st.one_of(ID, st.just("{tenant}")).map(
        lambda i: Req("GET", f"/admin/v1/tenants/{i}".replace("{user}", "{tenant}"),
                      admin=True)),
    st.tuples(ID, body(st.fixed_dictionaries({}, optional={"roles": JSON}))).map(
        lambda t: Req("PUT", f"/admin/v1/tenants/{{tenant}}/group-roles/{t[0]}", body=t[1],
                      admin=True)),
    body(st.fixed_dictionaries({}, optional={"user_id": st.one_of(ID, JSON)})).map(
        lambda b: Req("POST", "/admin/v1/tenants/{tenant}/sessions", body=b, admin=True)),
    st.tuples(TEXT, TEXT).map(lambda t: Req(
        "GET", "/admin/v1/tenants/{tenant}/operations", (("status", t[0]), ("limit", t[1])),
        admin=True)),
    ID.map(lambda i: Req("GET", f"/admin/v1/tenants/{{tenant}}/users/{i}/access", admin=True)),
    body(st.fixed_dictionaries({}, optional={"url": st.one_of(TEXT, JSON), "secret": JSON,
                                             "events": JSON})).map(
        lambda b: Req("POST", "/admin/v1/tenants/{tenant}/webhooks", body=b, admin=True)),
    body(st.fixed_dictionaries({}, optional={"token": st.one_of(TEXT, JSON)})).map(
        lambda b: Req("POST", "/auth/v1/introspect", body=b, admin=True)),
)


def generate(campaign_seed: int, n: int) -> list[Req]:
    """About `n` requests drawn from `REQUEST`, the same ones for the same seed: drawn as
    lists of `BATCH`, since hypothesis' cost is mostly per example."""
    out: list[Req] = []

    @seed(campaign_seed)
    @settings(max_examples=n // BATCH, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(REQUEST, min_size=BATCH, max_size=BATCH))
    def collect(requests: list[Req]) -> None:
        out.extend(requests)

    collect()
    return out


# ---------------------------------------------------------------------------------- sending
@dataclass
class Worker:
    tenant: Tenant
    user_id: str
    group_id: str


async def fingerprint(conn: asyncpg.Connection, tenant_id: str) -> tuple[Any, ...]:
    """The tenant's directory state in three numbers (the ledger is left out: effects of
    earlier writes, such as session revocations, are recorded there asynchronously)."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) + coalesce(sum(version), 0) FROM users WHERE tenant_id = $1),"
        " (SELECT count(*) + coalesce(sum(version), 0) FROM groups WHERE tenant_id = $1),"
        " (SELECT count(*) FROM group_members WHERE tenant_id = $1)",
        uuid.UUID(tenant_id))
    return tuple(row)


def encode_query(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                          for k, v in pairs)


async def send(stack: RunningStack, w: Worker, req: Req) -> tuple[int, bytes]:
    path = (req.path.replace("{user}", w.user_id).replace("{group}", w.group_id)
            .replace("{tenant}", w.tenant.id))
    base = stack.base_url if req.admin else stack.scim_url
    token = stack.admin_token if req.admin else w.tenant.token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    async with stack.http.request(req.method, base + path + encode_query(req.query),
                                  data=req.body, headers=headers) as r:
        return r.status, await r.read()


async def run_worker(stack: RunningStack, w: Worker, reqs: list[Req],
                     conn: asyncpg.Connection, failures: list[str], campaign_seed: int
                     ) -> None:
    before = await fingerprint(conn, w.tenant.id)
    for req in reqs:
        status, raw = await send(stack, w, req)
        if status >= 500:
            failures.append(f"seed {campaign_seed}: {status} for {req!r}: {raw[:300]!r}")
            continue
        if not req.scim_write:
            continue
        after = await fingerprint(conn, w.tenant.id)
        if 400 <= status < 500 and after != before:
            failures.append(f"seed {campaign_seed}: {status} changed state for {req!r}")
        before = after


async def test_fuzz_campaign_no_5xx_no_change_after_4xx(stack: RunningStack) -> None:
    workers = []
    for i in range(WORKERS):
        tenant = await stack.new_tenant()
        user = await stack.create_user(tenant, f"fuzz-{i}@example.com")
        status, group, _ = await stack.scim(tenant, "POST", "/Groups", {
            "schemas": [SCIM_GROUP], "displayName": f"fuzz-{i}",
            "members": [{"value": user["id"]}]})
        assert status == 201, group
        workers.append(Worker(tenant, user["id"], group["id"]))
    conns = [await asyncpg.connect(stack.database_url) for _ in workers]
    failures: list[str] = []
    total = 0
    try:
        for campaign_seed in SEEDS:
            reqs = await asyncio.to_thread(generate, campaign_seed, PER_SEED)
            total += len(reqs)
            print(f"fuzz seed {campaign_seed}: {len(reqs)} requests")
            await asyncio.gather(*(
                run_worker(stack, w, reqs[k::WORKERS], conns[k], failures, campaign_seed)
                for k, w in enumerate(workers)))
    finally:
        for conn in conns:
            await conn.close()
    assert total >= 5_000
    assert failures == [], "\n".join(failures[:20])
    async with stack.http.get(f"{stack.base_url}/healthz") as r:
        assert r.status == 200, await r.text()
    tenant = await stack.new_tenant()
    created = await stack.create_user(tenant, "after-fuzz@example.com")
    status, body, _ = await stack.scim(tenant, "GET", f"/Users/{created['id']}")
    assert status == 200 and body["userName"] == "after-fuzz@example.com"
