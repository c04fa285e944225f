"""XPlatform against the local X v2 stub, through the real tweepy client (only the destination is rewritten)."""

from __future__ import annotations

import copy
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.models import XAccount
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Image,
    Outgoing,
    PermanentError,
    RemotePart,
    RetryableError,
    UnconfirmedError,
)
from scheduler.platforms.x import XPlatform
from tests.peers.x_stub.server import XStub

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "x-en"
USERNAME = "campaign_en"
SECRETS = {
    "API_KEY": "en-consumer-key-0001",
    "API_SECRET": "en-consumer-secret-0002",
    "ACCESS_TOKEN": "1800000000000000001-entoken0003",
    "ACCESS_SECRET": "en-token-secret-0004",
}
VARIABLES = ("X_EN_API_KEY", "X_EN_API_SECRET", "X_EN_ACCESS_TOKEN", "X_EN_ACCESS_SECRET")
CREDENTIAL = {
    "api_key": SECRETS["API_KEY"],
    "api_secret": SECRETS["API_SECRET"],
    "access_token": SECRETS["ACCESS_TOKEN"],
    "access_secret": SECRETS["ACCESS_SECRET"],
    "user": {"id": "1800000000000000001", "username": USERNAME, "name": "Campaign"},
}


def png(width: int = 4, height: int = 5) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


IMAGE = Image(data=png(), mime="image/png", alt="A dark card reading «Hola» in large letters", width=4, height=5)


class Saves:
    """Attempt.save: a snapshot of what would be persisted at each call."""

    def __init__(self) -> None:
        self.attempt: Attempt | None = None
        self.snapshots: list[tuple[dict[str, Any], list[RemotePart]]] = []

    def __call__(self) -> None:
        assert self.attempt is not None
        self.snapshots.append((copy.deepcopy(self.attempt.memo), list(self.attempt.done)))


def attempt(*parts: str, image: Image | None = None, language: str = "en", **fields: Any) -> Attempt:
    saves = Saves()
    made = Attempt(Outgoing(key="post|2026-11-28T09:00:00Z|x-en|en", language=language, parts=parts, image=image))
    made.save = saves
    for name, value in fields.items():
        setattr(made, name, value)
    saves.attempt = made
    return made


def saves_of(made: Attempt) -> Saves:
    assert isinstance(made.save, Saves)
    return made.save


@pytest.fixture(scope="module")
def running() -> Iterator[XStub]:
    with XStub(credentials=[CREDENTIAL]) as started:
        yield started


@pytest.fixture
def stub(running: XStub) -> Iterator[XStub]:
    running.reset()
    yield running
    running.clock = time.time
    running.reset()


@pytest.fixture
def frozen(stub: XStub) -> float:
    """A fixed stub clock (whole seconds, within the OAuth timestamp skew), so reset headers are exact."""
    now = float(int(time.time()))
    stub.clock = lambda: now
    return now


def platform(stub: XStub, *, secrets: dict[str, str] | None = None, timeout: float = 10.0) -> XPlatform:
    account = XAccount(platform="x", languages=("en",), api_base=stub.url)
    return XPlatform(ACCOUNT_ID, account, dict(secrets or SECRETS), timeout=timeout)


def requests_to(stub: XStub, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in stub.state()["requests"] if (r["method"], r["path"]) == (method, path)]


# --------------------------------------------------------------------------------------------- publishing


def test_text_image_alt_and_language_arrive(stub: XStub) -> None:
    made = attempt("¡Hola! Una consigna en español, con acentos y ñ.", image=IMAGE, language="es")

    published = platform(stub).publish(made)

    [tweet] = stub.state()["tweets"]
    [media] = stub.state()["media"]
    assert tweet["text"] == "¡Hola! Una consigna en español, con acentos y ñ."
    assert tweet["media_ids"] == [media["id"]] == [made.memo["media_id"]]
    assert tweet["in_reply_to_tweet_id"] is None
    # X has no language field (the stub refuses unknown fields): the language travels as the text itself.
    assert set(tweet["body"]) == {"text", "media"}
    assert media["alt_text"] == IMAGE.alt
    assert (media["size"], media["mime_type"], media["declared_media_type"]) == (
        len(IMAGE.data),
        "image/png",
        "image/png",
    )
    assert (media["media_category"], media["width"], media["height"]) == ("tweet_image", 4, 5)
    assert stub.media_bytes(media["id"]) == IMAGE.data
    assert published.parts == (RemotePart(tweet["id"], f"https://x.com/{USERNAME}/status/{tweet['id']}"),)
    assert published.url == made.done[0].url
    assert "creating" not in made.memo


def test_thread_arrives_in_order_each_part_replying_to_the_previous(stub: XStub) -> None:
    made = attempt("one 1/3", "two 2/3", "three 3/3", image=IMAGE)

    published = platform(stub).publish(made)

    tweets = stub.state()["tweets"]
    assert [t["text"] for t in tweets] == ["one 1/3", "two 2/3", "three 3/3"]
    assert [t["in_reply_to_tweet_id"] for t in tweets] == [None, tweets[0]["id"], tweets[1]["id"]]
    assert [bool(t["media_ids"]) for t in tweets] == [True, False, False]
    assert [p.id for p in published.parts] == [t["id"] for t in tweets]
    # Before each create the part being created was saved; after it, the part itself.
    creating = [(memo.get("creating"), len(done)) for memo, done in saves_of(made).snapshots if "media_alt" in memo]
    assert creating == [(None, 0), (0, 0), (None, 1), (1, 1), (None, 2), (2, 2), (None, 3)]


def test_check_returns_the_handle(stub: XStub) -> None:
    assert platform(stub).check() == f"@{USERNAME}"
    assert platform(stub).image_limit() is None


def test_importing_the_adapter_does_not_import_tweepy() -> None:
    code = "import sys, scheduler.platforms.x; assert 'tweepy' not in sys.modules, 'tweepy was imported'"

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------- credentials


@pytest.mark.parametrize("wrong", ["API_SECRET", "ACCESS_TOKEN"])
@pytest.mark.parametrize("call", ["check", "publish"])
def test_wrong_secret_is_an_auth_error_naming_the_variables(stub: XStub, wrong: str, call: str) -> None:
    secrets = {**SECRETS, wrong: "wrong-value-9999"}
    adapter = platform(stub, secrets=secrets)

    with pytest.raises(AuthError) as caught:
        adapter.check() if call == "check" else adapter.publish(attempt("never", image=IMAGE))

    message = str(caught.value)
    assert caught.value.variables == VARIABLES
    for variable in VARIABLES:
        assert variable in message
    assert "401" in message
    for value in [*SECRETS.values(), *secrets.values()]:
        assert value not in message
    assert stub.state()["tweets"] == stub.state()["media"] == []


def test_missing_secret_is_an_auth_error_before_any_request(stub: XStub) -> None:
    with pytest.raises(AuthError, match="X_EN_ACCESS_SECRET") as caught:
        platform(stub, secrets={**SECRETS, "ACCESS_SECRET": ""})

    assert caught.value.variables == ("X_EN_ACCESS_SECRET",)
    assert stub.state()["requests"] == []


# ------------------------------------------------------------------------------------------ rate limits, 5xx


def test_rate_limit_is_retryable_at_the_reset_header(stub: XStub, frozen: float) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "ratelimit", "reset_in": 120})
    made = attempt("limited")

    with pytest.raises(RetryableError, match="rate limit") as caught:
        platform(stub).publish(made)

    assert caught.value.retry_at == datetime.fromtimestamp(frozen + 120, UTC)
    assert stub.state()["tweets"] == []
    assert "creating" not in made.memo  # X answered: nothing was created, so a resume may post it


def test_24_hour_cap_retries_at_the_24_hour_reset(stub: XStub, frozen: float) -> None:
    fault = {"type": "ratelimit", "reset_in": 7200, "scope": "24hour"}
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect=fault)

    with pytest.raises(RetryableError, match="24-hour") as caught:
        platform(stub).publish(attempt("capped"))

    # The 15-minute window still has room and resets at frozen + 900: the later 24-hour reset wins.
    assert caught.value.retry_at == datetime.fromtimestamp(frozen + 7200, UTC)


def test_real_24_hour_cap_of_the_stub(frozen: float) -> None:
    with XStub(credentials=[CREDENTIAL], tweets_24h_limit=1, clock=lambda: frozen) as small:
        adapter = platform(small)
        adapter.publish(attempt("the only one today"))
        with pytest.raises(RetryableError) as caught:
            adapter.publish(attempt("one too many"))

    assert caught.value.retry_at == datetime.fromtimestamp(frozen + 86_400, UTC)


@pytest.mark.parametrize("path", ["/2/tweets", "/2/media/upload", "/2/media/metadata"])
def test_503_is_retryable(stub: XStub, path: str) -> None:
    stub.add_fault(match={"method": "POST", "path": path}, effect={"type": "status", "status": 503})
    made = attempt("later", image=IMAGE)

    with pytest.raises(RetryableError, match="503") as caught:
        platform(stub).publish(made)

    assert caught.value.retry_at is None
    assert stub.state()["tweets"] == []
    assert "creating" not in made.memo


# -------------------------------------------------------------------------------------------- ambiguity


@pytest.mark.parametrize("fault", ["drop_after_create", "reset_before"])
def test_connection_lost_during_create_is_ambiguous(stub: XStub, fault: str) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": fault})
    made = attempt("did it go out?")

    with pytest.raises(AmbiguousError, match="not sent again") as caught:
        platform(stub).publish(made)

    assert f"https://x.com/{USERNAME}" in str(caught.value)
    assert len(stub.state()["tweets"]) == (1 if fault == "drop_after_create" else 0)
    assert made.memo["creating"] == 0
    assert saves_of(made).snapshots[-1][0]["creating"] == 0  # persisted before the call
    assert made.done == []


def test_read_timeout_during_create_is_ambiguous(stub: XStub) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "latency", "seconds": 0.6})

    with pytest.raises(AmbiguousError, match=r"no answer within 0\.2 s"):
        platform(stub, timeout=0.2).publish(attempt("slow"))

    deadline = time.monotonic() + 5
    while not stub.state()["tweets"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stub.state()["tweets"]) == 1  # the server finished after the adapter gave up


def test_read_timeout_before_create_is_retryable(stub: XStub) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/media/upload"}, effect={"type": "latency", "seconds": 0.6})

    with pytest.raises(RetryableError, match="while uploading the image"):
        platform(stub, timeout=0.2).publish(attempt("slow upload", image=IMAGE))

    assert requests_to(stub, "POST", "/2/tweets") == []


def test_connection_refused_is_retryable_even_for_the_create_call() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = XAccount(platform="x", languages=("en",), api_base=f"http://127.0.0.1:{port}")
    made = attempt("nobody listening")

    with pytest.raises(RetryableError, match="creating part 1 of 1") as caught:
        XPlatform(ACCOUNT_ID, account, SECRETS, timeout=5).publish(made)

    assert not isinstance(caught.value, AmbiguousError)
    assert "creating" not in made.memo
    assert made.done == []


def test_resuming_with_a_create_in_flight_stops_without_calling_x(stub: XStub) -> None:
    made = attempt("maybe posted", image=IMAGE, resuming=True, memo={"creating": 0, "username": USERNAME})

    with pytest.raises(UnconfirmedError, match="part 1 of 1") as caught:
        platform(stub).publish(made)

    assert f"https://x.com/{USERNAME}" in str(caught.value)
    assert stub.state()["requests"] == []


def test_lost_answer_then_resume_is_unconfirmed_and_posts_once(stub: XStub) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "drop_after_create"})
    made = attempt("exactly once")
    adapter = platform(stub)
    with pytest.raises(AmbiguousError):
        adapter.publish(made)
    seen = len(stub.state()["requests"])

    made.resuming = True
    with pytest.raises(UnconfirmedError):
        adapter.publish(made)

    assert len(stub.state()["requests"]) == seen
    assert [t["text"] for t in stub.state()["tweets"]] == ["exactly once"]


def test_resumed_thread_creates_only_the_missing_parts(stub: XStub) -> None:
    made = attempt("first 1/3", "second 2/3", "third 3/3", image=IMAGE)

    def fail_the_second_part() -> None:
        if made.memo.get("creating") == 1 and not made.resuming:  # saved just before part 2 is created
            stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "status", "status": 503})

    made.save = fail_the_second_part
    adapter = platform(stub)
    with pytest.raises(RetryableError):
        adapter.publish(made)
    [first] = stub.state()["tweets"]
    assert [p.id for p in made.done] == [first["id"]]
    uploads = len(requests_to(stub, "POST", "/2/media/upload"))

    made.resuming = True
    published = adapter.publish(made)

    tweets = stub.state()["tweets"]
    assert [t["text"] for t in tweets] == ["first 1/3", "second 2/3", "third 3/3"]
    assert [t["in_reply_to_tweet_id"] for t in tweets[1:]] == [first["id"], tweets[1]["id"]]
    assert [t["media_ids"] for t in tweets[1:]] == [[], []]
    assert len(requests_to(stub, "POST", "/2/media/upload")) == uploads == 1
    assert [p.id for p in published.parts] == [t["id"] for t in tweets]


def test_done_parts_from_an_earlier_attempt_are_not_posted_again(stub: XStub) -> None:
    adapter = platform(stub)
    [head] = adapter.publish(attempt("head 1/2")).parts
    made = attempt("head 1/2", "tail 2/2", image=IMAGE, resuming=True, done=[head])

    published = adapter.publish(made)

    tweets = stub.state()["tweets"]
    assert [t["text"] for t in tweets] == ["head 1/2", "tail 2/2"]
    assert tweets[1]["in_reply_to_tweet_id"] == head.id
    assert stub.state()["media"] == []  # the image belongs to part 1, already out
    assert published.parts[0] == head


# ------------------------------------------------------------------------------------------- refusals


def test_duplicate_text_is_permanent(stub: XStub) -> None:
    adapter = platform(stub)
    adapter.publish(attempt("Same slogan twice"))

    with pytest.raises(PermanentError, match="duplicate content; it may already have been posted"):
        adapter.publish(attempt("Same slogan twice"))

    assert len(stub.state()["tweets"]) == 1


def test_other_403_is_permanent_and_mentions_write_permission(stub: XStub) -> None:
    body = {
        "title": "Forbidden",
        "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
        "type": "about:blank",
        "status": 403,
    }
    stub.add_fault(
        match={"method": "POST", "path": "/2/tweets"}, effect={"type": "status", "status": 403, "body": body}
    )

    with pytest.raises(PermanentError, match="write permission") as caught:
        platform(stub).publish(attempt("read-only app"))

    assert "oauth1 app permissions" in str(caught.value)
    assert "X_EN_ACCESS_TOKEN" in str(caught.value)
    assert "duplicate" not in str(caught.value)


def test_too_long_text_is_permanent_with_x_message(stub: XStub) -> None:
    with pytest.raises(PermanentError, match="Your Tweet text is too long"):
        platform(stub).publish(attempt("a" * 281))


def test_alt_text_over_1000_characters_is_permanent_before_any_upload(stub: XStub) -> None:
    long_alt = Image(data=IMAGE.data, mime="image/png", alt="x" * 1001, width=4, height=5)

    with pytest.raises(PermanentError, match="1001 characters; X takes at most 1000"):
        platform(stub).publish(attempt("with a long description", image=long_alt))

    assert requests_to(stub, "POST", "/2/media/upload") == []
    assert stub.state()["tweets"] == []


# --------------------------------------------------------------------------------------------- media reuse


def test_retry_after_a_failed_create_reuses_the_uploaded_media(stub: XStub) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "status", "status": 503})
    made = attempt("upload once", image=IMAGE)
    adapter = platform(stub)
    with pytest.raises(RetryableError):
        adapter.publish(made)
    media_id = made.memo["media_id"]
    assert saves_of(made).snapshots[0][0]["media_id"] == media_id  # saved right after the upload

    made.resuming = True
    platform(stub).publish(made)  # a fresh adapter, as after a restart: only the memo remembers

    assert len(requests_to(stub, "POST", "/2/media/upload")) == 1
    assert len(requests_to(stub, "POST", "/2/media/metadata")) == 1
    [tweet] = stub.state()["tweets"]
    assert tweet["media_ids"] == [media_id]


def test_retry_after_a_failed_alt_text_sets_it_without_uploading_again(stub: XStub) -> None:
    stub.add_fault(match={"method": "POST", "path": "/2/media/metadata"}, effect={"type": "status", "status": 500})
    made = attempt("alt text later", image=IMAGE)
    with pytest.raises(RetryableError, match="alt text"):
        platform(stub).publish(made)

    platform(stub).publish(made)

    [media] = stub.state()["media"]
    assert media["alt_text"] == IMAGE.alt
    assert stub.state()["tweets"][0]["media_ids"] == [media["id"]]


def test_expired_media_is_uploaded_again(stub: XStub) -> None:
    made = attempt("old upload", image=IMAGE, memo={"media_id": "1234567890", "media_expires": time.time() - 1})

    platform(stub).publish(made)

    [media] = stub.state()["media"]
    assert made.memo["media_id"] == media["id"] != "1234567890"
    assert stub.state()["tweets"][0]["media_ids"] == [media["id"]]
