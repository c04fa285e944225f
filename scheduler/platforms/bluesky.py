"""Bluesky through the atproto SDK: one reused session, caller-chosen record keys, look before creating.

Every post part gets a TID record key at the first attempt (saved in the memo before anything is
created). A PDS refuses a second record under the same key, so a retry can never duplicate a post:
it looks the key up and, if the record is there, takes it as done.

atproto is imported on first use only: importing it takes about half a second and `validate` must
never pay for a platform SDK.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from secrets import randbelow
from typing import Any, NoReturn

from scheduler.files import write_atomic
from scheduler.models import BlueskyAccount, secret_variable
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    PermanentError,
    PlatformError,
    Published,
    RemotePart,
    RetryableError,
)

log = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
_tid_lock = threading.Lock()
_last_tid_us = 0
_CLOCK_ID = randbelow(1024)  # one per process, so two processes rarely collide in the same µs


def new_tid() -> str:
    """A fresh atproto TID: a 0 bit, 53-bit microseconds since the epoch, a 10-bit clock id; 13 chars."""
    global _last_tid_us
    with _tid_lock:  # strictly increasing within this process, even within one microsecond
        now_us = max(time.time_ns() // 1000, _last_tid_us + 1)
        _last_tid_us = now_us
    value = ((now_us & ((1 << 53) - 1)) << 10) | _CLOCK_ID
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 0x1F] for i in reversed(range(13)))


# Server errors that mean "this token is no good any more", as opposed to "this request is wrong".
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})


class BlueskyPlatform:
    name = "bluesky"
    idempotent = True

    def __init__(
        self,
        account_id: str,
        account: BlueskyAccount,
        secrets: dict[str, str],
        session_dir: Path,
        timeout: float = 30.0,
    ) -> None:
        self.account_id = account_id
        self.account = account
        self._password = secrets.get("APP_PASSWORD", "")
        self._variable = secret_variable(account_id, "APP_PASSWORD")
        self.session_file = session_dir / f"{account_id}.session"
        self._timeout = timeout
        self._client: Any = None
        self._did = ""
        self._handle = account.handle

    # --- the Platform protocol ----------------------------------------------------------------

    def check(self) -> str:
        # Always a fresh login: a saved session proves nothing about the configured app password,
        # and a refusal removes the saved session so no later run can post without it.
        self._client = None
        self._login(fresh=True)
        return f"@{self._handle}"

    def image_limit(self) -> int | None:
        return None  # a PDS does not publish its blob limit: the configured cap applies

    def prepare(self) -> None:
        self._login()
        from atproto_client import models  # noqa: F401 - the first post would load them, late
        from atproto_client.utils import facet_detection  # noqa: F401

    def publish(self, attempt: Attempt) -> Published:
        outgoing = attempt.outgoing
        rkeys: list[str] = list(attempt.memo.get("rkeys", []))
        if len(rkeys) < len(outgoing.parts):
            # Chosen and saved before anything is created: they are what makes a retry safe.
            rkeys += [new_tid() for _ in range(len(outgoing.parts) - len(rkeys))]
            attempt.memo["rkeys"] = rkeys
            attempt.save()
        # The cid of every done part (None: not known, looked up if a reply needs it).
        cids: list[str | None] = list(attempt.memo.get("cids", []))[: len(attempt.done)]
        cids += [None] * (len(attempt.done) - len(cids))
        if len(attempt.done) < len(outgoing.parts):
            self._login()

        for index in range(len(attempt.done), len(outgoing.parts)):
            rkey = rkeys[index]
            found = self._lookup(rkey) if attempt.resuming else None
            if found is None:
                record = self._record(attempt, index, cids)
                found = self._create(record, rkey)
            uri, cid = found
            cids.append(cid)
            attempt.done.append(RemotePart(id=uri, url=f"https://bsky.app/profile/{self._handle}/post/{rkey}"))
            attempt.memo["cids"] = list(cids)
            attempt.save()
        return Published(tuple(attempt.done))

    # --- session ------------------------------------------------------------------------------

    def _login(self, *, fresh: bool = False) -> None:
        """Reuse the saved session if the server still takes it (unless `fresh`); otherwise create one
        (rate limited) with the app password."""
        if self._client is not None:
            return
        if not self._password:
            raise AuthError(f"no app password for Bluesky account {self.account_id}", (self._variable,))
        saved = None if fresh else self._saved_session()
        if saved is not None:
            client = self._new_client()
            try:
                with self._guard("resuming the saved session"):
                    try:
                        client.login(session_string=saved, fetch_bsky_profile=False)
                        info = client.com.atproto.server.get_session()
                    except Exception as exc:
                        if self._stale(exc):
                            raise _StaleSessionError from exc
                        raise
                if str(info.handle).lower() == self.account.handle.lower():
                    self._did, self._handle = str(info.did), str(info.handle)
                    self._client = client
                    return
                log.info("the saved Bluesky session of %s is for @%s; logging in again", self.account_id, info.handle)
            except _StaleSessionError:
                log.info("the saved Bluesky session of %s is no longer valid; logging in again", self.account_id)
            self._forget_session()

        client = self._new_client()
        started = time.perf_counter()
        with self._guard("logging in", login=True):
            client.login(self.account.handle, self._password, fetch_bsky_profile=False)
        log.debug("Bluesky login of %s took %.2f s", self.account_id, time.perf_counter() - started)
        self._client = client

    def _new_client(self) -> Any:
        from atproto_client import Client
        from atproto_client.request import Request

        client = Client(base_url=self.account.service, request=Request(timeout=self._timeout))
        client.on_session_change(self._on_session_change)
        return client

    def _on_session_change(self, event: Any, session: Any) -> None:
        self._did, self._handle = str(session.did), str(session.handle)
        if event.value == "import":
            return
        try:
            self.session_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.session_file, session.export().encode())  # mkstemp: created 0600
            self.session_file.chmod(0o600)
        except OSError as exc:  # costs one login next time, nothing more
            log.warning("could not save the Bluesky session to %s: %s", self.session_file, exc)

    def _saved_session(self) -> str | None:
        try:
            text = self.session_file.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("could not read the Bluesky session %s: %s", self.session_file, exc)
            return None
        return text or None

    def _forget_session(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.session_file.unlink()

    def _stale(self, exc: BaseException) -> bool:
        """The saved session cannot be used, as opposed to the server being unreachable or busy."""
        from atproto_client.exceptions import (
            BadRequestError,
            LoginRequiredError,
            UnauthorizedError,
        )
        from atproto_core.exceptions import AtProtocolError

        if isinstance(exc, UnauthorizedError | BadRequestError | LoginRequiredError | ValueError):
            return True
        # Undecodable tokens (atproto_server's InvalidTokenError family) carry no response.
        return isinstance(exc, AtProtocolError) and getattr(exc, "response", None) is None and not _transport(exc)

    # --- records ------------------------------------------------------------------------------

    def _record(self, attempt: Attempt, index: int, cids: list[str | None]) -> Any:
        from atproto_client import models
        from atproto_client.utils.facet_detection import detect_facets
        from pydantic import ValidationError

        outgoing = attempt.outgoing
        text = outgoing.parts[index]
        embed = None
        if index == 0 and outgoing.image is not None:
            image = outgoing.image
            with self._guard("uploading the image"):
                # Uploaded again on every attempt: the PDS drops blobs no record references.
                blob = self._client.com.atproto.repo.upload_blob(image.data, headers={"Content-Type": image.mime}).blob
            embed = models.AppBskyEmbedImages.Main(
                images=[
                    models.AppBskyEmbedImages.Image(
                        alt=image.alt,
                        image=blob,
                        aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=image.width, height=image.height),
                    )
                ]
            )
        reply = None
        if index > 0:
            root, parent = self._strong_ref(attempt, 0, cids), self._strong_ref(attempt, index - 1, cids)
            reply = models.AppBskyFeedPost.ReplyRef(root=root, parent=parent)
        try:
            return models.AppBskyFeedPost.Record(
                text=text,
                created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                langs=[outgoing.language],
                facets=detect_facets(text) or None,  # UTF-8 byte offsets, no network
                embed=embed,
                reply=reply,
            )
        except ValidationError as exc:
            raise PermanentError(f"Bluesky would refuse part {index + 1}: {exc}") from None

    def _strong_ref(self, attempt: Attempt, index: int, cids: list[str | None]) -> Any:
        from atproto_client import models

        uri = attempt.done[index].id
        if cids[index] is None:
            # A part recorded without its cid (a memo from elsewhere): ask the PDS for it.
            found = self._lookup(uri.rsplit("/", 1)[-1])
            if found is None:
                raise PermanentError(f"part {index + 1} ({uri}) is gone from Bluesky; cannot reply to it")
            cids[index] = found[1]
        return models.ComAtprotoRepoStrongRef.Main(uri=uri, cid=cids[index])

    def _lookup(self, rkey: str) -> tuple[str, str] | None:
        """The (uri, cid) of our post under `rkey`, or None if there is none."""
        from atproto_client import models
        from atproto_client.exceptions import BadRequestError

        params = models.ComAtprotoRepoGetRecord.Params(repo=self._did, collection=POST_COLLECTION, rkey=rkey)
        with self._guard("looking for an earlier attempt's post"):
            try:
                found = self._client.com.atproto.repo.get_record(params)
            except BadRequestError as exc:
                if _xrpc_error(exc) == "RecordNotFound":
                    return None
                raise
        return str(found.uri), str(found.cid)

    def _create(self, record: Any, rkey: str) -> tuple[str, str]:
        from atproto_client.exceptions import RequestErrorBase

        started = time.perf_counter()
        try:
            created = self._client.app.bsky.feed.post.create(self._did, record, rkey=rkey)
        except Exception as exc:
            status = exc.response.status_code if isinstance(exc, RequestErrorBase) and exc.response else None
            if status is not None and status >= 500:
                # Includes "There is already a value at key" (HTTP 500) when the record exists.
                found = self._lookup(rkey)
                if found is not None:
                    return found
            self._fail(exc, "creating the post", during_create=True)
        log.debug("Bluesky createRecord took %.2f s", time.perf_counter() - started)
        return str(created.uri), str(created.cid)

    # --- errors -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, doing: str, *, login: bool = False) -> Iterator[None]:
        try:
            yield
        except (PlatformError, _StaleSessionError):
            raise
        except Exception as exc:
            self._fail(exc, doing, login=login)

    def _fail(self, exc: Exception, doing: str, *, login: bool = False, during_create: bool = False) -> NoReturn:
        error = self._classify(exc, doing, login=login, during_create=during_create)
        log.debug("Bluesky %s failed: %s", doing, error)
        raise error from None  # the SDK's exception (and its request) stays out of logs and reports

    def _classify(self, exc: Exception, doing: str, *, login: bool, during_create: bool) -> PlatformError:
        import httpx
        from atproto_client.exceptions import (
            BadRequestError,
            RateLimitExceededError,
            RequestErrorBase,
            UnauthorizedError,
        )

        who = f"@{self.account.handle} on {self.account.service}"
        detail = self._scrub(_describe(exc))
        what = f"Bluesky {doing} for {who} failed: {detail}"
        response = exc.response if isinstance(exc, RequestErrorBase) else None
        status = response.status_code if response is not None else None

        if isinstance(exc, RateLimitExceededError):
            reset = exc.reset_at
            if reset is None and exc.retry_after is not None:
                reset = datetime.now(UTC) + timedelta(seconds=exc.retry_after)
            return RetryableError(f"Bluesky rate limit reached while {doing} for {who}", retry_at=reset)
        refused = isinstance(exc, UnauthorizedError | BadRequestError)
        if refused and not login and _xrpc_error(exc) in _TOKEN_ERRORS:
            # The session died under us: the next attempt logs in with the app password, which says
            # for certain whether the credential itself is still good.
            self._forget_session()
            self._client = None
            return RetryableError(what)
        if isinstance(exc, UnauthorizedError) or (login and refused):
            self._forget_session()
            return AuthError(f"Bluesky refused the app password of {who} ({detail})", (self._variable,))
        if isinstance(exc, BadRequestError):
            return PermanentError(what)
        if response is not None:  # other statuses, and NetworkError's 409/413/502
            if status == 413:
                return PermanentError(what)
            if status is not None and 400 <= status < 500 and status not in (408, 409):
                return PermanentError(what)
            if during_create and status in (502, 504):  # a gateway gave up; the PDS may have written it
                return AmbiguousError(what)
            return RetryableError(what)
        transport = _transport(exc)
        if isinstance(transport, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return RetryableError(what)  # the request never left this machine
        if during_create:
            # Timeout, reset, or an unreadable answer: the PDS may have written the record.
            return AmbiguousError(what)
        return RetryableError(what)

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "[secret]") if self._password else text


class _StaleSessionError(Exception):
    """The saved session was refused or unreadable: log in with the app password instead."""


def _transport(exc: BaseException) -> BaseException | None:
    """The httpx error under an SDK error (the SDK wraps only some of them), if any."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.HTTPError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _xrpc_error(exc: Any) -> str | None:
    content = exc.response.content if exc.response is not None else None
    return getattr(content, "error", None)


def _describe(exc: BaseException) -> str:
    transport = _transport(exc)
    if transport is not None:
        return f"{type(transport).__name__}: {transport}" if str(transport) else type(transport).__name__
    return str(exc) or type(exc).__name__
