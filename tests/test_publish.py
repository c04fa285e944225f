"""The delivery pipeline end to end: ledger, cards, platform, recorded outcome; retries and give-ups."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mastodon_mock.testing import MockServer

from scheduler import content
from scheduler.cards import CardStore
from scheduler.credentials import Credentials
from scheduler.ledger import FAILED, PENDING, PUBLISHED, Ledger, default_url
from scheduler.models import Delivery
from scheduler.publish import Publisher, plan_manual
from tests.conftest import ROOT, mastodon_fault

DUE = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def write_campaign(folder: Path, mastodon_url: str, *, max_late: str = "1h", thread: bool = False) -> Path:
    shutil.copytree(ROOT / "assets", folder / "assets", dirs_exist_ok=True)
    long_text = " ".join(["We stand with the Haitian people against foreign armed intervention."] * 9)
    text = f"""
timezone: America/New_York
languages: [en, es]
defaults: {{max_late: {max_late}}}
accounts:
  mastodon: {{platform: mastodon, instance: "{mastodon_url}", languages: [en, es]}}
  outbox: {{platform: outbox, languages: [en, es]}}
posts:
  - id: slogan
    text: {{en: "U.S. out of Haiti! <b>&</b>", es: "¡EE.UU. fuera de Haití!"}}
    card: {{slogan: {{en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}}, size: square}}
    hashtags: [Haiti]
    at: 2026-12-01 09:00
  - id: long
    text: {{en: "{long_text}", es: "Texto corto."}}
    thread: {str(thread).lower()}
    accounts: [outbox]
    at: 2026-12-02 09:00
"""
    (folder / "posts.yaml").write_text(text, encoding="utf-8")
    return folder / "posts.yaml"


def publisher(config: Path, clock: list[datetime], token: str | None = "alice_token") -> Publisher:
    campaign = content.load(config, now=DUE - timedelta(days=7))
    project = config.parent
    environ = {"MASTODON_ACCESS_TOKEN": token} if token else {}
    return Publisher(
        campaign,
        project,
        Ledger(default_url(project)),
        CardStore(project / "state" / "cards"),
        Credentials.load(project, environ),
        project / "state" / "sessions",
        clock=lambda: clock[0],
        timeout=5.0,
    )


def test_outbox_receives_exactly_what_would_be_posted(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url)
    clock = [DUE]
    pipeline = publisher(config, clock)
    outcome = pipeline.deliver(Delivery(DUE, "slogan", "outbox", "es"))
    assert outcome.state == PUBLISHED
    entry = Path(outcome.urls[0].removeprefix("file://"))
    record = json.loads(entry.read_text(encoding="utf-8"))
    assert record["parts"] == ["¡EE.UU. fuera de Haití!\n\n#Haiti"]
    assert record["language"] == "es"
    assert record["image"]["alt"] == "¡EE.UU. fuera de Haití!"
    assert (entry.parent / record["image"]["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = pipeline.deliver(Delivery(DUE, "slogan", "outbox", "es"))
    assert (again.state, again.acted, again.urls) == (PUBLISHED, False, outcome.urls)
    pipeline.deliver(Delivery(DUE, "slogan", "outbox", "en"))
    feed = (tmp_path / "outbox" / "index.html").read_text(encoding="utf-8")
    assert "U.S. out of Haiti! &lt;b&gt;&amp;&lt;/b&gt;" in feed
    assert "<b>&</b>" not in feed


def test_mastodon_delivery_is_recorded_with_its_url(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url)
    pipeline = publisher(config, [DUE])
    outcome = pipeline.deliver(Delivery(DUE, "slogan", "mastodon", "en"))
    assert outcome.state == PUBLISHED
    record = pipeline.ledger.get(Delivery(DUE, "slogan", "mastodon", "en"))
    assert record is not None
    assert record.urls == list(outcome.urls)
    status = mastodon_server.client("alice").status(record.parts[0]["id"])
    assert status["language"] == "en"
    assert status["media_attachments"][0]["description"] == "U.S. out of Haiti!"


def test_a_retryable_failure_waits_then_succeeds(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url)
    clock = [DUE]
    pipeline = publisher(config, clock)
    delivery = Delivery(DUE, "slogan", "mastodon", "es")
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "status", "status": 503})
    first = pipeline.deliver(delivery)
    assert first.state == PENDING
    assert first.retry_at is not None
    assert "503" in (first.error or "")
    early = pipeline.deliver(delivery)
    assert (early.state, early.acted) == (PENDING, False)  # not before its retry time
    clock[0] = first.retry_at + timedelta(seconds=1)
    second = pipeline.deliver(delivery)
    assert second.state == PUBLISHED
    record = pipeline.ledger.get(delivery)
    assert record is not None
    assert record.attempts == 2


def test_retries_stop_at_max_late(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url, max_late="2s")
    pipeline = publisher(config, [DUE])
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "status", "status": 503})
    outcome = pipeline.deliver(Delivery(DUE, "slogan", "mastodon", "es"))
    assert outcome.state == FAILED
    assert "gave up" in (outcome.error or "")


def test_missing_credentials_fail_with_the_variable_to_set(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url)
    outcome = publisher(config, [DUE], token=None).deliver(Delivery(DUE, "slogan", "mastodon", "en"))
    assert outcome.state == FAILED
    assert "MASTODON_ACCESS_TOKEN" in (outcome.error or "")


def test_a_long_text_becomes_a_numbered_thread(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url, thread=True)
    pipeline = publisher(config, [DUE])
    outgoing = pipeline.outgoing(Delivery(DUE, "long", "outbox", "en"))
    assert len(outgoing.parts) == 1  # the outbox has no length limit
    config.write_text(config.read_text().replace("accounts: [outbox]", "accounts: [mastodon]"))
    pipeline = publisher(config, [DUE])
    parts = pipeline.outgoing(Delivery(DUE, "long", "mastodon", "en")).parts
    assert len(parts) == 2
    assert parts[0].endswith(" 1/2")
    assert parts[1].endswith(" 2/2")
    outcome = pipeline.deliver(Delivery(DUE, "long", "mastodon", "en"))
    assert outcome.state == PUBLISHED
    assert len(outcome.urls) == 2


def test_manual_post_uses_the_scheduled_key_and_refuses_a_repeat(tmp_path: Path, mastodon_server: MockServer) -> None:
    config = write_campaign(tmp_path, mastodon_server.base_url)
    pipeline = publisher(config, [DUE - timedelta(hours=3)])
    now = DUE - timedelta(hours=3)
    plans = plan_manual(pipeline.campaign, pipeline.ledger, "slogan", ("outbox",), ("es",), now, force=False)
    assert plans == [Delivery(DUE, "slogan", "outbox", "es")]
    pipeline.deliver(plans[0], "manual")
    again = plan_manual(pipeline.campaign, pipeline.ledger, "slogan", ("outbox",), ("es",), now, force=False)
    assert [type(p).__name__ for p in again] == ["Refusal"]
    forced = plan_manual(pipeline.campaign, pipeline.ledger, "slogan", ("outbox",), ("es",), now, force=True)
    assert forced == [Delivery(now, "slogan", "outbox", "es")]
