"""The `data` of each event type, as pydantic models, and the typed events they make.

`TypedEvent` is the discriminated union (on `type`) of one envelope class per event type,
each with its own `data` model; `parse_typed_event` validates a decoded event into it,
and consumers read `event.data.member_id`, never `data.get(...)`. The JSON Schemas under
`docs/events/schemas/` are generated from these classes (`python -m
dsync.messages.event_schemas`), and a test fails when the committed files differ.

Producers (the pure decide steps) build `data` as plain dicts with these field names, for
speed on the hot path; a unit test validates every event the decide steps make against its
model. Resources carry every SCIM attribute as stored (extra keys allowed).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

Uuid = Annotated[str, StringConstraints(
    pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
Timestamp = Annotated[str, StringConstraints(
    pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")]
ETag = Annotated[str, StringConstraints(pattern=r'^W/".+"$')]
MemberType = Literal["User", "Group"]


class _Data(BaseModel):
    """Consumers ignore attributes they do not know: v1 only ever gains optional ones."""

    model_config = ConfigDict(frozen=True, extra="allow")


class _Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class UserMeta(_Resource):
    resourceType: Literal["User"]  # noqa: N815 - SCIM attribute names
    created: Timestamp
    lastModified: Timestamp  # noqa: N815
    version: ETag
    location: str | None = None


class GroupMeta(UserMeta):
    resourceType: Literal["Group"]  # type: ignore[assignment]  # noqa: N815


class UserResource(_Resource):
    """The SCIM User as stored after the change (RFC 7643 §4.1, Enterprise extension
    included when set; every stored attribute is present)."""

    schemas: list[str]
    id: Uuid
    externalId: str | None = None  # noqa: N815
    userName: Annotated[str, StringConstraints(min_length=1)]  # noqa: N815
    active: bool | None = None
    meta: UserMeta


class GroupMember(_Resource):
    value: Uuid
    type: MemberType | None = None


class GroupResource(_Resource):
    """The SCIM Group after the change (RFC 7643 §4.2)."""

    schemas: list[str]
    id: Uuid
    externalId: str | None = None  # noqa: N815
    displayName: Annotated[str, StringConstraints(min_length=1)]  # noqa: N815
    members: list[GroupMember] | None = None
    meta: GroupMeta


class UserState(_Data):
    """A user was provisioned, deactivated or reactivated: the user after the change."""

    resource: UserResource


class UserUpdate(_Data):
    """Attributes of a user other than `active` changed."""

    resource: UserResource
    previous: dict[str, Any] = Field(description="Old value of each top-level attribute that"
                                     " changed (null when it was absent before).")


class UserDeletion(_Data):
    """The user was deleted (memberships were removed first, each with its own event)."""

    id: Uuid
    userName: str | None = None  # noqa: N815
    externalId: str | None = None  # noqa: N815


class GroupState(_Data):
    """A group was provisioned."""

    resource: GroupResource


class GroupUpdate(_Data):
    """Attributes of a group changed (membership changes have their own events)."""

    resource: GroupResource
    previous: dict[str, Any]


class GroupDeletion(_Data):
    """The group was deleted."""

    id: Uuid
    displayName: str | None = None  # noqa: N815
    externalId: str | None = None  # noqa: N815


class MembershipChange(_Data):
    """A member was added to or left a group."""

    group_id: Uuid
    member_id: Uuid
    member_type: MemberType


class RolesChange(_Data):
    """A user's effective roles changed (sorted role names before and after)."""

    user_id: Uuid
    before: list[str]
    after: list[str]
    cause: str | None = None


class SessionRevocation(_Data):
    """A session was revoked (e.g. the user was deactivated or deleted)."""

    session_id: Uuid
    user_id: Uuid
    reason: Annotated[str, StringConstraints(min_length=1)]


class DirectoryDeletion(_Data):
    """The tenant was deleted with all its data (an operator's `DELETE
    /admin/v1/tenants/{id}`): the last event of the tenant's stream. Consumers drop what
    they hold for the tenant; no event with a higher `sequence` follows."""

    tenant_id: Uuid
    name: str


EVENT_DATA: dict[str, type[_Data]] = {
    "user.created": UserState, "user.updated": UserUpdate,
    "user.deactivated": UserState, "user.reactivated": UserState,
    "user.deleted": UserDeletion,
    "group.created": GroupState, "group.updated": GroupUpdate, "group.deleted": GroupDeletion,
    "group.member_added": MembershipChange, "group.member_removed": MembershipChange,
    "access.roles_changed": RolesChange, "session.revoked": SessionRevocation,
    "directory.deleted": DirectoryDeletion,
}
"""Event type -> the model of its `data`."""


class _Envelope(BaseModel):
    """CloudEvents 1.0 structured mode, with dsync's `tenantid` and `sequence` extensions."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    tenantid: Uuid
    sequence: int = Field(ge=1, strict=True)


class UserCreated(_Envelope):
    type: Literal["user.created"]
    data: UserState


class UserUpdated(_Envelope):
    type: Literal["user.updated"]
    data: UserUpdate


class UserDeactivated(_Envelope):
    type: Literal["user.deactivated"]
    data: UserState


class UserReactivated(_Envelope):
    type: Literal["user.reactivated"]
    data: UserState


class UserDeleted(_Envelope):
    type: Literal["user.deleted"]
    data: UserDeletion


class GroupCreated(_Envelope):
    type: Literal["group.created"]
    data: GroupState


class GroupUpdated(_Envelope):
    type: Literal["group.updated"]
    data: GroupUpdate


class GroupDeleted(_Envelope):
    type: Literal["group.deleted"]
    data: GroupDeletion


class GroupMemberAdded(_Envelope):
    type: Literal["group.member_added"]
    data: MembershipChange


class GroupMemberRemoved(_Envelope):
    type: Literal["group.member_removed"]
    data: MembershipChange


class AccessRolesChanged(_Envelope):
    type: Literal["access.roles_changed"]
    data: RolesChange


class SessionRevoked(_Envelope):
    type: Literal["session.revoked"]
    data: SessionRevocation


class DirectoryDeleted(_Envelope):
    type: Literal["directory.deleted"]
    data: DirectoryDeletion


TYPED_EVENTS: tuple[type[_Envelope], ...] = (
    UserCreated, UserUpdated, UserDeactivated, UserReactivated, UserDeleted,
    GroupCreated, GroupUpdated, GroupDeleted, GroupMemberAdded, GroupMemberRemoved,
    AccessRolesChanged, SessionRevoked, DirectoryDeleted)

TypedEvent = Annotated[
    UserCreated | UserUpdated | UserDeactivated | UserReactivated | UserDeleted
    | GroupCreated | GroupUpdated | GroupDeleted | GroupMemberAdded | GroupMemberRemoved
    | AccessRolesChanged | SessionRevoked | DirectoryDeleted,
    Field(discriminator="type")]

_TYPED: TypeAdapter[TypedEvent] = TypeAdapter(TypedEvent)


def parse_typed_event(doc: dict[str, Any]) -> TypedEvent:
    """Validate one decoded event into its typed class. Raises `pydantic.ValidationError`
    (an unknown type, or data not matching its model)."""
    return _TYPED.validate_python(doc)


def event_type_of(cls: type[_Envelope]) -> str:
    """The `type` tag of a typed event class."""
    literal: Any = cls.model_fields["type"].annotation
    return str(literal.__args__[0])
