"""What a decision is made of: the state it reads, the writes and events it produces,
and the outcome the gateway answers with. Plain frozen data, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from dsync.messages.events import DraftEvent
from dsync.scim.errors import ScimError


@dataclass(frozen=True)
class StoredResource:
    """A user or group row as loaded for a decision (members are never loaded here)."""

    id: UUID
    doc: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SaveResource:
    resource_type: str  # "User" | "Group"
    id: UUID
    doc: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    is_new: bool


@dataclass(frozen=True)
class RemoveResource:
    resource_type: str
    id: UUID


@dataclass(frozen=True)
class MembersChange:
    """Membership rows to write for one group (member ids are SCIM ids as strings)."""

    group_id: UUID
    add: tuple[tuple[str, str | None], ...] = ()  # (member id, "User" | "Group" | None)
    remove: frozenset[str] = frozenset()
    remove_all: bool = False


@dataclass(frozen=True)
class Outcome:
    """The answer for the gateway: an HTTP status and either a resource or a SCIM error."""

    status: int
    resource_type: str | None = None
    resource_id: UUID | None = None
    error: ScimError | None = None

    @property
    def applied(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    writes: tuple[SaveResource | RemoveResource | MembersChange, ...] = ()
    events: tuple[DraftEvent, ...] = field(default_factory=tuple)


def rejected(error: ScimError, resource_type: str | None = None,
             resource_id: UUID | None = None) -> Decision:
    return Decision(Outcome(error.status, resource_type, resource_id, error))
