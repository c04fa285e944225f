"""The X stub, driven by the real tweepy 4.17 client through a URL-rewriting requests adapter.

tweepy signs every request for ``https://api.twitter.com/2/...``; the adapter below only changes where the signed
request is sent, exactly as the project's X adapter will do when an account's ``api_base`` is not the real API.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy  # type: ignore[import-untyped,unused-ignore]
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests_oauthlib import OAuth1  # type: ignore[import-untyped,unused-ignore]

from scheduler.platforms.x import _XAdapter

from .server import MAX_IMAGE_BYTES, XStub, XStubControl

ROOT = Path(__file__).resolve().parents[3]
API = "https://api.twitter.com"

ALICE: dict[str, Any] = {
    "api_key": "alice-consumer-key",
    "api_secret": "alice-consumer-secret",
    "access_token": "1700000000000000001-alicetoken",
    "access_secret": "alice-token-secret",
    "user": {"id": "1700000000000000001", "username": "alice", "name": "Alice"},
}
BOB: dict[str, Any] = {
    "api_key": "bob-consumer-key",
    "api_secret": "bob-consumer-secret",
    "access_token": "1700000000000000002-bobtoken",
    "access_secret": "bob-token-secret",
    "user": {"id": "1700000000000000002", "username": "bob", "name": "Bob"},
}


class RewriteToStub(HTTPAdapter):
    """Sends requests signed for https://api.twitter.com to the stub instead (the signature is left untouched)."""

    def __init__(self, target: str, timeout: float | None = None) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.timeout = timeout

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        url = request.url or ""
        if url.startswith(API + "/"):
            request.url = self.target + url[len(API) :]
        kwargs["proxies"] = {}  # environment proxies were chosen for api.twitter.com, not for loopback
        if self.timeout is not None and kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


def make_client(stub_url: str, credential: dict[str, Any], *, timeout: float | None = None) -> Any:
    client = tweepy.Client(
        consumer_key=credential["api_key"],
        consumer_secret=credential["api_secret"],
        access_token=credential["access_token"],
        access_token_secret=credential["access_secret"],
    )
    client.session.mount(API + "/", RewriteToStub(stub_url, timeout))
    return client


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof


def upload(client: Any, data: bytes, media_type: str = "image/png") -> Any:
    body = {"media": base64.b64encode(data).decode("ascii"), "media_category": "tweet_image", "media_type": media_type}
    return client.request("POST", "/2/media/upload", json=body, user_auth=True)


def upload_id(client: Any, data: bytes | None = None) -> str:
    return str(upload(client, data or png()).json()["data"]["id"])


@pytest.fixture
def stub() -> Iterator[XStub]:
    with XStub(credentials=[ALICE, BOB]) as running:
        yield running


@pytest.fixture
def alice(stub: XStub) -> Any:
    return make_client(stub.url, ALICE)


@pytest.fixture
def bob(stub: XStub) -> Any:
    return make_client(stub.url, BOB)


# ------------------------------------------------------------------------------------------------ happy paths


def test_get_me_checks_credentials_and_signs_query_parameters(stub: XStub, alice: Any) -> None:
    response = alice.get_me(user_fields=["created_at", "verified"])

    # tweepy's User turns the id into an int; X (and the stub) send it as a string.
    assert (response.data.id, response.data.username, response.data.name) == (1700000000000000001, "alice", "Alice")
    assert response.data.data == {"id": "1700000000000000001", "name": "Alice", "username": "alice"}
    assert stub.state()["requests"][-1] | {"time": 0} == {
        "method": "GET",
        "path": "/2/users/me",
        "time": 0,
        "user_id": "1700000000000000001",
        "faults": [],
        "status": 200,
        "dropped": False,
    }


def test_media_upload_through_client_request(stub: XStub, alice: Any) -> None:
    image = png(640, 360)
    response = upload(alice, image)

    # Client.request hands back the requests.Response itself (closed, body already read) and raises on non-2xx.
    assert isinstance(response, requests.Response)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"].isdigit()
    assert data["media_key"] == f"3_{data['id']}"
    assert data["size"] == len(image)
    assert data["expires_after_secs"] == 86400
    assert response.headers["x-rate-limit-limit"] == "500"
    assert response.headers["x-rate-limit-remaining"] == "499"
    assert int(response.headers["x-rate-limit-reset"]) > time.time()
    [media] = stub.state()["media"]
    assert (media["id"], media["size"], media["mime_type"]) == (data["id"], len(image), "image/png")
    assert (media["width"], media["height"], media["alt_text"]) == (640, 360, None)
    assert media["user_id"] == "1700000000000000001"
    assert stub.media_bytes(data["id"]) == image


def test_jpeg_upload_reads_dimensions(stub: XStub, alice: Any) -> None:
    upload(alice, jpeg_header(1200, 675) + b"\x00" * 64, "image/jpeg")

    [media] = stub.state()["media"]
    assert (media["mime_type"], media["width"], media["height"]) == ("image/jpeg", 1200, 675)


def test_alt_text_metadata(stub: XStub, alice: Any) -> None:
    media_id = upload_id(alice)
    body = {"id": media_id, "metadata": {"alt_text": {"text": "Cartel: «Pan y trabajo»"}}}
    response = alice.request("POST", "/2/media/metadata", json=body, user_auth=True)

    assert response.json() == {
        "data": {"id": media_id, "associated_metadata": {"alt_text": {"text": "Cartel: «Pan y trabajo»"}}}
    }
    assert stub.state()["media"][0]["alt_text"] == "Cartel: «Pan y trabajo»"

    too_long = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}}
    with pytest.raises(tweepy.BadRequest, match="at most 1000 characters"):
        alice.request("POST", "/2/media/metadata", json=too_long, user_auth=True)
    exactly = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1000}}}
    alice.request("POST", "/2/media/metadata", json=exactly, user_auth=True)

    unknown = {"id": "1234567890123456789", "metadata": {"alt_text": {"text": "x"}}}
    with pytest.raises(tweepy.BadRequest, match="not found"):
        alice.request("POST", "/2/media/metadata", json=unknown, user_auth=True)


def test_create_tweet_with_media_then_reply(stub: XStub, alice: Any) -> None:
    first, second = upload_id(alice), upload_id(alice, png(4, 4))

    post = alice.create_tweet(text="Hilo 1/2", media_ids=[first, second])
    reply = alice.create_tweet(text="Hilo 2/2", in_reply_to_tweet_id=post.data["id"])

    # create_tweet returns tweepy's Response namedtuple; .data is the plain dict X sent.
    assert post.data == {"id": post.data["id"], "text": "Hilo 1/2", "edit_history_tweet_ids": [post.data["id"]]}
    assert int(reply.data["id"]) > int(post.data["id"])
    tweets = stub.state()["tweets"]
    assert [(t["text"], t["media_ids"], t["in_reply_to_tweet_id"], t["username"]) for t in tweets] == [
        ("Hilo 1/2", [first, second], None, "alice"),
        ("Hilo 2/2", [], post.data["id"], "alice"),
    ]
    assert tweets[0]["body"] == {"media": {"media_ids": [first, second]}, "text": "Hilo 1/2"}
    assert tweets[1]["body"] == {"reply": {"in_reply_to_tweet_id": post.data["id"]}, "text": "Hilo 2/2"}


def test_media_only_tweet(stub: XStub, alice: Any) -> None:
    response = alice.create_tweet(media_ids=[upload_id(alice)])

    assert response.data["text"] == ""
    assert stub.state()["tweets"][0]["text"] == ""


# ----------------------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize(
    ("media", "media_type", "message"),
    [
        (base64.b64encode(png()[:8] + b"\x00" * (MAX_IMAGE_BYTES - 7)).decode(), "image/png", "exceeds 5242880"),
        ("not base64!!", "image/png", "not valid base64"),
        (base64.b64encode(b"GIF89a not a still image").decode(), "image/png", "not a supported image"),
        (base64.b64encode(b"%PDF-1.7").decode(), "image/png", "not a supported image"),
        (base64.b64encode(png()).decode(), "image/jpeg", "does not match"),
        (base64.b64encode(png()).decode(), "image/gif", "enumeration"),
    ],
    ids=["over-5MB", "bad-base64", "gif", "pdf", "type-mismatch", "gif-type"],
)
def test_upload_rejections(stub: XStub, alice: Any, media: str, media_type: str, message: str) -> None:
    body = {"media": media, "media_category": "tweet_image", "media_type": media_type}
    with pytest.raises(tweepy.BadRequest, match=message) as caught:
        alice.request("POST", "/2/media/upload", json=body, user_auth=True)

    assert caught.value.response.json()["title"] == "Invalid Request"
    assert stub.state()["media"] == []


def test_upload_of_exactly_5_mb_is_accepted(stub: XStub, alice: Any) -> None:
    image = png()
    image += b"\x00" * (MAX_IMAGE_BYTES - len(image))

    assert upload(alice, image).json()["data"]["size"] == MAX_IMAGE_BYTES


def test_media_rules_on_create_tweet(stub: XStub, alice: Any, bob: Any) -> None:
    mine = [upload_id(alice) for _ in range(5)]
    with pytest.raises(tweepy.BadRequest, match="at most 4 items"):
        alice.create_tweet(text="cinco", media_ids=mine)

    bobs = upload_id(bob)
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid") as caught:
        alice.create_tweet(text="ajena", media_ids=[mine[0], bobs])
    assert caught.value.response.json()["errors"][0]["parameters"] == {"media.media_ids": [mine[0], bobs]}

    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid"):
        alice.create_tweet(text="inexistente", media_ids=["1234567890"])

    alice.create_tweet(text="cuatro", media_ids=mine[:4])
    assert [t["text"] for t in stub.state()["tweets"]] == ["cuatro"]


def test_reply_to_unknown_tweet_is_forbidden(alice: Any) -> None:
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        alice.create_tweet(text="respuesta", in_reply_to_tweet_id="1234567890123")


def test_duplicate_text_is_a_403_with_x_body(stub: XStub, alice: Any, bob: Any) -> None:
    alice.create_tweet(text="Misma consigna")

    with pytest.raises(tweepy.Forbidden, match="duplicate content") as caught:
        alice.create_tweet(text="Misma consigna")

    assert caught.value.response.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "status": 403,
        "title": "Forbidden",
        "type": "about:blank",
    }
    assert caught.value.api_messages == ["You are not allowed to create a Tweet with duplicate content."]
    bob.create_tweet(text="Misma consigna")  # duplicates are per user
    assert len(stub.state()["tweets"]) == 2


def test_weighted_length_limit(stub: XStub, alice: Any) -> None:
    alice.create_tweet(text="字" * 140)  # CJK weighs 2: exactly 280
    alice.create_tweet(text="a" * 256 + " https://example.com/" + "x" * 200)  # any URL weighs 23: 256 + 1 + 23

    with pytest.raises(tweepy.BadRequest, match="Your Tweet text is too long") as caught:
        alice.create_tweet(text="字" * 141)
    assert caught.value.response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    with pytest.raises(tweepy.BadRequest, match="too long"):
        alice.create_tweet(text="a" * 281)
    assert len(stub.state()["tweets"]) == 2


# ----------------------------------------------------------------------------------------------- OAuth 1.0a


@pytest.mark.parametrize("field", ["api_secret", "access_secret", "api_key", "access_token"])
def test_wrong_credential_is_unauthorized(stub: XStub, field: str) -> None:
    client = make_client(stub.url, {**ALICE, field: "wrong"})

    with pytest.raises(tweepy.Unauthorized, match="401 Unauthorized") as caught:
        client.create_tweet(text="no")

    assert caught.value.response.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    [entry] = stub.state()["requests"]
    assert entry["status"] == 401
    assert entry["error"].startswith("signature mismatch" if "secret" in field else "unknown consumer key")
    assert stub.state()["tweets"] == []


def test_credentials_of_two_users_do_not_mix(stub: XStub) -> None:
    mixed = make_client(stub.url, {**ALICE, "access_token": BOB["access_token"], "access_secret": BOB["access_secret"]})

    with pytest.raises(tweepy.Unauthorized):
        mixed.get_me()


def test_signature_is_checked_against_the_signed_for_url(stub: XStub) -> None:
    auth = OAuth1(ALICE["api_key"], ALICE["api_secret"], ALICE["access_token"], ALICE["access_secret"])

    direct = requests.get(stub.url + "/2/users/me", auth=auth, timeout=10, proxies={})  # signed for 127.0.0.1

    assert direct.status_code == 401
    assert "GET&https%3A%2F%2Fapi.twitter.com%2F2%2Fusers%2Fme&" in stub.state()["requests"][-1]["error"]
    with XStub(credentials=[ALICE], signed_base_url="http://127.0.0.1:1") as other:
        signed_for_other = requests.Request("GET", "http://127.0.0.1:1/2/users/me", auth=auth).prepare()
        signed_for_other.url = other.url + "/2/users/me"
        with requests.Session() as session:
            assert session.send(signed_for_other, timeout=10, proxies={}).status_code == 200


def test_nonce_replay_is_rejected(stub: XStub) -> None:
    auth = OAuth1(ALICE["api_key"], ALICE["api_secret"], ALICE["access_token"], ALICE["access_secret"])
    signed = requests.Request("POST", API + "/2/tweets", json={"text": "una vez"}, auth=auth).prepare()
    with requests.Session() as session:
        session.mount(API + "/", RewriteToStub(stub.url))
        first = session.send(signed.copy(), timeout=10)
        replay = session.send(signed.copy(), timeout=10)

    assert (first.status_code, replay.status_code) == (201, 401)
    assert "already used" in stub.state()["requests"][-1]["error"]
    assert len(stub.state()["tweets"]) == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no Authorization header"),
        ('OAuth oauth_consumer_key="alice-consumer-key"', "missing OAuth parameters"),
        ("Basic dXNlcjpwYXNz", "not OAuth"),
    ],
)
def test_malformed_authorization_is_unauthorized(stub: XStub, header: str | None, reason: str) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = requests.get(stub.url + "/2/users/me", headers=headers, timeout=10, proxies={})

    assert response.status_code == 401
    assert reason in stub.state()["requests"][-1]["error"]


def test_stale_timestamp_is_unauthorized(stub: XStub, alice: Any) -> None:
    stub.clock = lambda: time.time() + 3600

    with pytest.raises(tweepy.Unauthorized):
        alice.get_me()
    assert "oauth_timestamp" in stub.state()["requests"][-1]["error"]


def test_app_only_auth_on_user_endpoint_is_forbidden(stub: XStub, alice: Any) -> None:
    # Client.request defaults to user_auth=False, which sends "Authorization: Bearer <bearer_token>".
    with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
        alice.request("POST", "/2/media/upload", json={"media": "", "media_category": "tweet_image"})


# ----------------------------------------------------------------------------------------------- rate limits


def test_create_tweet_carries_15_minute_and_24_hour_headers(alice: Any) -> None:
    alice.return_type = requests.Response
    response = alice.create_tweet(text="con cabeceras")

    assert response.status_code == 201
    headers = response.headers
    assert (headers["x-rate-limit-limit"], headers["x-rate-limit-remaining"]) == ("100", "99")
    assert (headers["x-user-limit-24hour-limit"], headers["x-user-limit-24hour-remaining"]) == ("100", "99")
    assert int(headers["x-user-limit-24hour-reset"]) > time.time() + 86_000


def test_window_limit_gives_429_with_reset() -> None:
    with XStub(credentials=[ALICE], rate_limits={"GET /2/users/me": (2, 60)}) as small:
        client = make_client(small.url, ALICE)
        client.get_me()
        client.get_me()
        with pytest.raises(tweepy.TooManyRequests) as caught:
            client.get_me()

    assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
    assert caught.value.reset_time is not None
    assert 0 < caught.value.reset_time - time.time() <= 60
    assert caught.value.response.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }


def test_24_hour_user_limit_gives_429_while_window_has_room() -> None:
    with XStub(credentials=[ALICE], tweets_24h_limit=1) as small:
        client = make_client(small.url, ALICE)
        client.create_tweet(text="una")
        with pytest.raises(tweepy.TooManyRequests) as caught:
            client.create_tweet(text="dos")

    headers = caught.value.response.headers
    assert headers["x-user-limit-24hour-remaining"] == "0"
    assert int(headers["x-rate-limit-remaining"]) > 0  # tweepy's reset_time is the 15-minute one: not enough
    assert int(headers["x-user-limit-24hour-reset"]) > caught.value.reset_time


# ---------------------------------------------------------------------------------------------------- faults


def test_ratelimit_fault(stub: XStub, alice: Any) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "ratelimit", "reset_in": 30})

    with pytest.raises(tweepy.TooManyRequests) as caught:
        alice.create_tweet(text="limitada")

    assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
    assert caught.value.reset_time == int(caught.value.response.headers["x-rate-limit-reset"])
    assert 25 <= caught.value.reset_time - time.time() <= 31
    assert stub.state()["tweets"] == []
    alice.create_tweet(text="limitada")  # count 1: the next one goes through


def test_status_503_fault(stub: XStub, alice: Any) -> None:
    stub.add_fault({"match": {"path": "/2/media/upload"}, "effect": {"type": "status", "status": 503}, "count": 1})

    with pytest.raises(tweepy.TwitterServerError, match="503 Service Unavailable") as caught:
        upload(alice, png())

    assert caught.value.response.json()["status"] == 503
    assert "x-rate-limit-remaining" in caught.value.response.headers
    assert stub.state()["media"] == []
    assert stub.state()["faults"] == []
    upload(alice, png())


def test_drop_after_create_loses_the_answer_but_not_the_tweet(stub: XStub, alice: Any) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "drop_after_create"})

    with pytest.raises(requests.exceptions.ConnectionError):
        alice.create_tweet(text="¿Salió o no?")

    [tweet] = stub.state()["tweets"]
    assert tweet["text"] == "¿Salió o no?"
    assert stub.state()["requests"][-1]["dropped"] is True
    assert stub.state()["requests"][-1]["status"] == 201
    with pytest.raises(tweepy.Forbidden, match="duplicate content"):  # a blind resend hits the duplicate check
        alice.create_tweet(text="¿Salió o no?")


def test_reset_before_creates_nothing(stub: XStub, alice: Any) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "reset_before"})

    with pytest.raises(requests.exceptions.ConnectionError):
        alice.create_tweet(text="nunca llegó")

    assert stub.state()["tweets"] == []
    assert stub.state()["requests"][-1] | {"time": 0, "faults": []} == {
        "method": "POST",
        "path": "/2/tweets",
        "time": 0,
        "user_id": None,
        "faults": [],
        "status": None,
        "dropped": True,
        "error": "connection reset by fault",
    }
    alice.create_tweet(text="nunca llegó")


def test_latency_fault_and_a_client_timeout_leave_the_outcome_unknown(stub: XStub) -> None:
    impatient = make_client(stub.url, ALICE, timeout=0.2)
    stub.add_fault(match={"path": "/2/tweets"}, effect={"type": "latency", "seconds": 0.6})

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.create_tweet(text="lenta")
    assert time.monotonic() - started < 0.6

    deadline = time.monotonic() + 5
    while not stub.state()["tweets"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [t["text"] for t in stub.state()["tweets"]] == ["lenta"]  # the server finished after the client gave up


def test_latency_fault_delays_the_answer(stub: XStub, alice: Any) -> None:
    stub.add_fault(match={"method": "GET", "path": "/2/users/me"}, effect={"type": "latency", "seconds": 0.3})

    started = time.monotonic()
    alice.get_me()

    assert time.monotonic() - started >= 0.3


def test_control_api_over_http(stub: XStub, alice: Any) -> None:
    control = XStubControl(stub.url)
    added = control.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "status", "status": 500})
    assert added["effect"] == {"type": "status", "status": 500}
    assert control.state()["faults"] == [added]
    with pytest.raises(ValueError, match="unknown fault keys"):
        control.add_fault({"match": {}, "effect": {"type": "status", "status": 500}, "methods": ["POST"]})
    with pytest.raises(ValueError, match="'match' takes only"):
        control.add_fault({"match": {"methods": ["POST"]}, "effect": {"type": "latency", "seconds": 1}})
    assert control.clear_faults() == 1

    alice.create_tweet(text="antes del reset")
    assert len(control.state()["tweets"]) == 1
    control.reset()
    assert control.state() | {"users": []} == {
        "tweets": [],
        "media": [],
        "requests": [],
        "faults": [],
        "users": [],
        "reads": {},
    }


def test_unknown_route_is_404(stub: XStub) -> None:
    response = requests.get(stub.url + "/2/tweets/search/recent", timeout=10, proxies={})

    assert response.status_code == 404


# ------------------------------------------------------------------------------------ engagement reads (GET /2/tweets)


def adapter_client(stub_url: str, credential: dict[str, Any]) -> Any:
    """A tweepy client built the way XPlatform builds it, so these reads go through the adapter's own transport."""
    client = tweepy.Client(
        consumer_key=credential["api_key"],
        consumer_secret=credential["api_secret"],
        access_token=credential["access_token"],
        access_token_secret=credential["access_secret"],
        wait_on_rate_limit=False,
    )
    adapter = _XAdapter(stub_url, 10.0)
    client.session.mount("https://", adapter)
    client.session.mount("http://", adapter)
    return client


def not_found(tweet_id: str) -> dict[str, str]:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with ids: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


MISSING = "1234567890123456789"


@pytest.fixture
def reader(stub: XStub) -> Any:
    return adapter_client(stub.url, ALICE)


def test_get_tweets_returns_set_metrics_and_counts_real_replies(stub: XStub, alice: Any, bob: Any, reader: Any) -> None:
    post = alice.create_tweet(text="Convocatoria").data["id"]
    quiet = alice.create_tweet(text="Sin eco").data["id"]
    alice.create_tweet(text="Hilo 2/2", in_reply_to_tweet_id=post)
    bob.create_tweet(text="¡Allí estaremos!", in_reply_to_tweet_id=post)
    assert stub.set_metrics(post, like_count=3, retweet_count=1, impression_count=120)["like_count"] == 3
    XStubControl(stub.url).set_metrics(post, bookmark_count=2)  # over HTTP; earlier counts are kept

    response = reader.get_tweets(ids=[post, quiet], tweet_fields=["public_metrics"], user_auth=True)

    assert [tweet.id for tweet in response.data] == [int(post), int(quiet)]
    assert response.data[0].data == {
        "id": post,
        "text": "Convocatoria",
        "edit_history_tweet_ids": [post],
        "public_metrics": {
            "retweet_count": 1,
            "reply_count": 2,
            "like_count": 3,
            "quote_count": 0,
            "bookmark_count": 2,
            "impression_count": 120,
        },
    }
    assert set(response.data[1].public_metrics.values()) == {0}
    assert response.errors == []
    plain = reader.get_tweets(ids=[post], user_auth=True)  # public_metrics only when tweet.fields asks for it
    assert plain.data[0].data == {"id": post, "text": "Convocatoria", "edit_history_tweet_ids": [post]}
    assert stub.state()["requests"][-1]["path"] == "/2/tweets"


def test_get_tweets_missing_ids_come_back_as_partial_errors(stub: XStub, alice: Any, reader: Any) -> None:
    post = alice.create_tweet(text="Sigue en pie").data["id"]

    response = reader.get_tweets(ids=[MISSING, post], tweet_fields=["public_metrics"], user_auth=True)

    assert [tweet.id for tweet in response.data] == [int(post)]
    assert response.errors == [not_found(MISSING)]
    reader.return_type = dict
    assert reader.get_tweets(ids=[MISSING], user_auth=True) == {"errors": [not_found(MISSING)]}  # no "data" at all


@pytest.mark.parametrize(
    ("ids", "fields", "message"),
    [
        ([str(n) for n in range(1, 102)], None, "list [101] is not between 1 and 100"),
        (["12", "abc"], None, "value [abc] does not match"),
        (["12"], ["public_metrics", "likes"], "value [likes] is not one of"),
    ],
    ids=["101-ids", "non-numeric", "unknown-field"],
)
def test_get_tweets_rejects_invalid_requests(
    stub: XStub, reader: Any, ids: list[str], fields: list[str] | None, message: str
) -> None:
    with pytest.raises(tweepy.BadRequest, match=re.escape(message)) as caught:
        reader.get_tweets(ids=ids, tweet_fields=fields, user_auth=True)

    assert caught.value.response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert stub.state()["reads"] == {}


def test_get_tweets_takes_100_ids(stub: XStub, alice: Any, reader: Any) -> None:
    post = alice.create_tweet(text="Una entre cien").data["id"]

    response = reader.get_tweets(ids=[post, *(str(n) for n in range(1, 100))], user_auth=True)

    assert (len(response.data), len(response.errors)) == (1, 99)


def test_get_tweets_signature_covers_the_query(stub: XStub, alice: Any) -> None:
    post = alice.create_tweet(text="Firmada").data["id"]
    with pytest.raises(tweepy.Unauthorized):
        adapter_client(stub.url, {**ALICE, "api_secret": "wrong"}).get_tweets(ids=[post], user_auth=True)
    assert "ids%3D" in stub.state()["requests"][-1]["error"]  # the query is in the base string

    auth = OAuth1(ALICE["api_key"], ALICE["api_secret"], ALICE["access_token"], ALICE["access_secret"])
    signed = requests.Request("GET", API + "/2/tweets", params={"ids": post}, auth=auth).prepare()
    signed.url = (signed.url or "").replace(post, MISSING)  # same signature, other ids
    with requests.Session() as session:
        session.mount(API + "/", RewriteToStub(stub.url))
        assert session.send(signed, timeout=10).status_code == 401
    assert stub.state()["requests"][-1]["error"].startswith("signature mismatch")
    assert stub.state()["reads"] == {}


def test_get_tweets_faults_and_rate_limit(stub: XStub, alice: Any, reader: Any) -> None:
    post = alice.create_tweet(text="Muy leída").data["id"]
    stub.add_fault(match={"method": "GET", "path": "/2/tweets"}, effect={"type": "ratelimit", "reset_in": 30})
    stub.add_fault(match={"method": "GET", "path": "/2/tweets"}, effect={"type": "status", "status": 503})

    with pytest.raises(tweepy.TooManyRequests) as limited:
        reader.get_tweets(ids=[post], user_auth=True)
    with pytest.raises(tweepy.TwitterServerError, match="503"):
        reader.get_tweets(ids=[post], user_auth=True)
    reader.return_type = requests.Response
    answered = reader.get_tweets(ids=[post], user_auth=True)

    headers = limited.value.response.headers
    assert (headers["x-rate-limit-limit"], headers["x-rate-limit-remaining"]) == ("900", "0")
    assert limited.value.reset_time == int(headers["x-rate-limit-reset"])
    assert 25 <= limited.value.reset_time - time.time() <= 31
    assert (answered.headers["x-rate-limit-limit"], answered.headers["x-rate-limit-remaining"]) == ("900", "899")
    assert stub.state()["reads"] == {ALICE["user"]["id"]: 1}  # faulted answers returned no posts


def test_get_tweets_has_its_own_configurable_window() -> None:
    with XStub(credentials=[ALICE], rate_limits={"GET /2/tweets": (1, 60)}) as small:
        client = adapter_client(small.url, ALICE)
        client.create_tweet(text="la ventana de lectura es aparte")
        client.get_tweets(ids=[MISSING], user_auth=True)
        with pytest.raises(tweepy.TooManyRequests) as caught:
            client.get_tweets(ids=[MISSING], user_auth=True)

    assert caught.value.response.headers["x-rate-limit-limit"] == "1"
    assert 0 < caught.value.reset_time - time.time() <= 60


def test_reads_are_tallied_per_user_and_reset(stub: XStub, alice: Any, bob: Any) -> None:
    first, second = alice.create_tweet(text="uno").data["id"], alice.create_tweet(text="dos").data["id"]

    adapter_client(stub.url, ALICE).get_tweets(ids=[first, second, MISSING], user_auth=True)
    adapter_client(stub.url, BOB).get_tweets(ids=[first], user_auth=True)
    adapter_client(stub.url, BOB).get_tweets(ids=[MISSING], user_auth=True)  # nothing returned, nothing billed

    assert stub.state()["reads"] == {ALICE["user"]["id"]: 2, BOB["user"]["id"]: 1}
    XStubControl(stub.url).reset()
    assert stub.state()["reads"] == {}


def test_set_metrics_validation(stub: XStub, alice: Any) -> None:
    post = alice.create_tweet(text="Métricas").data["id"]
    control = stub.url + "/_stub/metrics"

    def call(body: Any) -> requests.Response:
        return requests.post(control, json=body, timeout=10, proxies={})

    assert call({"tweet_id": post, "quote_count": 4}).json()["quote_count"] == 4
    assert call({"tweet_id": MISSING, "like_count": 1}).status_code == 404
    for bad in ({"like_count": -1}, {"like_count": 1.5}, {"like_count": "3"}, {"like_count": True}, {"reply_count": 1}):
        assert call({"tweet_id": post, **bad}).status_code == 400, bad
    assert call({"like_count": 1}).status_code == 400
    with pytest.raises(KeyError):
        stub.set_metrics(MISSING, like_count=1)
    with pytest.raises(ValueError, match="non-negative integer"):
        stub.set_metrics(post, impression_count=-5)
    assert stub.state()["tweets"][0]["public_metrics"]["quote_count"] == 4


# ------------------------------------------------------------------------------------------------------- CLI


def test_command_line_prints_ready_and_serves() -> None:
    env = {**os.environ, "X_STUB_CREDENTIALS": json.dumps([ALICE])}
    command = [sys.executable, "-m", "tests.peers.x_stub.server", "--port", "0"]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("READY http://127.0.0.1:")
            url = line.removeprefix("READY ")
            assert make_client(url, ALICE).get_me().data.username == "alice"
            assert XStubControl(url).state()["requests"][0]["status"] == 200
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0
