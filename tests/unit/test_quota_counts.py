"""The quota check's stored count: read at most once a second far from the quota, on every
create near it (services/gateway/quotas.py)."""
from __future__ import annotations

from typing import Any
from uuid import uuid4

from dsync_services.gateway.quotas import StoredCounts


class CountingPool:
    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0

    async def fetchval(self, sql: str, *args: Any) -> int:
        assert "FROM tenant_usage WHERE tenant_id = $1" in sql
        self.reads += 1
        return self.count


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_far_from_the_quota_the_count_is_read_once_a_second() -> None:
    pool, clock, tenant = CountingPool(10), Clock(), uuid4()
    counts = StoredCounts(pool, now=clock)  # type: ignore[arg-type]
    seen = [await counts.stored(tenant, "User", 1_000_000) for _ in range(50)]
    assert pool.reads == 1
    assert seen == list(range(10, 60))  # the creates admitted since the read count too
    clock.t += 1.0
    assert await counts.stored(tenant, "User", 1_000_000) == 10  # read again
    assert pool.reads == 2


async def test_near_the_quota_every_create_reads_the_count() -> None:
    pool, clock, tenant = CountingPool(1), Clock(), uuid4()
    counts = StoredCounts(pool, now=clock)  # type: ignore[arg-type]
    for _ in range(5):
        assert await counts.stored(tenant, "User", 2) == 1
    assert pool.reads == 5
    pool.count = 2
    assert await counts.stored(tenant, "User", 2) == 2  # the quota is reached: refused


async def test_the_estimate_never_passes_the_near_margin() -> None:
    pool, clock, tenant = CountingPool(0), Clock(), uuid4()
    counts = StoredCounts(pool, now=clock)  # type: ignore[arg-type]
    seen = [await counts.stored(tenant, "Group", 200) for _ in range(200)]
    assert max(seen) < 180  # 10% of the quota is never estimated into
    assert pool.reads == 2  # the 181st create reached the margin and read the count
