"""Per-tenant limits: the deployment's defaults (settings), an operator's overrides (the
`tenant_limits` table), and the effective values the gateway enforces.

Overrides are read through a small cache (`DSYNC_TENANT_LIMITS_CACHE_S`); the admin call
that changes them drops the entry of the gateway that served it, other gateways see the
change when their entry expires. A database error while loading falls back to the
defaults (the request itself then meets the database error, if it needs the database).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import Field

from dsync.db.pool import PoolExhausted
from dsync.settings import _Frozen

log = logging.getLogger(__name__)
DEFAULT_TIER = "default"


class LimitSettings(_Frozen):
    """`DSYNC_RATE_LIMIT_PER_S`, `DSYNC_RATE_LIMIT_BURST`, `DSYNC_CONCURRENCY_LIMIT`,
    `DSYNC_SEARCH_CONCURRENCY_LIMIT`, `DSYNC_MAX_USERS`, `DSYNC_MAX_GROUPS`,
    `DSYNC_TENANT_LIMITS_CACHE_S`. 0 means "no limit" for every limit."""

    rate_limit_per_s: float = Field(1000.0, ge=0)
    rate_limit_burst: int = Field(2000, ge=1)
    concurrency_limit: int = Field(64, ge=0)
    search_concurrency_limit: int = Field(4, ge=0)
    max_users: int = Field(1_000_000, ge=0)
    max_groups: int = Field(100_000, ge=0)
    tenant_limits_cache_s: float = Field(5.0, ge=0)
    throttle_hold_s: float = Field(1.0, ge=0, le=30)
    """`DSYNC_THROTTLE_HOLD_S`: a refused (429) request is answered after a random 50-100 %
    of this long (never longer than its Retry-After), so a client that ignores Retry-After
    cannot make the gateway refuse thousands of requests a second, and the refused requests
    of one burst do not all come back at once. 0 answers at once."""
    throttle_hold_max: int = Field(256, ge=0)
    """`DSYNC_THROTTLE_HOLD_MAX`: most refused requests held at once per gateway process;
    beyond it they are answered at once."""


@dataclass(frozen=True)
class TenantLimits:
    """The limits in force for one tenant; 0 = unlimited."""

    tier: str
    rate_per_s: float
    burst: int
    max_concurrency: int
    max_searches: int
    max_users: int
    max_groups: int


OVERRIDABLE = tuple(f.name for f in fields(TenantLimits) if f.name != "tier")


def defaults(settings: LimitSettings) -> TenantLimits:
    return TenantLimits(DEFAULT_TIER, settings.rate_limit_per_s, settings.rate_limit_burst,
                        settings.concurrency_limit, settings.search_concurrency_limit,
                        settings.max_users, settings.max_groups)


def effective(base: TenantLimits, row: Any | None) -> TenantLimits:
    """`base` with the non-NULL columns of a `tenant_limits` row applied."""
    if row is None:
        return base
    changes = {name: row[name] for name in OVERRIDABLE if row[name] is not None}
    return replace(base, tier=row["tier"], **changes)


async def load_override(pool: asyncpg.Pool, tenant_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM tenant_limits WHERE tenant_id = $1", tenant_id)


class LimitsCache:
    """Effective limits per tenant, cached for `ttl_s` seconds."""

    def __init__(self, pool: asyncpg.Pool, settings: LimitSettings) -> None:
        self.pool = pool
        self.base = defaults(settings)
        self.ttl_s = settings.tenant_limits_cache_s
        self._cache: dict[UUID, tuple[TenantLimits, float]] = {}

    async def get(self, tenant_id: UUID) -> TenantLimits:
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            limits = effective(self.base, await load_override(self.pool, tenant_id))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, PoolExhausted) as exc:
            log.warning("tenant limits unavailable, using defaults: %s", type(exc).__name__)
            return hit[0] if hit is not None else self.base
        if self.ttl_s > 0:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[tenant_id] = (limits, now + self.ttl_s)
        return limits

    def forget(self, tenant_id: UUID) -> None:
        self._cache.pop(tenant_id, None)
