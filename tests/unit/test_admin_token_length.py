"""The admin token must be at least 32 bytes: a shorter one stops the gateway at start
with a clear error that does not show the token."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from dsync.settings import HttpSettings
from dsync.tokens import admin_token_problem, new_token

SHORT = "hunter2-is-not-long-enough-31by"  # 31 bytes


def test_short_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SHORT) == 31
    monkeypatch.setenv("DSYNC_ADMIN_TOKEN", SHORT)
    with pytest.raises(ValidationError) as caught:
        HttpSettings()
    assert "at least 32 bytes" in str(caught.value)
    assert SHORT not in str(caught.value)


def test_long_enough_and_empty_tokens_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for token in (SHORT + "x", new_token("dsync_admin_"), ""):
        monkeypatch.setenv("DSYNC_ADMIN_TOKEN", token)
        assert HttpSettings().admin_token == token
    assert admin_token_problem("é" * 16) is None  # bytes, not characters


def test_gateway_process_refuses_to_start() -> None:
    env = {**os.environ, "DSYNC_ADMIN_TOKEN": SHORT,
           "DSYNC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "dsync_services.gateway"], env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "DSYNC_ADMIN_TOKEN is 31 bytes long" in done.stderr
    assert SHORT not in done.stderr + done.stdout
