"""Per-tenant token buckets and in-flight counts: pure bookkeeping, the caller passes the
clock. One `Throttle` per gateway process (in-process limits: with N gateways a tenant
gets up to N times its limit; see docs/limits.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from uuid import UUID


@dataclass
class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second."""

    tokens: float
    stamp: float

    def take(self, now: float, rate: float, burst: int) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate if rate > 0 else math.inf


@dataclass
class Refusal:
    reason: str  # "rate", "concurrency" or "searches"
    retry_after_s: int


@dataclass
class Throttle:
    buckets: dict[UUID, TokenBucket] = field(default_factory=dict)
    in_flight: dict[UUID, int] = field(default_factory=dict)
    searching: dict[UUID, int] = field(default_factory=dict)
    held: int = 0
    """Refusals being held before their answer (see the gateway's throttle middleware)."""

    def admit(self, tenant_id: UUID, now: float, rate: float, burst: int,
              max_concurrency: int, *, search: bool = False, max_searches: int = 0
              ) -> Refusal | None:
        """Admit one request (None) or say why not. An admitted request must be
        `release`d (with the same `search`). Rate 0 / max_concurrency 0 / max_searches 0
        mean unlimited. `search` requests (lists, `.search`: the costly reads) also count
        against `max_searches`, so they cannot hold all of the database connections."""
        if max_concurrency > 0 and self.in_flight.get(tenant_id, 0) >= max_concurrency:
            return Refusal("concurrency", 1)
        if search and max_searches > 0 and self.searching.get(tenant_id, 0) >= max_searches:
            return Refusal("searches", 1)
        if rate > 0:
            bucket = self.buckets.get(tenant_id)
            if bucket is None:
                if len(self.buckets) > 100_000:
                    self.buckets.clear()  # bounded memory; a cleared bucket starts full
                bucket = self.buckets[tenant_id] = TokenBucket(float(burst), now)
            wait = bucket.take(now, rate, burst)
            if wait > 0:
                return Refusal("rate", max(1, math.ceil(wait)) if wait != math.inf else 60)
        self.in_flight[tenant_id] = self.in_flight.get(tenant_id, 0) + 1
        if search:
            self.searching[tenant_id] = self.searching.get(tenant_id, 0) + 1
        return None

    def charge(self, tenant_id: UUID, tokens: float, burst: int) -> None:
        """Take `tokens` more from an admitted request that turned out costly (a large
        page of results). The bucket may go into debt, down to `-burst`: the tenant's next
        requests wait until it is repaid."""
        bucket = self.buckets.get(tenant_id)
        if bucket is not None and tokens > 0:
            bucket.tokens = max(-float(burst), bucket.tokens - tokens)

    def release(self, tenant_id: UUID, *, search: bool = False) -> None:
        for counts in (self.in_flight, self.searching) if search else (self.in_flight,):
            left = counts.get(tenant_id, 0) - 1
            if left > 0:
                counts[tenant_id] = left
            else:
                counts.pop(tenant_id, None)
