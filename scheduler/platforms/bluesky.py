"""Bluesky over plain XRPC: one reused session, caller-chosen record keys, look before creating.

Every post part gets a TID record key at the first attempt (saved in the memo before anything is
created). A PDS refuses a second record under the same key, so a retry can never duplicate a post:
it looks the key up and, if the record is there, takes it as done.

No SDK: a post takes a handful of JSON calls (createSession, refreshSession, getSession, uploadBlob,
createRecord, getRecord), made here with `requests` over one keep-alive connection pool per adapter,
each bounded by the adapter's timeout. Importing the atproto SDK took about half a second and some
35 MB, and `validate` must never pay for a platform SDK. The facets (links, hashtags) come from
bluesky_facets.py, a port of the SDK's detection.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.client import RemoteDisconnected
from pathlib import Path
from secrets import randbelow
from typing import Any, Literal, NoReturn, NotRequired, TypedDict

import requests
from requests.auth import AuthBase
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from scheduler.files import write_atomic
from scheduler.models import BlueskyAccount, secret_variable
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Counts,
    Image,
    PermanentError,
    PlatformError,
    Published,
    RemotePart,
    RetryableError,
)
from scheduler.platforms.bluesky_facets import Facet, detect_facets

log = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"
GET_POSTS_LIMIT = 25  # app.bsky.feed.getPosts takes at most this many URIs a call
MAX_TEXT_CHARACTERS = 3000  # the lexicon's maxLength for a post's text (graphemes are the PDS's to count)
REFRESH_AHEAD = timedelta(minutes=15)  # refresh an access token this long before it expires, as the SDK did
SESSION_FORMAT = "slogan-scheduler/bluesky-session/1"

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


# --- what is sent: the app.bsky.feed.post record, as the lexicons spell it ---------------------------

BlobRef = TypedDict("BlobRef", {"$type": Literal["blob"], "ref": dict[str, str], "mimeType": str, "size": int})
AspectRatio = TypedDict(
    "AspectRatio", {"$type": Literal["app.bsky.embed.defs#aspectRatio"], "width": int, "height": int}
)
EmbeddedImage = TypedDict(
    "EmbeddedImage",
    {"$type": Literal["app.bsky.embed.images#image"], "alt": str, "image": BlobRef, "aspectRatio": AspectRatio},
)
ImagesEmbed = TypedDict("ImagesEmbed", {"$type": Literal["app.bsky.embed.images"], "images": list[EmbeddedImage]})
StrongRef = TypedDict("StrongRef", {"$type": Literal["com.atproto.repo.strongRef"], "uri": str, "cid": str})
ReplyRef = TypedDict(
    "ReplyRef", {"$type": Literal["app.bsky.feed.post#replyRef"], "root": StrongRef, "parent": StrongRef}
)
PostRecord = TypedDict(
    "PostRecord",
    {
        "$type": Literal["app.bsky.feed.post"],
        "text": str,
        "createdAt": str,
        "langs": list[str],
        "facets": NotRequired[list[Facet]],
        "embed": NotRequired[ImagesEmbed],
        "reply": NotRequired[ReplyRef],
    },
)


@dataclass(frozen=True)
class BlueskySession:
    """A logged-in atproto session: whose, on which server, and its two tokens (secrets: never in a
    repr, a log or an error; saved with mode 600)."""

    service: str  # the account's service as configured, so a session is never sent to another server
    did: str
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)

    def dumps(self) -> bytes:
        return json.dumps(
            {
                "format": SESSION_FORMAT,
                "service": self.service,
                "did": self.did,
                "handle": self.handle,
                "accessJwt": self.access_jwt,
                "refreshJwt": self.refresh_jwt,
            }
        ).encode()

    @classmethod
    def loads(cls, text: str) -> BlueskySession | None:
        """The session saved by `dumps`, or None for anything else (such as the atproto SDK's
        `handle:::did:::...` strings of earlier versions, or a damaged file)."""
        try:
            saved = json.loads(text)
        except ValueError:
            return None
        if not isinstance(saved, dict) or saved.get("format") != SESSION_FORMAT:
            return None
        values = [saved.get(key) for key in ("service", "did", "handle", "accessJwt", "refreshJwt")]
        texts = [value for value in values if isinstance(value, str) and value]
        if len(texts) != len(values):
            return None
        session = cls(*texts)
        return session if _expiry(session.access_jwt) is not None else None

    def expires_soon(self) -> bool:
        expiry = _expiry(self.access_jwt)
        return expiry is not None and datetime.now(UTC) > expiry - REFRESH_AHEAD


def _expiry(token: str) -> datetime | None:
    """When a JWT says it expires: read, not verified (the server verifies); None if it does not say."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims["exp"]
        if not isinstance(exp, int) or isinstance(exp, bool):
            return None
        return datetime.fromtimestamp(exp, UTC)
    except (IndexError, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _xrpc_base(service: str) -> str:
    return service if service.endswith("/xrpc") else f"{service.rstrip('/')}/xrpc"


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
        self._base = _xrpc_base(str(account.service))
        self._http = requests.Session()  # keep-alive: one connection serves every call of a post
        self._http.headers["User-Agent"] = f"slogan-scheduler ({requests.utils.default_user_agent()})"
        self._lock = threading.RLock()  # prepare() may run beside a delivery: one login, one refresh at a time
        self._session: BlueskySession | None = None
        self._handle = account.handle

    # --- the Platform protocol ----------------------------------------------------------------

    def check(self) -> str:
        # Always a fresh login: a saved session proves nothing about the configured app password,
        # and a refusal removes the saved session so no later run can post without it.
        with self._lock:
            self._session = None
            self._login(fresh=True)
        return f"@{self._handle}"

    def image_limit(self) -> int | None:
        return None  # a PDS does not publish its blob limit: the configured cap applies

    def prepare(self) -> None:
        """Open the session ahead of the due time (the saved one checked, or a login; the connection
        kept alive), and refresh its access token now if it is about to expire."""
        self._token()

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

    def counts(self, ids: list[str]) -> dict[str, Counts]:
        """From the AppView (a PDS keeps records, not counts), which needs no login: up to 25 posts a call."""
        found: dict[str, Counts] = {}
        appview = _xrpc_base(str(self.account.appview))
        for start in range(0, len(ids), GET_POSTS_LIMIT):
            batch = ids[start : start + GET_POSTS_LIMIT]
            with self._guard("reading counts from the AppView"):
                answer = self._xrpc("GET", "app.bsky.feed.getPosts", base=appview, params={"uris": batch})
            for view in answer.get("posts") or []:
                if isinstance(view, dict) and view.get("uri") in batch:
                    found[view["uri"]] = Counts.read(
                        likes=view.get("likeCount"),
                        reposts=view.get("repostCount"),
                        replies=view.get("replyCount"),
                        quotes=view.get("quoteCount"),
                    )
        return found

    # --- session ------------------------------------------------------------------------------

    def _login(self, *, fresh: bool = False) -> BlueskySession:
        """Reuse the saved session if the server still takes it (unless `fresh`); otherwise create one
        (rate limited) with the app password."""
        with self._lock:
            if self._session is not None:
                return self._session
            if not self._password:
                raise AuthError(f"no app password for Bluesky account {self.account_id}", (self._variable,))
            saved = None if fresh else self._saved_session()
            if saved is not None:
                try:
                    with self._guard("resuming the saved session"):
                        session = self._resume(saved)
                    if session.handle.lower() == self.account.handle.lower():
                        return self._use(session)
                    log.info(
                        "the saved Bluesky session of %s is for @%s; logging in again", self.account_id, session.handle
                    )
                except _StaleSessionError:
                    log.info("the saved Bluesky session of %s is no longer valid; logging in again", self.account_id)
                self._forget_session()

            started = time.perf_counter()
            with self._guard("logging in", login=True):
                answer = self._xrpc(
                    "POST",
                    "com.atproto.server.createSession",
                    body={"identifier": self.account.handle, "password": self._password},
                )
                session = self._session_from(answer)
            log.debug("Bluesky login of %s took %.2f s", self.account_id, time.perf_counter() - started)
            self._save_session(session)
            return self._use(session)

    def _use(self, session: BlueskySession) -> BlueskySession:
        self._session, self._handle = session, session.handle
        return session

    def _resume(self, saved: BlueskySession) -> BlueskySession:
        """The saved session, refreshed if its access token expires soon, once the server confirms it
        (getSession); _StaleSessionError if the server refuses it."""
        session, refreshed = saved, False
        try:
            if session.expires_soon():
                session, refreshed = self._refreshed(session), True
            try:
                info = self._xrpc("GET", "com.atproto.server.getSession", token=session.access_jwt)
            except _XrpcError as exc:
                if exc.status != 400 or exc.error != "ExpiredToken" or refreshed:
                    raise
                # Expired by the server's clock though not by ours: the refresh token may still be good.
                session = self._refreshed(session)
                info = self._xrpc("GET", "com.atproto.server.getSession", token=session.access_jwt)
            did, handle = _text(info, "did"), _text(info, "handle")
        except _XrpcError as exc:
            if exc.refused:
                raise _StaleSessionError from None
            raise
        except _UnreadableAnswerError:
            raise _StaleSessionError from None
        return BlueskySession(session.service, did, handle, session.access_jwt, session.refresh_jwt)

    def _refreshed(self, session: BlueskySession) -> BlueskySession:
        """A new pair of tokens for `session`, saved for the next run; _StaleSessionError if refused."""
        try:
            answer = self._xrpc("POST", "com.atproto.server.refreshSession", token=session.refresh_jwt)
        except _XrpcError as exc:
            if exc.refused:
                raise _StaleSessionError from None
            raise
        fresh = self._session_from(answer)
        self._save_session(fresh)
        return fresh

    def _token(self) -> str:
        """The access token for the next call, refreshed first if it expires within REFRESH_AHEAD; a
        refused refresh logs in again with the app password."""
        with self._lock:
            session = self._login()
            if not session.expires_soon():
                return session.access_jwt
            try:
                with self._guard("refreshing the session"):
                    session = self._use(self._refreshed(session))
            except _StaleSessionError:
                log.info("Bluesky refused to refresh the session of %s; logging in again", self.account_id)
                self._drop_session()
                session = self._login(fresh=True)
            return session.access_jwt

    def _session_from(self, answer: dict[str, Any]) -> BlueskySession:
        return BlueskySession(
            str(self.account.service),
            _text(answer, "did"),
            _text(answer, "handle"),
            _text(answer, "accessJwt"),
            _text(answer, "refreshJwt"),
        )

    def _saved_session(self) -> BlueskySession | None:
        try:
            text = self.session_file.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("could not read the Bluesky session %s: %s", self.session_file, exc)
            return None
        if not text.strip():
            return None
        session = BlueskySession.loads(text)
        if session is None:
            log.info("the saved Bluesky session of %s is unreadable (an older format?); logging in", self.account_id)
        elif _xrpc_base(session.service) != self._base:
            log.info("the saved Bluesky session of %s is for %s; logging in", self.account_id, session.service)
            session = None
        if session is None:
            self._forget_session()
        return session

    def _save_session(self, session: BlueskySession) -> None:
        try:
            self.session_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.session_file, session.dumps())  # mkstemp: created 0600
            self.session_file.chmod(0o600)
        except OSError as exc:  # costs one login next time, nothing more
            log.warning("could not save the Bluesky session to %s: %s", self.session_file, exc)

    def _forget_session(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.session_file.unlink()

    def _drop_session(self) -> None:
        """Forget the session here and on disk: the next call logs in with the app password."""
        with self._lock:
            self._session = None
            self._forget_session()

    # --- records ------------------------------------------------------------------------------

    def _record(self, attempt: Attempt, index: int, cids: list[str | None]) -> PostRecord:
        outgoing = attempt.outgoing
        text = outgoing.parts[index]
        if len(text) > MAX_TEXT_CHARACTERS:
            raise PermanentError(
                f"Bluesky would refuse part {index + 1}: its text is {len(text)} characters, over {MAX_TEXT_CHARACTERS}"
            )
        embed: ImagesEmbed | None = None
        if index == 0 and outgoing.image is not None:
            image = outgoing.image
            if image.width < 1 or image.height < 1:
                raise PermanentError(
                    f"Bluesky would refuse part {index + 1}: the image is {image.width}x{image.height} pixels"
                )
            with self._guard("uploading the image"):
                # Uploaded again on every attempt: the PDS drops blobs no record references.
                blob = self._upload(image)
            embed = {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "$type": "app.bsky.embed.images#image",
                        "alt": image.alt,
                        "image": blob,
                        "aspectRatio": {
                            "$type": "app.bsky.embed.defs#aspectRatio",
                            "width": image.width,
                            "height": image.height,
                        },
                    }
                ],
            }
        reply: ReplyRef | None = None
        if index > 0:
            root, parent = self._strong_ref(attempt, 0, cids), self._strong_ref(attempt, index - 1, cids)
            reply = {"$type": "app.bsky.feed.post#replyRef", "root": root, "parent": parent}
        record: PostRecord = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "langs": [outgoing.language],
        }
        facets = detect_facets(text)  # UTF-8 byte offsets, no network
        if facets:
            record["facets"] = facets
        if embed is not None:
            record["embed"] = embed
        if reply is not None:
            record["reply"] = reply
        return record

    def _upload(self, image: Image) -> BlobRef:
        answer = self._xrpc(
            "POST", "com.atproto.repo.uploadBlob", token=self._token(), data=image.data, content_type=image.mime
        )
        blob = answer.get("blob")
        ref = blob.get("ref") if isinstance(blob, dict) else None
        link = ref.get("$link") if isinstance(ref, dict) else None
        if not isinstance(blob, dict) or blob.get("$type") != "blob" or not isinstance(link, str):
            raise _UnreadableAnswerError("uploadBlob answered without a blob")
        size = blob.get("size")
        return {
            "$type": "blob",
            "ref": {"$link": link},
            "mimeType": _text(blob, "mimeType"),
            "size": size if isinstance(size, int) else len(image.data),
        }

    def _strong_ref(self, attempt: Attempt, index: int, cids: list[str | None]) -> StrongRef:
        uri = attempt.done[index].id
        cid = cids[index]
        if cid is None:
            # A part recorded without its cid (a memo from elsewhere): ask the PDS for it.
            found = self._lookup(uri.rsplit("/", 1)[-1])
            if found is None:
                raise PermanentError(f"part {index + 1} ({uri}) is gone from Bluesky; cannot reply to it")
            cid = cids[index] = found[1]
        return {"$type": "com.atproto.repo.strongRef", "uri": uri, "cid": cid}

    def _lookup(self, rkey: str) -> tuple[str, str] | None:
        """The (uri, cid) of our post under `rkey`, or None if there is none."""
        with self._guard("looking for an earlier attempt's post"):
            params = {"repo": self._login().did, "collection": POST_COLLECTION, "rkey": rkey}
            try:
                found = self._xrpc("GET", "com.atproto.repo.getRecord", token=self._token(), params=params)
            except _XrpcError as exc:
                if exc.status == 400 and exc.error == "RecordNotFound":
                    return None
                raise
            return _text(found, "uri"), _text(found, "cid")

    def _create(self, record: PostRecord, rkey: str) -> tuple[str, str]:
        body = {"repo": self._login().did, "collection": POST_COLLECTION, "rkey": rkey, "validate": True}
        token = self._token()  # a refresh is not the create: its failures are classified as its own
        started = time.perf_counter()
        try:
            answer = self._xrpc("POST", "com.atproto.repo.createRecord", token=token, body={**body, "record": record})
            created = _text(answer, "uri"), _text(answer, "cid")
        except Exception as exc:
            if isinstance(exc, _XrpcError) and exc.status >= 500:
                # Includes "There is already a value at key" (HTTP 500) when the record exists.
                found = self._lookup(rkey)
                if found is not None:
                    return found
            self._fail(exc, "creating the post", during_create=True)
        log.debug("Bluesky createRecord took %.2f s", time.perf_counter() - started)
        return created

    # --- XRPC over HTTP -----------------------------------------------------------------------

    def _xrpc(
        self,
        method: Literal["GET", "POST"],
        nsid: str,
        *,
        token: str | None = None,
        base: str | None = None,
        params: Mapping[str, str | list[str]] | None = None,
        body: dict[str, Any] | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One XRPC call; its JSON object, or _XrpcError (an error status), _TransportError (no answer)
        or _UnreadableAnswerError (a success that is not a JSON object)."""
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            response = self._http.request(
                method,
                f"{base or self._base}/{nsid}",
                params=params,
                json=body,
                data=data,
                headers=headers,
                auth=_Bearer(token),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise _transport_error(exc) from None
        if not 200 <= response.status_code < 300:
            raise _XrpcError.of(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise _UnreadableAnswerError(f"{nsid.rsplit('.', 1)[-1]} answered {response.status_code} without JSON")
        return answer

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
        raise error from None  # the HTTP library's exception (and its request) stays out of logs and reports

    def _classify(self, exc: Exception, doing: str, *, login: bool, during_create: bool) -> PlatformError:
        who = f"@{self.account.handle} on {self.account.service}"
        detail = self._scrub(str(exc) or type(exc).__name__)
        what = f"Bluesky {doing} for {who} failed: {detail}"

        if isinstance(exc, _XrpcError):
            if exc.status == 429:
                return RetryableError(f"Bluesky rate limit reached while {doing} for {who}", retry_at=exc.retry_at())
            if exc.refused and not login and exc.error in _TOKEN_ERRORS:
                # The session died under us: the next attempt logs in with the app password, which says
                # for certain whether the credential itself is still good.
                self._drop_session()
                return RetryableError(what)
            if exc.status in (401, 403) or (login and exc.refused):
                self._drop_session()
                return AuthError(f"Bluesky refused the app password of {who} ({detail})", (self._variable,))
            if exc.status == 413 or (400 <= exc.status < 500 and exc.status not in (408, 409)):
                return PermanentError(what)  # InvalidRequest (a record too long...), and the like
            if during_create and exc.status in (502, 504):  # a gateway gave up; the PDS may have written it
                return AmbiguousError(what)
            return RetryableError(what, retry_at=exc.retry_at())
        if isinstance(exc, _TransportError) and not exc.sent:
            return RetryableError(what)  # the request never left this machine
        if during_create:
            # Timeout, reset, or an unreadable answer: the PDS may have written the record.
            return AmbiguousError(what)
        return RetryableError(what)

    def _scrub(self, text: str) -> str:
        secrets = [self._password]
        if self._session is not None:
            secrets += [self._session.access_jwt, self._session.refresh_jwt]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "[secret]")
        return text


class _StaleSessionError(Exception):
    """The saved session was refused or unreadable: log in with the app password instead."""


class _UnreadableAnswerError(Exception):
    """A success status whose body is not what the lexicon says."""


class _XrpcError(Exception):
    """An XRPC error answer: its status, and the `error` and `message` of its JSON body when it has them."""

    def __init__(
        self, status: int, reason: str, error: str | None, message: str | None, headers: Mapping[str, str]
    ) -> None:
        super().__init__(status, error)
        self.status, self.reason, self.error, self.message, self.headers = status, reason, error, message, headers

    @classmethod
    def of(cls, response: requests.Response) -> _XrpcError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        return cls(
            response.status_code,
            response.reason or "",
            error if isinstance(error, str) and error else None,
            message if isinstance(message, str) and message else None,
            response.headers,
        )

    @property
    def refused(self) -> bool:
        return self.status in (400, 401, 403)

    def __str__(self) -> str:
        if self.error is None:
            return f"{self.status} {self.reason}".rstrip()
        return f"{self.status} {self.error}: {self.message}" if self.message else f"{self.status} {self.error}"

    def retry_at(self) -> datetime | None:
        """When the server says to come back: `ratelimit-reset` (epoch seconds), else `retry-after`."""
        with contextlib.suppress(KeyError, ValueError, OverflowError, OSError):
            return datetime.fromtimestamp(int(self.headers["ratelimit-reset"]), UTC)
        after = self.headers.get("retry-after")
        if after is None:
            return None
        now = datetime.now(UTC)
        try:
            seconds = float(after)
        except ValueError:
            try:
                when = parsedate_to_datetime(after)
            except (TypeError, ValueError):
                return None
            return max(when if when.tzinfo else when.replace(tzinfo=UTC), now)
        return now + timedelta(seconds=max(seconds, 0.0)) if math.isfinite(seconds) else None


class _TransportError(Exception):
    """No answer: named as before the SDK went (ConnectError, ReadTimeout, RemoteProtocolError...), and
    whether the request may have reached the server (`sent`)."""

    def __init__(self, kind: str, text: str, *, sent: bool) -> None:
        text = " ".join(text.split())[:300]  # one line, whatever the server sent
        super().__init__(kind, text)
        self.kind, self.text, self.sent = kind, text, sent

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}" if self.text else self.kind


def _transport_error(exc: requests.RequestException) -> _TransportError:
    """What went wrong under a `requests` failure (without its URLs and object reprs), and whether the
    request may have reached the server."""
    causes = _causes(exc)
    below = causes[1:]  # what requests wraps: urllib3's errors and the socket's
    deepest = str(causes[-1]) if below else ""

    def first(kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
        return next((error for error in below if isinstance(error, kind)), None)

    if (refused := first(NewConnectionError)) is not None:  # refused, unreachable, no such host
        return _TransportError("ConnectError", str(refused.__cause__ or type(refused).__name__), sent=False)
    if isinstance(exc, requests.ConnectTimeout) or first(ConnectTimeoutError) is not None:
        return _TransportError("ConnectTimeout", "timed out", sent=False)
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return _TransportError("ConnectError", deepest, sent=False)  # no connection: nothing was sent
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return _TransportError(type(exc).__name__, str(exc), sent=False)
    if isinstance(exc, requests.ReadTimeout) or first((ReadTimeoutError, TimeoutError)) is not None:
        return _TransportError("ReadTimeout", "timed out", sent=True)
    if first(RemoteDisconnected) is not None:  # a ConnectionResetError too: first
        return _TransportError("RemoteProtocolError", "Server disconnected without sending a response.", sent=True)
    if (reset := first(ConnectionResetError)) is not None:
        return _TransportError("ReadError", str(reset), sent=True)
    if (broken := first(BrokenPipeError)) is not None:
        return _TransportError("WriteError", str(broken), sent=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or first(ProtocolError) is not None:
        return _TransportError("RemoteProtocolError", deepest, sent=True)
    if (other := first(OSError)) is not None:
        return _TransportError("ReadError", str(other), sent=True)
    return _TransportError(type(exc).__name__, deepest, sent=True)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it wraps (args, urllib3's `reason`, __cause__), outermost first."""
    found: list[BaseException] = []
    stack = [exc]
    while stack:
        error = stack.pop(0)
        if any(error is seen for seen in found):
            continue
        found.append(error)
        if isinstance(error, MaxRetryError) and error.reason is not None:
            stack.append(error.reason)
        stack += [arg for arg in error.args if isinstance(arg, BaseException)]
        if error.__cause__ is not None:
            stack.append(error.__cause__)
    return found


class _Bearer(AuthBase):
    """The session's token, if any; given on every call so that no ~/.netrc entry replaces it."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _text(answer: Mapping[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise _UnreadableAnswerError(f"the answer has no {key}")
    return value
