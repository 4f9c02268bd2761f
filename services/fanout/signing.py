"""Webhook signatures (pure): `Dsync-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`.

Each `v1` is the hex HMAC-SHA256 of `"<t>.<body>"` keyed with one secret. During a secret
rotation overlap the header carries one `v1` per valid secret, newest first; a receiver
accepts the request when any `v1` matches a secret it knows (`verify`).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HEADER = "Dsync-Signature"


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` with `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value for `body` signed at `timestamp` with every secret, in order.

    Raises ValueError when `secrets` is empty.
    """
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return ",".join([f"t={timestamp}", *(f"v1={compute(s, timestamp, body)}" for s in secrets)])


def parse_header(value: str) -> tuple[int, list[str]]:
    """(`t`, [v1 signatures]) from a header value. Raises ValueError when malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise ValueError("malformed signature header")
        if key == "t":
            timestamp = int(item)
        elif key == "v1":
            signatures.append(item)
    if timestamp is None or not signatures:
        raise ValueError("signature header needs t= and at least one v1=")
    return timestamp, signatures


def verify(value: str, body: bytes, secret: str, *, now: float,
           tolerance_s: float = 300.0) -> bool:
    """True when one `v1` of header `value` signs `body` with `secret` and `t` is within
    `tolerance_s` of `now` (replay protection). Never raises on a malformed header."""
    try:
        timestamp, signatures = parse_header(value)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
