"""Ids of asynchronous side effects in the operations ledger.

Kinds: `role_recomputation` (roles service) and `session_revocation` (sessions service).
An effect caused by an event gets a deterministic id, uuid5(kind, event id), so the row
recorded when it failed is the row later marked applied, whoever retries it. `received_at`
is the event's time (when the SCIM answer went out), so `completed_at - received_at` is
the effect's lag. The rows themselves are written by `dsync.ledger.writes`.
"""
from __future__ import annotations

from uuid import UUID, uuid5

_NAMESPACE = UUID("6d1f0c3e-8f0b-4a43-9a55-0b8e6e2c7a10")


def effect_id(kind: str, event_id: str | UUID) -> UUID:
    """The operation id of the `kind` effect of one event."""
    return uuid5(_NAMESPACE, f"{kind}:{event_id}")
