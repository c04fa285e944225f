"""The Mastodon adapter against mastodon-mock, a real Mastodon API server, with the real Mastodon.py."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mastodon_mock.testing import MockServer
from PIL import Image as PILImage

from scheduler.models import MastodonAccount
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Image,
    Outgoing,
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


def test_module_does_not_import_the_sdk_until_used() -> None:
    code = "import sys, scheduler.platforms.mastodon; print('mastodon' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.stdout.strip() == "False"
