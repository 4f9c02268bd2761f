"""The published event contract: docs/events/schemas/<type>.v1.json (docs/events.md).

The schemas are generated from the typed event models (`dsync.messages.event_data`); these
tests fail when the committed files differ from the generated ones, when a schema is not
valid JSON Schema 2020-12, when an example does not validate (by schema and by model), when
a broken event is accepted, and when an event made by the real decide steps (directory,
roles, sessions) does not match its model and schema.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dsync.messages.commands import CreateGroup, CreateUser, DeleteGroup, DeleteUser, PatchUser
from dsync.messages.event_data import EVENT_DATA, parse_typed_event
from dsync.messages.event_schemas import render
from dsync.messages.events import EVENT_TYPES, CloudEvent, DraftEvent, parse_event, seal
from dsync_services.directory import decide_groups, decide_users
from dsync_services.directory.decisions import StoredResource

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"


def load(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())
    return schema


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load(event_type))


def test_one_schema_file_and_one_model_per_event_type() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(
        f"{t}.v1.json" for t in EVENT_TYPES)
    assert set(EVENT_DATA) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_committed_schema_is_the_generated_one(event_type: str) -> None:
    committed = (SCHEMAS / f"{event_type}.v1.json").read_text()
    assert committed == render(event_type), (
        "regenerate with: python -m dsync.messages.event_schemas")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_is_valid_2020_12_and_agrees_with_seal(event_type: str) -> None:
    schema = load(event_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["dataschema"] == {"const": seal(
        DraftEvent(type=event_type, subject="x", data={}),  # type: ignore[arg-type]
        tenant_id=uuid.uuid4(), sequence=1, time=datetime.now(UTC))["dataschema"]}
    assert set(CloudEvent.model_fields) == set(schema["properties"])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_examples_validate_and_parse(event_type: str) -> None:
    schema = load(event_type)
    assert schema["examples"]
    for example in schema["examples"]:
        validator(event_type).validate(example)
        assert parse_event(json.dumps(example)).type == event_type
        assert parse_typed_event(example).type == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_broken_events_are_rejected(event_type: str) -> None:
    good = load(event_type)["examples"][0]
    other = next(t for t in EVENT_TYPES if t != event_type)
    for broken in ({k: v for k, v in good.items() if k != "sequence"},
                   {**good, "sequence": 0}, {**good, "sequence": "1"},
                   {**good, "tenantid": "acme"}, {**good, "type": other},
                   {**good, "data": {}}, {**good, "time": "yesterday"}):
        assert not validator(event_type).is_valid(broken), broken
        if broken.get("type") == event_type:  # another type may have compatible data
            with pytest.raises(ValueError):
                parse_typed_event(broken)


def _decided_events() -> list[DraftEvent]:
    tenant, uid, gid, now = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)

    def cmd() -> dict[str, Any]:
        return {"command_id": uuid.uuid4(), "tenant_id": tenant, "issued_at": now}

    created = decide_users.decide_create(CreateUser(**cmd(), resource={  # type: ignore[arg-type]
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.c",
        "externalId": "e-1", "name": {"givenName": "A"}}), uid, now)
    stored = StoredResource(uid, created.writes[0].doc, 1, now, now)  # type: ignore[union-attr]
    patched = decide_users.decide_patch(PatchUser(**cmd(), resource_id=uid, operations=[  # type: ignore[arg-type]
        {"op": "replace", "value": {"active": False, "displayName": "Ann"}}]), stored, now)
    deleted = decide_users.decide_delete(DeleteUser(**cmd(), resource_id=uid),  # type: ignore[arg-type]
                                         stored, [gid])
    group = decide_groups.decide_create(CreateGroup(**cmd(), resource={  # type: ignore[arg-type]
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"}),
        gid, decide_groups.MemberFacts({}, {}), now)
    gstored = StoredResource(gid, group.writes[0].doc, 1, now, now)  # type: ignore[union-attr]
    gdeleted = decide_groups.decide_delete(DeleteGroup(**cmd(), resource_id=gid),  # type: ignore[arg-type]
                                           gstored, [uuid.uuid4()])
    from dsync_services.roles.effective_roles import RolesChange
    from dsync_services.roles.recompute import _event as roles_event
    from dsync_services.sessions.model import Revocation, revoked_event
    return [*created.events, *patched.events, *deleted.events, *group.events,
            *gdeleted.events,
            roles_event(RolesChange(uid, ("a",), ("a", "b")), "group.member_added"),
            revoked_event(uuid.uuid4(), Revocation(uid, "user_deactivated", False))]


def test_events_made_by_the_decide_steps_match_models_and_schemas() -> None:
    events = _decided_events()
    assert {e.type for e in events} >= {
        "user.created", "user.updated", "user.deactivated", "user.deleted",
        "group.member_removed", "group.created", "group.deleted", "access.roles_changed",
        "session.revoked"}
    for seq, draft in enumerate(events, start=1):
        sealed = json.loads(json.dumps(seal(draft, tenant_id=uuid.uuid4(), sequence=seq,
                                            time=datetime.now(UTC))))
        validator(draft.type).validate(sealed)
        assert parse_typed_event(sealed).type == draft.type
