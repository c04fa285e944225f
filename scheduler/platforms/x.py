"""X, through tweepy's v2 Client: a one-shot image upload with alt text, then a thread of replies.

X has no idempotency key. A create call whose answer was lost cannot be checked, so it is never
resent: the adapter records which part it is creating before each create call, and an attempt that
resumes with that record set stops and asks a person to look.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from scheduler.models import SECRET_NAMES, XAccount, secret_variable
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
    UnconfirmedError,
)

X_API = "https://api.twitter.com"  # tweepy's hard-coded host; every request is signed for it
MAX_ALT_CHARS = 1000
GET_TWEETS_LIMIT = 100  # GET /2/tweets takes at most this many ids a call
# Uploaded media expire (X says after `expires_after_secs`, a day); re-upload this long before that
# rather than have a late retry fail with "Your media IDs are invalid".
MEDIA_EXPIRY_MARGIN = 3600

T = TypeVar("T")


class _XAdapter(HTTPAdapter):
    """Gives every request a timeout and, when `api_base` is not X itself, sends it there instead.

    Only the destination changes: tweepy has already signed the request for api.twitter.com, which
    is what X's own relays and the test stub verify.
    """

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__()
        self.api_base = api_base.rstrip("/")
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout  # tweepy passes none: a stalled socket would hang the daemon
        url = request.url or ""
        if self.api_base != X_API and url.startswith(X_API + "/"):
            request.url = self.api_base + url[len(X_API) :]
            kwargs["proxies"] = {}  # proxies were chosen for api.twitter.com, not for this host
        return super().send(request, *args, **kwargs)


class XPlatform:
    name = "x"
    idempotent = False

    def __init__(self, account_id: str, account: XAccount, secrets: dict[str, str], timeout: float = 30.0) -> None:
        import tweepy  # here, not at import: validate never loads it

        self.account_id = account_id
        self.account = account
        self.timeout = timeout
        self.variables = tuple(secret_variable(account_id, name) for name in SECRET_NAMES["x"])
        missing = [secret_variable(account_id, name) for name in SECRET_NAMES["x"] if not secrets.get(name)]
        if missing:
            raise AuthError(f"the X credentials of account {account_id} are incomplete", tuple(missing))
        self._secrets = tuple(value for value in secrets.values() if len(value) >= 4)
        self.client: Any = tweepy.Client(
            consumer_key=secrets["API_KEY"],
            consumer_secret=secrets["API_SECRET"],
            access_token=secrets["ACCESS_TOKEN"],
            access_token_secret=secrets["ACCESS_SECRET"],
            wait_on_rate_limit=False,  # True sleeps inside the call; the ledger schedules the retry instead
        )
        adapter = _XAdapter(account.api_base, timeout)
        self.client.session.mount("https://", adapter)
        self.client.session.mount("http://", adapter)
        self._username: str | None = None

    # ---- the protocol

    def check(self) -> str:
        return f"@{self._me()}"

    def image_limit(self) -> int | None:
        return None  # X does not announce it; the configured cap (5 MB) applies

    def prepare(self) -> None:
        # X has no session to open; the account's name, which the post URLs need, is read ahead.
        if not self._username:
            self._me()

    def publish(self, attempt: Attempt) -> Published:
        outgoing, memo = attempt.outgoing, attempt.memo
        parts = outgoing.parts
        if attempt.resuming and memo.get("creating") is not None:
            index = int(memo["creating"])
            raise UnconfirmedError(
                f"an earlier attempt was creating part {index + 1} of {len(parts)} on X when it was cut off, and X "
                f"cannot tell whether that post exists (it has no idempotency key); look at {self._profile(memo)}, "
                "and post it again with `post --force` only if it is not there"
            )
        if len(attempt.done) >= len(parts):
            return Published(tuple(attempt.done))
        username = self._cached_username(memo)  # also the cheapest credentials check before a large upload
        media_ids: list[str] = []
        if outgoing.image is not None and not attempt.done:
            media_ids = [self._media(attempt, outgoing.image)]
        for index in range(len(attempt.done), len(parts)):
            memo["creating"] = index
            attempt.save()
            tweet_id = self._create(attempt, index, media_ids if index == 0 else [])
            attempt.done.append(RemotePart(id=tweet_id, url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}"))
            del memo["creating"]
            attempt.save()
        return Published(tuple(attempt.done))

    def counts(self, ids: list[str]) -> dict[str, Counts]:
        """public_metrics, up to 100 posts a call. X charges for each post it returns: the caller keeps
        to the month's read budget."""
        found: dict[str, Counts] = {}
        for start in range(0, len(ids), GET_TWEETS_LIMIT):
            batch = ids[start : start + GET_TWEETS_LIMIT]
            tweets: list[Any] | None = self._call(
                "reading counts (GET /2/tweets)",
                functools.partial(self._tweets, batch),
            )
            for tweet in tweets or []:  # a deleted post is in the answer's errors, not its data
                metrics = getattr(tweet, "public_metrics", None) or {}
                found[str(tweet.id)] = Counts.read(
                    likes=metrics.get("like_count"),
                    reposts=metrics.get("retweet_count"),
                    replies=metrics.get("reply_count"),
                    quotes=metrics.get("quote_count"),
                    impressions=metrics.get("impression_count"),
                )
        return found

    def _tweets(self, ids: list[str]) -> list[Any] | None:
        return self.client.get_tweets(ids=ids, tweet_fields=["public_metrics"], user_auth=True).data  # type: ignore[no-any-return]

    # ---- steps

    def _me(self) -> str:
        data = self._call("reading the account (GET /2/users/me)", lambda: self.client.get_me(user_auth=True).data)
        username = getattr(data, "username", None)
        if not username:
            raise PermanentError("X answered GET /2/users/me without a username")
        self._username = str(username)
        return self._username

    def _cached_username(self, memo: dict[str, Any]) -> str | None:
        if memo.get("username"):
            return str(memo["username"])
        try:
            username = self._username or self._me()
        except RetryableError:
            return None  # only the post URLs need it, and x.com/i/web/status/<id> works without it
        memo["username"] = username  # saved with the next save(), before the first create
        return username

    def _media(self, attempt: Attempt, image: Image) -> str:
        memo = attempt.memo
        if len(image.alt) > MAX_ALT_CHARS:
            raise PermanentError(
                f"the alt text is {len(image.alt)} characters; X takes at most {MAX_ALT_CHARS}: shorten it"
            )
        media_id = memo.get("media_id")
        if not media_id or time.time() >= float(memo.get("media_expires", 0)):
            body = {
                "media": base64.b64encode(image.data).decode("ascii"),
                "media_category": "tweet_image",
                "media_type": image.mime,
            }
            data = self._call(
                "uploading the image",
                lambda: self.client.request("POST", "/2/media/upload", json=body, user_auth=True).json()["data"],
            )
            media_id = str(data["id"])
            lifetime = int(data.get("expires_after_secs") or 86_400)
            memo.update(media_id=media_id, media_expires=int(time.time()) + lifetime - MEDIA_EXPIRY_MARGIN)
            memo.pop("media_alt", None)
            attempt.save()
        if image.alt and not memo.get("media_alt"):
            metadata = {"id": media_id, "metadata": {"alt_text": {"text": image.alt}}}
            self._call(
                "setting the image's alt text",
                lambda: self.client.request("POST", "/2/media/metadata", json=metadata, user_auth=True),
            )
            memo["media_alt"] = True
            attempt.save()
        return str(media_id)

    def _create(self, attempt: Attempt, index: int, media_ids: list[str]) -> str:
        parts = attempt.outgoing.parts
        reply_to = attempt.done[index - 1].id if index > 0 else None

        def create() -> str:
            response = self.client.create_tweet(
                text=parts[index], media_ids=media_ids or None, in_reply_to_tweet_id=reply_to, user_auth=True
            )
            return str(response.data["id"])  # inside the call: an unreadable 2xx answer is ambiguous too

        try:
            return self._call(f"creating part {index + 1} of {len(parts)}", create, creating=True, memo=attempt.memo)
        except AmbiguousError:
            raise  # keep memo["creating"]: a resumed attempt must not post this part again
        except PlatformError:
            # X answered, or the connection never opened: nothing was created, so a retry may post it.
            attempt.memo.pop("creating", None)
            attempt.save()
            raise

    # ---- errors

    def _call(
        self, what: str, call: Callable[[], T], *, creating: bool = False, memo: dict[str, Any] | None = None
    ) -> T:
        """Run one SDK call; no tweepy or requests exception leaves this method."""
        import tweepy

        try:
            return call()
        except tweepy.TooManyRequests as exc:
            retry_at, daily = _reset_time(exc.response.headers)
            cap = "its 24-hour posting cap" if daily else "its rate limit"
            after = f"; retry after {retry_at:%Y-%m-%d %H:%M:%S} UTC" if retry_at else ""
            raise RetryableError(f"X refused {what}: {cap} is reached{after}", retry_at) from None
        except tweepy.Unauthorized as exc:
            raise AuthError(
                f"X refused the credentials of account {self.account_id} while {what} ({self._detail(exc)})",
                self.variables,
            ) from None
        except tweepy.Forbidden as exc:
            detail = self._detail(exc)
            if "duplicate content" in detail.lower():
                raise PermanentError(
                    f"X refused it as duplicate content; it may already have been posted: {detail}"
                ) from None
            token, secret = self.variables[2], self.variables[3]
            raise PermanentError(
                f"X refused {what} ({detail}); if X gives no other reason, the app may lack write permission: set "
                f"it to Read and Write in the developer portal, then regenerate {token} and {secret}"
            ) from None
        except tweepy.BadRequest as exc:
            raise PermanentError(f"X rejected {what}: {self._detail(exc)}") from None
        except tweepy.TwitterServerError as exc:
            # Also during a create: X documents 5xx from POST /2/tweets as "not created", and should one
            # have been created after all, the resend is refused as duplicate content, never posted twice.
            raise RetryableError(f"X had a server error while {what} ({self._detail(exc)})") from None
        except tweepy.HTTPException as exc:
            raise PermanentError(
                f"X answered {self._detail(exc)} while {what}; check api_base ({self.account.api_base})"
            ) from None
        except requests.RequestException as exc:
            reason = self._reason(exc)
            if creating and not _never_sent(exc):
                raise AmbiguousError(
                    f"the connection to X failed while {what} ({reason}); the post may exist and X has no "
                    f"idempotency key, so it is not sent again: look at {self._profile(memo or {})}"
                ) from None
            raise RetryableError(f"could not reach X ({self.account.api_base}) while {what}: {reason}") from None
        except Exception as exc:  # a 2xx answer the SDK or this adapter could not read
            reason = self._clean(f"{type(exc).__name__}: {exc}")
            if creating:
                raise AmbiguousError(
                    f"X gave an unreadable answer while {what} ({reason}); the post may exist: "
                    f"look at {self._profile(memo or {})}"
                ) from None
            raise PermanentError(f"X gave an unreadable answer while {what} ({reason})") from None

    def _detail(self, exc: Any) -> str:
        """tweepy's "403 Forbidden\\nX's message" on one line."""
        head, *messages = str(exc).splitlines() or [type(exc).__name__]
        return self._clean(f"{head}: {'; '.join(messages)}" if messages else head)

    def _reason(self, exc: requests.RequestException) -> str:
        if isinstance(exc, requests.Timeout):
            return f"{type(exc).__name__}: no answer within {self.timeout:g} s"
        return self._clean(f"{type(exc).__name__}: {exc}")[:500]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:  # the consumer key and access token travel in the OAuth header
            text = text.replace(secret, "***")
        return text

    def _profile(self, memo: dict[str, Any]) -> str:
        username = memo.get("username") or self._username
        return f"https://x.com/{username}" if username else f"the X account of {self.account_id}"


def _reset_time(headers: Any) -> tuple[datetime | None, bool]:
    """When a 429 ends: the 15-minute window's reset, or the later 24-hour reset once that cap is spent."""

    def stamp(name: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(int(headers[name]), UTC)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            return None

    window = stamp("x-rate-limit-reset")
    if headers.get("x-user-limit-24hour-remaining") == "0":
        daily = stamp("x-user-limit-24hour-reset")
        if daily is not None and (window is None or daily > window):
            return daily, True
    return window, False


def _never_sent(exc: BaseException) -> bool:
    """Whether the connection failed before a byte of the request left (refused, DNS, connect timeout).

    Everything else (reset, read timeout, a lost answer, a TLS failure) may have reached X.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        # urllib3's NewConnectionError (refused, unreachable, DNS) is a ConnectTimeoutError.
        if isinstance(error, requests.ConnectTimeout | ConnectTimeoutError | ConnectionRefusedError):
            return True
        if isinstance(error, MaxRetryError) and error.reason is not None:
            stack.append(error.reason)
        stack.extend(arg for arg in error.args if isinstance(arg, BaseException))
        if error.__cause__ is not None:
            stack.append(error.__cause__)
    return False
