"""The AppView stub against the real local PDS: real accounts act through the atproto SDK, the stub counts.

Uses the PDS at $PDS_URL if set; otherwise the session fixture starts one (tests/conftest.py).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from atproto import Client, models
from atproto_client.exceptions import RequestException
from atproto_client.models.utils import get_or_create
from PIL import Image as PILImage

from tests.conftest import PdsAccount, new_bsky_account

from .server import AppViewStub, parse_at_uri

ROOT = Path(__file__).resolve().parents[3]
GET_POSTS = "/xrpc/app.bsky.feed.getPosts"
POST = "app.bsky.feed.post"


@dataclass
class User:
    account: PdsAccount
    client: Client

    @property
    def did(self) -> str:
        return self.account.did

    def post(self, text: str, **kwargs: Any) -> models.ComAtprotoRepoStrongRef.Main:
        created = self.client.send_post(text, profile_identify=self.did, **kwargs)
        return models.create_strong_ref(created)

    def like(self, subject: models.ComAtprotoRepoStrongRef.Main) -> str:
        record = models.AppBskyFeedLike.Record(created_at=self.client.get_current_time_iso(), subject=subject)
        return str(self.client.app.bsky.feed.like.create(self.did, record).uri)

    def repost(self, subject: models.ComAtprotoRepoStrongRef.Main) -> str:
        record = models.AppBskyFeedRepost.Record(created_at=self.client.get_current_time_iso(), subject=subject)
        return str(self.client.app.bsky.feed.repost.create(self.did, record).uri)


def login(pds_url: str) -> User:
    account = new_bsky_account(pds_url)
    client = Client(base_url=pds_url)
    # No AppView behind the PDS: skip the profile lookup (send_post is then told the repo explicitly).
    client.login(account.handle, account.app_password, fetch_bsky_profile=False)
    return User(account, client)


@pytest.fixture(scope="module")
def appview(pds_url: str) -> Iterator[AppViewStub]:
    with AppViewStub(pds_url) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(appview: AppViewStub) -> Iterator[None]:
    yield
    appview.clear_faults()
    appview.clear_calls()


@pytest.fixture(scope="module")
def alice(pds_url: str) -> User:
    return login(pds_url)


@pytest.fixture(scope="module")
def bob(pds_url: str) -> User:
    return login(pds_url)


def get_posts(appview: AppViewStub, *uris: str) -> requests.Response:
    return requests.get(appview.url + GET_POSTS, params={"uris": list(uris)}, timeout=30)


def views(appview: AppViewStub, *uris: str) -> list[dict[str, Any]]:
    response = get_posts(appview, *uris)
    assert response.status_code == 200, response.text
    return list(response.json()["posts"])


def counts(view: dict[str, Any]) -> tuple[int, int, int, int]:
    return view["likeCount"], view["repostCount"], view["replyCount"], view["quoteCount"]


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (27, 27, 27)).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- counting


def test_like_repost_reply_and_quote_are_counted(appview: AppViewStub, alice: User, bob: User) -> None:
    post = alice.post("Pan y trabajo")
    bob.like(post)
    bob.repost(post)
    reply = bob.post("De acuerdo", reply_to=models.AppBskyFeedPost.ReplyRef(root=post, parent=post))
    quote = bob.post("Mirad esto", embed=models.AppBskyEmbedRecord.Main(record=post))

    [view] = views(appview, post.uri)

    assert counts(view) == (1, 1, 1, 1)
    assert (view["uri"], view["cid"]) == (post.uri, post.cid)
    assert view["author"]["did"] == alice.did
    assert view["author"]["handle"] == alice.account.handle
    assert view["record"]["$type"] == POST
    assert view["record"]["text"] == "Pan y trabajo"
    assert view["labels"] == []
    assert view["indexedAt"].endswith("Z")
    # The reply and the quote are posts too, by Bob, with nothing on them yet; order follows the request.
    reply_view, quote_view = views(appview, reply.uri, quote.uri)
    assert (reply_view["uri"], quote_view["uri"]) == (reply.uri, quote.uri)
    assert reply_view["author"]["handle"] == quote_view["author"]["handle"] == bob.account.handle
    assert counts(reply_view) == counts(quote_view) == (0, 0, 0, 0)
    assert quote_view["record"]["embed"]["record"]["uri"] == post.uri


def test_unlike_lowers_the_count(appview: AppViewStub, alice: User, bob: User) -> None:
    post = alice.post("Cuenta atrás")
    like = bob.like(post)
    alice.like(post)  # one's own like counts too
    assert views(appview, post.uri)[0]["likeCount"] == 2

    bob.client.app.bsky.feed.like.delete(bob.did, like.rsplit("/", 1)[1])

    assert views(appview, post.uri)[0]["likeCount"] == 1


def test_quote_with_media_and_nested_replies(appview: AppViewStub, alice: User, bob: User) -> None:
    post = alice.post("Con foto")
    blob = bob.client.upload_blob(png()).blob
    media = models.AppBskyEmbedImages.Main(images=[models.AppBskyEmbedImages.Image(alt="gris", image=blob)])
    bob.post(
        "Cita con foto",
        embed=models.AppBskyEmbedRecordWithMedia.Main(media=media, record=models.AppBskyEmbedRecord.Main(record=post)),
    )
    reply = bob.post("Primera", reply_to=models.AppBskyFeedPost.ReplyRef(root=post, parent=post))
    alice.post("Respuesta a la respuesta", reply_to=models.AppBskyFeedPost.ReplyRef(root=post, parent=reply))

    post_view, reply_view = views(appview, post.uri, reply.uri)

    # replyCount counts direct replies only, as the AppView does.
    assert counts(post_view) == (0, 0, 1, 1)
    assert counts(reply_view) == (0, 0, 1, 0)


# ------------------------------------------------------------------------------------------- the lexicon


def test_response_parses_as_the_sdk_model(appview: AppViewStub, alice: User, bob: User) -> None:
    post = alice.post("Modelo")
    bob.like(post)

    parsed = get_or_create(get_posts(appview, post.uri).json(), models.AppBskyFeedGetPosts.Response)
    # The SDK itself, pointed at the stub as at https://public.api.bsky.app.
    fetched = Client(base_url=appview.url).app.bsky.feed.get_posts({"uris": [post.uri]})

    for response in (parsed, fetched):
        assert isinstance(response, models.AppBskyFeedGetPosts.Response)
        [view] = response.posts
        assert isinstance(view, models.AppBskyFeedDefs.PostView)
        assert (view.uri, view.cid, view.like_count, view.repost_count) == (post.uri, post.cid, 1, 0)
        assert view.author.handle == alice.account.handle
        assert isinstance(view.record, models.AppBskyFeedPost.Record)
        assert view.record.text == "Modelo"


def test_missing_posts_are_left_out(appview: AppViewStub, alice: User) -> None:
    post = alice.post("Existe")
    unknown_rkey = f"at://{alice.did}/{POST}/3zzzzzzzzzzzz"
    unknown_repo = f"at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/{POST}/{post.uri.rsplit('/', 1)[1]}"
    not_a_post = f"at://{alice.did}/app.bsky.actor.profile/self"

    found = views(appview, unknown_rkey, post.uri, unknown_repo, not_a_post, post.uri)

    assert [view["uri"] for view in found] == [post.uri]  # duplicates collapse, as on the AppView
    assert views(appview, unknown_rkey) == []


def test_handle_uri_comes_back_in_did_form(appview: AppViewStub, alice: User) -> None:
    post = alice.post("Por handle")
    by_handle = post.uri.replace(alice.did, alice.account.handle)

    [view] = views(appview, by_handle)

    assert (view["uri"], view["author"]["did"]) == (post.uri, alice.did)


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ([], 'Params must have the property "uris"'),
        ([f"at://did:plc:x/{POST}/{n}" for n in range(26)], "uris must not have more than 25 elements"),
        ([f"at://did:plc:x/{POST}/a", "https://bsky.app/profile/x"], "uris/1 must be a valid at-uri"),
        ([f"at://did:plc:x/{POST}/a b"], "uris/0 must be a valid at-uri"),
        (["at://not a handle"], "uris/0 must be a valid at-uri"),
        ([""], "uris/0 must be a valid at-uri"),
    ],
)
def test_invalid_requests(appview: AppViewStub, uris: list[str], message: str) -> None:
    response = get_posts(appview, *uris)

    assert response.status_code == 400
    assert response.json() == {"error": "InvalidRequest", "message": message}


def test_at_uri_syntax() -> None:
    assert parse_at_uri(f"at://did:plc:abc/{POST}/3kabc") == ("did:plc:abc", POST, "3kabc")
    assert parse_at_uri("at://alice.test") == ("alice.test", None, None)
    for bad in ("at://alice.test/", f"at://did:plc:abc/{POST}/a/b", "at://did:plc:abc/not-nsid/x", "at://x?y=1"):
        assert parse_at_uri(bad) is None, bad


def test_calls_show_batches_of_25(appview: AppViewStub, alice: User) -> None:
    post = alice.post("Lote")
    batch = [post.uri] + [f"at://{alice.did}/{POST}/3zzzzzzzzz{n:03d}" for n in range(24)]

    assert len(views(appview, *batch)) == 1
    get_posts(appview, *batch, post.uri)

    assert appview.calls() == [{"uris": 25, "status": 200}, {"uris": 26, "status": 400}]
    over_http = requests.get(appview.url + "/_stub/calls", timeout=5).json()
    assert over_http == {"count": 2, "calls": appview.calls()}
    requests.delete(appview.url + "/_stub/calls", timeout=5).raise_for_status()
    assert appview.calls() == []


# ---------------------------------------------------------------------------------------------------- faults


def test_rate_limit_fault_over_http(appview: AppViewStub, alice: User) -> None:
    post = alice.post("Límite")
    fault = {"status": 429, "count": 2}
    assert requests.post(appview.url + "/_stub/faults", json=fault, timeout=5).status_code == 201

    first, second, third = (get_posts(appview, post.uri) for _ in range(3))

    for limited in (first, second):
        assert limited.status_code == 429
        assert limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        assert limited.headers["ratelimit-limit"] == "3000"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert time.time() < int(limited.headers["ratelimit-reset"]) <= time.time() + 3600
    assert third.status_code == 200
    assert [call["status"] for call in appview.calls()] == [429, 429, 200]


def test_fault_headers_and_status_are_chosen(appview: AppViewStub, alice: User) -> None:
    post = alice.post("Caída")
    appview.add_fault(429, headers={"ratelimit-reset": "1999999999"})
    appview.add_fault(503, count=5)

    limited = get_posts(appview, post.uri)
    assert (limited.status_code, limited.headers["ratelimit-reset"]) == (429, "1999999999")
    # The SDK sees the 503 as Bluesky's own: an XRPC error with its name.
    with pytest.raises(RequestException) as raised:
        Client(base_url=appview.url).app.bsky.feed.get_posts({"uris": [post.uri]})
    assert raised.value.response is not None
    assert raised.value.response.status_code == 503
    assert raised.value.response.content.error == "NotEnoughResources"

    assert requests.delete(appview.url + "/_stub/faults", timeout=5).json() == {"cleared": 1}
    assert get_posts(appview, post.uri).status_code == 200


def test_bad_fault_is_refused(appview: AppViewStub) -> None:
    response = requests.post(appview.url + "/_stub/faults", json={"status": 200}, timeout=5)

    assert response.status_code == 400


# ------------------------------------------------------------------------------------------------------- CLI


def test_command_line_prints_ready_and_serves(pds_url: str, alice: User) -> None:
    post = alice.post("Por la línea de órdenes")
    command = [sys.executable, "-m", "tests.peers.appview.server", "--pds", pds_url, "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("READY http://127.0.0.1:")
            url = line.removeprefix("READY ")
            response = requests.get(url + GET_POSTS, params={"uris": post.uri}, timeout=30)
            assert [view["uri"] for view in response.json()["posts"]] == [post.uri]
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
