"""Statuses of an operation and the transitions between them.

```
accepted ──> applied | rejected | failed | dead
failed   ──> accepted (operator retry) | applied | failed (attempt counted) | dead
applied, rejected, dead: final
```
A row may also be born in any status (a gateway rejection is born `rejected`, a failed
side effect `failed`). `rejected` means the request was wrong (a 4xx went back);
`failed` may be retried; `dead` was given up.
"""
from __future__ import annotations

from enum import StrEnum


class OpStatus(StrEnum):
    ACCEPTED = "accepted"
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"
    DEAD = "dead"


class OpKind(StrEnum):
    SCIM_WRITE = "scim_write"
    ROLE_RECOMPUTATION = "role_recomputation"
    SESSION_REVOCATION = "session_revocation"
    WEBHOOK_DELIVERY = "webhook_delivery"


FINAL = frozenset({OpStatus.APPLIED, OpStatus.REJECTED, OpStatus.DEAD})

TRANSITIONS: dict[OpStatus, frozenset[OpStatus]] = {
    OpStatus.ACCEPTED: frozenset({OpStatus.APPLIED, OpStatus.REJECTED, OpStatus.FAILED,
                                  OpStatus.DEAD}),
    OpStatus.FAILED: frozenset({OpStatus.ACCEPTED, OpStatus.APPLIED, OpStatus.FAILED,
                                OpStatus.DEAD}),
    OpStatus.APPLIED: frozenset(),
    OpStatus.REJECTED: frozenset(),
    OpStatus.DEAD: frozenset(),
}


def can_move(old: str, new: str) -> bool:
    """Whether an operation in status `old` may go to `new`."""
    return OpStatus(new) in TRANSITIONS[OpStatus(old)]


def retryable_by_operator(status: str, retryable: bool) -> bool:
    """An operator's retry is allowed for a failed, retryable operation only."""
    return status == OpStatus.FAILED and retryable
