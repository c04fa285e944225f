"""Secrets: from the environment, or a .env file beside posts.yaml; never logged, never stored.

Each account's secrets are named after its id: `x-es` + api_key -> X_ES_API_KEY.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from scheduler.models import SECRET_NAMES, secret_variable

log = logging.getLogger(__name__)
MASK = "[secret]"


class Credentials:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def load(cls, project: Path, environ: Mapping[str, str]) -> Credentials:
        """The environment over `.env` beside posts.yaml (the environment wins)."""
        return cls({**read_dotenv(project, warn=True), **environ})

    def get(self, name: str) -> str | None:
        """A setting (SCHEDULER_...) from the environment or .env."""
        return self._values.get(name) or None

    def for_account(self, account_id: str, platform: str) -> dict[str, str]:
        """The account's secrets by name (API_KEY, ...); AuthError naming every missing variable."""
        from scheduler.platforms.base import AuthError  # not at the top: `validate` reads .env without it

        names = SECRET_NAMES[platform]
        variables = {name: secret_variable(account_id, name) for name in names}
        missing = tuple(variable for variable in variables.values() if not self._values.get(variable))
        if missing:
            raise AuthError(f"account {account_id} has no credentials in the environment or .env", missing)
        return {name: self._values[variable] for name, variable in variables.items()}

    def secrets_of(self, accounts: Iterable[tuple[str, str]]) -> list[str]:
        """Every secret value these (account id, platform) pairs use: what redaction must hide."""
        found = []
        for account_id, platform in accounts:
            for name in SECRET_NAMES[platform]:
                value = self._values.get(secret_variable(account_id, name))
                if value:
                    found.append(value)
        return found


def read_dotenv(project: Path, *, warn: bool = False) -> dict[str, str]:
    """The `.env` file beside posts.yaml: secrets, and settings every command shares (SCHEDULER_LEDGER...)."""
    dotenv = project / ".env"
    try:
        if not dotenv.is_file():
            return {}
        if warn and dotenv.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
            log.warning("%s can be read by other users; run: chmod 600 %s", dotenv, dotenv)
        from dotenv import dotenv_values  # only when there is a .env to read

        return {k: v for k, v in dotenv_values(dotenv).items() if v is not None}
    except OSError:  # unreadable for this user: the environment alone decides
        return {}


class Redactor(logging.Filter):
    """Replaces every known secret in a log record with a mask, wherever it appears."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
            if record.exc_text:
                record.exc_text = self.scrub(record.exc_text)
        return True


def install_redaction(secrets: Iterable[str]) -> Redactor:
    redactor = Redactor(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor
