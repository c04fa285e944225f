"""Platform adapters behind one protocol (base.py); each SDK is imported only when it is used."""

from __future__ import annotations

from pathlib import Path

from scheduler.models import AccountBase, BlueskyAccount, MastodonAccount, OutboxAccount, XAccount
from scheduler.platforms.base import Platform


def connect(
    account_id: str, account: AccountBase, secrets: dict[str, str], project: Path, sessions: Path, timeout: float = 30.0
) -> Platform:
    """The adapter for one account. `secrets` are its credentials by name (API_KEY, ...)."""
    if isinstance(account, OutboxAccount):
        from scheduler.platforms.outbox import OutboxPlatform

        return OutboxPlatform(account_id, project / account.path)
    if isinstance(account, MastodonAccount):
        from scheduler.platforms.mastodon import MastodonPlatform

        return MastodonPlatform(account_id, account, secrets, timeout)
    if isinstance(account, BlueskyAccount):
        from scheduler.platforms.bluesky import BlueskyPlatform

        return BlueskyPlatform(account_id, account, secrets, sessions, timeout)
    if isinstance(account, XAccount):
        from scheduler.platforms.x import XPlatform

        return XPlatform(account_id, account, secrets, timeout)
    raise TypeError(f"no platform for {type(account).__name__}")
