"""The console's pure parts: secret masking, the activity chart, plain-words errors."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dsync_services.gateway.console.activity_chart import build_chart
from dsync_services.gateway.console.masking import MASK, mask_secrets


def test_secrets_are_masked_at_any_depth_and_in_patch_values() -> None:
    command = {"type": "user.create", "body": {"userName": "ada", "password": "hunter2",
                                               "emails": [{"value": "a@x.io"}]},
               "ops": [{"op": "replace", "path": "password", "value": "s3cret"},
                       {"op": "replace", "path": "displayName", "value": "Ada"}],
               "headers": {"Authorization": "Bearer abc"}, "token": None}
    masked = mask_secrets(command)
    assert masked["body"]["password"] == MASK and masked["body"]["userName"] == "ada"
    assert masked["ops"][0]["value"] == MASK and masked["ops"][1]["value"] == "Ada"
    assert masked["headers"]["Authorization"] == MASK
    assert masked["body"]["emails"] == [{"value": "a@x.io"}] and masked["token"] is None
    assert "hunter2" not in repr(masked) and "s3cret" not in repr(masked)
    assert command["body"]["password"] == "hunter2"  # noqa: S105 - the input is not changed


def test_the_chart_stacks_minutes_by_status_and_drops_what_is_outside_the_window() -> None:
    end = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    m = end - timedelta(minutes=10)
    chart = build_chart([(m, "applied", 8), (m, "failed", 2),
                         (end - timedelta(minutes=5), "applied", 4),
                         (end - timedelta(hours=30), "failed", 99),
                         (m, "unknown-status", 5)], end)
    assert chart.totals == {"applied": 12, "accepted": 0, "rejected": 0, "failed": 2,
                            "dead": 0}
    assert chart.peak == 10 and len(chart.bars) == 3
    tallest = [b for b in chart.bars if b.title.endswith("8 applied")][0]
    assert tallest.height == chart.height * 8 / 10
    failed = [b for b in chart.bars if "failed" in b.title][0]
    assert failed.y + failed.height == tallest.y  # stacked on top of the applied part
    assert build_chart([], end).bars == []


def test_every_documented_reason_code_has_plain_words_and_a_fix() -> None:
    from dsync_services.gateway.console.plain_errors import explain

    for code in ("uniqueness", "invalid_filter", "invalid_value", "no_target", "mutability",
                 "version_mismatch", "not_found", "too_large", "internal"):
        words = explain(code)
        assert words.what and words.fix and code not in words.what
    assert "weird_code" in explain("weird_code").what and explain(None).fix


def test_every_idp_guide_names_the_scim_url() -> None:
    from dsync_services.gateway.console.idp_guides import GUIDES, steps

    assert set(GUIDES) == {"okta", "entra", "onelogin", "jumpcloud", "google", "generic"}
    for g in GUIDES.values():
        assert any("https://x.example/scim/v2" in s for s in steps(g, "https://x.example/scim/v2"))


def test_csrf_tokens_belong_to_their_session_and_search_filters_escape() -> None:
    from dsync_services.gateway.console.pages_directory import search_filter
    from dsync_services.gateway.console.sessions import ConsoleSession, csrf_ok

    mine, other = ConsoleSession("cookie-a", None, None), ConsoleSession("cookie-b", None, None)
    assert csrf_ok(mine, mine.csrf) and not csrf_ok(mine, other.csrf)
    assert not csrf_ok(mine, None) and not csrf_ok(mine, "")
    assert search_filter("User", "") is None
    quoted = '"a\\"b\\\\"'
    assert search_filter("Group", 'a"b\\') == f"displayName co {quoted} or externalId eq {quoted}"
