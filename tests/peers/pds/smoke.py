"""End-to-end smoke check of the local Bluesky PDS with the real `atproto` client.

Start the PDS first (tests/peers/pds/run.sh), then:

    .venv/bin/python tests/peers/pds/smoke.py [--pds-url http://127.0.0.1:2583]

Creates an account (handle ``alice-<random>.test``) and an app password, logs in with the app
password, uploads a PNG, creates a post with an image embed and ``langs=["es"]`` under a
caller-chosen TID rkey, reads it back with ``com.atproto.repo.getRecord`` and prints it.
Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import time
from typing import Any

from atproto import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import AtProtocolError
from PIL import Image

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
_last_tid_us = 0


def make_tid(clock_id: int | None = None) -> str:
    """A fresh atproto TID: 0 bit, 53-bit microseconds since the epoch, 10-bit clock id; 13 chars."""
    global _last_tid_us  # monotonic within this process
    now_us = max(time.time_ns() // 1000, _last_tid_us + 1)
    _last_tid_us = now_us
    clock = secrets.randbelow(1024) if clock_id is None else clock_id & 0x3FF
    value = (now_us << 10) | clock
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 0x1F] for i in reversed(range(13)))


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buf, format="PNG")
    return buf.getvalue()


def create_account(pds_url: str, handle: str, email: str, password: str) -> str:
    """com.atproto.server.createAccount on an open PDS (no invite); returns the new DID."""
    anon = Client(base_url=pds_url)
    created = anon.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(handle=handle, email=email, password=password)
    )
    return str(created.did)


def create_app_password(pds_url: str, handle: str, password: str, name: str) -> str:
    """com.atproto.server.createAppPassword, authenticated with the main password."""
    main = Client(base_url=pds_url)
    main.login(handle, password, fetch_bsky_profile=False)
    app_pw = main.com.atproto.server.create_app_password(models.ComAtprotoServerCreateAppPassword.Data(name=name))
    return str(app_pw.password)


def say(label: str, value: Any = "") -> None:
    sys.stdout.write(f"{label} {value}\n" if value != "" else f"{label}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pds-url", default=os.environ.get("PDS_URL", "http://127.0.0.1:2583"))
    parser.add_argument("--handle", default=f"alice-{secrets.token_hex(3)}.test")
    args = parser.parse_args(argv)
    pds_url: str = args.pds_url
    handle: str = args.handle

    password = secrets.token_urlsafe(18)
    did = create_account(pds_url, handle, f"{handle.split('.')[0]}@example.test", password)
    say("account", f"{handle} {did}")

    app_password = create_app_password(pds_url, handle, password, "slogan-scheduler-smoke")
    say("app password created", f"({len(app_password)} chars)")

    # A bare PDS has no AppView: skip the app.bsky.actor.getProfile lookup. client.me stays None,
    # so the repo DID comes from the session (captured here the way the daemon persists it).
    client = Client(base_url=pds_url)
    sessions: list[Session] = []

    def on_session_change(_event: SessionEvent, session: Session) -> None:
        sessions.append(session)

    client.on_session_change(on_session_change)
    profile = client.login(handle, app_password, fetch_bsky_profile=False)
    assert profile is None
    assert client.me is None
    assert sessions, "no session event"
    assert sessions[-1].did == did, sessions
    session_string = client.export_session_string()
    say("logged in with app password", f"did={sessions[-1].did}")

    png = tiny_png(4, 3)
    blob = client.upload_blob(png).blob
    say("blob", f"{blob.cid} {blob.mime_type} {blob.size} bytes")

    rkey = make_tid()
    record = models.AppBskyFeedPost.Record(
        created_at=client.get_current_time_iso(),
        text="Prueba de publicación programada #slogan",
        langs=["es"],
        embed=models.AppBskyEmbedImages.Main(
            images=[
                models.AppBskyEmbedImages.Image(
                    alt="Un cuadrado rojo de prueba",
                    image=blob,
                    aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=4, height=3),
                )
            ]
        ),
    )
    created = client.app.bsky.feed.post.create(did, record, rkey=rkey)
    say("created", f"{created.uri} cid={created.cid}")
    assert created.uri == f"at://{did}/app.bsky.feed.post/{rkey}", created.uri

    # Retrying the same rkey must not create a second post: the PDS refuses it.
    try:
        client.app.bsky.feed.post.create(did, record, rkey=rkey)
    except AtProtocolError as exc:
        response = exc.response
        detail = f"{response.status_code} {response.content.error}: {response.content.message}" if response else exc
        say("retry with the same rkey refused:", f"{type(exc).__name__} {detail}")
    else:
        raise AssertionError("a second create with the same rkey was accepted")

    got = client.com.atproto.repo.get_record(
        models.ComAtprotoRepoGetRecord.Params(repo=did, collection="app.bsky.feed.post", rkey=rkey)
    )
    assert got.uri == created.uri, got
    assert got.cid == created.cid, got
    value = got.value
    assert isinstance(value, models.AppBskyFeedPost.Record), type(value)
    assert value.langs == ["es"], value.langs
    assert isinstance(value.embed, models.AppBskyEmbedImages.Main), value.embed
    assert str(value.embed.images[0].image.cid) == str(blob.cid)
    aspect = value.embed.images[0].aspect_ratio
    assert aspect is not None
    assert (aspect.width, aspect.height) == (4, 3), aspect
    say("getRecord", json.dumps(got.model_dump(mode="json", by_alias=True, exclude_none=True), ensure_ascii=False))

    fetched = client.com.atproto.sync.get_blob(models.ComAtprotoSyncGetBlob.Params(did=did, cid=str(blob.cid)))
    assert fetched == png, "blob bytes differ"
    say("getBlob", "bytes match")

    # The same session, restored from its string (no new createSession), can post via send_post.
    restored = Client(base_url=pds_url)
    restored.login(session_string=session_string, fetch_bsky_profile=False)
    sent = restored.send_post("Segundo mensaje", profile_identify=did, langs=["es"])
    say("send_post (restored session)", sent.uri)

    say("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
