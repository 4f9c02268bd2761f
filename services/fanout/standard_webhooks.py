"""Standard Webhooks headers (https://www.standardwebhooks.com), sent beside
`Dsync-Signature` so receivers can verify with an off-the-shelf library (pure).

* `webhook-id`: the event id (the same on every attempt: dedupe by it);
* `webhook-timestamp`: unix seconds of this attempt;
* `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per
  valid secret separated by spaces (newest first during a rotation overlap).

The HMAC key is the UTF-8 bytes of the endpoint's secret exactly as registered (the key of
`Dsync-Signature` too); with a Standard Webhooks library pass those bytes as the raw key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 signature>` of one message with one secret."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_headers(secrets: Sequence[str], msg_id: str, timestamp: int,
                     body: bytes) -> dict[str, str]:
    """The three headers for `body`, signed with every secret in order. Raises ValueError
    when `secrets` is empty."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: " ".join(sign(s, msg_id, timestamp, body) for s in secrets)}
