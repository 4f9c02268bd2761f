"""CLI output: aligned tables for people, `--json` for scripts (pure formatting)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as a left-aligned table with a header line; `(none)` when there are no rows."""
    if not rows:
        return "(none)"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def record(value: dict[str, Any]) -> str:
    """One object as `key: value` lines."""
    width = max((len(k) for k in value), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in value.items())
