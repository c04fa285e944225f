"""`post`, `status` and `accounts check` as a person runs them, against the local peers; and a
process killed between its claim and its record, run again: nothing is posted twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from atproto import Client, models
from mastodon_mock.testing import MockServer

from scheduler.ledger import Ledger, default_url
from tests.conftest import ROOT, PdsAccount, Result, mastodon_fault, new_bsky_account, x_environment
from tests.peers.x_stub.server import XStub

TEXT_EN = "U.S. out of Haiti! Posted by the test at {stamp}"


@pytest.fixture
def campaign(tmp_path: Path, mastodon_server: MockServer, x_stub: XStub, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A campaign posting to Mastodon, X and the outbox, with its secrets in the environment."""
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    stamp = time.time_ns()  # a text of its own, so X never sees it as a duplicate of another test's
    (tmp_path / "posts.yaml").write_text(
        f"""
timezone: America/New_York
languages: [en, es]
accounts:
  mastodon: {{platform: mastodon, instance: "{mastodon_server.base_url}", languages: [en, es]}}
  x-en: {{platform: x, api_base: "{x_stub.url}", languages: [en]}}
  outbox: {{platform: outbox, languages: [en, es]}}
  bluesky: {{platform: bluesky, handle: someone.bsky.social, languages: [en], enabled: false}}
posts:
  - id: slogan
    text: {{en: "{TEXT_EN.format(stamp=stamp)}", es: "¡EE.UU. fuera de Haití! {stamp}"}}
    card: {{slogan: {{en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}}}}
    at: 2030-12-01 09:00
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "alice_token")
    monkeypatch.setenv("SCHEDULER_REQUEST_TIMEOUT", "5")
    for name, value in x_environment("x-en").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCHEDULER_CONFIG", raising=False)
    monkeypatch.delenv("SCHEDULER_LEDGER", raising=False)
    return tmp_path


def mastodon_texts(server: MockServer, needle: str) -> int:
    client = server.client("alice")
    me = client.account_verify_credentials()
    return sum(needle in status["content"] for status in client.account_statuses(me["id"], limit=40))


def x_texts(stub: XStub, needle: str) -> int:
    return sum(needle in tweet["text"] for tweet in stub.state()["tweets"])


def test_post_delivers_everywhere_and_a_second_run_posts_nothing(
    campaign: Path, run_cli: Callable[..., Result], mastodon_server: MockServer, x_stub: XStub
) -> None:
    stamp = (campaign / "posts.yaml").read_text().split("Posted by the test at ")[1].split('"')[0]
    first = run_cli("post", "slogan")
    assert first.exit_code == 0, first.output
    published = [line for line in first.lines if line.startswith("published")]
    assert len(published) == 5  # mastodon en+es, x-en en, outbox en+es; bluesky is disabled
    assert any(line.startswith("published   x-en en https://x.com/campaign_en/status/") for line in published)
    assert mastodon_texts(mastodon_server, stamp) == 2
    assert x_texts(x_stub, stamp) == 1
    second = run_cli("post", "slogan")
    assert second.exit_code == 0
    assert all(line.startswith("refused") for line in second.lines), second.output
    assert mastodon_texts(mastodon_server, stamp) == 2
    assert x_texts(x_stub, stamp) == 1
    status = run_cli("status", "--json")
    recent = json.loads(status.output)["recent"]
    assert {(r["account"], r["language"], r["state"]) for r in recent} == {
        ("mastodon", "en", "published"),
        ("mastodon", "es", "published"),
        ("x-en", "en", "published"),
        ("outbox", "en", "published"),
        ("outbox", "es", "published"),
    }
    assert all(r["urls"] and r["due_utc"] == "2030-12-01T14:00:00Z" for r in recent)
    table = run_cli("status")
    assert table.lines[1:3] == ["Next deliveries: none scheduled", "Recent deliveries:"]
    assert table.lines[3].startswith("  published   slogan ")
    assert ": due Sun 2030-12-01 09:00 EST (14:00 UTC), went out " in table.lines[3]
    assert all(r["published_utc"] for r in recent)


def test_dry_run_shows_everything_and_records_nothing(campaign: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("post", "slogan", "--dry-run", "--account", "x-en")
    assert result.exit_code == 0, result.output
    assert result.lines[0] == "would post  x-en (x) en, due Sun 2030-12-01 09:00 EST (14:00 UTC):"
    assert result.lines[1].startswith("  text (")
    assert result.lines[2].startswith("  image: image/png, ")
    assert result.lines[3] == "  alt: U.S. out of Haiti!"
    assert run_cli("status").lines[-1] == "No deliveries recorded yet."


def test_post_refuses_a_disabled_account_and_an_unknown_post(campaign: Path, run_cli: Callable[..., Result]) -> None:
    disabled = run_cli("post", "slogan", "--account", "bluesky")
    assert disabled.lines == ["refused     bluesky -: the account is disabled in posts.yaml"]
    unknown = run_cli("post", "nope")
    assert unknown.exit_code == 1
    assert unknown.lines[0].startswith("Error: no post 'nope' in posts.yaml")


def test_accounts_check(campaign: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    good = run_cli("accounts", "check")
    assert good.exit_code == 0, good.output
    assert good.lines[0].startswith("ok        mastodon (mastodon): @alice@127.0.0.1:")
    assert good.lines[1] == "ok        x-en (x): @campaign_en"
    assert good.lines[3] == "disabled  bluesky (bluesky): enabled: false in posts.yaml"
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "a-wrong-token-value")
    bad = run_cli("accounts", "check")
    assert bad.exit_code == 1
    assert "FAILED    mastodon (mastodon):" in bad.lines[0]
    assert "MASTODON_ACCESS_TOKEN" in bad.lines[0]
    assert "a-wrong-token-value" not in bad.output


def run_post_in_background(campaign: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "post", "slogan", *args],
        cwd=campaign,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_claim(campaign: Path, account: str, key: str, limit: float = 20.0) -> None:
    ledger = Ledger(default_url(campaign))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        records = ledger.records(account=account)
        if records and records[0].state == "claimed" and key in records[0].memo:
            return
        time.sleep(0.05)
    raise AssertionError(f"the {account} delivery was never claimed with {key} saved")


def test_killed_between_claim_and_record_mastodon_posts_once(
    campaign: Path, run_cli: Callable[..., Result], mastodon_server: MockServer
) -> None:
    stamp = (campaign / "posts.yaml").read_text().split("Posted by the test at ")[1].split('"')[0]
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "latency", "delay_ms": 3000})
    process = run_post_in_background(campaign, "--account", "mastodon", "--lang", "en")
    wait_for_claim(campaign, "mastodon", "creating_at")
    process.send_signal(signal.SIGKILL)
    process.wait()
    rerun = run_cli("post", "slogan", "--account", "mastodon", "--lang", "en")
    assert rerun.exit_code == 0, rerun.output
    assert rerun.lines[0].startswith("published   mastodon en http")
    assert mastodon_texts(mastodon_server, stamp) == 1


def test_killed_between_claim_and_record_x_is_unconfirmed_not_resent(
    campaign: Path, run_cli: Callable[..., Result], x_stub: XStub
) -> None:
    stamp = (campaign / "posts.yaml").read_text().split("Posted by the test at ")[1].split('"')[0]
    x_stub.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect={"type": "latency", "seconds": 3})
    process = run_post_in_background(campaign, "--account", "x-en")
    wait_for_claim(campaign, "x-en", "creating")
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(3.5)  # the stub finishes the request the dead process sent
    rerun = run_cli("post", "slogan", "--account", "x-en")
    assert rerun.exit_code == 1
    assert rerun.lines[0].startswith("unconfirmed x-en en"), rerun.output
    assert x_texts(x_stub, stamp) == 1
    again = run_cli("post", "slogan", "--account", "x-en")
    assert again.lines[0].startswith("refused     x-en en: already unconfirmed")
    assert x_texts(x_stub, stamp) == 1


def enable_bluesky(campaign: Path, pds_url: str) -> PdsAccount:
    """Turn the campaign's Bluesky account on, as a fresh account of the local PDS."""
    account = new_bsky_account(pds_url)
    config = campaign / "posts.yaml"
    config.write_text(
        config.read_text().replace(
            "bluesky: {platform: bluesky, handle: someone.bsky.social, languages: [en], enabled: false}",
            f'bluesky: {{platform: bluesky, handle: {account.handle}, service: "{pds_url}", languages: [en]}}',
        )
    )
    return account


def test_bluesky_post_through_the_command(
    campaign: Path, run_cli: Callable[..., Result], pds_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = enable_bluesky(campaign, pds_url)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", account.app_password)
    result = run_cli("post", "slogan", "--account", "bluesky")
    assert result.exit_code == 0, result.output
    assert result.lines[0].startswith(f"published   bluesky en https://bsky.app/profile/{account.handle}/post/")
    rkey = result.lines[0].rsplit("/", 1)[1]
    record = Client(base_url=pds_url).com.atproto.repo.get_record(
        models.ComAtprotoRepoGetRecord.Params(repo=account.did, collection="app.bsky.feed.post", rkey=rkey)
    )
    assert record.value.langs == ["en"]
    assert record.value.embed.images[0].alt == "U.S. out of Haiti!"
    assert (campaign / "state" / "sessions" / "bluesky.session").stat().st_mode & 0o777 == 0o600


def test_no_secret_reaches_a_log_the_ledger_the_outbox_or_the_preview(
    campaign: Path, pds_url: str, mastodon_server: MockServer
) -> None:
    account = enable_bluesky(campaign, pds_url)
    env = {**os.environ, "BLUESKY_APP_PASSWORD": account.app_password}
    secrets = [account.app_password, "alice_token", *x_environment("x-en").values()]
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "status", "status": 503})  # an error logged too
    runs = [
        subprocess.run(
            [sys.executable, str(ROOT / "run.py"), *args],
            cwd=campaign,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        for args in (
            ["post", "slogan", "--debug", "-v"],
            ["status", "--json"],
            ["accounts", "check", "-v"],
            ["preview", "-v"],
            ["post", "slogan", "--debug", "--account", "x-en", "--force"],
        )
    ]
    assert runs[0].stdout.count("published") >= 4, runs[0].stdout + runs[0].stderr
    seen = "".join(run.stdout + run.stderr for run in runs)
    assert "DEBUG" in seen  # the debug logs were really on
    for path in campaign.rglob("*"):
        if path.is_file() and path.suffix not in (".png", ".jpg", ".ttf"):
            seen += path.read_bytes().decode("utf-8", errors="replace")
    for secret in secrets:
        assert secret not in seen
