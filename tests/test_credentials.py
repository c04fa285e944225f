"""Secrets come from the environment or .env only, and never reach a log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scheduler.credentials import MASK, Credentials, Redactor
from scheduler.files import state_dir
from scheduler.platforms.base import AuthError


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MASTODON_ACCESS_TOKEN=from-file\nX_EN_API_KEY=k\n", encoding="utf-8")
    (tmp_path / ".env").chmod(0o600)
    credentials = Credentials.load(tmp_path, {"MASTODON_ACCESS_TOKEN": "from-env"})
    assert credentials.for_account("mastodon", "mastodon") == {"ACCESS_TOKEN": "from-env"}


def test_missing_secrets_name_every_variable(tmp_path: Path) -> None:
    credentials = Credentials.load(tmp_path, {"X_ES_API_KEY": "k"})
    with pytest.raises(AuthError) as caught:
        credentials.for_account("x-es", "x")
    assert caught.value.variables == ("X_ES_API_SECRET", "X_ES_ACCESS_TOKEN", "X_ES_ACCESS_SECRET")


def test_a_dotenv_others_can_read_draws_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / ".env").write_text("BLUESKY_APP_PASSWORD=abcd-efgh\n", encoding="utf-8")
    (tmp_path / ".env").chmod(0o644)
    Credentials.load(tmp_path, {})
    assert "can be read by other users; run: chmod 600" in caplog.text
    caplog.clear()
    (tmp_path / ".env").chmod(0o600)
    Credentials.load(tmp_path, {})
    assert caplog.text == ""


def test_redaction_hides_secrets_in_messages_arguments_and_tracebacks() -> None:
    redactor = Redactor(["s3cr3t-token", "abc"])  # too short a value is not treated as a secret
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sent %s with %s", ("s3cr3t-token", "abc"), None)
    record.exc_text = "Traceback: Authorization: Bearer s3cr3t-token"
    redactor.filter(record)
    assert record.getMessage() == f"sent {MASK} with abc"
    assert record.exc_text == f"Traceback: Authorization: Bearer {MASK}"


def test_state_folder_is_private(tmp_path: Path) -> None:
    folder = state_dir(tmp_path)
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)
    assert state_dir(tmp_path).stat().st_mode & 0o777 == 0o700
