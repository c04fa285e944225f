"""A small, faithful stub of the X API v2 endpoints our X adapter uses, standard library only.

Endpoints (all need OAuth 1.0a user context, HMAC-SHA1, checked for real):

- ``POST /2/media/upload``    one-shot JSON upload ``{"media": <base64>, "media_category": "tweet_image",
                              "media_type": "image/png"}`` -> 200 ``{"data": {"id", "media_key", "size",
                              "expires_after_secs"}}``; images over 5,242,880 bytes, bad base64 and non-image
                              bytes -> 400.
- ``POST /2/media/metadata``  ``{"id": media_id, "metadata": {"alt_text": {"text": alt}}}`` -> 200; alt text over
                              1000 characters or a media id this user does not own -> 400.
- ``POST /2/tweets``          the body ``tweepy.Client.create_tweet`` sends -> 201 ``{"data": {"id", "text",
                              "edit_history_tweet_ids"}}``; weighted length over 280 -> 400, the same text twice
                              from one user -> 403 duplicate content, more than 4 media or media that are not the
                              user's -> 400, a reply to an unknown tweet -> 403.
- ``GET /2/tweets``           ``?ids=1,2&tweet.fields=public_metrics`` -> 200 ``{"data": [{"id", "text",
                              "edit_history_tweet_ids", "public_metrics"}], "errors": [...]}``: ids not found go to
                              ``errors`` as X's partial "Not Found Error" (no ``data`` when none is found);
                              ``public_metrics`` only when ``tweet.fields`` asks for it (X's other tweet fields,
                              ``expansions`` and ``*.fields`` are accepted and left out). Missing or more than 100
                              ids, a non-numeric id, a repeated or unknown parameter or tweet field -> 400.
                              ``reply_count`` counts replies posted here; the other counts are 0 until
                              ``POST /_stub/metrics`` sets them. Every post returned counts as one read.
- ``GET /2/users/me``         -> 200 ``{"data": {"id", "name", "username"}}``.

Every authenticated response carries ``x-rate-limit-limit/-remaining/-reset``; ``POST /2/tweets`` also carries
``x-user-limit-24hour-limit/-remaining/-reset``. Limits are per user and configurable; over a limit -> 429.

Test control API under ``/_stub/`` (not part of X, no auth): ``POST /_stub/faults``, ``GET /_stub/faults``,
``DELETE /_stub/faults``, ``GET /_stub/state`` (``reads``: posts returned by ``GET /2/tweets`` per user id, as X
bills reads), ``POST /_stub/reset``, ``POST /_stub/metrics`` ``{"tweet_id", "like_count", "retweet_count",
"quote_count", "bookmark_count", "impression_count"}`` (any subset; unknown tweet -> 404, a count that is not a
non-negative integer -> 400).

Signatures are checked against the URL the client *signed*, ``signed_base_url + path`` (default
``https://api.twitter.com``): the adapter aims tweepy at the stub with a URL-rewriting ``requests`` adapter, so
tweepy signs ``https://api.twitter.com/2/...`` while the request arrives at ``http://127.0.0.1:<port>/2/...``.

Run: ``python -m tests.peers.x_stub.server --port 0 --credentials-json '[{"api_key": ..., "api_secret": ...,
"access_token": ..., "access_secret": ..., "user": {"id": "1", "username": "me"}}]'`` prints
``READY http://127.0.0.1:<port>`` once it listens. From Python: ``XStub(credentials=[...]).start()``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Final, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from twitter_text import parse_tweet

from tests.peers.serving import Served

JSON = dict[str, Any]

DEFAULT_SIGNED_BASE_URL: Final = "https://api.twitter.com"
MAX_IMAGE_BYTES: Final = 5_242_880
MAX_ALT_TEXT_CHARS: Final = 1000
MAX_MEDIA_PER_TWEET: Final = 4
MAX_WEIGHTED_LENGTH: Final = 280
MEDIA_EXPIRES_AFTER_SECS: Final = 86_400
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
DEFAULT_TIMESTAMP_SKEW: Final = 300.0
TWITTER_EPOCH_MS: Final = 1_288_834_974_657

UPLOAD: Final = ("POST", "/2/media/upload")
METADATA: Final = ("POST", "/2/media/metadata")
TWEETS: Final = ("POST", "/2/tweets")
LOOKUP: Final = ("GET", "/2/tweets")
ME: Final = ("GET", "/2/users/me")
ENDPOINTS: Final = (UPLOAD, METADATA, TWEETS, LOOKUP, ME)

# X's own wording, as its API returns it (see the tweepy/X issue threads quoted in the report).
TOO_LONG_MESSAGE: Final = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)
_NOT_IN_SCHEMA: Final = "$.{name}: is not defined in the schema and the schema does not allow additional properties"
DUPLICATE_DETAIL: Final = "You are not allowed to create a Tweet with duplicate content."
INVALID_MEDIA_MESSAGE: Final = "Your media IDs are invalid."
REPLY_NOT_VISIBLE_DETAIL: Final = "You attempted to reply to a Tweet that is deleted or not visible to you."
INVALID_REQUEST_TYPE: Final = "https://api.twitter.com/2/problems/invalid-request"
INVALID_REQUEST_DETAIL: Final = "One or more parameters to your request was invalid."
UNSUPPORTED_AUTH_TYPE: Final = "https://api.twitter.com/2/problems/unsupported-authentication"
UNSUPPORTED_AUTH_DETAIL: Final = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication "
    "types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)
NOT_FOUND_TYPE: Final = "https://api.twitter.com/2/problems/resource-not-found"

ONE_SHOT_CATEGORIES: Final = frozenset({"tweet_image", "dm_image"})
IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/pjpeg", "image/png", "image/webp", "image/bmp", "image/tiff"})
TWEET_FIELDS: Final = frozenset(
    {
        "text",
        "media",
        "reply",
        "quote_tweet_id",
        "poll",
        "geo",
        "reply_settings",
        "for_super_followers_only",
        "direct_message_deep_link",
        "community_id",
        "nullcast",
        "card_uri",
    }
)
ME_QUERY_PARAMS: Final = ("expansions", "tweet.fields", "user.fields")
LOOKUP_QUERY_PARAMS: Final = (
    "ids",
    "expansions",
    "media.fields",
    "place.fields",
    "poll.fields",
    "tweet.fields",
    "user.fields",
)
MAX_LOOKUP_IDS: Final = 100
# X's tweet.fields enumeration, comma-joined as its 400 lists it: a bad name is a 400 though only one is rendered.
LOOKUP_TWEET_FIELDS: Final = (
    "article,attachments,author_id,card_uri,community_id,context_annotations,conversation_id,created_at,"
    "display_text_range,edit_controls,edit_history_tweet_ids,entities,geo,id,in_reply_to_user_id,lang,media_metadata,"
    "non_public_metrics,note_tweet,organic_metrics,possibly_sensitive,promoted_metrics,public_metrics,"
    "referenced_tweets,reply_settings,scopes,source,suggested_source_links,suggested_source_links_with_counts,text,"
    "withheld"
)
# In X's order; reply_count is not settable: it counts the replies actually posted to the stub.
PUBLIC_METRICS: Final = (
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
)
SETTABLE_METRICS: Final = tuple(name for name in PUBLIC_METRICS if name != "reply_count")
OAUTH_REQUIRED: Final = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_version",
    "oauth_signature",
)
FAULT_TYPES: Final = frozenset({"status", "ratelimit", "latency", "drop_after_create", "reset_before"})


# --------------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class User:
    id: str
    username: str
    name: str = ""

    def as_json(self) -> JSON:
        return {"id": self.id, "name": self.name or self.username, "username": self.username}


DEFAULT_USER: Final = User(id="1700000000000000001", username="stub_user", name="Stub User")


@dataclass(frozen=True)
class Credential:
    """One OAuth 1.0a credential set (an app's key pair plus one user's access token pair) and its user."""

    api_key: str
    api_secret: str
    access_token: str
    access_secret: str
    user: User | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Credential:
        """Accepts ``api_key``/``consumer_key``, ``api_secret``/``consumer_secret``, ``access_token``,
        ``access_secret``/``access_token_secret`` and an optional ``user`` ``{"id", "username", "name"}``."""

        def pick(*names: str) -> str:
            for name in names:
                value = raw.get(name)
                if isinstance(value, str) and value:
                    return value
            raise ValueError(f"credential needs a non-empty string {names[0]!r}")

        user_raw = raw.get("user")
        user = None
        if user_raw is not None:
            if not isinstance(user_raw, Mapping):
                raise ValueError("credential 'user' must be an object")
            user = user_from_mapping(user_raw)
        return cls(
            api_key=pick("api_key", "consumer_key"),
            api_secret=pick("api_secret", "consumer_secret"),
            access_token=pick("access_token"),
            access_secret=pick("access_secret", "access_token_secret"),
            user=user,
        )


def user_from_mapping(raw: Mapping[str, Any]) -> User:
    user_id, username, name = raw.get("id"), raw.get("username"), raw.get("name", "")
    if not isinstance(user_id, str | int) or not str(user_id).isdigit():
        raise ValueError("user 'id' must be a numeric string")
    if not isinstance(username, str) or not username:
        raise ValueError("user 'username' must be a non-empty string")
    return User(id=str(user_id), username=username, name=str(name or ""))


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window_seconds: float = 900.0


# Per-user defaults in the range X publishes for its paid tiers; not authoritative: tests set their own.
DEFAULT_RATE_LIMITS: Final[Mapping[tuple[str, str], RateLimit]] = {
    UPLOAD: RateLimit(500, 900),
    METADATA: RateLimit(500, 900),
    TWEETS: RateLimit(100, 900),
    LOOKUP: RateLimit(900, 900),  # X's documented per-user limit for post lookup
    ME: RateLimit(75, 900),
}
DEFAULT_TWEETS_24H: Final = 100


def parse_rate_limits(raw: Mapping[str, Any]) -> dict[tuple[str, str], RateLimit]:
    """``{"POST /2/tweets": {"limit": 3, "window_seconds": 900}}`` (or ``[3, 900]`` or ``3``)."""
    limits: dict[tuple[str, str], RateLimit] = {}
    for key, value in raw.items():
        method, _, path = key.partition(" ")
        endpoint = (method.upper(), path)
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {key!r}; use one of {[' '.join(e) for e in ENDPOINTS]}")
        if isinstance(value, RateLimit):
            limits[endpoint] = value
        elif isinstance(value, int):
            limits[endpoint] = RateLimit(value)
        elif isinstance(value, Sequence) and len(value) == 2:
            limits[endpoint] = RateLimit(int(value[0]), float(value[1]))
        elif isinstance(value, Mapping):
            limits[endpoint] = RateLimit(int(value["limit"]), float(value.get("window_seconds", 900)))
        else:
            raise ValueError(f"bad rate limit for {key!r}: {value!r}")
    return limits


# ------------------------------------------------------------------------------------------------------ OAuth 1.0a


class AuthError(Exception):
    """Why a request failed OAuth 1.0a verification (kept in the request log; X itself only says 401)."""


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as RFC 5849 section 3.6 requires (unreserved: ALPHA, DIGIT, ``-._~``)."""
    return quote(value.encode("utf-8"), safe="-._~")


def parse_oauth_header(value: str) -> dict[str, str]:
    """Parses ``Authorization: OAuth k="v", ...`` (RFC 5849 section 3.5.1). Drops ``realm``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise AuthError(f"authorization scheme is {scheme!r}, not OAuth")
    params: dict[str, str] = {}
    for part in rest.split(","):
        item = part.strip()
        if not item:
            continue
        match = re.fullmatch(r'([A-Za-z0-9_%.~-]+)\s*=\s*"([^"]*)"', item)
        if match is None:
            raise AuthError(f"malformed OAuth header parameter {item!r}")
        name, raw_value = unquote(match.group(1)), unquote(match.group(2))
        if name in params:
            raise AuthError(f"OAuth parameter {name!r} given twice")
        params[name] = raw_value
    params.pop("realm", None)
    return params


def base_string_uri(base_url: str, path: str) -> str:
    """RFC 5849 section 3.4.1.2: lower-case scheme and host, default port dropped, no query or fragment."""
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}{path or '/'}"


def signature_base_string(method: str, uri: str, params: Sequence[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: ``METHOD&enc(uri)&enc(sorted, encoded name=value pairs joined by &)``."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in params)
    normalized = "&".join(f"{name}={value}" for name, value in encoded)
    return "&".join((method.upper(), percent_encode(uri), percent_encode(normalized)))


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base_string.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


# ----------------------------------------------------------------------------------------------------- image sniffing


def sniff_image(data: bytes) -> tuple[str, int | None, int | None] | None:
    """Returns (mime type, width, height) for the image formats X's one-shot upload takes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return ("image/png", width, height) if width and height else None
    if data.startswith(b"\xff\xd8\xff"):
        size = _jpeg_size(data)
        return ("image/jpeg", size[0], size[1]) if size else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("image/webp", None, None)
    if data[:2] == b"BM" and len(data) > 26:
        return ("image/bmp", None, None)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ("image/tiff", None, None)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if index + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return (width, height) if width and height else None
        index += 2 + length
    return None


# ------------------------------------------------------------------------------------------------ responses, errors


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An X error response: status, X's JSON body, extra headers, and a note for the request log."""

    def __init__(self, status: int, body: JSON, note: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(note or json.dumps(body))
        self.status = status
        self.body = body
        self.note = note
        self.headers = dict(headers or {})


def problem(status: int, detail: str | None = None, title: str | None = None, type_: str = "about:blank") -> JSON:
    """X's v2 problem body: ``{"title", "detail", "type", "status"}``."""
    phrase = HTTPStatus(status).phrase
    return {"title": title or phrase, "detail": detail or phrase, "type": type_, "status": status}


def invalid_request(message: str, parameters: Mapping[str, list[str]] | None = None) -> ApiError:
    """X's v2 400 body for a request that fails validation."""
    error: JSON = {"message": message}
    if parameters is not None:
        error = {"parameters": dict(parameters), "message": message}
    body = {
        "errors": [error],
        "title": "Invalid Request",
        "detail": INVALID_REQUEST_DETAIL,
        "type": INVALID_REQUEST_TYPE,
    }
    return ApiError(400, body, message)


def unauthorized(reason: str) -> ApiError:
    return ApiError(401, problem(401), reason)


# ---------------------------------------------------------------------------------------------------------- state


@dataclass
class MediaRecord:
    id: str
    user_id: str
    data: bytes
    mime_type: str
    declared_type: str | None
    media_category: str
    width: int | None
    height: int | None
    created_at: float
    alt_text: str | None = None

    def as_json(self) -> JSON:
        return {
            "id": self.id,
            "media_key": f"3_{self.id}",
            "user_id": self.user_id,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "mime_type": self.mime_type,
            "declared_media_type": self.declared_type,
            "media_category": self.media_category,
            "width": self.width,
            "height": self.height,
            "alt_text": self.alt_text,
            "created_at": self.created_at,
        }


@dataclass
class TweetRecord:
    id: str
    text: str
    user_id: str
    username: str
    media_ids: list[str]
    in_reply_to_tweet_id: str | None
    created_at: float
    body: JSON
    metrics: dict[str, int] = field(default_factory=dict)  # the settable public_metrics; unset ones are 0

    def as_json(self) -> JSON:
        return {
            "id": self.id,
            "text": self.text,
            "user_id": self.user_id,
            "username": self.username,
            "media_ids": list(self.media_ids),
            "in_reply_to_tweet_id": self.in_reply_to_tweet_id,
            "edit_history_tweet_ids": [self.id],
            "created_at": self.created_at,
            "body": copy.deepcopy(self.body),
        }


@dataclass
class Fault:
    id: int
    method: str | None
    path: str | None
    effect: JSON
    remaining: int | None  # None: until cleared

    @property
    def type(self) -> str:
        return str(self.effect["type"])

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)

    def as_json(self) -> JSON:
        match: JSON = {}
        if self.method is not None:
            match["method"] = self.method
        if self.path is not None:
            match["path"] = self.path
        return {"id": self.id, "match": match, "effect": dict(self.effect), "count": self.remaining}


def parse_fault(raw: Any, fault_id: int) -> Fault:
    """``{"match": {"method", "path"}, "effect": {"type", ...}, "count": 1}``; unknown keys are errors."""
    if not isinstance(raw, Mapping):
        raise ValueError("fault must be a JSON object")
    extra = set(raw) - {"match", "effect", "count"}
    if extra:
        raise ValueError(f"unknown fault keys {sorted(extra)}")
    match = raw.get("match", {})
    if not isinstance(match, Mapping) or set(match) - {"method", "path"}:
        raise ValueError("'match' takes only 'method' and 'path'")
    method, path = match.get("method"), match.get("path")
    if method is not None and not isinstance(method, str):
        raise ValueError("'match.method' must be a string")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise ValueError("'match.path' must be a path starting with '/'")
    effect = raw.get("effect")
    if not isinstance(effect, Mapping) or effect.get("type") not in FAULT_TYPES:
        raise ValueError(f"'effect.type' must be one of {sorted(FAULT_TYPES)}")
    effect = dict(effect)
    allowed = {
        "status": {"type", "status", "body", "headers"},
        "ratelimit": {"type", "reset_in", "scope"},
        "latency": {"type", "seconds"},
        "drop_after_create": {"type"},
        "reset_before": {"type"},
    }[effect["type"]]
    if set(effect) - allowed:
        raise ValueError(f"effect {effect['type']!r} takes only {sorted(allowed)}")
    if effect["type"] == "status":
        status = effect.get("status")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("'effect.status' must be an HTTP status code")
        if "headers" in effect and not isinstance(effect["headers"], Mapping):
            raise ValueError("'effect.headers' must be an object")
    elif effect["type"] == "ratelimit":
        reset_in = effect.setdefault("reset_in", 60)
        if not isinstance(reset_in, int | float) or reset_in < 0:
            raise ValueError("'effect.reset_in' must be a number of seconds")
        if effect.setdefault("scope", "window") not in ("window", "24hour"):
            raise ValueError("'effect.scope' must be 'window' or '24hour'")
    elif effect["type"] == "latency":
        seconds = effect.get("seconds")
        if not isinstance(seconds, int | float) or not 0 <= seconds <= 120:
            raise ValueError("'effect.seconds' must be between 0 and 120")
    count = raw.get("count", 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("'count' must be a positive integer or null (until cleared)")
    return Fault(fault_id, method.upper() if method else None, path, effect, count)


@dataclass
class _Window:
    count: int = 0
    reset_at: float = 0.0


@dataclass
class _FaultPlan:
    latency: float = 0.0
    terminal: Fault | None = None
    applied: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- the stub


class XStub(Served):
    """The X API v2 stub. ``XStub(credentials=[...]).start()``; then ``.url``, ``.state()``, ``.add_fault()``,
    ``.clear_faults()``, ``.set_metrics()``, ``.reset()``, ``.stop()``. Also a context manager."""

    thread_name = "x-stub"

    def __init__(
        self,
        credentials: Sequence[Credential | Mapping[str, Any]],
        *,
        user: User | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        signed_base_url: str = DEFAULT_SIGNED_BASE_URL,
        rate_limits: Mapping[str, Any] | None = None,
        tweets_24h_limit: int = DEFAULT_TWEETS_24H,
        max_weighted_length: int = MAX_WEIGHTED_LENGTH,
        timestamp_skew: float | None = DEFAULT_TIMESTAMP_SKEW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the stub binds to loopback only")
        default_user = user if isinstance(user, User) else user_from_mapping(user) if user else DEFAULT_USER
        self.credentials: list[Credential] = []
        for raw in credentials:
            credential = raw if isinstance(raw, Credential) else Credential.from_mapping(raw)
            if credential.user is None:
                credential = Credential(
                    credential.api_key,
                    credential.api_secret,
                    credential.access_token,
                    credential.access_secret,
                    default_user,
                )
            self.credentials.append(credential)
        if not self.credentials:
            raise ValueError("the stub needs at least one credential set")
        self.host, self.port = host, port
        self.signed_base_url = signed_base_url.rstrip("/")
        self.rate_limits = dict(DEFAULT_RATE_LIMITS)
        self.rate_limits.update(parse_rate_limits(rate_limits or {}))
        self.tweets_24h_limit = tweets_24h_limit
        self.max_weighted_length = max_weighted_length
        self.timestamp_skew = timestamp_skew
        self.clock = clock
        self._lock = threading.RLock()
        self._last_id = 0
        self._next_fault_id = 1
        self._clear()

    # ---- lifecycle (the rest: Served)

    def _make_server(self) -> ThreadingHTTPServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        return server_class((self.host, self.port), _Handler, self)

    def _closing(self, server: ThreadingHTTPServer) -> None:
        cast(_Server, server).close_connections()

    # ---- control (also reachable over HTTP under /_stub/)

    def state(self) -> JSON:
        """Everything received: tweets (with their public_metrics), media (without bytes), the request log, active
        faults, and the posts each user has read."""
        with self._lock:
            return {
                "tweets": [{**t.as_json(), "public_metrics": self._public_metrics(t)} for t in self._tweets.values()],
                "media": [media.as_json() for media in self._media.values()],
                "requests": copy.deepcopy(self._requests),
                "faults": [fault.as_json() for fault in self._faults],
                "users": list({c.user.id: c.user.as_json() for c in self.credentials if c.user}.values()),
                "reads": dict(self._reads),
            }

    def media_bytes(self, media_id: str) -> bytes:
        with self._lock:
            return self._media[media_id].data

    def add_fault(
        self,
        fault: Mapping[str, Any] | None = None,
        *,
        match: Mapping[str, Any] | None = None,
        effect: Mapping[str, Any] | None = None,
        count: int | None = 1,
    ) -> JSON:
        """``add_fault({"match": ..., "effect": ..., "count": 1})`` or ``add_fault(match=..., effect=...)``."""
        raw: Mapping[str, Any] = (
            fault if fault is not None else {"match": match or {}, "effect": effect, "count": count}
        )
        with self._lock:
            parsed = parse_fault(raw, self._next_fault_id)
            self._next_fault_id += 1
            self._faults.append(parsed)
            return parsed.as_json()

    def clear_faults(self) -> int:
        with self._lock:
            cleared = len(self._faults)
            self._faults.clear()
            return cleared

    def set_metrics(self, tweet_id: str, **counts: int) -> JSON:
        """Sets any of ``SETTABLE_METRICS`` of a tweet (others keep their value); returns its public_metrics.
        KeyError for an unknown tweet, ValueError for an unknown name or a count that is not an integer >= 0."""
        unknown = sorted(set(counts) - set(SETTABLE_METRICS))
        if unknown:
            raise ValueError(f"cannot set {unknown}: set any of {list(SETTABLE_METRICS)} (reply_count counts replies)")
        for name, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        with self._lock:
            record = self._tweets.get(tweet_id)
            if record is None:
                raise KeyError(f"no tweet {tweet_id}")
            record.metrics.update(counts)
            return self._public_metrics(record)

    def reset(self) -> None:
        """Forgets tweets, media, the request log, faults, rate-limit counters, reads and seen nonces."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._tweets: dict[str, TweetRecord] = {}
        self._media: dict[str, MediaRecord] = {}
        self._requests: list[JSON] = []
        self._faults: list[Fault] = []
        self._windows: dict[tuple[str, tuple[str, str]], _Window] = {}
        self._daily: dict[str, _Window] = {}
        self._nonces: dict[tuple[str, str, str], float] = {}
        self._reads: dict[str, int] = {}

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        try:
            if (method, path) == ("GET", "/_stub/state"):
                return Reply(200, self.state())
            if (method, path) == ("POST", "/_stub/reset"):
                self.reset()
                return Reply(200, {"reset": True})
            if (method, path) == ("GET", "/_stub/faults"):
                return Reply(200, self.state()["faults"])
            if (method, path) == ("DELETE", "/_stub/faults"):
                return Reply(200, {"cleared": self.clear_faults()})
            if (method, path) == ("POST", "/_stub/faults"):
                return Reply(201, self.add_fault(json.loads(body or b"null")))
            if (method, path) == ("POST", "/_stub/metrics"):
                raw = json.loads(body or b"null")
                if not isinstance(raw, dict) or not isinstance(raw.get("tweet_id"), str):
                    raise ValueError('the body must be {"tweet_id": "<id>", "<metric>": <count>, ...}')
                counts = {name: value for name, value in raw.items() if name != "tweet_id"}
                return Reply(200, self.set_metrics(raw["tweet_id"], **counts))
        except KeyError as exc:
            return Reply(404, {"error": str(exc.args[0])})
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": f"no control endpoint {method} {path}"})

    # ---- faults

    def _plan_faults(self, method: str, path: str) -> _FaultPlan:
        plan = _FaultPlan()
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                plan.applied.append(fault.id)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                if fault.type == "latency":
                    plan.latency += float(fault.effect["seconds"])
                    continue
                plan.terminal = fault
                break
        return plan

    def _log(self, entry: JSON) -> None:
        with self._lock:
            self._requests.append(entry)

    # ---- the API

    def _api(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, plan: _FaultPlan
    ) -> Reply:
        """One X API request (``headers`` keyed by lower-case name) -> the reply; logs it in the request log.
        ``status``/``ratelimit`` faults answer only after the OAuth check passed (so they carry the user's limits)."""
        endpoint = (method, path)
        entry: JSON = {"method": method, "path": path, "time": self.clock(), "user_id": None, "faults": plan.applied}
        rate_headers: dict[str, str] = {}
        try:
            if endpoint not in ENDPOINTS:
                raise ApiError(404, problem(404, "Could not find requested resource", "Not Found Error"), "no route")
            credential = self._authenticate(method, path, query, headers, body)
            user = cast(User, credential.user)
            entry["user_id"] = user.id
            with self._lock:
                fault = plan.terminal
                if fault is not None and fault.type in ("status", "ratelimit"):
                    reply = self._fault_reply(fault, user, endpoint)
                else:
                    rate_headers = self._take_rate_limit(user, endpoint)
                    reply = self._route(endpoint, user, query, headers, body)
                    reply.headers.update(rate_headers)
                    if endpoint == TWEETS:
                        reply.headers.update(self._daily_headers(user))
        except ApiError as error:
            reply = Reply(error.status, error.body, {**rate_headers, **error.headers})
            if endpoint == TWEETS and entry["user_id"] is not None:
                with self._lock:
                    reply.headers.update(self._daily_headers(self._user(entry["user_id"])))
            entry["error"] = error.note
        entry["status"] = reply.status
        entry["dropped"] = plan.terminal is not None and plan.terminal.type == "drop_after_create"
        self._log(entry)
        return reply

    def _user(self, user_id: str) -> User:
        for credential in self.credentials:
            if credential.user is not None and credential.user.id == user_id:
                return credential.user
        raise KeyError(user_id)

    def _authenticate(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Credential:
        header = headers.get("authorization")
        if not header:
            raise unauthorized("no Authorization header")
        if header.strip().lower().startswith("bearer "):
            body_403 = problem(403, UNSUPPORTED_AUTH_DETAIL, "Unsupported Authentication", UNSUPPORTED_AUTH_TYPE)
            raise ApiError(403, body_403, "app-only bearer token on a user-context endpoint")
        try:
            oauth = parse_oauth_header(header)
        except AuthError as exc:
            raise unauthorized(str(exc)) from None
        missing = [name for name in OAUTH_REQUIRED if not oauth.get(name)]
        if missing:
            raise unauthorized(f"missing OAuth parameters {missing}")
        if oauth["oauth_signature_method"] != "HMAC-SHA1":
            raise unauthorized(f"oauth_signature_method {oauth['oauth_signature_method']!r} is not HMAC-SHA1")
        if oauth["oauth_version"] != "1.0":
            raise unauthorized(f"oauth_version {oauth['oauth_version']!r} is not 1.0")
        if not oauth["oauth_timestamp"].isdigit():
            raise unauthorized("oauth_timestamp is not a number")
        timestamp = int(oauth["oauth_timestamp"])
        now = self.clock()
        if self.timestamp_skew is not None and abs(now - timestamp) > self.timestamp_skew:
            raise unauthorized(f"oauth_timestamp {timestamp} is more than {self.timestamp_skew:g}s from now")
        credential = next(
            (
                c
                for c in self.credentials
                if hmac.compare_digest(c.api_key, oauth["oauth_consumer_key"])
                and hmac.compare_digest(c.access_token, oauth["oauth_token"])
            ),
            None,
        )
        if credential is None:
            raise unauthorized("unknown consumer key or access token")
        params = [(name, value) for name, value in oauth.items() if name != "oauth_signature"]
        params += parse_qsl(query, keep_blank_values=True)
        if "application/x-www-form-urlencoded" in headers.get("content-type", "").lower():
            params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        base = signature_base_string(method, base_string_uri(self.signed_base_url, path), params)
        expected = hmac_sha1_signature(base, credential.api_secret, credential.access_secret)
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            raise unauthorized(f"signature mismatch (base string {base!r})")
        key = (credential.api_key, credential.access_token, oauth["oauth_nonce"])
        with self._lock:
            if self.timestamp_skew is not None:
                horizon = now - 2 * self.timestamp_skew
                self._nonces = {k: t for k, t in self._nonces.items() if t >= horizon}
            if key in self._nonces:
                raise unauthorized(f"nonce {oauth['oauth_nonce']!r} already used")
            self._nonces[key] = float(timestamp)
        return credential

    # ---- rate limits

    def _window(self, user: User, endpoint: tuple[str, str]) -> tuple[RateLimit, _Window]:
        limit = self.rate_limits[endpoint]
        window = self._windows.setdefault((user.id, endpoint), _Window())
        now = self.clock()
        if window.reset_at <= now:
            window.count, window.reset_at = 0, now + limit.window_seconds
        return limit, window

    def _take_rate_limit(self, user: User, endpoint: tuple[str, str]) -> dict[str, str]:
        limit, window = self._window(user, endpoint)
        if window.count >= limit.limit:
            headers = _rate_headers(limit.limit, 0, window.reset_at)
            raise ApiError(429, problem(429), "rate limit window exhausted", headers)
        daily = self._daily_window(user)
        if endpoint == TWEETS and daily.count >= self.tweets_24h_limit:
            window.count += 1
            headers = _rate_headers(limit.limit, limit.limit - window.count, window.reset_at)
            raise ApiError(429, problem(429), "24-hour user limit exhausted", headers)
        window.count += 1
        return _rate_headers(limit.limit, limit.limit - window.count, window.reset_at)

    def _daily_window(self, user: User) -> _Window:
        window = self._daily.setdefault(user.id, _Window())
        now = self.clock()
        if window.reset_at <= now:
            window.count, window.reset_at = 0, now + 86_400
        return window

    def _daily_headers(self, user: User) -> dict[str, str]:
        window = self._daily_window(user)
        return {
            "x-user-limit-24hour-limit": str(self.tweets_24h_limit),
            "x-user-limit-24hour-remaining": str(max(0, self.tweets_24h_limit - window.count)),
            "x-user-limit-24hour-reset": str(int(window.reset_at)),
        }

    def _fault_reply(self, fault: Fault, user: User, endpoint: tuple[str, str]) -> Reply:
        limit, window = self._window(user, endpoint)
        headers = _rate_headers(limit.limit, max(0, limit.limit - window.count), window.reset_at)
        if endpoint == TWEETS:
            headers.update(self._daily_headers(user))
        if fault.type == "ratelimit":
            reset_at = self.clock() + float(fault.effect["reset_in"])
            if fault.effect["scope"] == "24hour":
                headers["x-user-limit-24hour-remaining"] = "0"
                headers["x-user-limit-24hour-reset"] = str(int(reset_at))
            else:
                headers.update(_rate_headers(limit.limit, 0, reset_at))
            return Reply(429, problem(429), headers)
        status = int(fault.effect["status"])
        headers.update({str(k): str(v) for k, v in fault.effect.get("headers", {}).items()})
        return Reply(status, fault.effect.get("body", problem(status)), headers)

    # ---- endpoints

    def _route(
        self, endpoint: tuple[str, str], user: User, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        if endpoint == ME:
            for name, _ in parse_qsl(query, keep_blank_values=True):
                if name not in ME_QUERY_PARAMS:
                    allowed = ",".join(ME_QUERY_PARAMS)
                    raise invalid_request(f"The query parameter [{name}] is not one of [{allowed}]", {name: [name]})
            return Reply(200, {"data": user.as_json()})
        if endpoint == LOOKUP:
            return self._lookup(user, query)
        payload = _json_body(headers, body)
        if endpoint == UPLOAD:
            return self._upload(user, payload)
        if endpoint == METADATA:
            return self._metadata(user, payload)
        return self._create_tweet(user, payload)

    def _new_id(self) -> str:
        candidate = (int(self.clock() * 1000) - TWITTER_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _upload(self, user: User, payload: JSON) -> Reply:
        extra = set(payload) - {"media", "media_category", "media_type", "shared", "additional_owners"}
        if extra:
            name = sorted(extra)[0]
            raise invalid_request(_NOT_IN_SCHEMA.format(name=name))
        media, category, declared = payload.get("media"), payload.get("media_category"), payload.get("media_type")
        if not isinstance(media, str) or not media:
            raise invalid_request("$.media: is missing but it is required", {"media": []})
        if category not in ONE_SHOT_CATEGORIES:
            raise invalid_request(
                f"$.media_category: does not have a value in the enumeration {sorted(ONE_SHOT_CATEGORIES)}",
                {"media_category": [str(category)]},
            )
        if declared is not None and declared not in IMAGE_TYPES:
            raise invalid_request(
                f"$.media_type: does not have a value in the enumeration {sorted(IMAGE_TYPES)}",
                {"media_type": [str(declared)]},
            )
        try:
            data = base64.b64decode(media, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_request("$.media: is not valid base64", {"media": []}) from None
        if len(data) > MAX_IMAGE_BYTES:
            raise invalid_request(
                f"File size exceeds {MAX_IMAGE_BYTES} bytes (got {len(data)}).", {"media": [f"{len(data)} bytes"]}
            )
        sniffed = sniff_image(data)
        if sniffed is None:
            raise invalid_request("media type unrecognized: the bytes are not a supported image", {"media": []})
        mime, width, height = sniffed
        if declared is not None and declared.replace("pjpeg", "jpeg") != mime:
            raise invalid_request(
                f"media_type {declared} does not match the uploaded bytes ({mime})", {"media_type": [declared]}
            )
        media_id = self._new_id()
        record = MediaRecord(media_id, user.id, data, mime, declared, str(category), width, height, self.clock())
        self._media[media_id] = record
        data_json = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(data),
            "expires_after_secs": MEDIA_EXPIRES_AFTER_SECS,
        }
        return Reply(200, {"data": data_json})

    def _owned_media(self, user: User, media_id: Any) -> MediaRecord | None:
        if not isinstance(media_id, str):
            return None
        record = self._media.get(media_id)
        if record is None or record.user_id != user.id:
            return None
        if self.clock() - record.created_at > MEDIA_EXPIRES_AFTER_SECS:
            return None
        return record

    def _metadata(self, user: User, payload: JSON) -> Reply:
        media_id, metadata = payload.get("id"), payload.get("metadata")
        if not isinstance(media_id, str) or not media_id.isdigit():
            raise invalid_request("$.id: is missing or not a numeric string", {"id": [str(media_id)]})
        if not isinstance(metadata, dict):
            raise invalid_request("$.metadata: is missing but it is required", {"metadata": []})
        alt = metadata.get("alt_text")
        if alt is not None and (not isinstance(alt, dict) or not isinstance(alt.get("text"), str)):
            raise invalid_request("$.metadata.alt_text.text: must be a string", {"metadata.alt_text.text": []})
        if alt is not None and len(alt["text"]) > MAX_ALT_TEXT_CHARS:
            raise invalid_request(
                f"$.metadata.alt_text.text: must be at most {MAX_ALT_TEXT_CHARS} characters long",
                {"metadata.alt_text.text": [f"{len(alt['text'])} characters"]},
            )
        record = self._owned_media(user, media_id)
        if record is None:
            raise invalid_request(f"Media id {media_id} not found.", {"id": [media_id]})
        associated: JSON = {}
        if alt is not None:
            record.alt_text = alt["text"]
            associated["alt_text"] = {"text": alt["text"]}
        return Reply(200, {"data": {"id": media_id, "associated_metadata": associated}})

    def _create_tweet(self, user: User, payload: JSON) -> Reply:
        extra = set(payload) - TWEET_FIELDS
        if extra:
            name = sorted(extra)[0]
            raise invalid_request(_NOT_IN_SCHEMA.format(name=name))
        text = payload.get("text")
        if text is not None and not isinstance(text, str):
            raise invalid_request("$.text: string found, but expected a string", {"text": [str(text)]})
        media_ids = self._tweet_media_ids(payload.get("media"))
        reply_to = self._reply_target(payload.get("reply"))
        if not text and not media_ids:
            raise invalid_request("Post text is empty.", {"text": [""]})
        text = text or ""
        if parse_tweet(text).weightedLength > self.max_weighted_length:
            raise invalid_request(TOO_LONG_MESSAGE)
        if media_ids:
            if len(media_ids) > MAX_MEDIA_PER_TWEET:
                raise invalid_request(
                    f"$.media.media_ids: must have at most {MAX_MEDIA_PER_TWEET} items",
                    {"media.media_ids": media_ids},
                )
            if any(self._owned_media(user, media_id) is None for media_id in media_ids):
                raise invalid_request(INVALID_MEDIA_MESSAGE, {"media.media_ids": media_ids})
        if reply_to is not None and reply_to not in self._tweets:
            raise ApiError(403, problem(403, REPLY_NOT_VISIBLE_DETAIL), "reply target unknown")
        if text and any(t.user_id == user.id and t.text == text for t in self._tweets.values()):
            raise ApiError(403, problem(403, DUPLICATE_DETAIL), "duplicate content")
        tweet_id = self._new_id()
        record = TweetRecord(
            tweet_id, text, user.id, user.username, media_ids, reply_to, self.clock(), copy.deepcopy(payload)
        )
        self._tweets[tweet_id] = record
        self._daily_window(user).count += 1
        return Reply(201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}})

    def _lookup(self, user: User, query: str) -> Reply:
        params: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name not in LOOKUP_QUERY_PARAMS:
                allowed = ",".join(LOOKUP_QUERY_PARAMS)
                raise invalid_request(f"The query parameter [{name}] is not one of [{allowed}]", {name: [value]})
            if name in params:
                raise invalid_request(
                    f"Duplicate parameters are not allowed: the `{name}` query parameter", {name: [params[name], value]}
                )
            params[name] = value
        raw_ids = params.get("ids", "")
        if not raw_ids:
            raise invalid_request("The `ids` query parameter can not be empty", {"ids": [raw_ids]})
        ids = raw_ids.split(",")
        if len(ids) > MAX_LOOKUP_IDS:
            raise invalid_request(
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 and "
                f"{MAX_LOOKUP_IDS}",
                {"ids": [raw_ids]},
            )
        for tweet_id in ids:
            if not re.fullmatch(r"[0-9]{1,19}", tweet_id):
                raise invalid_request(
                    f"The `ids` query parameter value [{tweet_id}] does not match ^[0-9]{{1,19}}$", {"ids": [tweet_id]}
                )
        fields = params["tweet.fields"].split(",") if "tweet.fields" in params else []
        for name in fields:
            if name not in LOOKUP_TWEET_FIELDS.split(","):
                raise invalid_request(
                    f"The `tweet.fields` query parameter value [{name}] is not one of [{LOOKUP_TWEET_FIELDS}]",
                    {"tweet.fields": [params["tweet.fields"]]},
                )
        data: list[JSON] = []
        errors: list[JSON] = []
        for tweet_id in ids:
            record = self._tweets.get(tweet_id)
            if record is None:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with ids: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": tweet_id,
                        "type": NOT_FOUND_TYPE,
                    }
                )
                continue
            tweet: JSON = {"id": record.id, "text": record.text, "edit_history_tweet_ids": [record.id]}
            if "public_metrics" in fields:
                tweet["public_metrics"] = self._public_metrics(record)
            data.append(tweet)
        if data:  # X bills by posts returned, not by requests: a tally the caller's budget checks can be held to
            self._reads[user.id] = self._reads.get(user.id, 0) + len(data)
        # Partial success is still a 200; X leaves "data" out entirely when nothing was found.
        return Reply(200, ({"data": data} if data else {}) | ({"errors": errors} if errors else {}))

    def _public_metrics(self, record: TweetRecord) -> JSON:
        replies = sum(1 for t in self._tweets.values() if t.in_reply_to_tweet_id == record.id)
        return {name: replies if name == "reply_count" else record.metrics.get(name, 0) for name in PUBLIC_METRICS}

    @staticmethod
    def _tweet_media_ids(media: Any) -> list[str]:
        if media is None:
            return []
        if not isinstance(media, dict) or set(media) - {"media_ids", "tagged_user_ids"}:
            raise invalid_request("$.media: takes only media_ids and tagged_user_ids", {"media": []})
        ids = media.get("media_ids")
        if not isinstance(ids, list) or not ids:
            raise invalid_request("$.media.media_ids: must be a non-empty array", {"media.media_ids": []})
        for item in ids:
            if not isinstance(item, str) or not re.fullmatch(r"[0-9]{1,19}", item):
                raise invalid_request(
                    f"$.media.media_ids: {json.dumps(item)} does not match the regex pattern ^[0-9]{{1,19}}$",
                    {"media.media_ids": [str(item)]},
                )
        return [str(item) for item in ids]

    @staticmethod
    def _reply_target(reply: Any) -> str | None:
        if reply is None:
            return None
        if not isinstance(reply, dict) or set(reply) - {"in_reply_to_tweet_id", "exclude_reply_user_ids"}:
            raise invalid_request("$.reply: takes only in_reply_to_tweet_id and exclude_reply_user_ids", {"reply": []})
        target = reply.get("in_reply_to_tweet_id")
        if not isinstance(target, str) or not re.fullmatch(r"[0-9]{1,19}", target):
            raise invalid_request(
                "$.reply.in_reply_to_tweet_id: must be a numeric string", {"reply.in_reply_to_tweet_id": [str(target)]}
            )
        return target


def _rate_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(max(0, remaining)),
        "x-rate-limit-reset": str(int(reset_at)),
    }


def _json_body(headers: Mapping[str, str], body: bytes) -> JSON:
    content_type = headers.get("content-type", "")
    if "application/json" not in content_type.lower():
        raise invalid_request(f"Content-Type {content_type or '(none)'} is not supported: send application/json")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise invalid_request("The request body must be a JSON object")
    return payload


# ------------------------------------------------------------------------------------------------------ HTTP layer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stub: XStub) -> None:
        self.stub = stub
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """Ends idle keep-alive connections so their threads finish (a stopped stub answers nothing)."""
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "x-stub"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without TCP_NODELAY every answer waits ~40 ms for an ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self._server.connections_lock:
                self._server.connections.discard(self.connection)

    @property
    def _server(self) -> _Server:
        return cast(_Server, self.server)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stub keeps its own request log (``state()["requests"]``)."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Reply(411, problem(411, "Send a Content-Length; chunked bodies are not supported")))
            self.close_connection = True
            return None
        raw_length = self.headers.get("Content-Length", "0") or "0"
        if not raw_length.isdigit():
            self._send(Reply(400, problem(400, "Bad Content-Length")))
            self.close_connection = True
            return None
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self._send(Reply(413, problem(413)))
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        stub = self._server.stub
        method = self.command.upper()
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        if path == "/_stub" or path.startswith("/_stub/"):
            self._send(stub._control(method, path, body))
            return
        plan = stub._plan_faults(method, path)
        terminal = plan.terminal
        if terminal is not None and terminal.type == "reset_before":
            entry = {"method": method, "path": path, "time": stub.clock(), "user_id": None, "faults": plan.applied}
            stub._log({**entry, "status": None, "dropped": True, "error": "connection reset by fault"})
            self._reset()
            return
        if plan.latency:
            time.sleep(plan.latency)
        headers = {name.lower(): value for name, value in self.headers.items()}  # lookups use lower-case names
        reply = stub._api(method, path, query, headers, body, plan)
        if terminal is not None and terminal.type == "drop_after_create":
            self.close_connection = True  # processed, but the answer is lost: close without a byte
            return
        self._send(reply)

    def _reset(self) -> None:
        """Closes the connection with a TCP RST (SO_LINGER 0) and no response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


# ------------------------------------------------------------------------------------- control client (over HTTP)


class XStubControl:
    """The ``/_stub/`` control API of a stub running in another process: ``XStubControl(url).state()``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http URL: {url!r}")
        self.url = url.rstrip("/")
        self._host, self._port, self._timeout = parts.hostname, parts.port or 80, timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            body = None if payload is None else json.dumps(payload).encode("utf-8")
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = json.loads(response.read() or b"null")
        finally:
            connection.close()
        if response.status >= 400:
            raise ValueError(f"{method} {path}: {response.status} {data}")
        return data

    def state(self) -> JSON:
        return cast(JSON, self._call("GET", "/_stub/state"))

    def add_fault(
        self,
        fault: Mapping[str, Any] | None = None,
        *,
        match: Mapping[str, Any] | None = None,
        effect: Mapping[str, Any] | None = None,
        count: int | None = 1,
    ) -> JSON:
        raw = dict(fault) if fault is not None else {"match": dict(match or {}), "effect": effect, "count": count}
        return cast(JSON, self._call("POST", "/_stub/faults", raw))

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/_stub/faults")["cleared"])

    def reset(self) -> None:
        self._call("POST", "/_stub/reset", {})

    def set_metrics(self, tweet_id: str, **counts: int) -> JSON:
        return cast(JSON, self._call("POST", "/_stub/metrics", {"tweet_id": tweet_id, **counts}))


# ------------------------------------------------------------------------------------------------------------ CLI


def _json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--{what} is not valid JSON: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peers.x_stub.server",
        description="Local stub of the X API v2 endpoints the adapter uses; prints 'READY <url>' once listening.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("X_STUB_PORT", "0")), help="0: any free port")
    parser.add_argument(
        "--credentials-json",
        default=os.environ.get("X_STUB_CREDENTIALS"),
        help='list of {"api_key","api_secret","access_token","access_secret","user":{"id","username"}} '
        "(env X_STUB_CREDENTIALS)",
    )
    parser.add_argument("--user-json", default=os.environ.get("X_STUB_USER"), help='default user {"id","username"}')
    parser.add_argument("--signed-base-url", default=os.environ.get("X_STUB_SIGNED_BASE_URL", DEFAULT_SIGNED_BASE_URL))
    parser.add_argument("--rate-limits-json", default=os.environ.get("X_STUB_RATE_LIMITS"))
    parser.add_argument("--tweets-24h-limit", type=int, default=int(os.environ.get("X_STUB_TWEETS_24H", "100")))
    parser.add_argument("--max-weighted-length", type=int, default=MAX_WEIGHTED_LENGTH)
    parser.add_argument("--timestamp-skew", type=float, default=DEFAULT_TIMESTAMP_SKEW, help="seconds; <0 disables")
    args = parser.parse_args(argv)

    credentials = _json_arg(args.credentials_json, "credentials-json")
    if isinstance(credentials, dict):
        credentials = [credentials]
    if not isinstance(credentials, list) or not credentials:
        raise SystemExit("give --credentials-json (or X_STUB_CREDENTIALS): a JSON list of credential sets")
    try:
        stub = XStub(
            credentials=credentials,
            user=_json_arg(args.user_json, "user-json"),
            port=args.port,
            signed_base_url=args.signed_base_url,
            rate_limits=_json_arg(args.rate_limits_json, "rate-limits-json"),
            tweets_24h_limit=args.tweets_24h_limit,
            max_weighted_length=args.max_weighted_length,
            timestamp_skew=None if args.timestamp_skew < 0 else args.timestamp_skew,
        ).start()
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"bad configuration: {exc}") from None

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write(f"READY {stub.url}\n")
    sys.stdout.flush()
    stopping.wait()
    stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
