"""Sessions, pure: issuing, deciding revocations, answering introspection. No I/O.

A session token is 256 random bits (`dsync_sess_` + base64url), shown once; only its
SHA-256 is stored (see dsync.tokens). A session is valid for introspection only while
all of these hold: it is not revoked, not expired, its user exists and is active, and it
was issued after the user's last deactivation (user_version >= the deactivation floor).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from dsync.messages.event_data import UserDeletion
from dsync.messages.events import CloudEvent, DraftEvent
from dsync.tokens import new_token, token_hash

TOKEN_PREFIX = "dsync_sess_"  # noqa: S105 - a prefix, not a secret
INACTIVE: dict[str, Any] = {"active": False}


@dataclass(frozen=True)
class NewSession:
    id: UUID
    token: str
    token_hash: bytes
    expires_at: datetime


def new_session(now: datetime, ttl_s: float) -> NewSession:
    """A fresh session expiring `ttl_s` seconds after `now`."""
    token = new_token(TOKEN_PREFIX)
    return NewSession(uuid4(), token, token_hash(token), now + timedelta(seconds=ttl_s))


def session_ttl(requested: object, default_s: float, max_s: float) -> float:
    """The TTL for a new session: `requested` (seconds) or the default, at most `max_s`.

    Raises ValueError when `requested` is given but is not a positive number.
    """
    if requested is None:
        return min(default_s, max_s)
    if isinstance(requested, bool) or not isinstance(requested, int | float) or requested <= 0:
        raise ValueError("'ttl_seconds' must be a positive number")
    return min(float(requested), max_s)


@dataclass(frozen=True)
class Revocation:
    """Revoke a user's live sessions: all of them, or those issued before its last
    deactivation (the floor the directory recorded)."""

    user_id: UUID
    reason: str
    all_sessions: bool


def revocation_for(event: CloudEvent) -> Revocation | None:
    """The revocation a deprovisioning event calls for; None for any other event."""
    try:
        if event.type == "user.deactivated":
            return Revocation(UUID(event.subject), "user_deactivated", all_sessions=False)
        if event.type == "user.deleted":
            data = event.typed_data()
            if not isinstance(data, UserDeletion):
                return None
            return Revocation(UUID(data.id), "user_deleted", all_sessions=True)
    except ValueError:  # a malformed id or pydantic.ValidationError (a ValueError)
        return None
    return None


def revocation_on_retry(user_id: UUID, *, user_exists: bool) -> Revocation:
    """A retried revocation, decided from the current state: a deleted user loses every
    session; otherwise those issued before its last deactivation (none if never)."""
    if user_exists:
        return Revocation(user_id, "user_deactivated", all_sessions=False)
    return Revocation(user_id, "user_deleted", all_sessions=True)


def revoked_event(session_id: UUID, revocation: Revocation) -> DraftEvent:
    """The `session.revoked` event of one revoked session."""
    return DraftEvent(type="session.revoked", subject=str(session_id),
                      data={"session_id": str(session_id), "user_id": str(revocation.user_id),
                            "reason": revocation.reason})


def introspection_answer(row: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """RFC 7662-style answer for the session row found by token hash (None: unknown).

    `row` carries the session (id, tenant_id, user_id, created_at, expires_at, revoked_at,
    user_version), the user's `active` (None when the user no longer exists), the
    deactivation floor `min_version` (None when never deactivated) and `roles`.
    """
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return INACTIVE
    if row["active"] is not True:
        return INACTIVE
    if row["min_version"] is not None and row["user_version"] < row["min_version"]:
        return INACTIVE
    return {"active": True, "tenant_id": str(row["tenant_id"]), "user_id": str(row["user_id"]),
            "session_id": str(row["id"]), "roles": sorted(row["roles"] or ()),
            "token_type": "dsync_session", "sub": str(row["user_id"]),
            "iat": int(row["created_at"].timestamp()), "exp": int(row["expires_at"].timestamp())}
