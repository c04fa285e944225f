"""Mastodon, over its REST API with one keep-alive `requests` session (no SDK): media with alt text and
focus, statuses with language and visibility, threads as replies, and an Idempotency-Key per part so a
retry never posts twice.

A post takes three requests: the server's limits and version (read once, ahead of the due time by
`prepare()`), the image upload (polled until the server has processed it) and one status per part.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

import requests

from scheduler.models import MastodonAccount, secret_variable
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Counts,
    PermanentError,
    Published,
    RemotePart,
    RetryableError,
    UnconfirmedError,
)

MEDIA_DEADLINE = 60.0  # seconds to wait for the server to process an upload
MEDIA_POLL = 0.5  # seconds between two looks at an upload being processed
# Servers keep an Idempotency-Key about an hour; past that a retry could post again.
IDEMPOTENCY_WINDOW = timedelta(minutes=55)
# From this version on, uploads go to /api/v2/media and may be processed after the answer; before it
# (and on servers that report such versions, as Pleroma and GoToSocial do) to /api/v1/media.
ASYNC_MEDIA_SINCE = (3, 1, 4)
USER_AGENT = "slogan-scheduler"
_SEMVER = re.compile(r"([0-9]+)[^.]*\.([0-9]+)[^.]*\.([0-9]+)")


# ---- the JSON read from the server (only the fields used)


class AccountJson(TypedDict):
    acct: str


class MediaJson(TypedDict):
    id: str
    url: NotRequired[str | None]


class StatusJson(TypedDict):
    id: str
    uri: str
    url: NotRequired[str | None]
    media_attachments: NotRequired[list[MediaJson] | None]
    replies_count: NotRequired[int]
    reblogs_count: NotRequired[int]
    favourites_count: NotRequired[int]
    quotes_count: NotRequired[int]  # Mastodon 4.5 on; earlier servers have no quotes


class StatusLimitsJson(TypedDict, total=False):
    max_characters: int | None


class MediaLimitsJson(TypedDict, total=False):
    image_size_limit: int | None
    description_limit: int | None


class ConfigurationJson(TypedDict, total=False):
    statuses: StatusLimitsJson | None
    media_attachments: MediaLimitsJson | None


class InstanceJson(TypedDict, total=False):
    """/api/v2/instance, or /api/v1/instance on a server without it: both have these fields."""

    version: str
    configuration: ConfigurationJson | None


@dataclass(frozen=True)
class Limits:
    """What the server says of itself, read once per adapter."""

    max_characters: int | None
    image_size_limit: int | None
    description_limit: int | None
    version: tuple[int, int, int]  # (1, 0, 0) when it does not say, as Mastodon.py assumed


class _Bearer(requests.auth.AuthBase):
    """The access token on every request. Set as the session's auth, it also keeps a `.netrc` entry for
    the host from replacing it with Basic auth; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_Bearer(<access token>)"


class MastodonPlatform:
    name = "mastodon"
    idempotent = True

    def __init__(
        self, account_id: str, account: MastodonAccount, secrets: dict[str, str], timeout: float = 30.0
    ) -> None:
        self.account_id = account_id
        self.account = account
        self.base = account.instance.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()  # one per adapter: its connection is kept alive between posts
        self.session.auth = _Bearer(secrets["ACCESS_TOKEN"])
        self.session.headers["User-Agent"] = USER_AGENT
        self._limits: Limits | None = None
        self._ratelimit_reset: float | None = None  # epoch seconds, from the last X-RateLimit-Reset seen

    def check(self) -> str:
        me = cast(AccountJson, self._call("GET", "/api/v1/accounts/verify_credentials", creating=False))
        return f"@{me['acct']}@{self.account.instance.split('://', 1)[1]}"

    def image_limit(self) -> int | None:
        limit = self._instance().image_size_limit
        return int(limit) if limit else None

    def prepare(self) -> None:
        # A token needs no session; what the first post would otherwise ask at its due time is read
        # now, over the connection it will reuse: the server's limits and its version.
        self._instance()

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
            form = [("status", outgoing.parts[index])]
            if attempt.done:
                form.append(("in_reply_to_id", attempt.done[-1].id))
            form += [("sensitive", "0"), ("visibility", self.account.visibility), ("language", outgoing.language)]
            if index == 0:
                form += [("media_ids[]", media_id) for media_id in media_ids]
            key = hashlib.sha256(f"{outgoing.key}#{attempt.memo['nonce']}#{index}".encode()).hexdigest()
            status = cast(
                StatusJson,
                self._call("POST", "/api/v1/statuses", data=form, headers={"Idempotency-Key": key}, creating=True),
            )
            attached = [str(media["id"]) for media in status.get("media_attachments") or []]
            if index == 0 and attached != [str(m) for m in media_ids]:
                self._call("DELETE", f"/api/v1/statuses/{_segment(status['id'])}", creating=False)
                attempt.memo.pop("media_id", None)
                raise RetryableError("the server created the status without its image; it was deleted to retry")
            attempt.done.append(RemotePart(id=str(status["id"]), url=status.get("url") or status["uri"]))
            attempt.memo.pop("creating_at", None)
            attempt.save()
        return Published(tuple(attempt.done))

    def counts(self, ids: list[str]) -> dict[str, Counts]:
        # One status at a time: GET /api/v1/statuses/:id is what every server has. The counts are what
        # this server has seen, which for a post federated far may be less than the whole network's.
        found: dict[str, Counts] = {}
        for status_id in ids:
            response = self._send("GET", f"/api/v1/statuses/{_segment(status_id)}", creating=False)
            if response.status_code == 404:
                continue  # deleted: it has no counts any more
            status = cast(StatusJson, self._json(response))
            found[status_id] = Counts.read(
                likes=status.get("favourites_count"),
                reposts=status.get("reblogs_count"),
                replies=status.get("replies_count"),
                quotes=status.get("quotes_count"),
            )
        return found

    def _upload(self, attempt: Attempt) -> str:
        image = attempt.outgoing.image
        assert image is not None
        limits = self._instance()
        limit = limits.description_limit or 1500
        if len(image.alt) > int(limit):
            raise PermanentError(f"the alt text is {len(image.alt)} characters; this server takes at most {limit}")
        path = "/api/v2/media" if limits.version >= ASYNC_MEDIA_SINCE else "/api/v1/media"
        name = f"card-{uuid.uuid4().hex}{mimetypes.guess_extension(image.mime) or ''}"
        media = cast(
            MediaJson,
            self._call(
                "POST",
                path,
                data={"description": image.alt, "focus": "0.0,0.0"},
                files={"file": (name, image.data, image.mime)},
                creating=False,
            ),
        )
        # /api/v2/media answers 202 with no url while the server still processes the file; then
        # GET /api/v1/media/:id answers 206, and 200 with the url once it is done.
        deadline = time.monotonic() + MEDIA_DEADLINE
        while not media.get("url"):
            if time.monotonic() > deadline:
                raise RetryableError(f"the server did not finish processing the image within {MEDIA_DEADLINE:.0f} s")
            time.sleep(MEDIA_POLL)
            media = cast(MediaJson, self._call("GET", f"/api/v1/media/{_segment(media['id'])}", creating=False))
        attempt.memo["media_id"] = str(media["id"])
        attempt.save()
        return str(media["id"])

    def _instance(self) -> Limits:
        """The server's own limits and version, read once: /api/v2/instance, or /api/v1/instance on a
        server older than Mastodon 4.0, which has no v2."""
        if self._limits is None:
            response = self._send("GET", "/api/v2/instance", creating=False)
            if response.status_code == 404:
                response = self._send("GET", "/api/v1/instance", creating=False)
            instance = cast(InstanceJson, self._json(response))
            configuration = instance.get("configuration") or {}
            statuses = configuration.get("statuses") or {}
            media = configuration.get("media_attachments") or {}
            self._limits = Limits(
                max_characters=statuses.get("max_characters"),
                image_size_limit=media.get("image_size_limit"),
                description_limit=media.get("description_limit"),
                version=_version(instance.get("version")),
            )
        return self._limits

    # ---- HTTP, and the server's answers mapped onto the platform error taxonomy

    def _call(self, method: str, path: str, *, creating: bool, **request: Any) -> Any:
        """One request (as `_send` takes it); its JSON answer, or the error that says what may be done about it."""
        return self._json(self._send(method, path, creating=creating, **request), creating=creating)

    def _send(
        self,
        method: str,
        path: str,
        *,
        creating: bool,
        data: Mapping[str, str] | list[tuple[str, str]] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request, whatever the server answers; a failure to get an answer is raised here."""
        try:
            response = self.session.request(
                method, self.base + path, data=data, files=files, headers=headers, timeout=self.timeout
            )
        except Exception as exc:  # whatever stopped the request, it has no answer (Mastodon.py caught all too)
            reason = f"Could not complete request: {exc}"
            if creating and _may_have_arrived(exc):
                raise AmbiguousError(f"the connection failed while creating the status: {reason}") from None
            raise RetryableError(f"cannot reach {self.account.instance}: {reason}") from None
        self._note_ratelimit(response.headers)
        return response

    def _json(self, response: requests.Response, *, creating: bool = False) -> Any:
        """The JSON of a 2xx answer; any other answer (or a 2xx that is not JSON) is raised as the error
        that says what may be done about it."""
        status = response.status_code
        if not response.ok:
            detail = _error_message(response)
            if status == 429:
                reset = self._ratelimit_reset
                retry_at = datetime.fromtimestamp(reset, UTC) if reset and reset > time.time() else None
                raise RetryableError("Mastodon rate limit reached", retry_at=retry_at)
            if status == 401:
                raise AuthError(
                    f"{self.account.instance} refused the access token of account {self.account_id}",
                    (secret_variable(self.account_id, "ACCESS_TOKEN"),),
                )
            if 500 <= status <= 511:
                raise RetryableError(f"Mastodon server error: {_reason(response, detail)}")
            if status == 403:
                raise AuthError(
                    f"{self.account.instance} forbids this for account {self.account_id} "
                    f"({_reason(response, detail)}); the token may lack the "
                    + ("read scope (read:statuses)" if response.request.method == "GET" else "write scope"),
                    (secret_variable(self.account_id, "ACCESS_TOKEN"),),
                )
            if status == 404 and not detail:
                detail = "Endpoint not found."
            raise PermanentError(f"Mastodon refused it: {_reason(response, detail)}")
        try:
            return response.json()
        except ValueError:
            if creating:  # accepted, most likely: a retry with the same Idempotency-Key finds the status
                raise AmbiguousError(
                    f"Mastodon answered the new status with {status} but no readable status; it may exist"
                ) from None
            raise PermanentError(
                f"Mastodon refused it: Could not parse response as JSON, response code was {status}, "
                f"bad json content was {response.content[:200]!r}."
            ) from None

    def _note_ratelimit(self, headers: Mapping[str, str]) -> None:
        """Keep the reset time of the rate limit, from any answer that gives it, as Mastodon.py did: an
        epoch or an ISO time, moved by the server clock's offset from ours; forgotten once past."""
        now = time.time()
        header = headers.get("X-RateLimit-Reset")
        if header is None:
            if self._ratelimit_reset is not None and self._ratelimit_reset <= now:
                self._ratelimit_reset = None
            return
        reset = _epoch(header)
        server_now = _http_date(headers.get("Date"))
        if reset is not None and server_now is not None:
            reset += now - server_now
        self._ratelimit_reset = reset if reset is not None and reset > now else None


def _may_have_arrived(exc: Exception) -> bool:
    """A refused or timed-out connection sent nothing; a reset or a read timeout may have."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    refused = isinstance(exc, requests.exceptions.ConnectionError) and "NewConnectionError" in repr(exc)
    return not refused


def _error_message(response: requests.Response) -> str | None:
    """The server's own words: the `error` of its JSON answer (or the answer, when it is a string)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return body if isinstance(body, str) else None


def _reason(response: requests.Response, detail: str | None) -> str:
    return f"HTTP {response.status_code} {response.reason}" + (f": {detail}" if detail else "")


def _segment(value: object) -> str:
    """An id as one path segment."""
    return quote(str(value), safe="")


def _epoch(value: str) -> float | None:
    """X-RateLimit-Reset as epoch seconds: Mastodon sends an ISO time, GoToSocial an epoch."""
    try:
        if str(int(value)) == value:
            return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _http_date(value: str | None) -> float | None:
    """An HTTP Date header as epoch seconds, or None when there is none that can be read."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _version(value: object) -> tuple[int, int, int]:
    """The Mastodon version a server reports, read as Mastodon.py read it: `4.3.0+glitch` is 4.3.0,
    Hometown's `1.0.6+3.5.3` is 3.5.3, GoToSocial's `0.17.0+git-abc` is 0.17.0, Pleroma's
    `2.7.2 (compatible; Pleroma 2.5.0)` is 2.7.2; what cannot be read is 1.0.0."""
    pieces = str(value or "").split(" ")[0].split("+")
    if len(pieces) > 1:
        local = _semver(pieces[1])
        if local is not None and local[0] >= 1:
            return local
    return _semver(pieces[0]) or (1, 0, 0)


def _semver(text: str) -> tuple[int, int, int] | None:
    """The leading digits of the first three dotted parts (`4.3.0-beta.1` is 4.3.0), or None."""
    match = _SEMVER.match(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None
