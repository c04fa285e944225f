"""The daemon draws its cards in short-lived processes of their own: the same images as drawn in process,
no drawing code or font left in the daemon, a clear line when a card cannot be drawn, and a retry (not
a failure) when the drawing process itself is lost."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler import content
from scheduler.cards import CardStore, specs_for, worker
from scheduler.errors import SchedulerError
from scheduler.ledger import PENDING, PUBLISHED, Ledger, default_url
from scheduler.models import Delivery
from tests.cards_support import LANGUAGES, SIZES, TEMPLATES, spec
from tests.conftest import ROOT
from tests.test_daemon import wait_for
from tests.test_publish import DUE, publisher, write_campaign

SLOGAN = {"en": "U.S. out of Haiti!", "es": "¡EE.UU. fuera de Haití!"}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children", encoding="ascii") as listing:  # noqa: PTH123 - /proc, read once
            found += [int(child) for child in listing.read().split()]
    return found


def workers_of(pid: int) -> list[int]:
    """The card-drawing processes among `pid`'s children (not, say, multiprocessing's helpers)."""
    found = []
    for child in children(pid):
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile
            if b"scheduler.cards.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_the_daemon_posts_cards_it_never_draws_itself(folder: Path) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    (folder / "posts.yaml").write_text(
        f"""timezone: UTC
languages: [en, es]
accounts:
  outbox: {{platform: outbox, languages: [en, es]}}
posts:
  - id: slogan
    text: {json.dumps(SLOGAN, ensure_ascii=False)}
    card: {{slogan: {json.dumps(SLOGAN, ensure_ascii=False)}}}
    at: "{due:%Y-%m-%d %H:%M:%S}"
""",
        encoding="utf-8",
    )
    log = folder / "daemon.log"
    daemon = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "daemon"], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: log.read_text(encoding="utf-8").count(": published") == 2, limit=30)
        maps = Path(f"/proc/{daemon.pid}/maps").read_text(encoding="ascii")
        assert "libfreetype" not in maps
        assert "PIL/_imaging" not in maps
        assert "NotoSans" not in maps
        assert children(daemon.pid) == []  # the drawing processes are gone
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0
    campaign = content.load(folder / "posts.yaml", now=due)
    specs = specs_for(campaign, campaign.posts[0], folder)
    drawn_here = CardStore(folder / "drawn-here")
    for path in (folder / "outbox" / "posts").glob("*/post.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        posted = (path.parent / record["image"]["file"]).read_bytes()
        assert posted == drawn_here.png(specs[record["language"]]).read_bytes()
    assert drawn_here.rendered == 2


def test_a_card_too_big_for_the_platform_comes_back_as_the_same_jpeg(tmp_path: Path) -> None:
    card = spec("quote", "es", "portrait")
    apart = CardStore(tmp_path / "apart", separate_process=True)
    here = CardStore(tmp_path / "here")
    cap = here.png(card).stat().st_size - 1
    assert apart.upload(card, cap) == here.upload(card, cap)
    assert apart.upload(card, None) == here.upload(card, None)
    assert apart.rendered == 0
    assert names(tmp_path / "apart") == names(tmp_path / "here")


def test_many_cards_are_drawn_by_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    real_run = subprocess.run

    def counting_run(*args: object, **kwargs: object) -> object:
        started.append(args)
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", counting_run)
    store = CardStore(tmp_path, separate_process=True)
    cards = [(spec("slogan", language, size), None) for language in ("en", "es") for size in ("square", "portrait")]
    store.draw_missing(cards)
    assert len(started) == 1
    assert all(store.png_path(card.key()).exists() for card, _ in cards)
    store.draw_missing(cards)  # all cached: no process at all
    assert len(started) == 1


def test_a_card_that_cannot_be_drawn_says_why_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font at all")
    card = spec("slogan", "en", "square", fonts=spec("slogan", "en", "square").fonts.__class__(broken, broken))
    with pytest.raises(SchedulerError) as here:
        CardStore(tmp_path / "here").png(card)
    with pytest.raises(SchedulerError) as apart:
        CardStore(tmp_path / "apart", separate_process=True).png(card)
    assert not isinstance(apart.value, worker.DrawingInterruptedError)
    assert str(apart.value) == str(here.value)
    assert "cannot load this font" in str(apart.value)
    # The cards that can be drawn still are, in the same go.
    store = CardStore(tmp_path / "mixed", separate_process=True)
    good = spec("slogan", "es", "square")
    with pytest.raises(SchedulerError, match="cannot load this font"):
        store.draw_missing([(card, None), (good, None)])
    assert names(tmp_path / "mixed") == [f"{good.key()}.png"]


def test_a_killed_drawing_process_is_reported_as_interrupted(tmp_path: Path) -> None:
    cards = [(spec(kind, language, size), None) for kind in TEMPLATES for language in LANGUAGES for size in SIZES]
    raised: list[BaseException] = []

    def draw() -> None:
        try:
            worker.draw(tmp_path, cards)
        except BaseException as exc:
            raised.append(exc)

    drawing = threading.Thread(target=draw)
    drawing.start()
    deadline = time.monotonic() + 20
    while not (drawing_processes := workers_of(os.getpid())) and time.monotonic() < deadline:
        time.sleep(0.005)
    for child in drawing_processes:
        os.kill(child, signal.SIGKILL)
    drawing.join(timeout=30)
    assert len(raised) == 1, raised
    assert isinstance(raised[0], worker.DrawingInterruptedError)
    assert "SIGKILL" in str(raised[0])


def test_a_lost_drawing_process_means_a_retry_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_campaign(tmp_path, "http://127.0.0.1:9")
    clock = [DUE]
    pipeline = publisher(config, clock)
    pipeline.cards = CardStore(tmp_path / "state" / "cards", separate_process=True)
    delivery = Delivery(DUE, "slogan", "outbox", "en")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    outcome = pipeline.deliver(delivery)
    assert outcome.state == PENDING
    assert outcome.retry_at is not None
    assert "could not start a process to draw the card" in (outcome.error or "")
    monkeypatch.undo()
    clock[0] = outcome.retry_at + timedelta(seconds=1)
    again = pipeline.deliver(delivery)
    assert again.state == PUBLISHED, again.error
    assert [r.state for r in Ledger(default_url(tmp_path)).records() if r.delivery == delivery] == [PUBLISHED]
