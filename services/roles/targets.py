"""Which users an event can change the effective roles of (pure).

The roles service reads the directory's current membership (the source of truth) when it
recomputes, so an event only has to name where to look: users directly, and groups whose
users — current members at any depth, plus users that held the group at the last
recomputation — must be recomputed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from pydantic import ValidationError

from dsync.messages.event_data import GroupDeletion, MembershipChange, UserDeletion
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

    Malformed data in an event (not produced by dsync) gives empty targets, never raises.
    """
    if event.type in ("user.reactivated", "user.deactivated"):
        user = _uuid(event.subject)
        return Targets(users=frozenset({user}) if user else frozenset(), cause=event.type)
    if event.type not in ("user.deleted", "group.member_added", "group.member_removed",
                          "group.deleted"):
        return Targets()
    try:
        data = event.typed_data()
    except ValidationError:
        return Targets()
    if isinstance(data, UserDeletion):
        user = UUID(data.id)
        return Targets(users=frozenset({user}), forget_user=user, cause=event.type)
    if isinstance(data, MembershipChange):
        member = UUID(data.member_id)
        if data.member_type == "Group":
            return Targets(groups=frozenset({member}), cause=event.type)
        return Targets(users=frozenset({member}), cause=event.type)
    if isinstance(data, GroupDeletion):
        group = UUID(data.id)
        return Targets(groups=frozenset({group}), drop_mapping=group, cause=event.type)
    return Targets()


def mapping_targets(group_id: UUID) -> Targets:
    """A group's role mapping changed: every user holding that group is recomputed."""
    return Targets(groups=frozenset({group_id}), cause="mapping_changed")
