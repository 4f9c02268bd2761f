"""SCIM at scale: filter lookups on a tenant with 1,000,000 users and 1,000-member PATCHes
on a 100,000-member group, through the whole stack (HTTP → Kafka → directory → PostgreSQL).

Seeds the rows with COPY (the SCIM write path is measured by `bench/run.py`), then prints
p50/p95/p99 of `GET /Users?filter=userName eq "…"` and of PATCH add/remove of 1,000
members. Usage: python bench/scim_scale.py [--users 1000000] [--group 100000] [--lookups 500]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import asyncpg
from common import boot, percentiles

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def seed(dsn: str, tenant_id: str, users: int,
               group_size: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=lambda v: b"\x01" + v.encode(),
                              decoder=lambda b: json.loads(b[1:]), schema="pg_catalog",
                              format="binary")
    try:
        tid = uuid.UUID(tenant_id)
        now = datetime.now(UTC)
        ids = [uuid.uuid4() for _ in range(users)]
        start = time.perf_counter()
        chunk = 100_000
        for base in range(0, users, chunk):
            rows = [(tid, ids[i], f"user{i}@scale.test", None, True, f"User {i}",
                     json.dumps({"schemas": [USER], "userName": f"user{i}@scale.test",
                                 "displayName": f"User {i}", "active": True,
                                 "emails": [{"value": f"user{i}@scale.test", "type": "work",
                                             "primary": True}]}), 1, now, now)
                    for i in range(base, min(users, base + chunk))]
            await conn.copy_records_to_table(
                "users", records=rows,
                columns=["tenant_id", "id", "user_name", "external_id", "active",
                         "display_name", "doc", "version", "created_at", "updated_at"])
            print(f"  seeded {min(users, base + chunk):,} users "
                  f"({time.perf_counter() - start:.0f}s)", flush=True)
        gid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO groups (tenant_id, id, display_name, doc, created_at, updated_at)"
            " VALUES ($1, $2, 'big', $3, $4, $4)", tid, gid,
            json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "big"}), now)
        await conn.copy_records_to_table(
            "group_members", records=[(tid, gid, ids[i], "User") for i in range(group_size)],
            columns=["tenant_id", "group_id", "member_id", "member_type"])
        await conn.execute("ANALYZE users; ANALYZE group_members")
        print(f"  group of {group_size:,} members ready ({time.perf_counter() - start:.0f}s)")
        return ids, gid
    finally:
        await conn.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--group", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=500)
    ap.add_argument("--patches", type=int, default=10)
    args = ap.parse_args()
    servers, stack = await boot()
    try:
        tenant = await stack.new_tenant("scale")
        print(f"seeding {args.users:,} users ...", flush=True)
        ids, gid = await seed(stack.database_url, tenant.id, args.users, args.group)
        lat = []
        for _ in range(args.lookups):
            i = random.randrange(args.users)
            t0 = time.perf_counter()
            status, body, _ = await stack.scim(
                tenant, "GET", "/Users?filter=" + quote(f'userName eq "user{i}@scale.test"'))
            lat.append(time.perf_counter() - t0)
            assert status == 200 and body["totalResults"] == 1
        p = percentiles(lat)
        print(f"GET /Users?filter=userName eq (tenant of {args.users:,}): "
              f"p50 {p['p50']:.1f} ms  p95 {p['p95']:.1f} ms  p99 {p['p99']:.1f} ms")
        adds, removes = [], []
        pool = ids[args.group:]
        for n in range(args.patches):
            batch = pool[n * 1000:(n + 1) * 1000]
            body = {"schemas": [PATCH], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": str(u)} for u in batch]}]}
            t0 = time.perf_counter()
            status, resp, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", body)
            adds.append(time.perf_counter() - t0)
            assert status in (200, 204), resp
            body["Operations"][0]["op"] = "remove"
            t0 = time.perf_counter()
            status, resp, _ = await stack.scim(tenant, "PATCH", f"/Groups/{gid}", body)
            removes.append(time.perf_counter() - t0)
            assert status in (200, 204), resp
        for name, samples in (("add", adds), ("remove", removes)):
            p = percentiles(samples)
            print(f"PATCH {name} 1,000 members on a {args.group:,}-member group "
                  f"({len(samples)} runs): p50 {p['p50']:.0f} ms  p99 {p['p99']:.0f} ms")
        t0 = time.perf_counter()
        async with stack.http.get(f"{stack.scim_url}/Groups/{gid}",
                                  headers={"Authorization": f"Bearer {tenant.token}"}) as r:
            size = len(await r.read())
        print(f"GET /Groups/{{id}} streaming {args.group:,} members: "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms, {size / 1e6:.1f} MB")
    finally:
        await stack.close()
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
