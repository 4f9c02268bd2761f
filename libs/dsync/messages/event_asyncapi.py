"""Generate the AsyncAPI 3 document of `dsync.events` from the event models.

`python -m dsync.messages.event_asyncapi [FILE]` writes `docs/asyncapi/events.json`: one
message per event type (the typed envelopes of `event_data`, their schemas under
`components.schemas`), the CloudEvents Kafka binding headers (`kafka_binding`), the record
key, and the examples of `docs/events/examples/`. A unit test fails when the committed file
differs from what this generates, and validates it against the AsyncAPI 3.0.0 schema.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from dsync.messages.event_data import EVENT_DATA, TYPED_EVENTS, _Envelope, event_type_of
from dsync.messages.event_schemas import schema_url
from dsync.messages.kafka_binding import ATTRIBUTES, CONTENT_TYPE

DOCS = Path(__file__).resolve().parents[3] / "docs"
OUT = DOCS / "asyncapi" / "events.json"
_REF = "#/components/schemas/{model}"
_KAFKA = {"bindingVersion": "0.5.0"}


def _headers() -> dict[str, Any]:
    props: dict[str, Any] = {"content-type": {"type": "string", "const": CONTENT_TYPE.decode()}}
    for name in ATTRIBUTES:
        props[f"ce_{name}"] = {"type": "string",
                               "description": f"the event's `{name}` attribute, as text"}
    return {"type": "object", "properties": props,
            "required": ["content-type", "ce_specversion", "ce_id", "ce_source", "ce_type",
                         "ce_subject", "ce_time", "ce_tenantid", "ce_sequence"]}


def _message(cls: type[_Envelope], examples: list[Any]) -> dict[str, Any]:
    event_type = event_type_of(cls)
    summary = (EVENT_DATA[event_type].__doc__ or "").strip().split("\n\n")[0]
    return {
        "name": event_type,
        "title": event_type,
        "summary": " ".join(summary.split()),
        "contentType": CONTENT_TYPE.decode(),
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "payload": {"$ref": _REF.format(model=cls.__name__)},
        "correlationId": {"description": "the event id (consumers dedupe by it)",
                          "location": "$message.payload#/id"},
        "externalDocs": {"url": schema_url(event_type),
                         "description": "JSON Schema (2020-12) of this event type"},
        "bindings": {"kafka": {"key": {"type": "string", "format": "uuid",
                                       "description": "the tenant id"}, **_KAFKA}},
        "examples": [{"name": f"{event_type} #{i + 1}", "payload": example}
                     for i, example in enumerate(examples)],
    }


def document(examples_dir: Path = DOCS / "events" / "examples") -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document (a plain dict, deterministic)."""
    _, top = models_json_schema([(cls, "validation") for cls in TYPED_EVENTS],
                                ref_template=_REF)
    schemas: dict[str, Any] = dict(sorted(top.get("$defs", {}).items()))
    schemas["KafkaHeaders"] = _headers()
    messages = {}
    for cls in TYPED_EVENTS:
        event_type = event_type_of(cls)
        examples = json.loads((examples_dir / f"{event_type}.json").read_text())
        messages[cls.__name__] = _message(cls, examples)
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dsync events",
            "version": "1.0.0",
            "description": (
                "Every change to a tenant's directory, as CloudEvents 1.0 in structured JSON"
                " mode on the Kafka topic `<prefix>.events` (default `dsync.events`), keyed by"
                " tenant id, in per-tenant `sequence` order (see docs/events.md). Generated"
                " from dsync.messages.event_data by `python -m"
                " dsync.messages.event_asyncapi`."),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE.decode(),
        "servers": {
            "development": {"host": "127.0.0.1:9092", "protocol": "kafka",
                            "description": "the broker `make run` starts (Kafka protocol)"},
        },
        "channels": {
            "events": {
                "address": "dsync.events",
                "title": "dsync.events",
                "description": "Keyed by tenant id: one tenant's events are on one partition,"
                               " in `sequence` order.",
                "messages": refs,
                "bindings": {"kafka": {"topic": "dsync.events", "partitions": 16, **_KAFKA}},
            },
        },
        "operations": {
            "consumeEvents": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "summary": "Consume a tenant's directory changes (dedupe by id, apply in"
                           " sequence order).",
                "messages": [{"$ref": f"#/channels/events/messages/{name}"}
                             for name in messages],
            },
        },
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
