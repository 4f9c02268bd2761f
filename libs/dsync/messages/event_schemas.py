"""Generate the JSON Schemas of the published events from their pydantic models.

`python -m dsync.messages.event_schemas [DIR]` writes `DIR/<type>.v1.json` (default
`docs/events/schemas`) for every event type: the typed envelope of `event_data`, with the
hand-written examples of `docs/events/examples/<type>.json`. A unit test fails when the
committed files differ from what this generates, so the schemas cannot drift from the code.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, get_args

from dsync.messages.event_data import EVENT_DATA, TYPED_EVENTS, Timestamp, event_type_of

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_INTRO = ("A CloudEvents 1.0 event in structured JSON mode, as published on the"
          " `dsync.events` topic (key: tenant id) and POSTed to webhooks. ")
_OUTRO = (" Consumers must ignore attributes they do not know: v1 only ever gains"
          " optional ones.")


def schema_url(event_type: str) -> str:
    return f"https://dsync.dev/schemas/events/{event_type}/v1.json"


def event_schema(event_type: str, examples: list[Any]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event type."""
    cls = next(c for c in TYPED_EVENTS if event_type_of(c) == event_type)
    generated = cls.model_json_schema(ref_template="#/$defs/{model}")
    generated.pop("title", None)
    generated.pop("description", None)
    properties = generated["properties"]
    properties["dataschema"] = {"const": schema_url(event_type)}
    properties["datacontenttype"] = {"const": "application/json"}
    properties["specversion"] = {"const": "1.0"}
    properties["time"]["pattern"] = get_args(Timestamp)[1].pattern
    data_doc = (EVENT_DATA[event_type].__doc__ or "").strip()
    return {
        "$schema": DRAFT,
        "$id": schema_url(event_type),
        "title": f"dsync event {event_type} (v1)",
        "description": _INTRO + data_doc + _OUTRO,
        **generated,
        "required": list(properties),
        "examples": examples,
    }


def render(event_type: str, examples_dir: Path = DOCS / "examples") -> str:
    examples = json.loads((examples_dir / f"{event_type}.json").read_text())
    return json.dumps(event_schema(event_type, examples), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DOCS / "schemas"
    out.mkdir(parents=True, exist_ok=True)
    for event_type in EVENT_DATA:
        (out / f"{event_type}.v1.json").write_text(render(event_type))
        print(f"wrote {out / f'{event_type}.v1.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
