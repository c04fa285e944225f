"""A scheduler.diff.Diff as terminal text, as a Markdown comment for a pull or merge request, or as JSON.

Text and Markdown say the same things in the same words (one list of entries, two layouts). The
Markdown is safe to post on GitHub and GitLab whatever posts.yaml and git hold: their words go in
code spans or fenced blocks longer than any run of backticks in them (so they mention no one), and
any other outside text is escaped: nothing closes a block early or injects HTML.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scheduler.diff import (
    AccountChange,
    Diff,
    DueSoon,
    Held,
    PostAccounts,
    PostSummary,
    Recarded,
    Retexted,
    Retimed,
    Schedule,
    SettingChange,
    TextChange,
    Version,
    WentOut,
    summary,
)

FORMATS = ("text", "markdown", "json")
_INLINE_SPECIAL = re.compile(r"[\\`*_{}\[\]#+!|~]")


def render(diff: Diff, form: str) -> str:
    """`diff` in one of FORMATS."""
    if form == "json":
        return render_json(diff)
    return render_markdown(diff) if form == "markdown" else render_text(diff)


# --- what is said, in either layout --------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    code: Callable[[str], str]  # words from posts.yaml or git
    prose: Callable[[str], str]  # a sentence from elsewhere (the plan's notes, an error)
    arrow: str


@dataclass(frozen=True)
class _Entry:
    tag: str  # its first word in the text layout
    words: str
    details: tuple[str, ...] = ()
    texts: tuple[TextChange, ...] = ()


def _sections(diff: Diff, style: _Style) -> Iterator[tuple[str, list[_Entry]]]:
    code, arrow = style.code, style.arrow
    yield "Added", [_Entry("added", *_added_or_removed(p, style), p.texts) for p in diff.added]
    yield "Removed", [_Entry("removed", *_added_or_removed(p, style), p.texts) for p in diff.removed]
    yield (
        "Renamed",
        [_Entry("renamed", f"{code(r.old_id)} {arrow} {code(r.new_id)} (same text and card)") for r in diff.renamed],
    )
    yield "Re-timed", [_Entry("retimed", *_retimed(r, style)) for r in diff.retimed]
    yield "Re-texted", [_Entry("retexted", _edited(r, style), texts=r.texts) for r in diff.retexted]
    yield "Re-carded", [_Entry("recarded", _edited(r, style), texts=r.words) for r in diff.recarded]
    yield (
        "Accounts",
        [_Entry("account", _account(a, style)) for a in diff.accounts]
        + [_Entry("account", _post_accounts(p, style)) for p in diff.post_accounts],
    )
    yield (
        "Queue slots",
        [_Entry("slot", f"{code(s.post_id)}: {_next(s.old)} {arrow} {_next(s.new)}") for s in diff.slots],
    )
    yield "Campaign settings", [_Entry("campaign", _setting(s, style)) for s in diff.campaign]
    yield (
        "What the ledger says",
        [_Entry("went out", _went_out(w, style)) for w in diff.published]
        + [_Entry("held", _held(h, style)) for h in diff.held]
        + [_Entry("soon", _soon(s, style, paused=diff.head_paused)) for s in diff.within_hour],
    )


def _notes(diff: Diff, style: _Style) -> list[str]:
    """What limits the comparison, one sentence each."""
    notes = [note for note in (_invalid(diff.head, "HEAD", style), _invalid(diff.base, "BASE", style)) if note]
    if diff.not_compared:
        notes.append(f"not compared, as they have errors: {_listed(diff.not_compared, style)}")
    if diff.ledger_note:
        notes.append(
            f"the ledger could not be read, so what already went out is not shown: {style.prose(diff.ledger_note)}"
        )
    elif not diff.ledger:
        notes.append("no ledger here, so what already went out is not shown")
    return notes


def _when(moment: datetime) -> str:
    return f"{moment:%a %Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%H:%M} UTC)"


def _next(moment: datetime | None) -> str:
    return _when(moment) if moment is not None else "none"


def _schedule(schedule: Schedule, style: _Style) -> str:
    if schedule.at is not None:
        return f"at {_when(schedule.at)}"
    words = f"every {style.code(schedule.every)}" if schedule.every is not None else "a queue slot"
    if schedule.starts is not None:
        words += f" from {_when(schedule.starts)}"
    if schedule.until is not None:
        words += f" until {_when(schedule.until)}"
    return words


def _setting(change: SettingChange, style: _Style) -> str:
    return f"{change.name} {style.code(change.old)} {style.arrow} {style.code(change.new)}"


def _listed(names: Iterable[str], style: _Style) -> str:
    return ", ".join(style.code(name) for name in names)


def _added_or_removed(post: PostSummary, style: _Style) -> tuple[str, tuple[str, ...]]:
    when = _schedule(post.schedule, style)
    if post.schedule.at is None:
        when += f", next {_next(post.next_due)}"
    targets = f"to {_listed(post.accounts, style)}" if post.accounts else "to no enabled account"
    if post.disabled:
        targets += f"; disabled: {_listed(post.disabled, style)}"
    return f"{style.code(post.post_id)}: {when}", (targets,)


def _retimed(change: Retimed, style: _Style) -> tuple[str, tuple[str, ...]]:
    settings = [_setting(setting, style) for setting in change.settings]
    if not change.moved:
        return f"{style.code(change.post_id)}: {'; '.join(settings)}", ()
    moved = f"{_schedule(change.old, style)} {style.arrow} {_schedule(change.new, style)}"
    if change.old.at is None or change.new.at is None:
        settings.insert(0, f"next {_next(change.old_next)} {style.arrow} {_next(change.new_next)}")
    return f"{style.code(change.post_id)}: {moved}", tuple(settings)


def _edited(change: Retexted | Recarded, style: _Style) -> str:
    """The post, and the settings that changed with its words."""
    settings = "; ".join(_setting(setting, style) for setting in change.settings)
    return f"{style.code(change.post_id)}: {settings}" if settings else style.code(change.post_id)


def _account(change: AccountChange, style: _Style) -> str:
    name = style.code(change.account)
    if change.change in ("added", "removed"):
        return f"{name} {change.change} ({style.prose(change.new or change.old or '')})"
    if change.change in ("enabled", "disabled"):
        return f"{name} {change.change}"
    return f"{name} {change.change} {style.code(change.old or '')} {style.arrow} {style.code(change.new or '')}"


def _post_accounts(change: PostAccounts, style: _Style) -> str:
    parts = []
    if change.removed:
        parts.append(f"no longer goes to {_listed(change.removed, style)}")
    if change.added:
        parts.append(f"now also goes to {_listed(change.added, style)}")
    return f"{style.code(change.post_id)} {'; '.join(parts)}"


def _went_out(item: WentOut, style: _Style) -> str:
    sent = "may have gone out (unconfirmed)" if item.state == "unconfirmed" else "already went out"
    times = f" {item.times} times, the last" if item.times > 1 else ""
    consequence = "removing the post does not take it down" if item.removed else "this edit will not re-post it"
    return (
        f"{style.code(item.post_id)} {sent} to {style.code(item.account)} ({item.language}){times} "
        f"on {_when(item.last)}: {consequence}"
    )


def _held(item: Held, style: _Style) -> str:
    return (
        f"{style.code(item.post_id)} will be held at {_when(item.due)} for {style.code(item.account)} "
        f"({item.language}): {style.prose(item.reason)}"
    )


def _soon(item: DueSoon, style: _Style, *, paused: bool) -> str:
    target = f"to {style.code(item.account)} ({item.language})"
    if not item.goes_out:
        return f"{style.code(item.post_id)} will no longer go out at {_when(item.due)} {target}"
    due = f"within the hour, at {_when(item.due)} {target}"
    if paused:
        return f"{style.code(item.post_id)} falls due {due}, but publishing is paused"
    return f"{style.code(item.post_id)} goes out {due}"


def _diff_lines(changes: Iterable[TextChange]) -> list[str]:
    """`- en: old` and `+ en: new` lines, continuation lines aligned under the first."""
    lines = []
    for change in changes:
        label = change.language if change.field == "text" else f"{change.field} {change.language}"
        for sign, words in (("-", change.old), ("+", change.new)):
            if words is None:
                continue
            first, *rest = words.splitlines() or [""]
            lines.append(f"{sign} {label}: {first}".rstrip())
            lines += [f"{sign} {' ' * (len(label) + 2)}{line}".rstrip() for line in rest]
    return lines


def _invalid(version: Version, role: str, style: _Style) -> str | None:
    """One sentence when a version does not validate, saying what of it was compared."""
    if version.valid:
        return None
    counts = f"{_plural(version.errors, 'error')}, {_plural(version.warnings, 'warning')}"
    compared = {
        "all": "compared in full",
        "partly": "compared without the parts that have errors",
        "none": "too little of it is valid to compare",
    }[version.compared]
    return f"{role} ({style.code(version.name)}) does not validate ({counts}); {compared}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


# --- text ----------------------------------------------------------------------------------------

_TEXT = _Style(code=lambda value: value, prose=lambda value: value, arrow="->")
_TAG_WIDTH = 9
_INDENT = " " * (_TAG_WIDTH + 1)


def render_text(diff: Diff) -> str:
    """For a terminal: HEAD's problems, then one line per change with its details indented, then the counts."""
    lines = [f"From {diff.base.label} to {diff.head.label}, as of {_when(diff.now)}"]
    lines += [problem.render(diff.head.name) for problem in diff.head.problems]
    lines += [f"Note: {note}" for note in _notes(diff, _TEXT)]
    for _, entries in _sections(diff, _TEXT):
        for entry in entries:
            lines.append(f"{entry.tag:<{_TAG_WIDTH}} {entry.words}")
            lines += [f"{_INDENT}{line}".rstrip() for line in (*entry.details, *_diff_lines(entry.texts))]
    lines.append(summary(diff))
    return "\n".join(lines) + "\n"


# --- Markdown ------------------------------------------------------------------------------------


def code_span(value: str) -> str:
    """`value` as inline code on one line, whatever backticks it holds."""
    flat = " ".join(value.split()) or "(empty)"
    fence = "`" * (_longest_backtick_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def escape_inline(value: str) -> str:
    """Outside text as one line of Markdown prose: no markup, no HTML."""
    flat = html.escape(" ".join(value.split()), quote=False)
    return _INLINE_SPECIAL.sub(lambda match: "\\" + match[0], flat)


def fenced(lines: list[str], info: str = "", indent: str = "") -> list[str]:
    """A fenced block that nothing in `lines` can close: its fence is longer than any run of backticks."""
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in lines), default=0) + 1)
    return [f"{indent}{fence}{info}", *(f"{indent}{line}".rstrip() for line in lines), f"{indent}{fence}"]


def _longest_backtick_run(value: str) -> int:
    return max((len(run) for run in re.findall(r"`+", value)), default=0)


_MARKDOWN = _Style(code=code_span, prose=escape_inline, arrow="→")


def render_markdown(diff: Diff) -> str:
    """For a pull or merge request comment: a heading, the counts, then a section per kind of change."""
    lines = [
        "## What this change does to the campaign",
        "",
        f"From {code_span(diff.base.label)} to {code_span(diff.head.label)}, as of {_when(diff.now)}.",
        "",
        f"**{summary(diff).removesuffix('.')}.**",
    ]
    for note in _notes(diff, _MARKDOWN):
        lines += ["", f"Note: {note}."]
    if diff.head.problems:
        lines += ["", "### Problems", "", *fenced([p.render(diff.head.name) for p in diff.head.problems], "text")]
    for title, entries in _sections(diff, _MARKDOWN):
        if entries:
            lines += ["", f"### {title}", ""]
        for entry in entries:
            lines.append(f"- {entry.words}")
            lines += [f"  - {detail}" for detail in entry.details]
            texts = _diff_lines(entry.texts)
            lines += fenced(texts, "diff", indent="  ") if texts else []
    return "\n".join(lines) + "\n"


# --- JSON ----------------------------------------------------------------------------------------


def render_json(diff: Diff) -> str:
    """One JSON object; times are ISO 8601 in UTC (`2026-12-01T14:00:00Z`), null where there is none.

    - `base`, `head`: each version's `label`, `file` (the name its problems use), `revision` (the
      commit's hash, or null for a file), `valid`, `errors`, `warnings`, `compared` (all, partly, none).
    - `valid`: HEAD validates (else the command exits 1). `now_utc`: the time compared at.
    - `summary`: the counts in words; `changed`: whether anything in the campaign changes.
    - `problems`: HEAD's, each `line`, `column`, `path`, `severity`, `message`, and `text` as validate prints it.
    - `not_compared`: the ids of posts with errors in either version, left out of the comparison.
    - `added`, `removed`: `post`, `schedule`, `next_due_utc`, `accounts` (enabled), `disabled`
      (named but disabled accounts), `text` ({language: the text as published}).
    - `renamed`: `from`, `to`.
    - `retimed`: `post`, `old` and `new` schedules, `old_next_due_utc`, `new_next_due_utc`, `moved`
      (false when only max_late changed), `settings`.
    - `retexted`: `post`, `text` ({language: {`old`, `new`}}, as published: with link and hashtags),
      `settings` (thread, thread_numbers).
    - `recarded`: `post`, `settings` (card, template, size), `words` (each `field`: slogan, excerpt,
      attribution or alt; `language`, `old`, `new`).
    - `accounts`: `account`, `change` (added, removed, enabled, disabled, languages, settings), `old`, `new`.
    - `post_accounts`: `post`, `added`, `removed`: the accounts a post goes to.
    - `slots`: `post`, `old_utc`, `new_utc`: a post's queue slot in BASE and in HEAD (null: none).
    - `campaign`: campaign settings, each `setting`, `old`, `new`.
    - `ledger`: whether a ledger was read; `ledger_note`: why it could not be; `paused`: HEAD pauses publishing.
    - `published`: what already went out of the posts changed: `post`, `account`, `language`, `state`,
      `last_utc`, `times`, `removed` (the post is removed).
    - `held`: `post`, `account`, `language`, `due_utc`, `reason`.
    - `within_hour`: `post`, `account`, `language`, `due_utc`, `goes_out` (false: BASE would send it, HEAD will not).

    A schedule is `kind` (at, every or queue), `at_utc`, `every`, `starts_utc`, `until_utc`; a setting
    `name`, `old`, `new`, in words.
    """
    data = {
        "base": _version_json(diff.base),
        "head": _version_json(diff.head),
        "valid": diff.head.valid,
        "now_utc": _utc(diff.now),
        "summary": summary(diff),
        "changed": diff.changed,
        "problems": [
            {
                "line": p.line,
                "column": p.column,
                "path": p.path,
                "severity": str(p.severity),
                "message": p.message,
                "text": p.render(diff.head.name),
            }
            for p in diff.head.problems
        ],
        "not_compared": list(diff.not_compared),
        "added": [_summary_json(p) for p in diff.added],
        "removed": [_summary_json(p) for p in diff.removed],
        "renamed": [{"from": r.old_id, "to": r.new_id} for r in diff.renamed],
        "retimed": [
            {
                "post": r.post_id,
                "old": _schedule_json(r.old),
                "new": _schedule_json(r.new),
                "old_next_due_utc": _utc(r.old_next),
                "new_next_due_utc": _utc(r.new_next),
                "moved": r.moved,
                "settings": _settings_json(r.settings),
            }
            for r in diff.retimed
        ],
        "retexted": [
            {
                "post": r.post_id,
                "text": {t.language: {"old": t.old, "new": t.new} for t in r.texts},
                "settings": _settings_json(r.settings),
            }
            for r in diff.retexted
        ],
        "recarded": [
            {
                "post": r.post_id,
                "settings": _settings_json(r.settings),
                "words": [{"field": w.field, "language": w.language, "old": w.old, "new": w.new} for w in r.words],
            }
            for r in diff.recarded
        ],
        "accounts": [{"account": a.account, "change": a.change, "old": a.old, "new": a.new} for a in diff.accounts],
        "post_accounts": [
            {"post": p.post_id, "added": list(p.added), "removed": list(p.removed)} for p in diff.post_accounts
        ],
        "slots": [{"post": s.post_id, "old_utc": _utc(s.old), "new_utc": _utc(s.new)} for s in diff.slots],
        "campaign": [{"setting": s.name, "old": s.old, "new": s.new} for s in diff.campaign],
        "ledger": diff.ledger,
        "ledger_note": diff.ledger_note,
        "paused": diff.head_paused,
        "published": [
            {
                "post": w.post_id,
                "account": w.account,
                "language": w.language,
                "state": w.state,
                "last_utc": _utc(w.last),
                "times": w.times,
                "removed": w.removed,
            }
            for w in diff.published
        ],
        "held": [
            {
                "post": h.post_id,
                "account": h.account,
                "language": h.language,
                "due_utc": _utc(h.due),
                "reason": h.reason,
            }
            for h in diff.held
        ],
        "within_hour": [
            {
                "post": s.post_id,
                "account": s.account,
                "language": s.language,
                "due_utc": _utc(s.due),
                "goes_out": s.goes_out,
            }
            for s in diff.within_hour
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _version_json(version: Version) -> dict[str, Any]:
    return {
        "label": version.label,
        "file": version.name,
        "revision": version.revision,
        "valid": version.valid,
        "errors": version.errors,
        "warnings": version.warnings,
        "compared": version.compared,
    }


def _schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {
        "kind": schedule.kind,
        "at_utc": _utc(schedule.at),
        "every": schedule.every,
        "starts_utc": _utc(schedule.starts),
        "until_utc": _utc(schedule.until),
    }


def _summary_json(post: PostSummary) -> dict[str, Any]:
    return {
        "post": post.post_id,
        "schedule": _schedule_json(post.schedule),
        "next_due_utc": _utc(post.next_due),
        "accounts": list(post.accounts),
        "disabled": list(post.disabled),
        "text": {t.language: t.new if t.old is None else t.old for t in post.texts},
    }


def _settings_json(settings: Iterable[SettingChange]) -> list[dict[str, str]]:
    return [{"name": s.name, "old": s.old, "new": s.new} for s in settings]
