"""Ordinary edits of posts.yaml never post anything again, and every reader shows the plan the daemon
follows: a renamed, moved, re-worded or removed post; a queue edited above what already went out;
`validate --strict` as a pre-commit hook all campaign long; and a daemon running through an edit.

Everything goes through the command line, on two outbox accounts (two folders), at rehearsal
times (`--now`) except for the running daemon, which runs in real time."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mastodon_mock.testing import MockServer

from tests.conftest import ROOT, Listener, Result, mastodon_fault
from tests.test_daemon import wait_for

Cli = Callable[..., Result]
NY = ZoneInfo("America/New_York")
T = datetime(2030, 6, 1, 13, 0, tzinfo=UTC)  # Saturday 1 June 2030, 09:00 EDT
ACCOUNTS = (
    "  outbox: {platform: outbox, path: outbox, languages: [en]}",
    "  outbox-b: {platform: outbox, path: outbox-b, languages: [en]}",
)
BOXES = ("outbox", "outbox-b")
QUEUE = "mon,tue,wed,thu,fri,sat,sun 10:00"


@pytest.fixture
def folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SCHEDULER_LEDGER", "SCHEDULER_WEBHOOK_URL", "SCHEDULER_HEARTBEAT_URL", "NOTIFY_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "alice_token")
    monkeypatch.setenv("SCHEDULER_REQUEST_TIMEOUT", "5")
    return project


def local(moment: datetime) -> str:
    return moment.astimezone(NY).strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime) -> str:
    return moment.isoformat()


def write(folder: Path, posts: list[dict[str, str]], *, queue: str | None = None, mastodon: str | None = None) -> None:
    """posts.yaml: two outbox accounts (and a Mastodon one), an optional daily queue, the posts in order."""
    lines = ["timezone: America/New_York", "languages: [en]", "accounts:", *ACCOUNTS]
    if mastodon:
        lines.append(f'  mastodon: {{platform: mastodon, instance: "{mastodon}", languages: [en]}}')
    if queue:
        lines += ["queue:", f'  slots: ["{queue}"]']
    lines.append("posts:")
    for post in posts:
        lines.append(f"  - id: {post['id']}")
        lines.append(f'    text: {{en: "{post["text"]}"}}')
        for key in ("at", "every", "starts", "max_late", "accounts"):
            if key in post:
                value = post[key] if key == "accounts" else f'"{post[key]}"'
                lines.append(f"    {key}: {value}")
    (folder / "posts.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def id_line(folder: Path, post_id: str) -> int:
    lines = (folder / "posts.yaml").read_text(encoding="utf-8").splitlines()
    return lines.index(f"  - id: {post_id}") + 1


def at_line(folder: Path, post_id: str) -> int:
    lines = (folder / "posts.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"  - id: {post_id}")
    return next(i for i in range(start, len(lines)) if lines[i].startswith("    at: ")) + 1


def sent(folder: Path) -> list[tuple[str, str, str]]:
    """(account, post id, text) of every post.json the two outboxes received, sorted."""
    found = []
    for box in BOXES:
        for path in (folder / box / "posts").glob("*/post.json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            found.append((record["account"], record["key"].split("|")[0], record["parts"][0]))
    return sorted(found)


def to_both(post_id: str, text: str) -> list[tuple[str, str, str]]:
    return [(box, post_id, text) for box in BOXES]


def starting(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


def when(moment: datetime) -> str:
    """A time as status and the daemon print it."""
    return f"{moment.astimezone(NY):%a %Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%H:%M} UTC)"


def status_json(run_cli: Cli, now: datetime) -> dict[str, Any]:
    result = run_cli("status", "--json", "--now", iso(now))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads("\n".join(result.lines))
    return data


def test_a_renamed_published_post_is_held_everywhere_and_posted_only_with_force(
    folder: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch, listener: Listener
) -> None:
    text = "U.S. out of Haiti!"
    post = {"id": "first", "text": text, "at": local(T)}
    write(folder, [post])
    monkeypatch.setenv("SCHEDULER_WEBHOOK_URL", listener.url + "/hook")
    published = run_cli("daemon", "--once", "--now", iso(T))
    assert published.exit_code == 0, published.output
    assert sent(folder) == to_both("first", text)
    assert listener.posted == []

    write(folder, [{**post, "id": "renamed"}])
    again = run_cli("daemon", "--once", "--now", iso(T + timedelta(seconds=30)))
    events = list(listener.posted)
    assert again.exit_code == 1, again.output
    assert sent(folder) == to_both("first", text), "the renamed post went out again"
    note = (
        "held: the same text and card went out as 'first' to {box} (en) on 2030-06-01 13:00 UTC; "
        "to post it again, run: run.py post renamed --force"
    )
    assert starting(again.lines, "held") == [f"held        {box} en renamed: {note.format(box=box)}" for box in BOXES]
    assert not starting(again.lines, "published")
    assert sorted((e["post"], e["account"], e["state"]) for e in events) == [
        ("renamed", "outbox", "held"),
        ("renamed", "outbox-b", "held"),
    ]
    assert all("'first'" in e["error"] and e["due"].startswith("2030-06-01T13:00:00") for e in events)

    # status: the held row in the recent deliveries, with the note naming the earlier post; its time
    # is past, so it is no "HELD:" of what is coming, and nothing is coming.
    status = run_cli("status", "--now", iso(T + timedelta(minutes=1)))
    assert status.exit_code == 0, status.output
    assert "Next deliveries: none scheduled" in status.lines
    assert not starting(status.lines, "HELD:")
    for box in BOXES:
        row = status.lines.index(f"  held        renamed {box} en: due {when(T)}")
        assert status.lines[row + 1] == f"      {note.format(box=box)}"
        assert f"  published   first {box} en: due {when(T)}, went out {when(T)}" in status.lines
    data = status_json(run_cli, T + timedelta(minutes=1))
    held_rows = [r for r in data["recent"] if r["state"] == "held"]
    assert sorted((r["post"], r["account"]) for r in held_rows) == [("renamed", "outbox"), ("renamed", "outbox-b")]
    assert all("'first'" in r["error"] and r["published_utc"] is None for r in held_rows)
    assert {r["published_utc"] for r in data["recent"] if r["post"] == "first"} == {"2030-06-01T13:00:00Z"}

    # post refuses it; --force posts it (to both accounts), once.
    refused = run_cli("post", "renamed")
    assert refused.exit_code == 0, refused.output
    assert starting(refused.lines, "refused") == [f"refused     {box} en: {note.format(box=box)}" for box in BOXES]
    assert sent(folder) == to_both("first", text)
    forced = run_cli("post", "renamed", "--force")
    assert forced.exit_code == 0, forced.output
    assert [line.split()[:3] for line in starting(forced.lines, "published")] == [
        ["published", box, "en"] for box in BOXES
    ]
    assert sent(folder) == sorted(to_both("first", text) + to_both("renamed", text))

    after = run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=2)))
    assert after.exit_code == 0, after.output
    assert not starting(after.lines, "published")
    assert not starting(after.lines, "held")
    assert sent(folder) == sorted(to_both("first", text) + to_both("renamed", text))


def test_validate_warns_of_a_renamed_post_the_daemon_held_at_its_id_line(folder: Path, run_cli: Cli) -> None:
    post = {"id": "first", "text": "MINUSTAH never again", "at": local(T)}
    write(folder, [post])
    assert run_cli("daemon", "--once", "--now", iso(T)).exit_code == 0
    write(folder, [{**post, "id": "renamed"}])
    assert run_cli("daemon", "--once", "--now", iso(T + timedelta(seconds=30))).exit_code == 1  # held

    # After the step that held it (as a person runs it, later): a warning at the post's id line,
    # naming the earlier post and when it went out; not "it will not be posted unless you post it
    # by hand", since `post` refuses it.
    checked = run_cli("validate", "--now", iso(T + timedelta(minutes=1)))
    assert checked.exit_code == 0, checked.output
    line = id_line(folder, "renamed")
    warnings = starting(checked.lines, f"posts.yaml:{line}:")
    assert len(warnings) == 1, checked.output
    assert "posts[0].id" in warnings[0]
    assert "'first'" in warnings[0]
    assert "2030-06-01 13:00 UTC" in warnings[0]
    assert "unless you post it by hand" not in checked.output
    strict = run_cli("validate", "--strict", "--now", iso(T + timedelta(minutes=1)))
    assert strict.exit_code == 1, strict.output


# 2. A published one-off post moved later -----------------------------------------------------------


def test_a_published_post_moved_later_is_shown_as_published_and_not_posted_again(folder: Path, run_cli: Cli) -> None:
    text = "Haiti is not for sale"
    post = {"id": "moved", "text": text, "at": local(T)}
    write(folder, [post])
    assert run_cli("daemon", "--once", "--now", iso(T)).exit_code == 0
    assert sent(folder) == to_both("moved", text)

    later = T + timedelta(days=1)
    write(folder, [{**post, "at": local(later)}])
    before = later - timedelta(hours=1)
    status = run_cli("status", "--now", iso(before))
    assert status.exit_code == 0, status.output
    assert "Next deliveries: none scheduled" in status.lines
    assert status_json(run_cli, before)["upcoming"] == []

    checked = run_cli("validate", "-v", "--now", iso(before))
    assert checked.exit_code == 0, checked.output
    moved_line = f"  {when(later)}  moved (at) -> outbox[en], outbox-b[en]  [published 2030-06-01 13:00 UTC]"
    assert moved_line in checked.lines, checked.output

    step = run_cli("daemon", "--once", "--now", iso(later))
    assert step.exit_code == 0, step.output
    assert "Next deliveries: none scheduled" in step.lines  # the banner: the same plan
    assert not starting(step.lines, "published")
    assert sent(folder) == to_both("moved", text)
    # Its past time went out: no warning, even strict.
    assert run_cli("validate", "--strict", "--now", iso(later + timedelta(hours=1))).exit_code == 0


# 3. A held post whose text changes is released ------------------------------------------------------


def test_a_held_post_is_released_when_its_text_changes(folder: Path, run_cli: Cli) -> None:
    text = "Stop the occupation of Haiti"
    first = {"id": "first", "text": text, "at": local(T)}
    write(folder, [first])
    assert run_cli("daemon", "--once", "--now", iso(T)).exit_code == 0
    due = T + timedelta(hours=2)
    copy = {"id": "copy", "text": text, "at": local(due)}
    write(folder, [first, copy])

    # Coming and held: "HELD:" in status, not among the next deliveries; a validate warning.
    meanwhile = T + timedelta(hours=1)
    status = run_cli("status", "--now", iso(meanwhile))
    assert "Next deliveries: none scheduled" in status.lines, status.output
    held = starting(status.lines, "HELD:")
    assert [line.split(": held: ")[0] for line in held] == [f"HELD: copy {box} en due {when(due)}" for box in BOXES]
    assert all("'first'" in line and "run.py post copy --force" in line for line in held)
    assert [h["post"] for h in status_json(run_cli, meanwhile)["held"]] == ["copy", "copy"]
    checked = run_cli("validate", "--strict", "--now", iso(meanwhile))
    assert checked.exit_code == 1, checked.output
    warnings = starting(checked.lines, f"posts.yaml:{id_line(folder, 'copy')}:")
    assert len(warnings) == 1, checked.output
    assert "posts[1].id: warning: held: the same text and card went out as 'first'" in warnings[0]
    assert "2030-06-01 13:00 UTC" in warnings[0]

    step = run_cli("daemon", "--once", "--now", iso(due))
    assert step.exit_code == 1, step.output
    assert [line.split(":")[0] for line in starting(step.lines, "held")] == [
        f"held        {box} en copy" for box in BOXES
    ]
    assert sent(folder) == to_both("first", text)

    reworded = "Stop the occupation of Haiti now"
    write(folder, [first, {**copy, "text": reworded}])
    status = run_cli("status", "--now", iso(due + timedelta(seconds=30)))
    assert not starting(status.lines, "HELD:"), status.output
    released = run_cli("daemon", "--once", "--now", iso(due + timedelta(minutes=1)))
    assert released.exit_code == 0, released.output
    assert sorted(line.split()[:3] for line in starting(released.lines, "published")) == [
        ["published", box, "en"] for box in BOXES
    ]
    assert sent(folder) == sorted(to_both("first", text) + to_both("copy", reworded))
    assert run_cli("daemon", "--once", "--now", iso(due + timedelta(minutes=2))).exit_code == 0
    assert sent(folder) == sorted(to_both("first", text) + to_both("copy", reworded))


# 4. A recurring post renamed repeats by design ------------------------------------------------------


def test_a_renamed_recurring_post_goes_out_at_its_next_occurrence(folder: Path, run_cli: Cli) -> None:
    text = "Haitians decide Haiti's future"
    daily = "mon,tue,wed,thu,fri,sat,sun 09:00"
    starts = local(T - timedelta(minutes=1))
    write(folder, [{"id": "daily", "text": text, "every": daily, "starts": starts}])
    for moment in (T, T + timedelta(minutes=5), T + timedelta(hours=2)):  # its time, then idle wakes
        assert run_cli("daemon", "--once", "--now", iso(moment)).exit_code == 0
    assert sent(folder) == to_both("daily", text)

    write(folder, [{"id": "every-day", "text": text, "every": daily, "starts": starts}])
    tomorrow = T + timedelta(days=1)
    data = status_json(run_cli, T + timedelta(hours=3))
    assert [(u["post"], u["account"], u["due_utc"]) for u in data["upcoming"][:2]] == [
        ("every-day", box, "2030-06-02T13:00:00Z") for box in BOXES
    ]
    assert data["held"] == []
    quiet = run_cli("daemon", "--once", "--now", iso(T + timedelta(hours=3)))
    assert quiet.exit_code == 0, quiet.output
    assert sent(folder) == to_both("daily", text)

    step = run_cli("daemon", "--once", "--now", iso(tomorrow))
    assert step.exit_code == 0, step.output
    assert not starting(step.lines, "held")
    assert sent(folder) == sorted(to_both("daily", text) + to_both("every-day", text))
    keys = {json.loads(p.read_text(encoding="utf-8"))["key"] for p in (folder / "outbox").glob("posts/*/post.json")}
    assert {key.split("|")[1][:16] for key in keys} == {"2030-06-01T13:00", "2030-06-02T13:00"}


def test_renaming_a_recurring_post_just_after_it_went_out_does_not_post_that_occurrence_again(
    folder: Path, run_cli: Cli
) -> None:
    text = "Reparations for Haiti"
    daily = "mon,tue,wed,thu,fri,sat,sun 09:00"
    starts = local(T - timedelta(minutes=1))
    write(folder, [{"id": "daily", "text": text, "every": daily, "starts": starts}])
    assert run_cli("daemon", "--once", "--now", iso(T)).exit_code == 0
    assert run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=5))).exit_code == 0  # the idle wake
    assert sent(folder) == to_both("daily", text)
    # Renamed a few minutes after its 09:00 occurrence went out, while the daemon still looks back
    # over max_late (1 h): that occurrence went out, under its old name. It is neither sent again
    # nor reported as expired; the next one (tomorrow) goes out.
    write(folder, [{"id": "every-day", "text": text, "every": daily, "starts": starts}])
    step = run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=10)))
    assert sent(folder) == to_both("daily", text), f"the 09:00 occurrence went out twice:\n{step.output}"
    assert step.exit_code == 0, step.output
    hour = run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=61)))
    assert not starting(hour.lines, "expired"), hour.output
    assert hour.exit_code == 0, hour.output


# 5. The queue: every reader gives the slots the daemon uses -------------------------------------------


def queue_after_a_went_out(folder: Path, run_cli: Cli, a: dict[str, str], b: dict[str, str]) -> datetime:
    """A daily 10:00 queue with A and B; the daemon runs from an hour before A's slot, A goes out."""
    write(folder, [a, b], queue=QUEUE)
    day1 = datetime(2030, 6, 1, 14, 0, tzinfo=UTC)  # 10:00 EDT
    assert run_cli("daemon", "--once", "--now", iso(day1 - timedelta(hours=1))).exit_code == 0
    assert sent(folder) == []
    first = run_cli("daemon", "--once", "--now", iso(day1))
    assert first.exit_code == 0, first.output
    assert sent(folder) == to_both(a["id"], a["text"])
    return day1


def test_a_post_added_above_the_queue_gets_the_same_slot_from_every_reader_and_the_daemon(
    folder: Path, run_cli: Cli
) -> None:
    a = {"id": "queued-a", "text": "Queued A: U.S. out of Haiti"}
    b = {"id": "queued-b", "text": "Queued B: MINUSTAH never again"}
    c = {"id": "queued-c", "text": "Queued C: solidarity with Haiti"}
    day1 = queue_after_a_went_out(folder, run_cli, a, b)

    write(folder, [c, a, b], queue=QUEUE)
    now = day1 + timedelta(hours=1)
    day2, day3 = day1 + timedelta(days=1), day1 + timedelta(days=2)
    expected = {"queued-c": day2, "queued-b": day3}

    upcoming = status_json(run_cli, now)["upcoming"]
    from_status = {(u["post"], u["account"]): u["due_utc"] for u in upcoming}
    assert from_status == {
        (post, box): due.strftime("%Y-%m-%dT%H:%M:%SZ") for post, due in expected.items() for box in BOXES
    }
    status = run_cli("status", "--now", iso(now))
    assert status.lines[status.lines.index("Next deliveries:") + 1 :][:4] == [
        f"  {when(due)}  {post} {box} en" for post, due in expected.items() for box in BOXES
    ]

    checked = run_cli("validate", "-v", "--now", iso(now))
    assert checked.exit_code == 0, checked.output
    for post, due in expected.items():
        assert f"  {when(due)}  {post} (queue) -> outbox[en], outbox-b[en]" in checked.lines, checked.output
    published_a = f"  {when(day1)}  queued-a (queue) -> outbox[en], outbox-b[en]  [published 2030-06-01 14:00 UTC]"
    assert published_a in checked.lines, checked.output

    out = folder / "preview-out"
    previewed = run_cli("preview", "--out", str(out), "--now", iso(now))
    assert previewed.exit_code == 0, previewed.output
    page = (out / "index.html").read_text(encoding="utf-8")
    shown = re.findall(r'<article id="(queued-[abc])-(\d{8}T\d{4})">', page)
    # The whole campaign: A where it went out (marked published), B and C where the daemon will send them.
    everything = {**expected, "queued-a": day1}
    assert sorted(shown) == sorted((post, f"{due:%Y%m%dT%H%M}") for post, due in everything.items())
    went = page.split(f'<article id="queued-a-{day1:%Y%m%dT%H%M}">')[1].split("</article>")[0]
    assert '<p class="fate published"><strong>published</strong>' in went

    # The daemon does what they said: C not at once (no slot of the past), C at day 2, B at day 3.
    at_once = run_cli("daemon", "--once", "--now", iso(now))
    assert at_once.exit_code == 0, at_once.output
    assert sent(folder) == to_both("queued-a", a["text"])
    before_day2 = run_cli("daemon", "--once", "--now", iso(day2 - timedelta(seconds=1)))
    assert before_day2.exit_code == 0, before_day2.output
    assert sent(folder) == to_both("queued-a", a["text"])
    on_day2 = run_cli("daemon", "--once", "--now", iso(day2))
    assert on_day2.exit_code == 0, on_day2.output
    assert sent(folder) == sorted(to_both("queued-a", a["text"]) + to_both("queued-c", c["text"]))
    on_day3 = run_cli("daemon", "--once", "--now", iso(day3))
    assert on_day3.exit_code == 0, on_day3.output
    assert sent(folder) == sorted(
        to_both("queued-a", a["text"]) + to_both("queued-b", b["text"]) + to_both("queued-c", c["text"])
    )
    keys = sorted(
        json.loads(path.read_text(encoding="utf-8"))["key"].split("|")[:2]
        for path in (folder / "outbox" / "posts").glob("*/post.json")
    )
    assert [(post, due[:16]) for post, due in keys] == [
        ("queued-a", "2030-06-01T14:00"),
        ("queued-b", "2030-06-03T14:00"),
        ("queued-c", "2030-06-02T14:00"),
    ]


def test_a_post_queued_after_the_one_that_went_out_left_the_file_takes_a_future_slot(
    folder: Path, run_cli: Cli
) -> None:
    a = {"id": "queued-a", "text": "Queued A: the U.S. out of Haiti"}
    b = {"id": "queued-b", "text": "Queued B: no more occupations"}
    c = {"id": "queued-c", "text": "Queued C: Haiti decides"}
    day1 = queue_after_a_went_out(folder, run_cli, a, b)
    write(folder, [c, b], queue=QUEUE)  # A went out: the team tidies it away and queues C
    now = day1 + timedelta(minutes=10)
    upcoming = status_json(run_cli, now)["upcoming"]
    step = run_cli("daemon", "--once", "--now", iso(now))
    assert sent(folder) == to_both("queued-a", a["text"]), f"C took A's past slot and went out at once:\n{step.output}"
    assert step.exit_code == 0, step.output
    assert {u["post"] for u in upcoming} == {"queued-b", "queued-c"}
    assert all(datetime.fromisoformat(u["due_utc"]) > now for u in upcoming)


def test_a_renamed_queued_post_that_went_out_is_held_where_status_says(folder: Path, run_cli: Cli) -> None:
    a = {"id": "queued-a", "text": "Queued A: Haiti is not for sale"}
    b = {"id": "queued-b", "text": "Queued B: end the occupation"}
    day1 = queue_after_a_went_out(folder, run_cli, a, b)

    write(folder, [{**a, "id": "queued-a-renamed"}, b], queue=QUEUE)
    now = day1 + timedelta(minutes=10)
    data = status_json(run_cli, now)
    assert {u["post"] for u in data["upcoming"]} == {"queued-b"}
    # The repeat is announced as held at a coming slot (a slot A took stays A's), and nothing else
    # happens before then.
    assert [h["post"] for h in data["held"]] == ["queued-a-renamed"] * 2, data
    assert all("'queued-a'" in h["reason"] for h in data["held"])
    b_due = {datetime.fromisoformat(u["due_utc"]) for u in data["upcoming"]}
    held_due = {datetime.fromisoformat(h["due_utc"]) for h in data["held"]}
    assert len(b_due) == len(held_due) == 1
    (b_at,), (held_at,) = b_due, held_due
    assert now < held_at
    assert now < b_at
    assert held_at != b_at
    quiet = run_cli("daemon", "--once", "--now", iso(now))
    assert quiet.exit_code == 0, quiet.output
    assert not starting(quiet.lines, "held"), quiet.output

    for moment in sorted((held_at, b_at)):
        step = run_cli("daemon", "--once", "--now", iso(moment))
        if moment == held_at:
            assert step.exit_code == 1, step.output
            assert len(starting(step.lines, "held")) == 2, step.output
            assert not starting(step.lines, "published"), step.output
        else:
            assert step.exit_code == 0, step.output
            assert [line.split()[:3] for line in starting(step.lines, "published")] == [
                ["published", box, "en"] for box in BOXES
            ]
    assert sent(folder) == sorted(to_both("queued-a", a["text"]) + to_both("queued-b", b["text"]))


# 6. validate --strict as a pre-commit hook ----------------------------------------------------------


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Tests", "-c", "user.email=tests@example.test", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_validate_strict_knows_past_times_from_the_ledger_or_from_git_head(folder: Path, run_cli: Cli) -> None:
    text = "No to foreign occupation"
    post = {"id": "went-out", "text": text, "at": local(T)}
    write(folder, [post])
    assert run_cli("daemon", "--once", "--now", iso(T)).exit_code == 0
    later = T + timedelta(days=2)
    with_ledger = run_cli("validate", "--strict", "--now", iso(later))
    assert with_ledger.exit_code == 0, with_ledger.output
    assert "in the past" not in with_ledger.output

    # No ledger: git HEAD decides. validate never creates a ledger.
    shutil.rmtree(folder / "state")
    for box in BOXES:
        shutil.rmtree(folder / box)
    unknown = run_cli("validate", "--strict", "--now", iso(later))
    assert unknown.exit_code == 1, unknown.output  # outside git, a past time is news
    assert "is in the past" in unknown.output
    assert not (folder / "state" / "ledger.sqlite3").exists()
    git(folder, "init", "-q")
    git(folder, "add", "posts.yaml")
    git(folder, "commit", "-q", "-m", "campaign")
    committed = run_cli("validate", "--strict", "--now", iso(later))
    assert committed.exit_code == 0, committed.output
    assert not (folder / "state" / "ledger.sqlite3").exists()

    moved = {**post, "at": local(T + timedelta(hours=3))}  # another past time
    write(folder, [moved])
    edited = run_cli("validate", "--strict", "--now", iso(later))
    assert edited.exit_code == 1, edited.output
    assert [line.split(": ")[0] for line in edited.lines if re.match(r"posts.yaml:\d+:", line)] == [
        f"posts.yaml:{at_line(folder, 'went-out')}:9"
    ]
    assert "is in the past" in edited.output

    added = {"id": "added-late", "text": "Added with a past time", "at": local(T + timedelta(days=1))}
    write(folder, [post, added])
    new_post = run_cli("validate", "--strict", "--now", iso(later))
    assert new_post.exit_code == 1, new_post.output
    past = [line for line in new_post.lines if "is in the past" in line]
    assert len(past) == 1, new_post.output
    assert past[0].startswith(f"posts.yaml:{at_line(folder, 'added-late')}:")
    assert "posts[1].at" in past[0]
    assert not (folder / "state" / "ledger.sqlite3").exists()


# 7. A post removed while its delivery waits for a retry --------------------------------------------


def test_a_post_removed_while_its_delivery_waits_for_a_retry_shows_as_removed(
    folder: Path, run_cli: Cli, mastodon_server: MockServer
) -> None:
    text = f"Retry me {time.time_ns()}"
    doomed = {"id": "doomed", "text": text, "at": local(T), "accounts": "[mastodon]"}
    other = {"id": "other", "text": "Still here", "at": local(T + timedelta(days=3)), "accounts": "[outbox]"}
    write(folder, [doomed, other], mastodon=mastodon_server.base_url)
    mastodon_fault(mastodon_server, "/api/v1/statuses", {"type": "status", "status": 503})
    step = run_cli("daemon", "--once", "--now", iso(T))
    assert step.exit_code == 1, step.output  # it waits for a retry
    assert [line.split()[:3] for line in starting(step.lines, "pending")] == [["pending", "mastodon", "en"]]
    waiting = [r for r in status_json(run_cli, T + timedelta(seconds=1))["recent"] if r["post"] == "doomed"]
    assert [(r["state"], r["retry_at"] is not None) for r in waiting] == [("pending", True)]

    write(folder, [other], mastodon=mastodon_server.base_url)
    after = run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=2)))
    assert not starting(after.lines, "published"), after.output
    status = run_cli("status", "--now", iso(T + timedelta(minutes=3)))
    assert status.exit_code == 0, status.output
    row = status.lines.index(f"  removed     doomed mastodon en: due {when(T)}")
    assert status.lines[row + 1] == "      its post was removed from posts.yaml"
    assert [r["state"] for r in status_json(run_cli, T + timedelta(minutes=3))["recent"] if r["post"] == "doomed"] == [
        "removed"
    ]
    assert run_cli("daemon", "--once", "--now", iso(T + timedelta(minutes=4))).exit_code == 0
    client = mastodon_server.client("alice")
    me = client.account_verify_credentials()
    assert not [s for s in client.account_statuses(me["id"], limit=40) if text in s["content"]]


# 8. A running daemon through a rename ---------------------------------------------------------------


def test_a_running_daemon_holds_a_post_renamed_while_it_runs(folder: Path) -> None:
    text = f"Renamed while running {time.time_ns()}"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    post = {"id": "live", "text": text, "at": local(due)}
    write(folder, [post])
    log = folder / "daemon.log"
    with log.open("wb") as output:
        daemon = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "daemon"],
            cwd=folder,
            env=os.environ.copy(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: len(sent(folder)) == 2)
        for box in BOXES:
            for path in (folder / box / "posts").glob("*/post.json"):
                written = datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["written_at"])
                assert written >= due, "written before it was due"
        write(folder, [{**post, "id": "live-renamed"}])
        wait_for(lambda: "posts.yaml changed: reloaded" in log.read_text())
        wait_for(lambda: "delivery live-renamed outbox en: held: " in log.read_text())
        time.sleep(3)
        assert sent(folder) == to_both("live", text), log.read_text()
        assert daemon.poll() is None, log.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(timeout=40)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            raise
    assert code == 0, log.read_text()
    text_log = log.read_text()
    assert "delivery live outbox en: published file://" in text_log
    assert "delivery live-renamed outbox-b en: held: the same text and card went out as 'live'" in text_log
