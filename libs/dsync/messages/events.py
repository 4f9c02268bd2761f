"""Events on `dsync.events`: CloudEvents 1.0, structured JSON mode (docs/events.md).

`sequence` is an integer extension attribute, strictly increasing by one per tenant;
`tenantid` names the tenant. Consumers dedupe by `id` and detect gaps by `sequence`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from dsync.messages.event_data import EVENT_DATA

EventType = Literal[
    "user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted",
    "group.created", "group.updated", "group.deleted",
    "group.member_added", "group.member_removed",
    "access.roles_changed", "session.revoked", "directory.deleted",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class DraftEvent(BaseModel):
    """An event decided by a pure step, before it gets its per-tenant sequence number."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    subject: str
    data: dict[str, Any]
    id: UUID = Field(default_factory=uuid4)


class CloudEvent(BaseModel):
    """A published event as it appears on the topic and in webhook bodies, with `data`
    kept as published (forwarded verbatim); `typed_data()` gives its typed model."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: EventType
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    tenantid: str
    sequence: int
    data: dict[str, Any]

    def typed_data(self) -> BaseModel:
        """`data` validated into its type's model (`dsync.messages.event_data`). Raises
        `pydantic.ValidationError` when it does not match."""
        return EVENT_DATA[self.type].model_validate(self.data)


_ADAPTER: TypeAdapter[CloudEvent] = TypeAdapter(CloudEvent)


def seal(draft: DraftEvent, *, tenant_id: UUID, sequence: int, time: datetime) -> dict[str, Any]:
    """Turn a draft into the CloudEvents JSON object stored in the outbox and published."""
    return {
        "specversion": "1.0",
        "id": str(draft.id),
        "source": f"/dsync/tenants/{tenant_id}",
        "type": draft.type,
        "subject": draft.subject,
        "time": time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataschema": f"https://dsync.dev/schemas/events/{draft.type}/v1.json",
        "tenantid": str(tenant_id),
        "sequence": sequence,
        "data": draft.data,
    }


def parse_event(raw: bytes | str) -> CloudEvent:
    """Decode one published event. Raises `pydantic.ValidationError` on a malformed record."""
    return _ADAPTER.validate_json(raw)
