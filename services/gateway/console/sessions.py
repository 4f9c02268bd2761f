"""Console sign-in sessions: a random cookie value, only its SHA-256 stored.

An operator session (`tenant_id` None) comes from signing in with the admin token; a setup
session (`tenant_id` set) comes from opening a setup link and can only see that tenant.
The CSRF token of a session is an HMAC of its cookie value, so it needs no storage and a
form posted from another site (which cannot read the cookie) cannot carry it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg

from dsync.tokens import token_hash

COOKIE = "dsync_console"


@dataclass(frozen=True)
class ConsoleSession:
    """Who is signed in: an operator (`tenant_id` None) or one tenant's IT admin."""

    cookie: str
    tenant_id: UUID | None
    setup_link_id: UUID | None

    @property
    def operator(self) -> bool:
        return self.tenant_id is None

    @property
    def csrf(self) -> str:
        return csrf_token(self.cookie)


def csrf_token(cookie: str) -> str:
    return hmac.new(cookie.encode(), b"dsync-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session: ConsoleSession, presented: object) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return isinstance(presented, str) and hmac.compare_digest(
        presented.encode(), session.csrf.encode())


async def open_session(pool: asyncpg.Pool | asyncpg.Connection, ttl: timedelta,
                       tenant_id: UUID | None = None,
                       setup_link_id: UUID | None = None) -> ConsoleSession:
    """Store a new session (hash only) and return it with its cookie value."""
    cookie = secrets.token_urlsafe(32)
    await pool.execute("INSERT INTO console_sessions (id_hash, tenant_id, setup_link_id,"
                       " expires_at) VALUES ($1, $2, $3, now() + $4)",
                       token_hash(cookie), tenant_id, setup_link_id, ttl)
    return ConsoleSession(cookie, tenant_id, setup_link_id)


async def find_session(pool: asyncpg.Pool, cookie: str | None) -> ConsoleSession | None:
    """The live session of a cookie value, or None (unknown, expired or signed out)."""
    if not cookie or len(cookie) > 200:
        return None
    row = await pool.fetchrow("SELECT tenant_id, setup_link_id FROM console_sessions"
                              " WHERE id_hash = $1 AND expires_at > now()", token_hash(cookie))
    return ConsoleSession(cookie, row["tenant_id"], row["setup_link_id"]) if row else None


async def close_session(pool: asyncpg.Pool, cookie: str) -> None:
    await pool.execute("DELETE FROM console_sessions WHERE id_hash = $1 OR expires_at < now()",
                       token_hash(cookie))
