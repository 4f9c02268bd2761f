"""The published event contract: docs/events/schemas/<type>.v1.json (docs/events.md).

Checks that every event type has a schema, that the schemas agree with the pydantic
envelope (`dsync.messages.events.CloudEvent`) and with what `seal` stamps, and that the
schemas' own examples and events made by the real directory decisions validate. The
validator here covers exactly the keywords the schemas use (asserted); with the `jsonschema`
package installed, the examples are also checked by a full Draft 2020-12 implementation.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dsync.messages.commands import CreateUser, DeleteUser
from dsync.messages.events import EVENT_TYPES, CloudEvent, DraftEvent, parse_event, seal
from dsync_services.directory import decide_users
from dsync_services.directory.decisions import StoredResource

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"
ANNOTATIONS = {"$schema", "$id", "title", "description", "examples", "format"}
ASSERTIONS = {"type", "properties", "required", "items", "enum", "const", "pattern",
              "minimum", "minLength"}
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def load(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())  # type: ignore[no-any-return]


def errors(schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """Validation errors of `value` against the keyword subset in ASSERTIONS."""
    out: list[str] = []
    kinds = schema.get("type")
    if kinds is not None and not any(_is(value, k) for k in
                                     (kinds if isinstance(kinds, list) else [kinds])):
        return [f"{path}: expected {kinds}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: must be one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(f"{path}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: does not match {schema['pattern']}")
    if _is(value, "integer") and value < schema.get("minimum", value):
        out.append(f"{path}: below {schema['minimum']}")
    if isinstance(value, dict):
        out += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                out += errors(sub, value[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += errors(schema["items"], item, f"{path}[{i}]")
    return out


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def _keywords(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key in ("items",):
        found |= _keywords(schema.get(key))
    for sub in schema.get("properties", {}).values():
        found |= _keywords(sub)
    return found


def test_one_schema_file_per_event_type_and_nothing_else() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(
        f"{t}.v1.json" for t in EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_agrees_with_the_envelope_and_seal(event_type: str) -> None:
    schema = load(event_type)
    assert _keywords(schema) <= ANNOTATIONS | ASSERTIONS
    url = f"https://dsync.dev/schemas/events/{event_type}/v1.json"
    assert schema["$id"] == url and schema["properties"]["dataschema"] == {"const": url}
    assert schema["properties"]["type"] == {"const": event_type}
    envelope = CloudEvent.model_fields
    assert set(envelope) == set(schema["properties"])
    required_by_model = {name for name, f in envelope.items() if f.is_required()}
    assert required_by_model <= set(schema["required"])
    sealed = seal(DraftEvent(type=event_type, subject="x", data={}),  # type: ignore[arg-type]
                  tenant_id=uuid.uuid4(), sequence=1, time=datetime.now(UTC))
    assert set(schema["required"]) <= set(sealed)
    assert not [e for e in errors(schema, sealed) if not e.startswith("$.data")]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_examples_validate_and_parse(event_type: str) -> None:
    schema = load(event_type)
    assert schema["examples"]
    for example in schema["examples"]:
        assert errors(schema, example) == []
        assert parse_event(json.dumps(example)).type == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_broken_events_are_rejected(event_type: str) -> None:
    schema = load(event_type)
    good = schema["examples"][0]
    other = next(t for t in EVENT_TYPES if t != event_type)
    for broken in ({k: v for k, v in good.items() if k != "sequence"},
                   {**good, "sequence": 0}, {**good, "sequence": "1"},
                   {**good, "tenantid": "acme"}, {**good, "type": other},
                   {**good, "data": {}}, {**good, "time": "yesterday"}):
        assert errors(schema, broken), broken


def test_events_made_by_the_directory_validate() -> None:
    tenant, uid, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    cmd = {"command_id": uuid.uuid4(), "tenant_id": tenant, "issued_at": now}
    created = decide_users.decide_create(CreateUser(**cmd, resource={  # type: ignore[arg-type]
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.c"}),
        uid, now)
    stored = StoredResource(uid, created.writes[0].doc, 1, now, now)  # type: ignore[union-attr]
    deleted = decide_users.decide_delete(DeleteUser(**cmd, resource_id=uid),  # type: ignore[arg-type]
                                         stored, [uuid.uuid4()])
    events = [*created.events, *deleted.events]
    assert [e.type for e in events] == ["user.created", "group.member_removed", "user.deleted"]
    for seq, draft in enumerate(events, start=1):
        sealed = seal(draft, tenant_id=tenant, sequence=seq, time=now)
        assert errors(load(draft.type), sealed) == [], draft.type


def test_full_draft_2020_12_validation_when_available() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for event_type in EVENT_TYPES:
        schema = load(event_type)
        jsonschema.Draft202012Validator.check_schema(schema)
        for example in schema["examples"]:
            jsonschema.Draft202012Validator(schema).validate(example)
