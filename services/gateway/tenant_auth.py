"""SCIM bearer authentication: the token alone decides the tenant.

Lookups are by SHA-256 hash, confirmed with a constant-time comparison, and cached. A
revocation publishes `NOTIFY dsync_tokens`; every gateway drops the cached entry at once
(and clears the whole cache if its LISTEN connection was lost, so nothing stale survives).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.db.pool import connect
from dsync.pipeline import channels
from dsync.tokens import same_hash, token_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantIdentity:
    tenant_id: UUID
    token_id: UUID
    disabled: bool = False
    """The tenant is disabled: its SCIM requests get 403 (its data is kept)."""


class TenantAuthenticator:
    def __init__(self, pool: asyncpg.Pool, dsn: str, ttl_s: float) -> None:
        self.pool = pool
        self.dsn = dsn
        self.ttl_s = ttl_s
        self._cache: dict[bytes, tuple[TenantIdentity, float]] = {}
        self._listener: asyncpg.Connection | None = None
        self._reconnecting = asyncio.Lock()

    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        async with self._reconnecting:
            if self._listener is not None and not self._listener.is_closed():
                return  # another request reconnected meanwhile
            self._cache.clear()
            conn = await connect(self.dsn)
            await conn.add_listener(channels.TOKENS, self._on_revoke)
            conn.add_termination_listener(lambda _c: self._lost(conn))
            self._listener = conn

    def _lost(self, conn: DbConnection) -> None:
        self._cache.clear()
        if self._listener is conn:
            self._listener = None

    def _on_revoke(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        text = str(payload)
        if text.startswith("tenant:"):
            self.forget_tenant(text.removeprefix("tenant:"))
        else:
            self.forget_token(text)

    def forget_tenant(self, tenant_id: object) -> None:
        """Drop every cached token of a tenant that was disabled, enabled or deleted."""
        key = str(tenant_id)
        self._cache = {h: v for h, v in self._cache.items() if str(v[0].tenant_id) != key}

    def forget_token(self, token_id: object) -> None:
        """Drop a revoked token from the cache (called locally and on NOTIFY)."""
        key = str(token_id)
        self._cache = {h: v for h, v in self._cache.items() if str(v[0].token_id) != key}

    async def stop(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    async def authenticate(self, token: str) -> TenantIdentity | None:
        """The tenant of a valid, unrevoked token (`disabled` set when the tenant is);
        None otherwise."""
        if self._listener is None or self._listener.is_closed():
            # No invalidation channel: don't trust the cache; try to restore it.
            self._cache.clear()
            try:
                await asyncio.wait_for(self._listen(), 2.0)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("token invalidation channel unavailable: %s", exc)
        digest = token_hash(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        row = await self.pool.fetchrow(
            "SELECT k.id, k.tenant_id, k.token_hash, t.status FROM scim_tokens k"
            " JOIN tenants t ON t.id = k.tenant_id"
            " WHERE k.token_hash = $1 AND k.revoked_at IS NULL", digest)
        if row is None or not same_hash(bytes(row["token_hash"]), digest):
            self._cache.pop(digest, None)
            return None
        identity = TenantIdentity(row["tenant_id"], row["id"], row["status"] == "disabled")
        if self._listener is not None and self.ttl_s > 0:
            self._cache[digest] = (identity, now + self.ttl_s)
        return identity
