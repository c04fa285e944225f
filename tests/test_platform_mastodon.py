"""The Mastodon adapter against mastodon-mock, a real Mastodon API server (Mastodon.py only reads it back)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from mastodon_mock.testing import MockServer
from PIL import Image as PILImage
from requests.adapters import HTTPAdapter

from scheduler.models import MastodonAccount
from scheduler.platforms import mastodon as adapter_module
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Image,
    Outgoing,
    PermanentError,
    RetryableError,
    UnconfirmedError,
)
from scheduler.platforms.mastodon import MastodonPlatform
from tests.conftest import mastodon_fault as fault

TOKEN = "alice_token"  # seeded by mastodon-mock's default test seed


@pytest.fixture
def server(mastodon_server: MockServer) -> MockServer:
    return mastodon_server


def platform(server: MockServer, token: str = TOKEN, timeout: float = 10.0) -> MastodonPlatform:
    account = MastodonAccount(platform="mastodon", instance=server.base_url, languages=("en", "es"))
    return MastodonPlatform("mastodon", account, {"ACCESS_TOKEN": token}, timeout=timeout)


def card_image() -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (1080, 1350), "#14213d").save(buffer, "PNG")
    return Image(buffer.getvalue(), "image/png", "¡EE.UU. fuera de Haití!", 1080, 1350)


def statuses(server: MockServer) -> list[dict[str, Any]]:
    client = server.client("alice")
    me = client.account_verify_credentials()
    return list(reversed(client.account_statuses(me["id"], limit=40)))


def test_check_names_the_account(server: MockServer) -> None:
    assert platform(server).check().startswith("@alice@")


def test_text_card_alt_and_language_arrive(server: MockServer) -> None:
    attempt = Attempt(
        Outgoing("post-1|2026-12-01T14:00:00Z|mastodon|es", "es", ("¡EE.UU. fuera de Haití! #Haiti",), card_image())
    )
    published = platform(server).publish(attempt)
    status = server.client("alice").status(published.parts[0].id)
    assert "¡EE.UU. fuera de Haití!" in status["content"]
    assert status["language"] == "es"
    assert status["visibility"] == "public"
    assert [m["description"] for m in status["media_attachments"]] == ["¡EE.UU. fuera de Haití!"]
    assert published.url == status["url"]
    assert attempt.memo["media_id"] == str(status["media_attachments"][0]["id"])


def test_thread_arrives_in_order_and_linked(server: MockServer) -> None:
    parts = ("First part 1/3", "Second part 2/3", "Third part 3/3")
    published = platform(server).publish(Attempt(Outgoing("thread|2026-12-01T14:00:00Z|mastodon|en", "en", parts)))
    client = server.client("alice")
    found = [client.status(part.id) for part in published.parts]
    assert [s["content"] for s in found] == [f"<p>{p}</p>" for p in parts]
    assert found[0]["in_reply_to_id"] is None
    assert found[1]["in_reply_to_id"] == found[0]["id"]
    assert found[2]["in_reply_to_id"] == found[1]["id"]


def test_retrying_with_the_same_key_never_posts_twice(server: MockServer) -> None:
    outgoing = Outgoing("again|2026-12-01T14:00:00Z|mastodon|en", "en", ("Only once, please",))
    earlier = Attempt(outgoing)
    first = platform(server).publish(earlier)
    # As after a crash before the outcome was recorded: the saved memo, but no parts.
    second = platform(server).publish(Attempt(outgoing, memo={"nonce": earlier.memo["nonce"]}, resuming=True))
    assert first.parts == second.parts
    assert sum("Only once, please" in s["content"] for s in statuses(server)) == 1


def test_rate_limit_is_retryable_with_the_reset_time(server: MockServer) -> None:
    fault(server, "/api/v1/statuses", {"type": "ratelimit"})
    with pytest.raises(RetryableError, match="rate limit") as caught:
        platform(server).publish(Attempt(Outgoing("rl|2026-12-01T14:00:00Z|mastodon|en", "en", ("rate limited",))))
    assert caught.value.retry_at is not None
    assert 200 < (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 301


def test_server_error_is_retryable(server: MockServer) -> None:
    fault(server, "/api/v1/statuses", {"type": "status", "status": 503})
    with pytest.raises(RetryableError, match="server error"):
        platform(server).publish(Attempt(Outgoing("503|2026-12-01T14:00:00Z|mastodon|en", "en", ("unavailable",))))


def test_bad_token_names_the_variable_and_not_the_token(server: MockServer) -> None:
    with pytest.raises(AuthError) as caught:
        platform(server, token="wrong-token-value").check()
    assert "MASTODON_ACCESS_TOKEN" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)


def test_lost_response_is_ambiguous_and_the_retry_finds_the_status(server: MockServer) -> None:
    outgoing = Outgoing("lost|2026-12-01T14:00:00Z|mastodon|en", "en", ("The response to this one is lost",))
    fault(server, "/api/v1/statuses", {"type": "latency", "delay_ms": 2500})
    attempt = Attempt(outgoing)
    with pytest.raises(AmbiguousError):
        platform(server, timeout=1.0).publish(attempt)
    time.sleep(2.5)  # the server finishes the request the client gave up on
    retried = platform(server).publish(Attempt(outgoing, memo=attempt.memo, resuming=True))
    assert len(retried.parts) == 1
    assert sum("The response to this one is lost" in s["content"] for s in statuses(server)) == 1


def test_resuming_past_the_idempotency_window_needs_a_person(server: MockServer) -> None:
    outgoing = Outgoing("old|2026-12-01T14:00:00Z|mastodon|en", "en", ("old",))
    memo = {"creating_at": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(UnconfirmedError, match="longer ago than the server remembers"):
        platform(server).publish(Attempt(outgoing, memo=memo, resuming=True))


def test_unreachable_server_is_retryable() -> None:
    account = MastodonAccount(platform="mastodon", instance="http://127.0.0.1:9", languages=("en",))
    adapter = MastodonPlatform("mastodon", account, {"ACCESS_TOKEN": TOKEN}, timeout=2)
    with pytest.raises(RetryableError, match="cannot reach"):
        adapter.publish(Attempt(Outgoing("down|2026-12-01T14:00:00Z|mastodon|en", "en", ("down",))))


def test_no_sdk_is_imported_even_to_post(server: MockServer) -> None:
    code = (
        "import sys\n"
        "from scheduler.models import MastodonAccount\n"
        "from scheduler.platforms.base import Attempt, Outgoing\n"
        "from scheduler.platforms.mastodon import MastodonPlatform\n"
        f"account = MastodonAccount(platform='mastodon', instance='{server.base_url}', languages=('en',))\n"
        f"adapter = MastodonPlatform('mastodon', account, {{'ACCESS_TOKEN': '{TOKEN}'}})\n"
        "adapter.prepare()\n"
        "print(adapter.check())\n"
        "adapter.publish(Attempt(Outgoing('sdk|2026-12-01T14:00:00Z|mastodon|en', 'en', ('no sdk',))))\n"
        "print('mastodon' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.stdout.split() == [f"@alice@{server.base_url.split('://')[1]}", "False"]


# ---- the REST calls themselves: what is sent, the media polling, the instance fallback


def fault_on(server: MockServer, method: str, path_regex: str, effect: dict[str, Any], count: int = 1) -> None:
    body: dict[str, Any] = {"match": {"methods": [method], "path_regex": path_regex}, "effect": effect, "count": count}
    requests.post(f"{server.base_url}/api/v1/_mock/faults", json=body, timeout=5).raise_for_status()


def faults_left(server: MockServer) -> list[Any]:
    answer = requests.get(f"{server.base_url}/api/v1/_mock/faults", timeout=5).json()
    return list(answer["faults"] if isinstance(answer, dict) else answer)


def record_requests(adapter: MastodonPlatform) -> list[tuple[str, str, int, dict[str, str]]]:
    """(method, path, status, request headers) of every request the adapter makes from now on."""
    seen: list[tuple[str, str, int, dict[str, str]]] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        path = (request.path_url or "").split("?")[0]
        seen.append((request.method or "", path, response.status_code, {k: str(v) for k, v in request.headers.items()}))

    adapter.session.hooks["response"].append(hook)
    return seen


def test_every_status_carries_its_idempotency_key_and_the_server_honours_it(server: MockServer) -> None:
    adapter = platform(server)
    seen = record_requests(adapter)
    outgoing = Outgoing("keyed|2026-12-01T14:00:00Z|mastodon|en", "en", ("Keyed 1/2", "Keyed 2/2"))
    attempt = Attempt(outgoing)
    published = adapter.publish(attempt)
    creates = [headers for method, path, _, headers in seen if (method, path) == ("POST", "/api/v1/statuses")]
    nonce = attempt.memo["nonce"]
    expected = [hashlib.sha256(f"{outgoing.key}#{nonce}#{index}".encode()).hexdigest() for index in range(2)]
    assert [headers["Idempotency-Key"] for headers in creates] == expected
    assert all(headers["Authorization"] == f"Bearer {TOKEN}" for _, _, _, headers in seen)
    # The same key a second time (a lost answer, sent again) is the same status, not a new one.
    again = requests.post(
        f"{server.base_url}/api/v1/statuses",
        data={"status": "Keyed 1/2", "language": "en"},
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": expected[0]},
        timeout=5,
    )
    assert again.json()["id"] == published.parts[0].id
    assert sum("Keyed 1/2" in s["content"] for s in statuses(server)) == 1


def test_an_image_still_processing_is_polled_until_it_has_a_url(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "MEDIA_POLL", 0.01)
    # A real upload, which the server then reports as still processing: 202 without a url, twice 206.
    uploaded = server.client("alice").media_post(card_image().data, mime_type="image/png", description="processing")
    media_id = str(uploaded["id"])
    pending = {"id": media_id, "type": "image", "url": None, "description": "processing"}
    fault_on(server, "POST", r"^/api/v2/media$", {"type": "status", "status": 202, "body": pending})
    fault_on(server, "GET", rf"^/api/v1/media/{media_id}$", {"type": "status", "status": 206, "body": pending}, 2)
    adapter = platform(server)
    seen = record_requests(adapter)
    attempt = Attempt(Outgoing("slow|2026-12-01T14:00:00Z|mastodon|en", "en", ("slow media",), card_image()))
    published = adapter.publish(attempt)
    polls = [status for method, path, status, _ in seen if (method, path) == ("GET", f"/api/v1/media/{media_id}")]
    assert polls == [206, 206, 200]
    assert not faults_left(server)
    assert attempt.memo["media_id"] == media_id
    status = server.client("alice").status(published.parts[0].id)
    assert [str(m["id"]) for m in status["media_attachments"]] == [media_id]


def test_an_image_never_processed_is_retryable(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter_module, "MEDIA_POLL", 0.01)
    monkeypatch.setattr(adapter_module, "MEDIA_DEADLINE", 0.2)
    pending = {"id": "999999", "type": "image", "url": None}
    fault_on(server, "POST", r"^/api/v2/media$", {"type": "status", "status": 202, "body": pending})
    fault_on(server, "GET", r"^/api/v1/media/999999$", {"type": "status", "status": 206, "body": pending}, 1000)
    attempt = Attempt(Outgoing("stuck|2026-12-01T14:00:00Z|mastodon|en", "en", ("stuck media",), card_image()))
    with pytest.raises(RetryableError, match="did not finish processing the image"):
        platform(server).publish(attempt)
    assert "media_id" not in attempt.memo
    assert not any("stuck media" in s["content"] for s in statuses(server))


def test_prepare_reads_the_server_once_and_keeps_the_connection(server: MockServer) -> None:
    adapter = platform(server)
    seen = record_requests(adapter)
    adapter.prepare()
    assert adapter.image_limit() == 10 * 1024 * 1024  # what mastodon-mock announces
    adapter.publish(Attempt(Outgoing("ready|2026-12-01T14:00:00Z|mastodon|en", "en", ("ready",), card_image())))
    assert [(method, path) for method, path, _, _ in seen] == [
        ("GET", "/api/v2/instance"),
        ("POST", "/api/v2/media"),
        ("POST", "/api/v1/statuses"),
    ]
    transport = adapter.session.get_adapter(server.base_url)
    assert isinstance(transport, HTTPAdapter)
    pools = transport.poolmanager.pools
    # urllib3's pool container cannot be iterated, only its keys(): one keep-alive connection for all three.
    assert [pools[key].num_connections for key in pools.keys()] == [1]  # noqa: SIM118


def test_a_server_without_the_v2_instance_is_read_from_v1(server: MockServer) -> None:
    fault_on(server, "GET", r"^/api/v2/instance/?$", {"type": "status", "status": 404, "body": {"error": "Not Found"}})
    adapter = platform(server)
    seen = record_requests(adapter)
    assert adapter.image_limit() == 10 * 1024 * 1024
    assert [(path, status) for _, path, status, _ in seen] == [("/api/v2/instance", 404), ("/api/v1/instance", 200)]


def test_a_server_older_than_3_1_4_gets_the_image_on_v1_media(server: MockServer) -> None:
    old = {"version": "3.0.1", "configuration": {"media_attachments": {"image_size_limit": 8 * 1024 * 1024}}}
    fault_on(server, "GET", r"^/api/v2/instance/?$", {"type": "status", "status": 404, "body": {"error": "Not Found"}})
    fault_on(server, "GET", r"^/api/v1/instance/?$", {"type": "status", "status": 200, "body": old})
    adapter = platform(server)
    seen = record_requests(adapter)
    assert adapter.image_limit() == 8 * 1024 * 1024
    published = adapter.publish(Attempt(Outgoing("v1|2026-12-01T14:00:00Z|mastodon|en", "en", ("v1",), card_image())))
    assert ("POST", "/api/v1/media") in [(method, path) for method, path, _, _ in seen]
    assert len(server.client("alice").status(published.parts[0].id)["media_attachments"]) == 1


def test_an_alt_text_over_the_server_limit_is_refused_before_uploading(server: MockServer) -> None:
    limits = {"version": "4.4.0", "configuration": {"media_attachments": {"description_limit": 10}}}
    fault_on(server, "GET", r"^/api/v2/instance/?$", {"type": "status", "status": 200, "body": limits})
    adapter = platform(server)
    seen = record_requests(adapter)
    with pytest.raises(PermanentError, match="the alt text is 23 characters; this server takes at most 10"):
        adapter.publish(Attempt(Outgoing("alt|2026-12-01T14:00:00Z|mastodon|en", "en", ("alt",), card_image())))
    assert [path for _, path, _, _ in seen] == ["/api/v2/instance"]


def test_rate_limit_reset_as_mastodon_sends_it_an_iso_time(server: MockServer) -> None:
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
    headers = {"X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    fault(server, "/api/v1/statuses", {"type": "ratelimit", "headers": headers})
    with pytest.raises(RetryableError, match="rate limit") as caught:
        platform(server).publish(Attempt(Outgoing("iso|2026-12-01T14:00:00Z|mastodon|en", "en", ("iso reset",))))
    assert caught.value.retry_at is not None
    assert abs((caught.value.retry_at - reset).total_seconds()) <= 2


def test_the_token_is_nowhere_but_in_the_request_header(server: MockServer) -> None:
    adapter = platform(server, token="secret-token-value")
    assert "secret-token-value" not in repr(adapter.session.auth)
    assert "secret-token-value" not in repr(vars(adapter))


@pytest.mark.parametrize(
    ("reported", "version"),
    [
        ("4.3.2", (4, 3, 2)),
        ("4.4.0-beta.1", (4, 4, 0)),
        ("4.2.10+glitch", (4, 2, 10)),
        ("1.0.6+3.5.3", (3, 5, 3)),  # Hometown
        ("0.17.3+git-d6c4bd1", (0, 17, 3)),  # GoToSocial
        ("3.0.0+0.16.0", (3, 0, 0)),
        ("2.7.2 (compatible; Pleroma 2.5.0)", (2, 7, 2)),
        ("4.3", (1, 0, 0)),
        ("", (1, 0, 0)),
        (None, (1, 0, 0)),
    ],
)
def test_the_version_is_read_as_mastodon_py_read_it(reported: str | None, version: tuple[int, int, int]) -> None:
    assert adapter_module._version(reported) == version
