"""Sessions, pure: tokens, TTLs, revocation plans, introspection answers."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from dsync.messages.events import CloudEvent
from dsync.tokens import token_hash
from dsync_services.sessions.model import (
    introspection_answer,
    new_session,
    revocation_for,
    session_ttl,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_new_session_token_has_256_bits_and_only_its_hash_is_kept() -> None:
    s = new_session(NOW, 60)
    assert s.token.startswith("dsync_sess_")
    assert len(s.token.removeprefix("dsync_sess_")) >= 43  # 32 bytes base64url
    assert s.token_hash == token_hash(s.token)
    assert s.expires_at == NOW + timedelta(seconds=60)
    assert new_session(NOW, 60).token != s.token


def test_session_ttl() -> None:
    assert session_ttl(None, 3600, 86400) == 3600
    assert session_ttl(120, 3600, 86400) == 120
    assert session_ttl(10**9, 3600, 86400) == 86400
    for bad in (0, -1, "60", True):
        with pytest.raises(ValueError):
            session_ttl(bad, 3600, 86400)


def _event(type_: str, subject: str, data: dict[str, Any] | None = None) -> CloudEvent:
    return CloudEvent(id=str(uuid4()), source="/t", type=type_, subject=subject,  # type: ignore[arg-type]
                      time=NOW, tenantid=str(uuid4()), sequence=1, data=data or {})


def test_revocation_plans() -> None:
    u = uuid4()
    deact = revocation_for(_event("user.deactivated", str(u), {"resource": {}}))
    assert deact is not None and deact.user_id == u and not deact.all_sessions
    assert deact.reason == "user_deactivated"
    deleted = revocation_for(_event("user.deleted", str(u), {"id": str(u)}))
    assert deleted is not None and deleted.all_sessions and deleted.reason == "user_deleted"
    assert revocation_for(_event("user.reactivated", str(u))) is None
    assert revocation_for(_event("user.deactivated", "garbage")) is None


def _row(**over: Any) -> dict[str, Any]:
    row = {"id": uuid4(), "tenant_id": uuid4(), "user_id": uuid4(), "created_at": NOW,
           "expires_at": NOW + timedelta(hours=1), "revoked_at": None, "user_version": 3,
           "active": True, "min_version": None, "roles": ["b", "a"]}
    row.update(over)
    return row


def test_introspection_active_session() -> None:
    row = _row()
    ans = introspection_answer(row, NOW)
    assert ans["active"] is True
    assert ans["session_id"] == str(row["id"]) and ans["user_id"] == str(row["user_id"])
    assert ans["tenant_id"] == str(row["tenant_id"]) and ans["roles"] == ["a", "b"]
    assert ans["exp"] == int((NOW + timedelta(hours=1)).timestamp())


@pytest.mark.parametrize("over", [
    {"revoked_at": NOW},
    {"expires_at": NOW},
    {"active": False},
    {"active": None},                          # user deleted
    {"min_version": 4},                        # issued before the last deactivation
])
def test_introspection_inactive(over: dict[str, Any]) -> None:
    assert introspection_answer(_row(**over), NOW) == {"active": False}


def test_introspection_unknown_and_after_reactivation() -> None:
    assert introspection_answer(None, NOW) == {"active": False}
    # issued after a reactivation: user_version >= floor
    assert introspection_answer(_row(user_version=5, min_version=4), NOW)["active"] is True
    assert introspection_answer(_row(roles=None), NOW)["roles"] == []


def test_retried_revocation_is_decided_from_current_state() -> None:
    from dsync_services.sessions.model import revocation_on_retry, revoked_event

    u = uuid4()
    assert revocation_on_retry(u, user_exists=False).all_sessions is True
    kept = revocation_on_retry(u, user_exists=True)
    assert kept.all_sessions is False and kept.reason == "user_deactivated"
    sid = uuid4()
    event = revoked_event(sid, kept)
    assert event.type == "session.revoked" and event.subject == str(sid)
    assert event.data == {"session_id": str(sid), "user_id": str(u),
                          "reason": "user_deactivated"}
