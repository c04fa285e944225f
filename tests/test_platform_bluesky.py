"""The Bluesky adapter against a real local PDS (tests/peers/pds): what arrives, sessions, errors, resuming.

Uses the PDS at $PDS_URL if set; otherwise starts one on free ports with tests/peers/pds/run.sh and
stops it afterwards. A PDS that cannot start fails the module: these tests never skip.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import secrets
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from atproto_client import Client, models
from atproto_client.utils.facet_detection import detect_facets as sdk_detect_facets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from scheduler.models import BlueskyAccount
from scheduler.platforms import bluesky
from scheduler.platforms.base import (
    AmbiguousError,
    Attempt,
    AuthError,
    Image,
    Outgoing,
    PermanentError,
    Published,
    RetryableError,
)
from scheduler.platforms.bluesky import BlueskyPlatform, new_tid
from scheduler.platforms.bluesky_facets import detect_facets
from tests.conftest import PdsAccount, Result, free_port, new_bsky_account
from tests.peers.pds.proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
PDS_DIR = ROOT / "tests" / "peers" / "pds"
ACCOUNT_ID = "bsky-test"
VARIABLE = "BSKY_TEST_APP_PASSWORD"
POSTS = "app.bsky.feed.post"


@pytest.fixture(scope="module")
def bsky(pds_url: str) -> PdsAccount:
    return new_bsky_account(pds_url)


@pytest.fixture(scope="module")
def reader(pds_url: str) -> Client:
    """An anonymous client: getRecord, listRecords and getBlob need no session."""
    return Client(base_url=pds_url)


def make_platform(
    bsky: PdsAccount, session_dir: Path, *, service: str | None = None, password: str | None = None, timeout: float = 10
) -> BlueskyPlatform:
    account = BlueskyAccount(platform="bluesky", handle=bsky.handle, service=service or bsky.url, languages=("es",))
    secrets_ = {"APP_PASSWORD": bsky.app_password if password is None else password}
    return BlueskyPlatform(ACCOUNT_ID, account, secrets_, session_dir, timeout=timeout)


def get_post(reader: Client, uri: str) -> Any:
    did, _, rkey = uri.removeprefix("at://").split("/")
    return reader.com.atproto.repo.get_record(
        models.ComAtprotoRepoGetRecord.Params(repo=did, collection=POSTS, rkey=rkey)
    )


def count_posts(reader: Client, did: str) -> int:
    total, cursor = 0, None
    while True:
        page = reader.com.atproto.repo.list_records(
            models.ComAtprotoRepoListRecords.Params(repo=did, collection=POSTS, limit=100, cursor=cursor)
        )
        total += len(page.records)
        cursor = page.cursor
        if not cursor or not page.records:
            return total


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (27, 27, 27)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Saves:
    """Snapshots of what the adapter asked the ledger to persist, in order."""

    snapshots: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)

    def attach(self, attempt: Attempt) -> Attempt:
        attempt.save = lambda: self.snapshots.append(
            ([p.id for p in attempt.done], json.loads(json.dumps(attempt.memo)))
        )
        return attempt


def outgoing(*parts: str, image: Image | None = None, language: str = "es") -> Outgoing:
    return Outgoing(key=f"test|{secrets.token_hex(4)}", language=language, parts=parts, image=image)


@pytest.fixture
def proxy(pds_url: str) -> Iterator[FaultProxy]:
    server = FaultProxy(pds_url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def canned(status: str, payload: dict[str, str], **headers: str) -> bytes:
    body = json.dumps(payload).encode()
    lines = [
        f"HTTP/1.1 {status}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- tests ----------------------------------------------------------------------------------------


def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    code = (
        "import sys, scheduler.platforms.bluesky\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('atproto', 'atproto_client', 'httpx')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


POST_IN_A_PROCESS = """
import json, os, sys
from pathlib import Path
from scheduler.models import BlueskyAccount
from scheduler.platforms.base import Attempt, Image, Outgoing
from scheduler.platforms.bluesky import BlueskyPlatform
env = os.environ
account = BlueskyAccount(platform="bluesky", handle=env["HANDLE"], service=env["SERVICE"], languages=("en",))
platform = BlueskyPlatform("bsky", account, {"APP_PASSWORD": env["APP_PASSWORD"]}, Path(sys.argv[1]))
platform.check()
platform.prepare()
image = Image(Path(sys.argv[2]).read_bytes(), "image/png", "alt", 8, 6)
parts = ("Sin SDK 1/2 https://example.org #Haiti", "Sin SDK 2/2")
published = platform.publish(Attempt(Outgoing("k", "en", parts, image)))
print(json.dumps([p.id for p in published.parts]))
print(sorted({m.split(".")[0] for m in sys.modules} & {"atproto", "atproto_client", "atproto_core", "httpx"}))
"""


def test_posting_a_thread_with_an_image_never_imports_the_sdk(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    (tmp_path / "card.png").write_bytes(png(8, 6))
    env = {**os.environ, "HANDLE": bsky.handle, "SERVICE": bsky.url, "APP_PASSWORD": bsky.app_password}
    result = subprocess.run(
        [sys.executable, "-c", POST_IN_A_PROCESS, str(tmp_path / "sessions"), str(tmp_path / "card.png")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    uris, modules = result.stdout.splitlines()
    assert modules == "[]"
    first = get_post(reader, json.loads(uris)[0])
    assert first.value.text == "Sin SDK 1/2 https://example.org #Haiti"
    assert [type(f.features[0]).__name__ for f in first.value.facets] == ["Link", "Tag"]
    assert first.value.embed.images[0].alt == "alt"


def test_new_tid_is_a_valid_increasing_tid() -> None:
    tids = [new_tid() for _ in range(2000)]
    assert all(len(t) == 13 and set(t) <= set("234567abcdefghijklmnopqrstuvwxyz") for t in tids)
    assert all(t[0] in "234567abcdefghij" for t in tids)  # the top bit is 0
    assert tids == sorted(tids)
    assert len(set(tids)) == len(tids)
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = 0
    for char in tids[-1]:
        value = value * 32 + alphabet.index(char)
    assert abs((value >> 10) / 1e6 - time.time()) < 60


def test_text_image_alt_and_language_arrive(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    data = png(40, 30)
    image = Image(data, "image/png", "Un cuadrado oscuro: «Haití» ✊", 40, 30)
    attempt = Attempt(outgoing("Una publicación con imagen", image=image))
    saves = Saves()
    saves.attach(attempt)

    published = make_platform(bsky, tmp_path).publish(attempt)

    assert isinstance(published, Published)
    assert len(published.parts) == 1
    rkey = saves.snapshots[0][1]["rkeys"][0]
    assert saves.snapshots[0] == ([], {"rkeys": [rkey]})  # saved before anything was created
    assert published.parts[0].id == f"at://{bsky.did}/{POSTS}/{rkey}"
    assert published.url == f"https://bsky.app/profile/{bsky.handle}/post/{rkey}"
    got = get_post(reader, published.parts[0].id)
    assert got.value.text == "Una publicación con imagen"
    assert got.value.langs == ["es"]
    assert got.value.reply is None
    assert got.value.facets is None
    assert attempt.memo["cids"] == [got.cid]
    shown = got.value.embed.images[0]
    assert shown.alt == "Un cuadrado oscuro: «Haití» ✊"
    assert (shown.aspect_ratio.width, shown.aspect_ratio.height) == (40, 30)
    assert shown.image.mime_type == "image/png"
    blob = reader.com.atproto.sync.get_blob(models.ComAtprotoSyncGetBlob.Params(did=bsky.did, cid=str(shown.image.cid)))
    assert blob == data


def test_links_and_hashtags_get_facets_at_utf8_byte_offsets(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    text = "¡Haití! ✊ https://example.org/x #Haiti"
    published = make_platform(bsky, tmp_path).publish(Attempt(outgoing(text)))

    facets = get_post(reader, published.parts[0].id).value.facets
    encoded = text.encode()
    link_start, tag_start = encoded.index(b"https://example.org/x"), encoded.index(b"#Haiti")
    assert link_start != text.index("https://")  # the accents and the emoji make bytes differ from characters
    found = {(f.index.byte_start, f.index.byte_end): f.features[0] for f in facets}
    assert set(found) == {(link_start, link_start + len(b"https://example.org/x")), (tag_start, len(encoded))}
    link, tag = found[(link_start, link_start + 21)], found[(tag_start, len(encoded))]
    assert isinstance(link, models.AppBskyRichtextFacet.Link)
    assert link.uri == "https://example.org/x"
    assert isinstance(tag, models.AppBskyRichtextFacet.Tag)
    assert tag.tag == "Haiti"


FACET_CORPUS = [
    "¡Haití! ✊ https://example.org/x #Haiti",
    "¡EE.UU. fuera de Haití! https://example.org/es/declaración?lang=es&x=1. #FueraDeHaití",
    "Ayiti pa a vann! Li plis: https://example.org/kreyòl #LibèteAyiti #Ayiti🇭🇹 ✊🏿",
    "U.S. out of Haiti! (https://en.wikipedia.org/wiki/Haiti_(country)) and (https://example.org/a)",
    "see example.com/path?q=1, bsky.app. or foo.test and x.invalid; sub.example.co.uk/a#frag!",
    "the end: https://example.org/statement",
    "the end: https://example.org/statement.",
    "the end: https://example.org/statement!)",
    "#123 #1a #a1 #️⃣ #✊ ＃全角 #日本語 #Haïti… #tag, #tag. #'quoted' #a#b",
    "#" + "é" * 64 + " #" + "é" * 65 + " #" + "👩‍👩‍👧‍👦" * 65,
    "$AAPL, ($BTC) $toolong $a1 $ABCDE! $5 cash$TAG",
    "日本語のテキスト https://例え.jp/パス #日本 と example.コム",
    "\u00a0#nbsp\u3000#ideographic\u200b#zerowidth\nhttps://example.org/newline\t#tab",
    "HTTPS://EXAMPLE.ORG/UPPER Example.Org/mixed",
    "@bsky.app mentions are not facets here, nor mailto:a@b.org",
    "",
]

FACET_FRAGMENTS = [
    "https://example.org/x",
    "http://a.example/c?d=e&f=(g)",
    "(https://example.org/p_(q))",
    "example.com",
    "example.com/path.",
    "bsky.app",
    "x.invalid",
    "#Haiti",
    "#Ayiti🇭🇹",
    "#LibèteAyiti",
    "#123",
    "＃全角",
    "#️⃣",
    "$AAPL",
    "($BTC)",
    "¡EE.UU. fuera de Haití!",
    "Ayiti pa a vann!",
    "日本語",
    "✊🏿",
    "👩‍👩‍👧‍👦",
    "\u200b",
    "\u00a0",
    "\u3000",
    " ",
    "\n",
    ".",
    ",",
    "!",
    ")",
    "(",
    "…",
    "«",
    "»",
    "’",
    "'",
]


def sdk_facets(text: str) -> list[dict[str, Any]]:
    return [facet.model_dump(by_alias=True, exclude_none=True) for facet in sdk_detect_facets(text)]


@pytest.mark.parametrize("text", FACET_CORPUS)
def test_facets_are_the_sdks(text: str) -> None:
    assert detect_facets(text) == sdk_facets(text)


def test_the_facet_corpus_has_links_and_tags_of_every_kind() -> None:
    found = [feature for text in FACET_CORPUS for facet in detect_facets(text) for feature in facet["features"]]
    kinds = {feature["$type"] for feature in found}
    assert kinds == {"app.bsky.richtext.facet#link", "app.bsky.richtext.facet#tag"}
    assert {"https://example.com/path?q=1", "https://bsky.app"} <= {f.get("uri") for f in found}
    assert {"$AAPL", "$BTC", "Haïti", "LibèteAyiti"} <= {f.get("tag") for f in found}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(FACET_FRAGMENTS), st.text(max_size=6)), max_size=14).map("".join))
def test_facets_are_the_sdks_on_generated_text(text: str) -> None:
    assert detect_facets(text) == sdk_facets(text)


def test_a_thread_arrives_in_order_with_root_and_parent(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    image = Image(png(8, 6), "image/png", "primera", 8, 6)
    attempt = Attempt(outgoing("1/3 Primera parte", "2/3 Segunda parte", "3/3 Tercera parte", image=image))

    published = make_platform(bsky, tmp_path).publish(attempt)

    assert [p.id for p in published.parts] == [p.id for p in attempt.done]
    rkeys = attempt.memo["rkeys"]
    assert [p.id.rsplit("/", 1)[1] for p in published.parts] == rkeys == sorted(rkeys)
    posts = [get_post(reader, p.id) for p in published.parts]
    assert [p.value.text for p in posts] == ["1/3 Primera parte", "2/3 Segunda parte", "3/3 Tercera parte"]
    assert attempt.memo["cids"] == [p.cid for p in posts]
    assert posts[0].value.reply is None
    assert posts[0].value.embed is not None
    for index in (1, 2):
        reply = posts[index].value.reply
        assert (reply.root.uri, reply.root.cid) == (posts[0].uri, posts[0].cid)
        assert (reply.parent.uri, reply.parent.cid) == (posts[index - 1].uri, posts[index - 1].cid)
        assert posts[index].value.embed is None
    created = [datetime.fromisoformat(p.value.created_at) for p in posts]
    assert created == sorted(created)


def test_the_session_is_saved_and_reused_across_instances(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    first = make_platform(bsky, tmp_path, service=proxy.url)
    assert first.check() == f"@{bsky.handle}"
    first.publish(Attempt(outgoing("Primera sesión")))
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    saved = session_file.read_text()
    assert bsky.did in saved
    assert bsky.app_password not in saved

    second = make_platform(bsky, tmp_path, service=proxy.url)
    published = second.publish(Attempt(outgoing("Misma sesión, otra instancia")))

    assert proxy.calls("com.atproto.server.createSession") == 1
    assert proxy.calls("com.atproto.server.getSession") == 1  # the second instance checked the saved one
    assert proxy.calls("com.atproto.repo.createRecord") == 2
    assert get_post(reader, published.parts[0].id).value.text == "Misma sesión, otra instancia"


def with_claims(token: str, **claims: Any) -> str:
    """A JWT with some claims changed (and so an invalid signature: only a client reading it is fooled)."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    payload = base64.urlsafe_b64encode(json.dumps({**decoded, **claims}).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


def test_a_refreshed_session_is_saved_for_the_next_instance(
    bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path
) -> None:
    make_platform(bsky, tmp_path, service=proxy.url).check()
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    saved = json.loads(session_file.read_text())
    refresh = saved["refreshJwt"]
    # Make the saved access token look expired (the adapter reads its exp without verifying it).
    saved["accessJwt"] = with_claims(saved["accessJwt"], exp=int(time.time()) - 60)
    session_file.write_text(json.dumps(saved))

    make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Sesión renovada")))

    assert proxy.calls("com.atproto.server.refreshSession") == 1
    assert proxy.calls("com.atproto.server.createSession") == 1
    refreshed = json.loads(session_file.read_text())
    assert refreshed["refreshJwt"] != refresh  # the PDS rotated the refresh token, and the new one was kept
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Sesión renovada, otra vez")))
    assert proxy.calls("com.atproto.server.createSession") == 1  # only the very first instance logged in
    assert proxy.calls("com.atproto.server.refreshSession") == 1


def test_an_expired_token_during_create_is_retryable_and_forgets_the_session(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    proxy.arm(
        "com.atproto.repo.createRecord",
        "respond",
        canned("400 Bad Request", {"error": "ExpiredToken", "message": "Token has expired"}),
    )
    attempt = Attempt(outgoing("Token caducado"))

    with pytest.raises(RetryableError, match="ExpiredToken"):
        platform.publish(attempt)

    assert not (tmp_path / f"{ACCOUNT_ID}.session").exists()
    published = platform.publish(Attempt(attempt.outgoing, memo=dict(attempt.memo), resuming=True))
    assert proxy.calls("com.atproto.server.createSession") == 2  # logged in afresh
    assert get_post(reader, published.parts[0].id).value.text == "Token caducado"


def test_an_unusable_saved_session_falls_back_to_the_app_password(
    bsky: PdsAccount, reader: Client, tmp_path: Path
) -> None:
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    session_file.write_text(f"{bsky.handle}:::{bsky.did}:::not-a-jwt:::not-a-jwt:::{bsky.url}/xrpc")

    published = make_platform(bsky, tmp_path).publish(Attempt(outgoing("Sesión ilegible")))

    assert get_post(reader, published.parts[0].id).value.text == "Sesión ilegible"
    assert "not-a-jwt" not in session_file.read_text()
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600


def sdk_session_string(bsky: PdsAccount, service: str) -> str:
    """A session as the adapter saved it while it used the atproto SDK (`handle:::did:::access:::refresh:::url`)."""
    client = Client(base_url=service)
    client.login(bsky.handle, bsky.app_password, fetch_bsky_profile=False)
    return str(client.export_session_string())


@pytest.mark.parametrize(
    "saved",
    ["sdk", "sdk-4-fields", "other-json", "binary", "empty-json", "truncated"],
)
def test_a_session_saved_in_an_older_format_is_replaced_by_a_login(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path, saved: str
) -> None:
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    if saved.startswith("sdk"):
        old = sdk_session_string(bsky, proxy.url)
        assert old.count(":::") == 4
        session_file.write_text(old if saved == "sdk" else old.rsplit(":::", 1)[0])
    elif saved == "other-json":
        session_file.write_text(json.dumps({"accessJwt": "a", "refreshJwt": "r", "did": bsky.did}))
    elif saved == "binary":
        session_file.write_bytes(b"\xff\xfe\x00garbage")
    elif saved == "empty-json":
        session_file.write_text("{}")
    else:
        make_platform(bsky, tmp_path, service=proxy.url).check()
        session_file.write_text(session_file.read_text()[:-40])
    logins = proxy.calls("com.atproto.server.createSession")

    published = make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Sesión de antes")))

    assert get_post(reader, published.parts[0].id).value.text == "Sesión de antes"
    assert proxy.calls("com.atproto.server.createSession") == logins + 1
    assert proxy.calls("com.atproto.server.getSession") == 0  # the old tokens were never sent
    assert json.loads(session_file.read_text())["did"] == bsky.did  # saved again, in the new format
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Y otra vez")))
    assert proxy.calls("com.atproto.server.createSession") == logins + 1


def test_an_access_token_about_to_expire_is_refreshed_before_the_next_call(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    before = json.loads(session_file.read_text())
    # The PDS issues 2-hour access tokens: a daemon that has held one for 1h50 refreshes it first.
    monkeypatch.setattr(bluesky, "REFRESH_AHEAD", timedelta(hours=3))

    published = platform.publish(Attempt(outgoing("Token renovado en marcha")))

    assert get_post(reader, published.parts[0].id).value.text == "Token renovado en marcha"
    assert proxy.calls("com.atproto.server.refreshSession") == 1
    assert proxy.calls("com.atproto.server.createSession") == 1
    after = json.loads(session_file.read_text())
    assert after["refreshJwt"] != before["refreshJwt"]


def test_a_refused_refresh_during_a_post_logs_in_again(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    monkeypatch.setattr(bluesky, "REFRESH_AHEAD", timedelta(hours=3))
    proxy.arm(
        "com.atproto.server.refreshSession",
        "respond",
        canned("400 Bad Request", {"error": "ExpiredToken", "message": "Token has been revoked"}),
    )

    published = platform.publish(Attempt(outgoing("Refresco rechazado")))

    assert get_post(reader, published.parts[0].id).value.text == "Refresco rechazado"
    assert proxy.calls("com.atproto.server.createSession") == 2  # the check, then the login after the refusal


def test_a_saved_session_whose_refresh_token_is_refused_falls_back_to_the_app_password(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    make_platform(bsky, tmp_path, service=proxy.url).check()
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    saved = json.loads(session_file.read_text())
    saved["accessJwt"] = with_claims(saved["accessJwt"], exp=int(time.time()) - 60)
    saved["refreshJwt"] = with_claims(saved["refreshJwt"], jti="forged")  # its signature no longer holds
    session_file.write_text(json.dumps(saved))

    published = make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Refresco inválido")))

    assert get_post(reader, published.parts[0].id).value.text == "Refresco inválido"
    assert proxy.calls("com.atproto.server.refreshSession") == 1
    assert proxy.calls("com.atproto.server.createSession") == 2
    assert json.loads(session_file.read_text())["refreshJwt"] != saved["refreshJwt"]


def test_a_saved_session_the_server_calls_expired_is_refreshed(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    make_platform(bsky, tmp_path, service=proxy.url).check()
    proxy.arm(
        "com.atproto.server.getSession",
        "respond",
        canned("400 Bad Request", {"error": "ExpiredToken", "message": "Token has expired"}),
    )

    published = make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Reloj del servidor")))

    assert get_post(reader, published.parts[0].id).value.text == "Reloj del servidor"
    assert proxy.calls("com.atproto.server.refreshSession") == 1
    assert proxy.calls("com.atproto.server.getSession") == 2
    assert proxy.calls("com.atproto.server.createSession") == 1


def test_a_session_saved_for_another_server_is_never_sent_to_this_one(
    bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path
) -> None:
    make_platform(bsky, tmp_path).check()  # straight to the PDS
    assert json.loads((tmp_path / f"{ACCOUNT_ID}.session").read_text())["service"] == bsky.url

    make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Otro servidor")))

    assert proxy.calls("com.atproto.server.getSession") == 0
    assert proxy.calls("com.atproto.server.createSession") == 1
    assert json.loads((tmp_path / f"{ACCOUNT_ID}.session").read_text())["service"] == proxy.url


def test_secrets_stay_out_of_logs_errors_and_the_memo(
    bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    attempt = Attempt(outgoing("Sin secretos", "en ningún sitio", image=Image(png(8, 6), "image/png", "x", 8, 6)))
    platform.publish(attempt)
    proxy.arm("com.atproto.repo.createRecord", "reset")
    with pytest.raises(AmbiguousError) as ambiguous:
        platform.publish(Attempt(outgoing("Conexión cortada")))
    with pytest.raises(AuthError) as refused:
        make_platform(bsky, tmp_path / "other", service=proxy.url, password=bsky.app_password + "x").check()
    saved = json.loads((tmp_path / f"{ACCOUNT_ID}.session").read_text())

    seen = caplog.text + json.dumps(attempt.memo) + str(ambiguous.value) + str(refused.value)
    assert "Bluesky creating the post" in caplog.text  # the failure was logged, and what it says is there
    for secret in (bsky.app_password, saved["accessJwt"], saved["refreshJwt"]):
        assert secret not in seen


def test_a_retry_after_on_a_server_error_is_the_retry_time(bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    proxy.arm(
        "com.atproto.repo.createRecord",
        "respond",
        canned("503 Service Unavailable", {"error": "InternalServerError", "message": "busy"}, retry_after="120"),
    )

    with pytest.raises(RetryableError) as raised:
        platform.publish(Attempt(outgoing("Vuelve luego")))

    assert raised.value.retry_at is not None
    assert 110 < (raised.value.retry_at - datetime.now(UTC)).total_seconds() <= 120


def test_a_wrong_app_password_is_an_auth_error_naming_the_variable(bsky: PdsAccount, tmp_path: Path) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(12)
    platform = make_platform(bsky, tmp_path, password=wrong)

    with pytest.raises(AuthError) as raised:
        platform.publish(Attempt(outgoing("No debe salir")))

    assert raised.value.variables == (VARIABLE,)
    assert VARIABLE in str(raised.value)
    assert wrong not in str(raised.value)
    assert raised.value.__cause__ is None
    assert not (tmp_path / f"{ACCOUNT_ID}.session").exists()


def test_a_missing_app_password_is_an_auth_error(bsky: PdsAccount, tmp_path: Path) -> None:
    with pytest.raises(AuthError, match=VARIABLE):
        make_platform(bsky, tmp_path, password="").check()


def test_check_logs_in_with_the_app_password_and_publish_reuses_that_session(
    bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path
) -> None:
    assert make_platform(bsky, tmp_path, service=proxy.url).check() == f"@{bsky.handle}"
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    first = session_file.read_text()

    assert make_platform(bsky, tmp_path, service=proxy.url).check() == f"@{bsky.handle}"

    assert proxy.calls("com.atproto.server.createSession") == 2  # the saved session was not taken as proof
    assert proxy.calls("com.atproto.server.getSession") == 0
    assert session_file.read_text() != first  # the fresh session replaced the saved one
    make_platform(bsky, tmp_path, service=proxy.url).publish(Attempt(outgoing("Con la sesión de check")))
    assert proxy.calls("com.atproto.server.createSession") == 2
    assert proxy.calls("com.atproto.server.getSession") == 1


def test_check_refuses_a_wrong_app_password_despite_a_saved_session(
    bsky: PdsAccount, reader: Client, tmp_path: Path
) -> None:
    make_platform(bsky, tmp_path).check()
    session_file = tmp_path / f"{ACCOUNT_ID}.session"
    assert session_file.exists()
    wrong = "wrong-" + secrets.token_urlsafe(12)

    with pytest.raises(AuthError) as raised:
        make_platform(bsky, tmp_path, password=wrong).check()

    assert raised.value.variables == (VARIABLE,)
    assert str(raised.value).startswith(f"Bluesky refused the app password of @{bsky.handle}")
    assert VARIABLE in str(raised.value)
    assert wrong not in str(raised.value)
    assert not session_file.exists()
    # Nothing is left that would let a run with the wrong password post.
    before = count_posts(reader, bsky.did)
    with pytest.raises(AuthError, match=VARIABLE):
        make_platform(bsky, tmp_path, password=wrong).publish(Attempt(outgoing("No debe salir")))
    assert count_posts(reader, bsky.did) == before


@pytest.mark.parametrize("resuming", [True, False], ids=["resuming-looks-first", "create-refused-then-found"])
def test_a_repeated_attempt_never_duplicates_a_post(
    bsky: PdsAccount, reader: Client, tmp_path: Path, resuming: bool
) -> None:
    platform = make_platform(bsky, tmp_path)
    first = Attempt(outgoing("Hilo 1/2", "Hilo 2/2"))
    published = platform.publish(first)
    before = count_posts(reader, bsky.did)

    # The ledger lost `done` (say a crash before it saved): only the record keys survive.
    again = Attempt(first.outgoing, memo={"rkeys": list(first.memo["rkeys"])}, resuming=resuming)
    republished = make_platform(bsky, tmp_path).publish(again)

    assert republished == published
    assert again.memo["cids"] == first.memo["cids"]
    assert count_posts(reader, bsky.did) == before


def test_a_resumed_thread_replies_to_the_parts_already_done(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    platform = make_platform(bsky, tmp_path)
    whole = outgoing("Parte 1/2", "Parte 2/2")
    first = Attempt(Outgoing(whole.key, whole.language, whole.parts[:1]))
    done = platform.publish(first).parts
    # A memo without cids: the adapter must fetch the root's cid to reply to it.
    later = Attempt(whole, done=list(done), memo={"rkeys": first.memo["rkeys"]}, resuming=True)

    published = platform.publish(later)

    root = get_post(reader, done[0].id)
    reply = get_post(reader, published.parts[1].id).value.reply
    assert published.parts[0] == done[0]
    assert (reply.root.uri, reply.root.cid, reply.parent.cid) == (root.uri, root.cid, root.cid)


@pytest.mark.parametrize(("mode", "seen"), [("close", "RemoteProtocolError"), ("reset", "ReadError")])
def test_a_lost_answer_to_create_is_ambiguous_and_resuming_finds_the_post(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path, mode: str, seen: str
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    before = count_posts(reader, bsky.did)
    attempt = Attempt(outgoing("Respuesta perdida"))
    saves = Saves()
    saves.attach(attempt)
    proxy.arm("com.atproto.repo.createRecord", mode)

    with pytest.raises(AmbiguousError, match=seen) as raised:
        platform.publish(attempt)

    assert raised.value.__cause__ is None
    assert count_posts(reader, bsky.did) == before + 1  # it did arrive
    assert attempt.done == []
    rkeys = saves.snapshots[-1][1]["rkeys"]

    retry = Attempt(attempt.outgoing, memo={"rkeys": rkeys}, resuming=True)
    published = make_platform(bsky, tmp_path, service=proxy.url).publish(retry)

    assert published.parts[0].id == f"at://{bsky.did}/{POSTS}/{rkeys[0]}"
    assert count_posts(reader, bsky.did) == before + 1
    assert proxy.calls("com.atproto.repo.createRecord") == 1  # the retry looked and found it
    assert get_post(reader, published.parts[0].id).value.text == "Respuesta perdida"


def test_a_timeout_during_create_is_ambiguous(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url, timeout=1.0)
    platform.check()
    proxy.arm("com.atproto.repo.createRecord", "delay", 2.5)
    attempt = Attempt(outgoing("Tarda demasiado"))

    with pytest.raises(AmbiguousError, match="Timeout"):
        platform.publish(attempt)

    retry = Attempt(attempt.outgoing, memo=dict(attempt.memo), resuming=True)
    published = make_platform(bsky, tmp_path, service=proxy.url).publish(retry)
    assert get_post(reader, published.parts[0].id).value.text == "Tarda demasiado"


def test_a_rate_limit_is_retryable_at_the_reset_time(bsky: PdsAccount, proxy: FaultProxy, tmp_path: Path) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    reset = int(time.time()) + 600
    proxy.arm(
        "com.atproto.repo.createRecord",
        "respond",
        canned(
            "429 Too Many Requests",
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            ratelimit_limit="5000",
            ratelimit_remaining="0",
            ratelimit_reset=str(reset),
        ),
    )

    with pytest.raises(RetryableError) as raised:
        platform.publish(Attempt(outgoing("Demasiadas")))

    assert raised.value.retry_at == datetime.fromtimestamp(reset, UTC)


def test_a_server_error_on_create_is_retryable_when_nothing_was_written(
    bsky: PdsAccount, reader: Client, proxy: FaultProxy, tmp_path: Path
) -> None:
    platform = make_platform(bsky, tmp_path, service=proxy.url)
    platform.check()
    before = count_posts(reader, bsky.did)
    proxy.arm(
        "com.atproto.repo.createRecord",
        "respond",
        canned("503 Service Unavailable", {"error": "InternalServerError", "message": "busy"}),
    )

    with pytest.raises(RetryableError, match="503"):
        platform.publish(Attempt(outgoing("Servidor ocupado")))

    assert proxy.calls("com.atproto.repo.getRecord") == 1  # it looked before calling it retryable
    assert count_posts(reader, bsky.did) == before


def test_an_unreachable_server_is_retryable(bsky: PdsAccount, tmp_path: Path) -> None:
    platform = make_platform(bsky, tmp_path, service=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(RetryableError) as raised:
        platform.publish(Attempt(outgoing("Nadie escucha")))

    assert raised.value.__cause__ is None
    assert "ConnectError" in str(raised.value)


def test_a_post_the_pds_refuses_is_permanent(bsky: PdsAccount, reader: Client, tmp_path: Path) -> None:
    before = count_posts(reader, bsky.did)

    with pytest.raises(PermanentError) as raised:
        make_platform(bsky, tmp_path).publish(Attempt(outgoing("palabra " * 60)))  # 480 graphemes > 300

    assert not isinstance(raised.value, AuthError)
    assert "InvalidRecord" in str(raised.value) or "Invalid" in str(raised.value)
    assert count_posts(reader, bsky.did) == before


def test_nothing_left_to_do_makes_no_call(bsky: PdsAccount, tmp_path: Path) -> None:
    platform = make_platform(bsky, tmp_path)
    first = Attempt(outgoing("Una vez"))
    published = platform.publish(first)
    # Nothing listens there: any call (a login, a lookup) would fail.
    fresh = make_platform(bsky, tmp_path / "elsewhere", service=f"http://127.0.0.1:{free_port()}")

    assert fresh.publish(Attempt(first.outgoing, done=list(first.done), memo=first.memo, resuming=True)) == published


# --- through the command line ---------------------------------------------------------------------


def write_project(project: Path, bsky: PdsAccount, service: str) -> None:
    (project / "posts.yaml").write_text(
        f"""
timezone: America/New_York
languages: [en, es]
accounts:
  {ACCOUNT_ID}: {{platform: bluesky, handle: {bsky.handle}, service: "{service}", languages: [en]}}
posts:
  - id: p1
    text: {{en: "Hi from the check test", es: "Hola desde la prueba"}}
    at: 2030-12-01 09:00
""",
        encoding="utf-8",
    )


def test_accounts_check_refuses_a_wrong_app_password_despite_a_saved_session(
    project: Path, run_cli: Callable[..., Result], bsky: PdsAccount, reader: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project, bsky, bsky.url)
    monkeypatch.setenv(VARIABLE, bsky.app_password)
    session_file = project / "state" / "sessions" / f"{ACCOUNT_ID}.session"

    good = run_cli("accounts", "check")

    assert good.exit_code == 0, good.output
    assert good.lines == [f"ok        {ACCOUNT_ID} (bluesky): @{bsky.handle}"]
    assert session_file.exists()

    wrong = "wrong-" + secrets.token_urlsafe(12)
    monkeypatch.setenv(VARIABLE, wrong)
    bad = run_cli("accounts", "check")

    assert bad.exit_code == 1, bad.output
    assert bad.lines[0].startswith(f"FAILED    {ACCOUNT_ID} (bluesky): Bluesky refused the app password"), bad.output
    assert bad.lines[0].endswith(f"; check {VARIABLE}")
    assert wrong not in bad.output
    assert not session_file.exists()
    before = count_posts(reader, bsky.did)
    posted = run_cli("post", "p1")  # no saved session is left to post with
    assert posted.lines[0].startswith(f"failed      {ACCOUNT_ID} en  (Bluesky refused the app password"), posted.output
    assert count_posts(reader, bsky.did) == before


def test_accounts_check_with_the_right_app_password_over_a_saved_session_is_ok(
    project: Path, run_cli: Callable[..., Result], bsky: PdsAccount, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project, bsky, proxy.url)
    monkeypatch.setenv(VARIABLE, bsky.app_password)
    session_file = project / "state" / "sessions" / f"{ACCOUNT_ID}.session"
    assert run_cli("accounts", "check").exit_code == 0
    saved = session_file.read_text()

    again = run_cli("accounts", "check")

    assert again.exit_code == 0, again.output
    assert again.lines == [f"ok        {ACCOUNT_ID} (bluesky): @{bsky.handle}"]
    assert proxy.calls("com.atproto.server.createSession") == 2  # the password was checked both times
    assert session_file.read_text() != saved  # and the saved session refreshed
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
