"""`run.py diff`: what a change to posts.yaml does to the campaign.

Every case runs through the command line against a real git repository made in the test folder
(posts.yaml and its fonts committed, then edited in the working tree), at a fixed `--now`. The
Markdown of each kind of edit is compared with tests/diff_expected/<case>.md; after an intended
change, regenerate them with `UPDATE_EXPECTED=1 .venv/bin/pytest tests/test_diff.py` and read every
one before committing. The ledger cases publish for real, to outbox folders, with `daemon --once`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from tests.conftest import Result

Cli = Callable[..., Result]
EXPECTED = Path(__file__).parent / "diff_expected"
T = datetime(2030, 6, 1, 13, 0, tzinfo=UTC)  # Saturday 1 June 2030, 09:00 EDT
NOW = T.isoformat()
FONTS = ("assets/fonts/NotoSans-Regular.ttf", "assets/fonts/NotoSans-Bold.ttf")

CAMPAIGN = """\
timezone: America/New_York
languages: [en, es]
accounts:
  outbox: {platform: outbox, path: outbox, languages: [en, es]}
  outbox-b: {platform: outbox, path: outbox-b, languages: [en, es]}
  mastodon: {platform: mastodon, instance: "https://mastodon.example", languages: [en, es], enabled: false}
queue:
  slots: ["tue,thu 10:00"]
posts:
  - id: us-out
    text: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}
    card:
      slogan: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}
      size: square
    hashtags: [Haiti]
    at: 2030-06-03 12:00
  - id: weekly
    text: {en: "Free Haiti!", es: "¡Haití libre!"}
    every: "mon 09:00"
    until: 2030-07-01 00:00
  - id: kenya-out
    text: {en: "Kenya out of Haiti!", es: "¡Kenia fuera de Haití!"}
    accounts: [outbox, outbox-b]
  - id: no-occupation
    text: {en: "No to another occupation!", es: "¡No a otra ocupación!"}
  - id: sovereignty
    text: {en: "Respect Haitian sovereignty!", es: "¡Respeten la soberanía haitiana!"}
"""


def post(post_id: str, en: str, es: str, *lines: str) -> str:
    """A post written as CAMPAIGN writes them."""
    return f'  - id: {post_id}\n    text: {{en: "{en}", es: "{es}"}}\n' + "".join(f"    {line}\n" for line in lines)


# Each kind of edit, as replacements of whole lines of CAMPAIGN.
US_OUT_TEXT = '    text: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}\n'
US_OUT_SLOGAN = '      slogan: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}\n'
KENYA = post("kenya-out", "Kenya out of Haiti!", "¡Kenia fuera de Haití!")
WEEKLY = post("weekly", "Free Haiti!", "¡Haití libre!", 'every: "mon 09:00"', "until: 2030-07-01 00:00")
EDITS: dict[str, list[tuple[str, str]]] = {
    "no_change": [],
    "added": [
        (
            WEEKLY,
            WEEKLY + post("reparations", "Reparations for Haiti!", "¡Reparaciones para Haití!", "at: 2030-06-05 18:00"),
        )
    ],
    "removed": [(WEEKLY, "")],
    "renamed": [("  - id: us-out\n", "  - id: us-out-now\n")],
    "retimed_at": [("    at: 2030-06-03 12:00\n", "    at: 2030-06-04 18:30\n")],
    "retimed_every": [('    every: "mon 09:00"\n', '    every: "wed,fri 17:30"\n')],
    "queue_to_at": [(KENYA, KENYA + "    at: 2030-06-05 09:00\n")],
    "retexted_en": [
        (
            '    text: {en: "Free Haiti!", es: "¡Haití libre!"}\n',
            '    text: {en: "Free Haiti now!", es: "¡Haití libre!"}\n',
        )
    ],
    "retexted_es": [(US_OUT_TEXT, '    text: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití, ya!"}\n')],
    "retexted_link": [
        ("    hashtags: [Haiti]\n", "    hashtags: [Haiti, Ayiti]\n    link: https://example.org/haiti\n")
    ],
    "recarded_words": [(US_OUT_SLOGAN, '      slogan: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití ya!"}\n')],
    "recarded_size": [("      size: square\n", "      size: landscape\n")],
    "account_disabled": [
        (
            "  outbox-b: {platform: outbox, path: outbox-b, languages: [en, es]}\n",
            "  outbox-b: {platform: outbox, path: outbox-b, languages: [en, es], enabled: false}\n",
        )
    ],
    "account_enabled": [("languages: [en, es], enabled: false}\n", "languages: [en, es]}\n")],
    "account_removed_from_post": [("    accounts: [outbox, outbox-b]\n", "    accounts: [outbox]\n")],
    "slot_shift": [(KENYA, post("first-in-line", "Hands off Haiti!", "¡Manos fuera de Haití!") + KENYA)],
    "timezone": [("timezone: America/New_York\n", "timezone: America/Chicago\n")],
}


def edited(edits: list[tuple[str, str]], text: str = CAMPAIGN) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"the edit does not apply: {old!r}"
        text = text.replace(old, new)
    return text


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project folder as a git repository of its own, nothing inherited from the shell."""
    for name in ("SCHEDULER_LEDGER", "SCHEDULER_WEBHOOK_URL", "SCHEDULER_HEARTBEAT_URL", "NOTIFY_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.name", "Comms Team")
    git(project, "config", "user.email", "comms@example.org")
    git(project, "config", "commit.gpgsign", "false")
    return project


def commit(folder: Path, text: str, message: str, *paths: str) -> str:
    (folder / "posts.yaml").write_text(text, encoding="utf-8")
    git(folder, "add", "posts.yaml", *paths)
    git(folder, "commit", "-q", "-m", message)
    return git(folder, "rev-parse", "HEAD")


def stable(output: str, folder: Path) -> str:
    """The output without what differs from run to run: commit hashes."""
    for line in git(folder, "log", "--format=%H").splitlines():
        output = output.replace(line[:12], "<commit>")
    return output


def check_expected(case: str, output: str) -> None:
    path = EXPECTED / f"{case}.md"
    if os.environ.get("UPDATE_EXPECTED"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(output, encoding="utf-8")
    assert path.exists(), f"no {path.name}: run with UPDATE_EXPECTED=1 to write it, then read it"
    assert output == path.read_text(encoding="utf-8"), f"{case}: the Markdown differs from {path}"


def starting(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- every kind of edit, in Markdown ------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(EDITS))
def test_each_kind_of_edit_in_markdown(case: str, repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    (repo / "posts.yaml").write_text(edited(EDITS[case]), encoding="utf-8")
    result = run_cli("diff", "--format", "markdown", "--now", NOW)
    assert result.exit_code == 0, result.output
    check_expected(case, stable(result.output, repo))


def test_between_two_revisions_and_against_the_working_tree(repo: Path, run_cli: Cli) -> None:
    first = commit(repo, CAMPAIGN, "The campaign", *FONTS)
    commit(repo, edited(EDITS["retimed_at"]), "Later")
    commit(repo, edited(EDITS["retimed_at"] + EDITS["retexted_en"]), "Reworded")
    both = run_cli("diff", "HEAD~2", "main", "--now", NOW)
    assert both.exit_code == 0, both.output
    assert both.lines[-1] == "1 post re-timed, 1 re-texted"
    assert both.lines[0].startswith(
        f"From HEAD~2 ({first[:12]} by Comms Team <comms@example.org> (The campaign)) to main ("
    )
    last = run_cli("diff", "HEAD~1", "HEAD", "--now", NOW)
    assert last.lines[-1] == "1 post re-texted"
    same = run_cli("diff", "--now", NOW)  # the working tree is the last commit
    assert same.lines[-1] == "No change to the campaign."


# --- text and JSON ------------------------------------------------------------------------------------


def test_text_is_one_line_per_change_with_details_indented(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    head = edited(EDITS["retimed_every"] + EDITS["retexted_es"] + EDITS["slot_shift"] + EDITS["account_disabled"])
    (repo / "posts.yaml").write_text(head, encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert stable(result.output, repo).splitlines() == [
        "From HEAD (<commit> by Comms Team <comms@example.org> (The campaign)) to posts.yaml, "
        "as of Sat 2030-06-01 09:00 EDT (13:00 UTC)",
        "Note: no ledger here, so what already went out is not shown",
        "added     first-in-line: a queue slot, next Tue 2030-06-04 10:00 EDT (14:00 UTC)",
        "          to outbox; disabled: outbox-b, mastodon",
        "          + en: Hands off Haiti!",
        "          + es: ¡Manos fuera de Haití!",
        "retimed   weekly: every mon 09:00 until Mon 2030-07-01 00:00 EDT (04:00 UTC) -> "
        "every wed,fri 17:30 until Mon 2030-07-01 00:00 EDT (04:00 UTC)",
        "          next Mon 2030-06-03 09:00 EDT (13:00 UTC) -> Wed 2030-06-05 17:30 EDT (21:30 UTC)",
        "retexted  us-out",
        "          - es: ¡EE.UU. fuera de Haití!",
        "          -",
        "          -     #Haiti",
        "          + es: ¡EE.UU. fuera de Haití, ya!",
        "          +",
        "          +     #Haiti",
        "account   outbox-b disabled",
        "slot      kenya-out: Tue 2030-06-04 10:00 EDT (14:00 UTC) -> Thu 2030-06-06 10:00 EDT (14:00 UTC)",
        "slot      no-occupation: Thu 2030-06-06 10:00 EDT (14:00 UTC) -> Tue 2030-06-11 10:00 EDT (14:00 UTC)",
        "slot      sovereignty: Tue 2030-06-11 10:00 EDT (14:00 UTC) -> Thu 2030-06-13 10:00 EDT (14:00 UTC)",
        "1 post added, 1 re-timed, 1 re-texted, 1 account changed, 3 queue slots moved",
    ]


def test_json_is_one_object_with_times_in_utc(repo: Path, run_cli: Cli) -> None:
    sha = commit(repo, CAMPAIGN, "The campaign", *FONTS)
    edits = EDITS["renamed"] + EDITS["queue_to_at"] + EDITS["account_removed_from_post"] + EDITS["timezone"]
    edits += EDITS["removed"]
    (repo / "posts.yaml").write_text(edited(edits), encoding="utf-8")
    result = run_cli("diff", "--format", "json", "--now", NOW)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    assert data["base"] == {
        "label": f"HEAD ({sha[:12]} by Comms Team <comms@example.org> (The campaign))",
        "file": "HEAD:posts.yaml",
        "revision": sha,
        "valid": True,
        "errors": 0,
        "warnings": 0,
        "compared": "all",
    }
    assert data["head"]["file"] == "posts.yaml"
    assert data["head"]["revision"] is None
    assert data["valid"] is True
    assert data["now_utc"] == "2030-06-01T13:00:00Z"
    assert data["summary"] == (
        "1 post removed, 1 renamed, 2 re-timed, 1 sent to other accounts, 2 queue slots moved, "
        "1 campaign setting changed"
    )
    assert data["renamed"] == [{"from": "us-out", "to": "us-out-now"}]
    assert [r["post"] for r in data["removed"]] == ["weekly"]
    assert data["removed"][0]["schedule"] == {
        "kind": "every",
        "at_utc": None,
        "every": "mon 09:00",
        "starts_utc": None,
        "until_utc": "2030-07-01T04:00:00Z",
    }
    retimed = {r["post"]: r for r in data["retimed"]}
    assert retimed["kenya-out"]["old"]["kind"] == "queue"
    assert retimed["kenya-out"]["new"] == {
        "kind": "at",
        "at_utc": "2030-06-05T14:00:00Z",  # 09:00 in Chicago
        "every": None,
        "starts_utc": None,
        "until_utc": None,
    }
    assert retimed["kenya-out"]["old_next_due_utc"] == "2030-06-04T14:00:00Z"
    assert retimed["us-out-now"]["old"]["at_utc"] == "2030-06-03T16:00:00Z"
    assert retimed["us-out-now"]["new"]["at_utc"] == "2030-06-03T17:00:00Z"
    assert data["post_accounts"] == [{"post": "kenya-out", "added": [], "removed": ["outbox-b"]}]
    assert data["slots"] == [
        {"post": "no-occupation", "old_utc": "2030-06-06T14:00:00Z", "new_utc": "2030-06-04T15:00:00Z"},
        {"post": "sovereignty", "old_utc": "2030-06-11T14:00:00Z", "new_utc": "2030-06-06T15:00:00Z"},
    ]
    assert data["campaign"] == [{"setting": "timezone", "old": "America/New_York", "new": "America/Chicago"}]
    assert data["problems"] == []
    assert data["ledger"] is False
    assert data["published"] == data["held"] == data["within_hour"] == []
    for key in ("added", "retexted", "recarded", "accounts", "not_compared"):
        assert data[key] == [], key


def test_json_gives_each_language_old_and_new_text_and_the_accounts(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    edits = EDITS["retexted_link"] + EDITS["recarded_words"] + EDITS["account_enabled"]
    (repo / "posts.yaml").write_text(edited(edits + EDITS["account_removed_from_post"]), encoding="utf-8")
    data = json.loads(run_cli("diff", "--format", "json", "--now", NOW).output)
    text = data["retexted"][0]["text"]
    assert data["retexted"][0]["post"] == "us-out"
    assert text["en"] == {
        "old": "U.S. out of Haiti!\n\n#Haiti",
        "new": "U.S. out of Haiti!\n\nhttps://example.org/haiti #Haiti #Ayiti",
    }
    assert set(text) == {"en", "es"}
    assert data["recarded"][0]["words"] == [
        {"field": "slogan", "language": "es", "old": "¡EE.UU. fuera de Haití!", "new": "¡EE.UU. fuera de Haití ya!"}
    ]
    assert data["accounts"] == [{"account": "mastodon", "change": "enabled", "old": None, "new": None}]
    assert data["post_accounts"] == [{"post": "kenya-out", "added": [], "removed": ["outbox-b"]}]


def test_accounts_and_settings_in_json(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    edits = [
        ("queue:\n", "  x-es: {platform: x, languages: [es], enabled: false}\nqueue:\n"),
        (
            "  outbox-b: {platform: outbox, path: outbox-b, languages: [en, es]}\n",
            "  outbox-b: {platform: outbox, path: outbox-c, languages: [en]}\n",
        ),
        ('  slots: ["tue,thu 10:00"]\n', '  slots: ["tue,thu 10:00"]\ndefaults: {max_late: 2h}\npaused: true\n'),
        ("    until: 2030-07-01 00:00\n", "    until: 2030-07-01 00:00\n    max_late: 30m\n    thread: true\n"),
    ]
    (repo / "posts.yaml").write_text(edited(edits), encoding="utf-8")
    result = run_cli("diff", "--format", "json", "--now", NOW)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["accounts"] == [
        {"account": "outbox-b", "change": "languages", "old": "en, es", "new": "en"},
        {"account": "outbox-b", "change": "settings", "old": "path: outbox-b", "new": "path: outbox-c"},
        {"account": "x-es", "change": "added", "old": None, "new": "x in es, disabled"},
    ]
    assert data["campaign"] == [
        {"setting": "paused", "old": "no", "new": "yes"},
        {"setting": "defaults.max_late", "old": "1h", "new": "2h"},
    ]
    assert data["paused"] is True
    # Only the post with its own max_late is re-timed by it; the default's change is listed once, above.
    assert [(r["post"], r["moved"], r["settings"]) for r in data["retimed"]] == [
        ("weekly", False, [{"name": "max_late", "old": "1h", "new": "30m"}])
    ]
    assert data["retexted"] == [
        {"post": "weekly", "text": {}, "settings": [{"name": "thread", "old": "no", "new": "yes"}]}
    ]
    text = run_cli("diff", "--now", NOW).lines
    assert "retimed   weekly: max_late 1h -> 30m" in text
    assert "retexted  weekly: thread no -> yes" in text
    assert "account   x-es added (x in es, disabled)" in text
    assert "campaign  defaults.max_late 1h -> 2h" in text


def test_a_ledger_that_cannot_be_read_is_a_note(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    (repo / "state").mkdir()
    (repo / "state" / "ledger.sqlite3").write_text("not a database", encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 0, result.output
    notes = starting(result.lines, "Note: the ledger could not be read, so what already went out is not shown: ")
    assert len(notes) == 1
    assert "is damaged" in notes[0]
    assert (repo / "state" / "ledger.sqlite3").read_text(encoding="utf-8") == "not a database"


# --- against the ledger ---------------------------------------------------------------------------


LEDGER_CAMPAIGN = """\
timezone: America/New_York
languages: [en, es]
accounts:
  outbox: {platform: outbox, path: outbox, languages: [en, es]}
posts:
  - id: first
    text: {en: "U.S. out of Haiti!", es: "¡EE.UU. fuera de Haití!"}
    at: 2030-06-01 09:00
  - id: kenya-out
    text: {en: "Kenya out of Haiti!", es: "¡Kenia fuera de Haití!"}
    at: 2030-06-01 09:30
  - id: no-occupation
    text: {en: "No to another occupation!", es: "¡No a otra ocupación!"}
    at: 2030-06-01 09:45
  - id: untouched
    text: {en: "Respect Haitian sovereignty!", es: "¡Respeten la soberanía haitiana!"}
    at: 2030-06-01 09:50
"""
FIRST_AT = "    at: 2030-06-01 09:00\n"


def published(repo: Path, run_cli: Cli) -> None:
    """LEDGER_CAMPAIGN committed, and `first` published to the outbox (both languages) by the daemon at T."""
    commit(repo, LEDGER_CAMPAIGN, "The campaign", *FONTS)
    step = run_cli("daemon", "--once", "--now", NOW)
    assert step.exit_code == 0, step.output
    assert len(list((repo / "outbox" / "posts").glob("*/post.json"))) == 2


def test_a_published_post_re_timed_and_re_texted_will_not_be_re_posted(repo: Path, run_cli: Cli) -> None:
    published(repo, run_cli)
    edits = [
        (FIRST_AT, "    at: 2030-06-02 09:00\n"),
        ('    text: {en: "U.S. out of Haiti!",', '    text: {en: "U.S. out of Haiti now!",'),
    ]
    (repo / "posts.yaml").write_text(edited(edits, LEDGER_CAMPAIGN), encoding="utf-8")
    result = run_cli("diff", "--now", iso(T + timedelta(minutes=5)))
    assert result.exit_code == 0, result.output
    assert starting(result.lines, "went out") == [
        f"went out  first already went out to outbox ({language}) on Sat 2030-06-01 09:00 EDT (13:00 UTC): "
        "this edit will not re-post it"
        for language in ("en", "es")
    ]
    assert "retexted  first" in result.lines
    assert "Note: no ledger here, so what already went out is not shown" not in result.lines
    data = json.loads(run_cli("diff", "--format", "json", "--now", iso(T + timedelta(minutes=5))).output)
    assert data["ledger"] is True
    assert [(w["post"], w["language"], w["last_utc"], w["removed"]) for w in data["published"]] == [
        ("first", "en", "2030-06-01T13:00:00Z", False),
        ("first", "es", "2030-06-01T13:00:00Z", False),
    ]
    # And truly: at its new time, the daemon does not send it again.
    run_cli("daemon", "--once", "--now", iso(T + timedelta(days=1)))
    keys = [json.loads(p.read_text(encoding="utf-8"))["key"] for p in (repo / "outbox" / "posts").glob("*/post.json")]
    assert sorted(key.split("|")[0] for key in keys) == ["first", "first"]


def test_a_post_renamed_after_it_went_out_will_be_held(repo: Path, run_cli: Cli) -> None:
    published(repo, run_cli)
    edits = [("  - id: first\n", "  - id: first-again\n"), (FIRST_AT, "    at: 2030-06-02 09:00\n")]
    (repo / "posts.yaml").write_text(edited(edits, LEDGER_CAMPAIGN), encoding="utf-8")
    result = run_cli("diff", "--format", "markdown", "--now", iso(T + timedelta(minutes=5)))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "- `first` → `first-again` (same text and card)" in lines
    ledger = lines[lines.index("### What the ledger says") + 2 :]
    assert ledger == [
        "- `first` already went out to `outbox` (en) on Sat 2030-06-01 09:00 EDT (13:00 UTC): "
        "this edit will not re-post it",
        "- `first` already went out to `outbox` (es) on Sat 2030-06-01 09:00 EDT (13:00 UTC): "
        "this edit will not re-post it",
        "- `first-again` will be held at Sun 2030-06-02 09:00 EDT (13:00 UTC) for `outbox` (en): "
        "the same text and card went out as 'first' to outbox (en) on 2030-06-01 13:00 UTC; to post it "
        "again, run: run.py post first-again --force",
        "- `first-again` will be held at Sun 2030-06-02 09:00 EDT (13:00 UTC) for `outbox` (es): "
        "the same text and card went out as 'first' to outbox (es) on 2030-06-01 13:00 UTC; to post it "
        "again, run: run.py post first-again --force",
    ]


def test_what_goes_out_within_the_hour_and_what_no_longer_does(repo: Path, run_cli: Cli) -> None:
    published(repo, run_cli)
    edits = [
        ('    text: {en: "Kenya out of Haiti!",', '    text: {en: "Kenya, out of Haiti!",'),
        (
            '  - id: no-occupation\n    text: {en: "No to another occupation!", es: "¡No a otra ocupación!"}\n'
            "    at: 2030-06-01 09:45\n",
            "",
        ),
    ]
    (repo / "posts.yaml").write_text(edited(edits, LEDGER_CAMPAIGN), encoding="utf-8")
    result = run_cli("diff", "--now", iso(T + timedelta(minutes=1)))
    assert result.exit_code == 0, result.output
    assert starting(result.lines, "soon") == [
        "soon      kenya-out goes out within the hour, at Sat 2030-06-01 09:30 EDT (13:30 UTC) to outbox (en)",
        "soon      kenya-out goes out within the hour, at Sat 2030-06-01 09:30 EDT (13:30 UTC) to outbox (es)",
        "soon      no-occupation will no longer go out at Sat 2030-06-01 09:45 EDT (13:45 UTC) to outbox (en)",
        "soon      no-occupation will no longer go out at Sat 2030-06-01 09:45 EDT (13:45 UTC) to outbox (es)",
    ]
    assert not starting(result.lines, "went out")  # neither went out yet; `untouched` is not news
    data = json.loads(run_cli("diff", "--format", "json", "--now", iso(T + timedelta(minutes=1))).output)
    assert [(s["post"], s["language"], s["due_utc"], s["goes_out"]) for s in data["within_hour"]] == [
        ("kenya-out", "en", "2030-06-01T13:30:00Z", True),
        ("kenya-out", "es", "2030-06-01T13:30:00Z", True),
        ("no-occupation", "en", "2030-06-01T13:45:00Z", False),
        ("no-occupation", "es", "2030-06-01T13:45:00Z", False),
    ]


# --- files, revisions, broken versions ----------------------------------------------------------


def test_two_plain_files_outside_git(project: Path, run_cli: Cli) -> None:
    (project / "old.yaml").write_text(CAMPAIGN, encoding="utf-8")
    (project / "new.yaml").write_text(edited(EDITS["retexted_en"]), encoding="utf-8")
    result = run_cli("diff", "old.yaml", "new.yaml", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.lines[0] == "From old.yaml to new.yaml, as of Sat 2030-06-01 09:00 EDT (13:00 UTC)"
    assert result.lines[-4:] == [
        "retexted  weekly",
        "          - en: Free Haiti!",
        "          + en: Free Haiti now!",
        "1 post re-texted",
    ]


def test_an_invalid_head_exits_1_with_its_problems_and_what_can_be_compared(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    broken = edited(
        EDITS["added"]
        + [
            ("    at: 2030-06-03 12:00\n", "    at: 2030-06-31 12:00\n"),
            ("    accounts: [outbox, outbox-b]\n", "    accounts: [outbox, nowhere]\n"),
        ]
    )
    (repo / "posts.yaml").write_text(broken, encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 1, result.output
    problems = starting(result.lines, "posts.yaml:")
    assert len(problems) == 2, result.output
    assert problems[0].startswith("posts.yaml:16:9: posts[0].at: '2030-06-31 12:00' is not a valid date and time")
    assert problems[1].startswith("posts.yaml:26:24: posts[3].accounts[1]: no account 'nowhere'")
    assert (
        "Note: HEAD (posts.yaml) does not validate (2 errors, 0 warnings); compared without the parts that have errors"
        in result.lines
    )
    assert "Note: not compared, as they have errors: kenya-out, us-out" in result.lines
    assert "added     reparations: at Wed 2030-06-05 18:00 EDT (22:00 UTC)" in result.lines
    assert not starting(result.lines, "removed")  # the posts with errors are not "removed"
    assert result.lines[-1] == "1 post added"  # kenya-out is left out of both: it moves no slot
    markdown = run_cli("diff", "--format", "markdown", "--now", NOW)
    assert markdown.exit_code == 1
    lines = markdown.output.splitlines()
    start = lines.index("### Problems") + 2
    assert lines[start] == "```text"
    assert lines[start + 1 : start + 3] == problems
    assert lines[start + 3] == "```"
    data = json.loads(run_cli("diff", "--format", "json", "--now", NOW).output)
    assert data["valid"] is False
    assert [p["text"] for p in data["problems"]] == problems
    assert data["head"]["compared"] == "partly"


def test_a_head_that_cannot_be_read_shows_only_its_problems(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    (repo / "posts.yaml").write_text("timezone: [\n", encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 1, result.output
    assert starting(result.lines, "posts.yaml:2:1: ")
    assert any("too little of it is valid to compare" in line for line in result.lines)
    assert result.lines[-1] == "Nothing compared: HEAD has too many errors"


def test_an_invalid_base_is_a_note_and_its_valid_parts_are_compared(repo: Path, run_cli: Cli) -> None:
    commit(repo, edited([("    at: 2030-06-03 12:00\n", "    at: tomorrow\n")]), "Broken", *FONTS)
    (repo / "posts.yaml").write_text(edited(EDITS["retexted_en"]), encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 0, result.output
    note = "Note: BASE (HEAD:posts.yaml) does not validate (1 error, 0 warnings); compared without the parts"
    assert f"{note} that have errors" in result.lines
    assert "Note: not compared, as they have errors: us-out" in result.lines
    assert result.lines[-1] == "1 post re-texted"


def test_an_unknown_revision_is_one_error_line_and_a_usage_error(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    for arguments, role, name in ((["nosuch"], "BASE", "nosuch"), (["HEAD", "HEAD~3"], "HEAD", "HEAD~3")):
        result = run_cli("diff", *arguments)
        assert result.exit_code == 2, result.output
        assert result.lines == [
            f"Error: {role} '{name}' is neither a file nor a revision of the git repository at {repo.resolve()}; "
            "give a posts.yaml file, or a branch, tag or commit such as main or HEAD~1"
        ]


def test_base_neither_a_file_nor_a_revision_outside_git_is_a_usage_error(project: Path, run_cli: Cli) -> None:
    (project / "posts.yaml").write_text(CAMPAIGN, encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 2, result.output
    assert result.lines == [
        "Error: BASE 'HEAD' is not a file, and posts.yaml is not in a git repository to find a revision in"
    ]
    assert run_cli("diff", "old.yaml", "--now", NOW).exit_code == 2


def test_a_revision_without_posts_yaml_is_one_error_line(repo: Path, run_cli: Cli) -> None:
    (repo / "README").write_text("campaign\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "Start")
    sha = git(repo, "rev-parse", "HEAD")
    (repo / "posts.yaml").write_text(CAMPAIGN, encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 1, result.output
    assert result.lines == [f"Error: posts.yaml is not in HEAD ({sha[:12]} by Comms Team <comms@example.org> (Start))"]


def test_a_revision_is_read_at_the_place_of_config(repo: Path, run_cli: Cli) -> None:
    (repo / "campaign" / "assets" / "fonts").mkdir(parents=True)
    for font in FONTS:
        (repo / "campaign" / font).write_bytes((repo / font).read_bytes())
    (repo / "campaign" / "posts.yaml").write_text(CAMPAIGN, encoding="utf-8")
    git(repo, "add", "campaign")
    git(repo, "commit", "-q", "-m", "The campaign, in its folder")
    (repo / "campaign" / "posts.yaml").write_text(edited(EDITS["recarded_size"]), encoding="utf-8")
    result = run_cli("diff", "--config", "campaign/posts.yaml", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.lines[0].startswith("From HEAD (")
    assert "recarded  us-out: size square -> landscape" in result.lines
    assert result.lines[-1] == "1 post re-carded"
    data = json.loads(run_cli("diff", "--config", "campaign/posts.yaml", "--format", "json", "--now", NOW).output)
    assert data["base"]["file"] == "HEAD:campaign/posts.yaml"
    assert data["base"]["valid"] is True  # its fonts, beside it in the revision, were found


def test_without_a_ledger_a_past_time_already_in_base_is_no_warning(repo: Path, run_cli: Cli) -> None:
    past = [("    at: 2030-06-03 12:00\n", "    at: 2030-05-03 12:00\n")]
    commit(repo, edited(past), "The campaign", *FONTS)
    reparations = post("reparations", "Reparations for Haiti!", "¡Reparaciones para Haití!", "at: 2030-05-05 18:00")
    (repo / "posts.yaml").write_text(edited([*past, (WEEKLY, WEEKLY + reparations)]), encoding="utf-8")
    result = run_cli("diff", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert starting(result.lines, "posts.yaml:") == [
        "posts.yaml:23:9: posts[2].at: warning: 2030-05-05 18:00 EDT is in the past; "
        "it will not be posted unless you post it by hand"
    ]


# --- Markdown that user text cannot break -----------------------------------------------------------


def test_markdown_keeps_user_text_inside_its_fence_and_escapes_html(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign <img src=x onerror=alert(1)> @everyone", *FONTS)
    hostile = "Free Haiti! ```` </code><script>alert(1)</script> @everyone\\n```\\n# heading"
    (repo / "posts.yaml").write_text(
        edited(
            [
                (
                    '    text: {en: "Free Haiti!", es: "¡Haití libre!"}\n',
                    f'    text: {{en: "{hostile}", es: "¡Haití libre!"}}\n',
                )
            ]
        ),
        encoding="utf-8",
    )
    result = run_cli("diff", "--format", "markdown", "--now", NOW)
    assert result.exit_code == 0, result.output
    page = MarkdownIt("commonmark").render(result.output)
    assert "<script>" not in page
    assert "<img" not in page
    assert "<h1>" not in page  # "# heading" stayed in the block
    blocks = re.findall(r'<code class="language-diff">(.*?)</code>', page, flags=re.DOTALL)
    assert len(blocks) == 1
    assert "+ en: Free Haiti! ```` &lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt; @everyone" in blocks[0]
    assert "+     # heading" in blocks[0]
    fence = next(line for line in result.output.splitlines() if line.strip().startswith("`````"))
    assert fence.strip() == "`````diff"  # longer than the four backticks in the text
    # The commit subject is shown in a code span, not as HTML or a mention.
    label = re.search(r"From <code>(.*?)</code>", page)
    assert label is not None
    assert "&lt;img src=x onerror=alert(1)&gt; @everyone" in label[1]


def test_problems_quoting_user_text_stay_in_their_fence(repo: Path, run_cli: Cli) -> None:
    commit(repo, CAMPAIGN, "The campaign", *FONTS)
    (repo / "posts.yaml").write_text(
        edited([("    at: 2030-06-03 12:00\n", '    at: "```</pre><script>x</script>"\n')]), encoding="utf-8"
    )
    result = run_cli("diff", "--format", "markdown", "--now", NOW)
    assert result.exit_code == 1
    page = MarkdownIt("commonmark").render(result.output)
    assert "<script>" not in page
    problems = re.findall(r'<code class="language-text">(.*?)</code>', page, flags=re.DOTALL)
    assert len(problems) == 1
    assert "'```&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;' is not a valid date and time" in problems[0]
