"""A local stand-in for the Bluesky AppView's ``app.bsky.feed.getPosts``, standard library only.

A PDS stores records but serves no engagement counts: those come from an AppView, which indexes every repo of
the network. This stub plays that AppView for one local PDS, reading it live on every request (tests are small):

- ``GET /xrpc/app.bsky.feed.getPosts?uris=at://...&uris=...`` (lexicon ``app.bsky.feed.getPosts``): no auth, as
  https://public.api.bsky.app. 1 to 25 at-uris, else 400 ``InvalidRequest``; a malformed at-uri -> 400. Each
  post is read with ``com.atproto.repo.getRecord``; URIs with no such record are left out of ``posts``. Counts
  come from every repo (``com.atproto.sync.listRepos``) and its ``app.bsky.feed.like``/``repost``/``post``
  records (``com.atproto.repo.listRecords``): likes and reposts by ``subject.uri``, replies by
  ``reply.parent.uri``, quotes by an ``app.bsky.embed.record`` (or ``recordWithMedia``) embed of the post.
- ``GET /xrpc/_health`` -> ``{"version": ...}``, as the AppView answers.

Test control API under ``/_stub/`` (not part of Bluesky): ``POST /_stub/faults`` ``{"status": 429, "count": 1,
"headers": {...}, "error": ..., "message": ...}`` makes the next ``count`` getPosts calls answer ``status`` with
an XRPC error body (429 carries ``ratelimit-*`` headers unless given); ``DELETE /_stub/faults`` clears them;
``GET /_stub/calls`` -> ``{"count": N, "calls": [{"uris": n, "status": s}, ...]}``; ``DELETE /_stub/calls``.

Run: ``python -m tests.peers.appview.server --pds http://127.0.0.1:2583 --port 0`` prints
``READY http://127.0.0.1:<port>`` once it listens. From Python: ``AppViewStub(pds_url).start()``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.peers.serving import Served

JSON = dict[str, Any]

GET_POSTS: Final = "app.bsky.feed.getPosts"
MAX_URIS: Final = 25  # lexicon: uris maxLength 25
POST: Final = "app.bsky.feed.post"
LIKE: Final = "app.bsky.feed.like"
REPOST: Final = "app.bsky.feed.repost"
PROFILE: Final = "app.bsky.actor.profile"
PAGE: Final = 100  # the largest page listRepos and listRecords serve
COUNTS: Final = ("replyCount", "repostCount", "likeCount", "quoteCount")

# @atproto/xrpc's ResponseType names: the `error` of an XRPC error body for each status.
XRPC_ERRORS: Final = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("XRPCNotSupported", "XRPC Not Supported"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}
RATE_LIMIT: Final = 3000  # Bluesky's per-IP budget: 3000 requests per 5 minutes
RATE_WINDOW: Final = 300

# @atproto/syntax, strict mode (what the lexicon's `at-uri` format checks).
_AT_URI: Final = re.compile(
    r"at://(?P<authority>[^/?#\s]+)(?:/(?P<collection>[^/?#\s]+)(?:/(?P<rkey>[^/?#\s]+))?)?(?:#(?P<hash>\S*))?"
)
_AT_URI_CHARS: Final = re.compile(r"[a-zA-Z0-9._~:@!$&'()*+,;=%/\\\[\]#?-]*")
_DID: Final = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_HANDLE: Final = re.compile(r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_NSID: Final = re.compile(
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
    r"(?:\.[a-zA-Z][a-zA-Z0-9]{0,62})"
)
_RKEY: Final = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")
_JSON_POINTER: Final = re.compile(r"/[a-zA-Z0-9._~:@!$&')(*+,;=%\[\]/-]*")


def parse_at_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """(authority, collection, rkey) of a valid at-uri, or None: the checks of @atproto/syntax, strict."""
    match = _AT_URI.fullmatch(uri) if len(uri) <= 8192 and _AT_URI_CHARS.fullmatch(uri) else None
    if match is None:
        return None
    authority, collection, rkey, fragment = match.group("authority", "collection", "rkey", "hash")
    valid = (
        (bool(_DID.fullmatch(authority)) and len(authority) <= 2048)
        or (bool(_HANDLE.fullmatch(authority)) and len(authority) <= 253)
    ) and (collection is None or (bool(_NSID.fullmatch(collection)) and len(collection) <= 317))
    valid = valid and (rkey is None or (bool(_RKEY.fullmatch(rkey)) and rkey not in (".", "..")))
    valid = valid and (fragment is None or bool(_JSON_POINTER.fullmatch(fragment)))
    return (authority, collection, rkey) if valid else None


class XrpcError(Exception):
    def __init__(self, status: int, message: str | None = None, error: str | None = None) -> None:
        name, default = XRPC_ERRORS.get(status, ("InternalServerError", "Internal Server Error"))
        self.status, self.error, self.message = status, error or name, message or default
        super().__init__(f"{status} {self.error}: {self.message}")

    def body(self) -> JSON:
        return {"error": self.error, "message": self.message}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... or None: records from other clients need not have the shape we look for."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _references(collection: str, record: Any) -> Iterator[tuple[str, Any]]:
    """(count name, post uri) pairs a record adds to, the way the AppView's indexer aggregates them."""
    if collection == LIKE:
        yield "likeCount", _dig(record, "subject", "uri")
    elif collection == REPOST:
        yield "repostCount", _dig(record, "subject", "uri")
    else:
        yield "replyCount", _dig(record, "reply", "parent", "uri")  # direct replies only
        embed = _dig(record, "embed")
        if _dig(embed, "$type") == "app.bsky.embed.record":
            yield "quoteCount", _dig(embed, "record", "uri")
        elif _dig(embed, "$type") == "app.bsky.embed.recordWithMedia":
            yield "quoteCount", _dig(embed, "record", "record", "uri")


class _Pds:
    """An XRPC reader of the PDS on one keep-alive connection, opened per getPosts call: never shared between
    the server's threads (http.client connections are not thread-safe)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        self._prefix = parts.path.rstrip("/")

    def close(self) -> None:
        self._connection.close()

    def query(self, nsid: str, *, missing_ok: bool = True, **params: str | int | None) -> JSON | None:
        """The query's output; None for a 400/404 when missing_ok (no such repo or record). Anything else the
        PDS cannot answer is an upstream failure: the stub must not invent an empty answer."""
        path = f"{self._prefix}/xrpc/{nsid}?{urlencode({k: v for k, v in params.items() if v is not None})}"
        try:
            self._connection.request("GET", path)
            response = self._connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()  # http.client reopens it on the next request
            raise XrpcError(502, f"the PDS did not answer {nsid}: {exc}") from exc
        if response.status in (400, 404) and missing_ok:
            return None
        if response.status != 200:
            raise XrpcError(502, f"the PDS answered {nsid} with HTTP {response.status}: {body[:200]!r}")
        return cast(JSON, json.loads(body))

    def pages(self, nsid: str, key: str, *, missing_ok: bool = True, **params: str | None) -> Iterator[JSON]:
        cursor: str | None = None
        while True:
            page = self.query(nsid, missing_ok=missing_ok, limit=PAGE, cursor=cursor, **params)
            items = [] if page is None else cast(list[JSON], page.get(key) or [])
            yield from items
            cursor = None if page is None else page.get("cursor")
            if not cursor or not items:
                return


@dataclass
class _Fault:
    status: int
    remaining: int
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    message: str | None = None

    def as_json(self) -> JSON:
        return {"status": self.status, "count": self.remaining, "headers": self.headers}


def _parse_fault(raw: Any) -> _Fault:
    if not isinstance(raw, dict) or not isinstance(raw.get("status"), int) or not 400 <= raw["status"] <= 599:
        raise ValueError('a fault is {"status": 400..599, "count": N, "headers": {...}}')
    count, headers = raw.get("count", 1), raw.get("headers") or {}
    if not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    error, message = raw.get("error"), raw.get("message")
    return _Fault(raw["status"], count, {str(k).lower(): str(v) for k, v in headers.items()}, error, message)


class AppViewStub(Served):
    """``AppViewStub(pds_url).start()``; then ``.url``, ``.add_fault()``, ``.clear_faults()``, ``.calls()``,
    ``.clear_calls()``, ``.stop()``. Also a context manager."""

    thread_name = "appview-stub"

    def __init__(self, pds_url: str, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> None:
        self.pds_url, self.host, self.port, self.timeout = pds_url.rstrip("/"), host, port, timeout
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._calls: list[JSON] = []
        self._indexed: dict[str, str] = {}  # uri -> indexedAt: when the stub first saw the post, as an indexer

    # ---- lifecycle (the rest: Served)

    def _make_server(self) -> ThreadingHTTPServer:
        return _Server((self.host, self.port), _Handler, self)

    # ---- control (also over HTTP under /_stub/)

    def add_fault(
        self,
        status: int,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
        *,
        error: str | None = None,
        message: str | None = None,
    ) -> JSON:
        """The next ``count`` getPosts calls answer ``status`` (faults queue up, first added served first)."""
        raw = {"status": status, "count": count, "headers": dict(headers or {}), "error": error, "message": message}
        return self._add_fault(raw)

    def _add_fault(self, raw: Any) -> JSON:
        fault = _parse_fault(raw)
        with self._lock:
            self._faults.append(fault)
        return fault.as_json()

    def clear_faults(self) -> int:
        with self._lock:
            cleared, self._faults = len(self._faults), []
        return cleared

    def calls(self) -> list[JSON]:
        """Every getPosts call received, in order: ``{"uris": <how many uris>, "status": <answered>}``."""
        with self._lock:
            return [dict(call) for call in self._calls]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            if (method, path) == ("POST", "/_stub/faults"):
                return 201, self._add_fault(json.loads(body or b"null"))
            if (method, path) == ("GET", "/_stub/faults"):
                with self._lock:
                    return 200, [fault.as_json() for fault in self._faults]
            if (method, path) == ("DELETE", "/_stub/faults"):
                return 200, {"cleared": self.clear_faults()}
            if (method, path) == ("GET", "/_stub/calls"):
                calls = self.calls()
                return 200, {"count": len(calls), "calls": calls}
            if (method, path) == ("DELETE", "/_stub/calls"):
                self.clear_calls()
                return 200, {"cleared": True}
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return 400, {"error": str(exc)}
        return 404, {"error": f"no control endpoint {method} {path}"}

    # ---- app.bsky.feed.getPosts

    def _get_posts(self, method: str, query: str) -> tuple[int, JSON, dict[str, str]]:
        uris = parse_qs(query, keep_blank_values=True).get("uris", [])
        fault = self._take_fault()  # a rate limiter or a failing load balancer answers before the AppView
        try:
            if fault is not None:
                raise XrpcError(fault.status, fault.message, fault.error)
            if method != "GET":
                raise XrpcError(400, f"Incorrect HTTP method ({method}) expected GET")
            status, body, headers = 200, {"posts": self._post_views(uris)}, {}
        except XrpcError as exc:
            status, body, headers = exc.status, exc.body(), self._fault_headers(fault)
        with self._lock:
            self._calls.append({"uris": len(uris), "status": status})
        return status, body, headers

    @staticmethod
    def _fault_headers(fault: _Fault | None) -> dict[str, str]:
        if fault is None:
            return {}
        if fault.status != 429:
            return dict(fault.headers)
        # Bluesky's rate-limit headers (IETF draft names): the window resets `ratelimit-reset` (unix seconds).
        defaults = {
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(int(time.time()) + 60),
            "ratelimit-policy": f"{RATE_LIMIT};w={RATE_WINDOW}",
        }
        return defaults | fault.headers

    def _post_views(self, uris: list[str]) -> list[JSON]:
        # Validation as the AppView's XRPC server does it from the lexicon, with its messages.
        if not uris:
            raise XrpcError(400, 'Params must have the property "uris"')
        if len(uris) > MAX_URIS:
            raise XrpcError(400, f"uris must not have more than {MAX_URIS} elements")
        for index, uri in enumerate(uris):
            if parse_at_uri(uri) is None:
                raise XrpcError(400, f"uris/{index} must be a valid at-uri")
        pds = _Pds(self.pds_url, self.timeout)
        try:
            authors: dict[str, JSON | None] = {}
            found = [post for uri in dict.fromkeys(uris) if (post := self._read_post(pds, uri, authors))]
            counts = self._counts(pds, {post["uri"] for post in found})
        finally:
            pds.close()
        return [
            {**post, **counts[post["uri"]], "indexedAt": self._indexed_at(post["uri"]), "labels": []} for post in found
        ]

    def _read_post(self, pds: _Pds, uri: str, authors: dict[str, JSON | None]) -> JSON | None:
        """The postView without counts, or None when there is no such post (the AppView leaves it out)."""
        authority, collection, rkey = cast(tuple[str, str | None, str | None], parse_at_uri(uri))
        if collection != POST or rkey is None:
            return None  # a valid at-uri, but not of a post: the AppView has no post view of it
        if authority not in authors:
            authors[authority] = self._author(pds, authority)
        author = authors[authority]
        if author is None:
            return None
        record = pds.query("com.atproto.repo.getRecord", repo=author["did"], collection=POST, rkey=rkey)
        if record is None:
            return None
        # The AppView keys posts by DID: a handle-based uri comes back in its DID form.
        return {
            "$type": "app.bsky.feed.defs#postView",
            "uri": f"at://{author['did']}/{POST}/{rkey}",
            "cid": record["cid"],
            "author": author,
            "record": record["value"],
            "bookmarkCount": 0,  # bookmarks are private AppView state, in no repo: none to count here
        }

    @staticmethod
    def _author(pds: _Pds, authority: str) -> JSON | None:
        """profileViewBasic: did, handle (``handle.invalid`` when it does not verify, as the AppView shows it)
        and the profile record's displayName. No avatar: that needs the AppView's image CDN."""
        repo = pds.query("com.atproto.repo.describeRepo", repo=authority)  # also resolves a handle to its DID
        if repo is None:
            return None
        handle = repo["handle"] if repo.get("handleIsCorrect", True) else "handle.invalid"
        author: JSON = {"did": repo["did"], "handle": handle}
        profile = pds.query("com.atproto.repo.getRecord", repo=repo["did"], collection=PROFILE, rkey="self")
        if isinstance(name := _dig(profile, "value", "displayName"), str):
            author["displayName"] = name
        return author | {"labels": []}

    @staticmethod
    def _counts(pds: _Pds, uris: set[str]) -> dict[str, JSON]:
        """The four aggregates of each post, over every repo the PDS hosts (an AppView over the whole network)."""
        counts: dict[str, JSON] = {uri: dict.fromkeys(COUNTS, 0) for uri in uris}
        if not uris:
            return counts
        for repo in pds.pages("com.atproto.sync.listRepos", "repos", missing_ok=False):
            for collection in (LIKE, REPOST, POST):
                # A repo that cannot be listed (deactivated, taken down) shows nothing, as on the AppView.
                records = pds.pages("com.atproto.repo.listRecords", "records", repo=repo["did"], collection=collection)
                for record in records:
                    for name, target in _references(collection, record.get("value")):
                        if isinstance(target, str) and target in counts:
                            counts[target][name] += 1
        return counts

    def _indexed_at(self, uri: str) -> str:
        with self._lock:
            return self._indexed.setdefault(uri, _now_iso())


# ------------------------------------------------------------------------------------------------------ HTTP layer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stub: AppViewStub) -> None:
        self.stub = stub
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stop() never waits on an idle keep-alive thread.
    server_version = "appview-stub"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``calls()`` is the stub's log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        stub = cast(_Server, self.server).stub
        length = self.headers.get("Content-Length", "0")
        body = self.rfile.read(int(length)) if length.isdigit() else b""
        parts = urlsplit(self.path)
        method, path = self.command.upper(), parts.path
        if path.startswith("/_stub/"):
            self._send(*stub._control(method, path, body))
        elif path == f"/xrpc/{GET_POSTS}":
            status, reply, headers = stub._get_posts(method, parts.query)
            self._send(status, reply, headers)
        elif path == "/xrpc/_health":
            self._send(200, {"version": "appview-stub"})
        elif path.startswith("/xrpc/"):
            self._send(501, XrpcError(501).body())
        else:
            self._send(404, {"error": "NotFound", "message": f"no route {path}"})

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# ------------------------------------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peers.appview.server",
        description="Local stand-in of the Bluesky AppView's getPosts over a PDS; prints 'READY <url>' once listening.",
    )
    parser.add_argument("--pds", default=os.environ.get("PDS_URL"), help="the PDS to index (env PDS_URL)")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    if not args.pds:
        parser.error("give --pds URL (or PDS_URL)")
    stub = AppViewStub(args.pds, port=args.port).start()

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
