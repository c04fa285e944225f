"""The one plan: the daemon's step and the readers agree; never early; moved and renamed posts do not
go out again; the queue moves on after a downtime; accounts are served side by side."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import content, dispatch, plan
from scheduler.cards import CardStore
from scheduler.credentials import Credentials
from scheduler.ledger import HELD, PUBLISHED, Ledger, default_url
from scheduler.models import Delivery
from scheduler.platforms.base import Attempt, Published
from scheduler.publish import Publisher
from tests.conftest import ROOT

DUE = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
HEADER = """timezone: UTC
languages: [en]
accounts:
  outbox: {platform: outbox, languages: [en]}
  other: {platform: outbox, path: other, languages: [en]}
queue: {slots: ["mon,tue,wed,thu,fri,sat,sun 10:00"]}
posts:
"""


def project(folder: Path, posts: str) -> Publisher:
    if not (folder / "assets").exists():
        shutil.copytree(ROOT / "assets", folder / "assets")
    (folder / "posts.yaml").write_text(HEADER + posts, encoding="utf-8")
    campaign = content.load(folder / "posts.yaml", now=DUE - timedelta(days=30))
    return Publisher(
        campaign,
        folder,
        Ledger(default_url(folder)),
        CardStore(folder / "state" / "cards"),
        Credentials.load(folder, {}),
        folder / "state" / "sessions",
        clock=lambda: DUE,
    )


def edit(publisher: Publisher, posts: str) -> None:
    (publisher.project / "posts.yaml").write_text(HEADER + posts, encoding="utf-8")
    publisher.reload(content.load(publisher.project / "posts.yaml", now=DUE - timedelta(days=30)))


def step_at(publisher: Publisher, moment: datetime) -> dispatch.Step:
    publisher.clock = lambda: moment
    return dispatch.step(publisher, moment)


def sent(step: dispatch.Step) -> list[tuple[str, str]]:
    return sorted((o.delivery.post_id, o.delivery.account) for o in step.outcomes if o.state == PUBLISHED)


ONE_OFF = '  - {id: a, text: {en: "Free Haiti"}, accounts: [outbox], at: "2026-12-01 14:00"}\n'


def test_nothing_goes_out_a_moment_before_it_is_due(tmp_path: Path) -> None:
    publisher = project(tmp_path, ONE_OFF)
    assert step_at(publisher, DUE - timedelta(milliseconds=1)).outcomes == []
    before = step_at(publisher, DUE - timedelta(milliseconds=1))
    assert before.next_wake == DUE  # woken exactly at the due instant, not 100 ms later
    assert sent(step_at(publisher, DUE)) == [("a", "outbox")]


def test_a_moved_one_off_post_does_not_go_out_again(tmp_path: Path) -> None:
    publisher = project(tmp_path, ONE_OFF)
    assert sent(step_at(publisher, DUE)) == [("a", "outbox")]
    edit(publisher, ONE_OFF.replace("14:00", "18:00"))
    later = DUE + timedelta(hours=4)
    assert step_at(publisher, later).outcomes == []
    snapshot = plan.Snapshot.read(publisher.ledger)
    fates = plan.deliveries(publisher.campaign, snapshot, later, later + timedelta(seconds=1), later)
    assert [(f.state, f.record.delivery.due if f.record else None) for f in fates] == [(PUBLISHED, DUE)]
    assert plan.upcoming(publisher.campaign, snapshot, DUE, 5) == []


def test_a_renamed_post_is_held_until_forced_or_changed(tmp_path: Path) -> None:
    publisher = project(tmp_path, ONE_OFF)
    step_at(publisher, DUE)
    renamed = ONE_OFF.replace("id: a", "id: b").replace("14:00", "15:00")
    edit(publisher, renamed)
    held = step_at(publisher, DUE + timedelta(hours=1))
    assert held.outcomes == []
    assert [(p.delivery.post_id, p.state) for p in held.held] == [("b", HELD)]
    assert "went out as 'a' to outbox (en)" in (held.held[0].note or "")
    assert held.troubled
    record = publisher.ledger.get(Delivery(DUE + timedelta(hours=1), "b", "outbox", "en"))
    assert record is not None
    assert record.state == HELD
    again = step_at(publisher, DUE + timedelta(hours=1, minutes=1))
    assert (again.outcomes, again.held) == ([], [])  # held once, told once
    edit(publisher, renamed.replace("Free Haiti", "Free Haiti now"))
    assert sent(step_at(publisher, DUE + timedelta(hours=1, minutes=2))) == [("b", "outbox")]


def test_a_renamed_recurring_post_repeats_by_design(tmp_path: Path) -> None:
    weekly = '  - {id: w, text: {en: "Weekly"}, accounts: [outbox], every: "tue 14:00"}\n'
    publisher = project(tmp_path, weekly)
    assert sent(step_at(publisher, DUE)) == [("w", "outbox")]
    edit(publisher, weekly.replace("id: w", "id: w2"))
    assert sent(step_at(publisher, DUE + timedelta(days=7))) == [("w2", "outbox")]


QUEUED = """  - {id: q1, text: {en: "First in the queue"}, accounts: [outbox]}
  - {id: q2, text: {en: "Second in the queue"}, accounts: [outbox]}
"""


def test_readers_and_the_daemon_give_a_post_added_above_the_same_slot(tmp_path: Path) -> None:
    publisher = project(tmp_path, QUEUED)
    day = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    step_at(publisher, day - timedelta(hours=1))
    assert sent(step_at(publisher, day)) == [("q1", "outbox")]
    edit(publisher, '  - {id: q0, text: {en: "Added above"}, accounts: [outbox]}\n' + QUEUED)
    now = day + timedelta(minutes=5)
    assert step_at(publisher, now).outcomes == []  # no past slot is taken by the newcomer
    snapshot = plan.Snapshot.read(publisher.ledger)
    slots = plan.queue_slots(publisher.campaign, snapshot, now)
    assert slots == {"q1": day, "q0": day + timedelta(days=1), "q2": day + timedelta(days=2)}
    coming = [(p.delivery.post_id, p.delivery.due) for p in plan.upcoming(publisher.campaign, snapshot, now, 2)]
    assert coming == [("q0", day + timedelta(days=1)), ("q2", day + timedelta(days=2))]
    assert sent(step_at(publisher, day + timedelta(days=1))) == [("q0", "outbox")]
    assert sent(step_at(publisher, day + timedelta(days=2))) == [("q2", "outbox")]


def test_after_a_long_downtime_the_queue_moves_on_instead_of_expiring(tmp_path: Path) -> None:
    publisher = project(tmp_path, QUEUED)
    day = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    step_at(publisher, day - timedelta(hours=1))
    back = day + timedelta(days=3, hours=2)  # down for three days
    result = step_at(publisher, back)
    assert (result.outcomes, result.expired) == ([], [])
    slots = plan.queue_slots(publisher.campaign, plan.Snapshot.read(publisher.ledger), back)
    assert slots == {"q1": day + timedelta(days=4), "q2": day + timedelta(days=5)}


def test_the_kill_switch_is_read_before_each_delivery(tmp_path: Path) -> None:
    posts = "".join(
        f'  - {{id: p{i}, text: {{en: "Post {i}"}}, accounts: [outbox], at: "2026-12-01 14:00"}}\n' for i in range(3)
    )
    publisher = project(tmp_path, posts)
    original = publisher.deliver

    def deliver_then_pause(delivery: Delivery, origin: str = "schedule") -> object:
        outcome = original(delivery, origin)
        publisher.ledger.set_setting(dispatch.PAUSE_SETTING, dispatch.FOREVER)
        return outcome

    publisher.deliver = deliver_then_pause  # type: ignore[method-assign]
    result = step_at(publisher, DUE)
    assert (len(result.outcomes), result.paused) == (1, True)


class _Meeting:
    """An account whose first post waits for the other account's first post to begin: it can only
    complete when both accounts are served at the same time."""

    name = "meeting"
    idempotent = False

    def __init__(self, barrier: threading.Barrier, order: list[str]) -> None:
        self.barrier = barrier
        self.order = order
        self.first = True

    def check(self) -> str:
        return "meeting"

    def image_limit(self) -> int | None:
        return None

    def prepare(self) -> None:
        return None

    def publish(self, attempt: Attempt) -> Published:
        self.order.append(attempt.outgoing.key)
        if self.first:
            self.first = False
            self.barrier.wait(timeout=10)
        return Published(())


def test_accounts_are_served_side_by_side_each_in_order(tmp_path: Path) -> None:
    posts = "".join(
        f'  - {{id: p{i}, text: {{en: "Post {i}"}}, accounts: [outbox, other], at: "2026-12-01 14:00"}}\n'
        for i in range(2)
    )
    publisher = project(tmp_path, posts)
    barrier = threading.Barrier(2)
    order: list[str] = []
    publisher._platforms.update({"outbox": _Meeting(barrier, order), "other": _Meeting(barrier, order)})
    result = step_at(publisher, DUE)
    assert [o.state for o in result.outcomes] == [PUBLISHED] * 4
    for account in ("outbox", "other"):
        mine = [key.split("|")[0] for key in order if f"|{account}|" in key]
        assert mine == ["p0", "p1"]
