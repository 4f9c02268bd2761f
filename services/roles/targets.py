"""Which users an event can change the effective roles of (pure).

The roles service reads the directory's current membership (the source of truth) when it
recomputes, so an event only has to name where to look: users directly, and groups whose
users — current members at any depth, plus users that held the group at the last
recomputation — must be recomputed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from dsync.messages.events import CloudEvent

# Events after which the user's sessions and roles must go (deprovisioning).
DEPROVISIONING = frozenset({"user.deactivated", "user.deleted"})


@dataclass(frozen=True)
class Targets:
    users: frozenset[UUID] = frozenset()
    groups: frozenset[UUID] = frozenset()
    drop_mapping: UUID | None = None
    """A deleted group: its mapping is removed (SCIM ids are never reused)."""
    forget_user: UUID | None = None
    """A deleted user: its effective state is removed once its roles are dropped."""
    cause: str = field(default="", compare=False)

    @property
    def empty(self) -> bool:
        return not (self.users or self.groups or self.drop_mapping or self.forget_user)


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def targets_of(event: CloudEvent) -> Targets:
    """What to recompute for `event`; empty for events that cannot change roles.

    Malformed ids in an event (not produced by dsync) give empty targets, never raise.
    """
    data = event.data
    if event.type in ("user.reactivated", "user.deactivated"):
        user = _uuid(event.subject)
        return Targets(users=frozenset({user}) if user else frozenset(), cause=event.type)
    if event.type == "user.deleted":
        user = _uuid(data.get("id", event.subject))
        if user is None:
            return Targets()
        return Targets(users=frozenset({user}), forget_user=user, cause=event.type)
    if event.type in ("group.member_added", "group.member_removed"):
        member = _uuid(data.get("member_id"))
        if member is None:
            return Targets()
        if data.get("member_type") == "Group":
            return Targets(groups=frozenset({member}), cause=event.type)
        return Targets(users=frozenset({member}), cause=event.type)
    if event.type == "group.deleted":
        group = _uuid(data.get("id", event.subject))
        if group is None:
            return Targets()
        return Targets(groups=frozenset({group}), drop_mapping=group, cause=event.type)
    return Targets()


def mapping_targets(group_id: UUID) -> Targets:
    """A group's role mapping changed: every user holding that group is recomputed."""
    return Targets(groups=frozenset({group_id}), cause="mapping_changed")
