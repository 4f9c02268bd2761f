"""Bearer tokens: 256 random bits, shown once, stored only as SHA-256 hashes.

A fast hash is right here: the tokens are high-entropy random strings, not passwords, so
a hash cannot be brute-forced, and authentication stays on the hot path's budget.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str) -> str:
    """A new random token (32 bytes of entropy) with a readable prefix, e.g. `dsync_scim_`."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def same_hash(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two token hashes."""
    return hmac.compare_digest(a, b)


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time check of a presented token against a configured one."""
    return hmac.compare_digest(token_hash(presented), token_hash(expected))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).

    None for a missing or malformed header, and for one with bytes outside printable ASCII:
    no token we issue has them (aiohttp hands such bytes over as lone surrogates, which no
    hash function can encode)."""
    if not header or not header.isascii() or not header.isprintable():
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return None
    return value


ADMIN_TOKEN_MIN_BYTES = 32


def admin_token_problem(token: str) -> str | None:
    """Why `token` cannot be the admin token (None if it can). Empty means "admin API
    off" and is allowed; the message never contains the token."""
    size = len(token.encode())
    if 0 < size < ADMIN_TOKEN_MIN_BYTES:
        return (f"DSYNC_ADMIN_TOKEN is {size} bytes long; it must be at least "
                f"{ADMIN_TOKEN_MIN_BYTES} bytes. Generate one with: python -c "
                "'import secrets; print(secrets.token_urlsafe(32))'")
    return None
