"""Mastodon, through Mastodon.py: media with alt text and focus, statuses with language and
visibility, threads as replies, and an Idempotency-Key per part so a retry never posts twice."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.models import MastodonAccount, secret_variable
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    PermanentError,
    PlatformError,
    Published,
    RemotePart,
    RetryableError,
    UnconfirmedError,
)

MEDIA_DEADLINE = 60.0  # seconds to wait for the server to process an upload
# Servers keep an Idempotency-Key about an hour; past that a retry could post again.
IDEMPOTENCY_WINDOW = timedelta(minutes=55)


class MastodonPlatform:
    name = "mastodon"
    idempotent = True

    def __init__(
        self, account_id: str, account: MastodonAccount, secrets: dict[str, str], timeout: float = 30.0
    ) -> None:
        from mastodon import Mastodon  # imported here: validate and preview never load the SDK

        self.account_id = account_id
        self.account = account
        self.client = Mastodon(
            access_token=secrets["ACCESS_TOKEN"],
            api_base_url=account.instance,
            ratelimit_method="throw",  # the default waits and retries forever inside the call
            request_timeout=timeout,
            version_check_mode="none",
        )
        self._limits: dict[str, Any] | None = None

    def check(self) -> str:
        me = self._call(self.client.account_verify_credentials, creating=False)
        return f"@{me['acct']}@{self.account.instance.split('://', 1)[1]}"

    def image_limit(self) -> int | None:
        limit = self._instance().get("image_size_limit")
        return int(limit) if limit else None

    def prepare(self) -> None:
        # A token needs no session; what the first post would otherwise ask at its due time is read
        # now: the server's limits, and its version (Mastodon.py checks it before uploading media).
        self._instance()
        self._call(self.client.retrieve_mastodon_version, creating=False)

    def publish(self, attempt: Attempt) -> Published:
        outgoing = attempt.outgoing
        started = attempt.memo.get("creating_at")
        if attempt.resuming and started and datetime.now(UTC) - datetime.fromisoformat(started) > IDEMPOTENCY_WINDOW:
            raise UnconfirmedError(
                f"a status may have been created at {started}, longer ago than the server remembers its "
                "idempotency key; check the account before posting again"
            )
        if "nonce" not in attempt.memo:
            # Ties the Idempotency-Key to this delivery's ledger row, not just to its name: another
            # campaign (or a rehearsal with a fresh ledger) posting the same post id is not deduplicated.
            attempt.memo["nonce"] = uuid.uuid4().hex
            attempt.save()
        media_ids: list[str] = []
        if outgoing.image is not None and not attempt.done:
            media_ids = [attempt.memo.get("media_id") or self._upload(attempt)]
        for index in range(len(attempt.done), len(outgoing.parts)):
            attempt.memo["creating_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            attempt.save()
            status = self._call(
                self.client.status_post,
                outgoing.parts[index],
                media_ids=media_ids if index == 0 else None,
                language=outgoing.language,
                visibility=self.account.visibility,
                in_reply_to_id=attempt.done[-1].id if attempt.done else None,
                idempotency_key=hashlib.sha256(f"{outgoing.key}#{attempt.memo['nonce']}#{index}".encode()).hexdigest(),
                creating=True,
            )
            attached = [str(media["id"]) for media in status.get("media_attachments") or []]
            if index == 0 and attached != [str(m) for m in media_ids]:
                self._call(self.client.status_delete, status["id"], creating=False)
                attempt.memo.pop("media_id", None)
                raise RetryableError("the server created the status without its image; it was deleted to retry")
            attempt.done.append(RemotePart(id=str(status["id"]), url=status.get("url") or status["uri"]))
            attempt.memo.pop("creating_at", None)
            attempt.save()
        return Published(tuple(attempt.done))

    def _upload(self, attempt: Attempt) -> str:
        image = attempt.outgoing.image
        assert image is not None
        limit = self._instance().get("description_limit") or 1500
        if len(image.alt) > int(limit):
            raise PermanentError(f"the alt text is {len(image.alt)} characters; this server takes at most {limit}")
        media = self._call(
            self.client.media_post,
            image.data,
            mime_type=image.mime,
            description=image.alt,
            focus=(0.0, 0.0),
            creating=False,
        )
        deadline = time.monotonic() + MEDIA_DEADLINE
        while not media.get("url"):
            if time.monotonic() > deadline:
                raise RetryableError(f"the server did not finish processing the image within {MEDIA_DEADLINE:.0f} s")
            time.sleep(0.5)
            media = self._call(self.client.media, media["id"], creating=False)
        attempt.memo["media_id"] = str(media["id"])
        attempt.save()
        return str(media["id"])

    def _instance(self) -> dict[str, Any]:
        """The server's own limits, read once."""
        if self._limits is None:
            configuration = self._call(self.client.instance_v2, creating=False).get("configuration") or {}
            statuses = configuration.get("statuses") or {}
            media = configuration.get("media_attachments") or {}
            self._limits = {
                "max_characters": statuses.get("max_characters"),
                "image_size_limit": media.get("image_size_limit"),
                "description_limit": media.get("description_limit"),
            }
        return self._limits

    def _call(self, method: Any, *args: Any, creating: bool, **kwargs: Any) -> Any:
        """Call the SDK; map its exceptions onto the platform error taxonomy."""
        from mastodon import errors

        try:
            return method(*args, **kwargs)
        except errors.MastodonRatelimitError:
            reset = getattr(self.client, "ratelimit_reset", None)
            retry_at = datetime.fromtimestamp(reset, UTC) if reset and reset > time.time() else None
            raise RetryableError("Mastodon rate limit reached", retry_at=retry_at) from None
        except errors.MastodonUnauthorizedError:
            raise AuthError(
                f"{self.account.instance} refused the access token of account {self.account_id}",
                (secret_variable(self.account_id, "ACCESS_TOKEN"),),
            ) from None
        except errors.MastodonServerError as exc:
            raise RetryableError(f"Mastodon server error: {_reason(exc)}") from None
        except errors.MastodonNetworkError as exc:
            if creating and _may_have_arrived(exc):
                raise AmbiguousError(f"the connection failed while creating the status: {_reason(exc)}") from None
            raise RetryableError(f"cannot reach {self.account.instance}: {_reason(exc)}") from None
        except errors.MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 else None
            if status == 403:
                raise AuthError(
                    f"{self.account.instance} forbids this for account {self.account_id} "
                    f"({_reason(exc)}); the token may lack the write scope",
                    (secret_variable(self.account_id, "ACCESS_TOKEN"),),
                ) from None
            raise PermanentError(f"Mastodon refused it: {_reason(exc)}") from None
        except errors.MastodonError as exc:
            raise PlatformError(f"Mastodon client error: {exc}") from None


def _may_have_arrived(exc: Exception) -> bool:
    """A refused or timed-out connection sent nothing; a reset or a read timeout may have."""
    import requests

    cause = exc.__context__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    refused = isinstance(cause, requests.exceptions.ConnectionError) and "NewConnectionError" in repr(cause)
    return not refused


def _reason(exc: Exception) -> str:
    """Mastodon.py's API errors carry (message, status, reason, server message)."""
    if len(exc.args) >= 4:
        _, status, reason, detail = exc.args[:4]
        return f"HTTP {status} {reason}" + (f": {detail}" if detail else "")
    return str(exc) or type(exc).__name__
