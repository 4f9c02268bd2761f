"""CLI output formatting and argument parsing (pure)."""
from __future__ import annotations

import pytest

from dsync_services.cli.main import build_parser
from dsync_services.cli.output import record, table


def test_table_aligns_columns_and_shows_missing_values() -> None:
    text = table([{"id": "a", "roles": ["x", "y"]}, {"id": "bbb", "roles": []}],
                 ("id", "roles", "status"))
    assert text.splitlines() == ["ID   ROLES  STATUS", "a    x,y    -", "bbb  -      -"]
    assert table([], ("id",)) == "(none)"


def test_record_is_one_line_per_key() -> None:
    assert record({"id": "a", "status": None}).splitlines() == ["id      a", "status  -"]


def test_every_documented_command_parses() -> None:
    parser = build_parser()
    for argv in (["tenants", "list", "--all"], ["tenants", "delete", "t", "--yes"],
                 ["tokens", "revoke", "t", "k"], ["roles", "set", "t", "g", "a", "b"],
                 ["operations", "list", "t", "--status", "failed"],
                 ["webhooks", "redeliver", "t", "w", "--from", "2025-01-01T00:00:00Z"],
                 ["events", "tail", "t", "-f"], ["dlq", "replay", "--offset", "3"]):
        parser.parse_args(argv)
    with pytest.raises(SystemExit):
        parser.parse_args(["tenants", "list", "--status", "gone"])
