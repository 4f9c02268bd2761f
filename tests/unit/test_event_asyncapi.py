"""The AsyncAPI 3 document of dsync.events: the committed file is what the event models
generate, it is valid against the official AsyncAPI 3.0.0 JSON Schema (vendored from npm
`@asyncapi/specs` 6.11.1, Apache-2.0, in tests/unit/asyncapi/), every `$ref` resolves, and
every example validates against its message's payload schema."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import Draft7Validator, Draft202012Validator

from dsync.messages import event_asyncapi
from dsync.messages.events import EVENT_TYPES

SPEC = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json"


def _committed() -> dict[str, Any]:
    return json.loads(event_asyncapi.OUT.read_text())  # type: ignore[no-any-return]


def test_the_committed_document_is_the_generated_one() -> None:
    assert event_asyncapi.OUT.read_text() == event_asyncapi.render(), (
        "docs/asyncapi/events.json is stale: run `python -m dsync.messages.event_asyncapi`")


def test_the_document_is_valid_asyncapi_3() -> None:
    spec = json.loads(SPEC.read_text())
    errors = sorted(Draft7Validator(spec).iter_errors(_committed()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_the_validator_catches_a_broken_document() -> None:
    broken = _committed()
    broken["operations"]["consumeEvents"]["action"] = "listen"
    assert list(Draft7Validator(json.loads(SPEC.read_text())).iter_errors(broken))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_reference_resolves_and_every_type_has_a_message() -> None:
    doc = _committed()
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        _resolve(doc, ref)
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == set(EVENT_TYPES)


def test_every_example_matches_its_payload_schema() -> None:
    doc = _committed()
    for message in doc["components"]["messages"].values():
        schema = {**_resolve(doc, message["payload"]["$ref"]),
                  "components": doc["components"]}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert message["examples"], message["name"]
        for example in message["examples"]:
            validator.validate(example["payload"])
        bad = {**message["examples"][0]["payload"], "type": "user.nope"}
        try:
            validator.validate(bad)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"{message['name']}: a wrong type passed")
