"""What a change to posts.yaml does to the campaign: two versions in, a typed list of changes out.

Each version is a file, or the file at the same place in a git revision (whose whole tree is
exported, so its fonts and logo are checked too). Posts are matched by id; a post removed while
another with the same text and card is added is a rename. Every time, slot and fate comes from the
plan (scheduler.plan and scheduler.timeline), computed for both versions with the same ledger
snapshot and the same `now`, so a slot that moves, moves because of the edit. scheduler.diff_render
turns the result into text, Markdown or JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from scheduler import content, plan, repo, text, timeline
from scheduler.errors import Problem, SchedulerError, Severity
from scheduler.models import Account, Campaign, Post, Recurrence, format_duration
from scheduler.source import format_path

T = TypeVar("T")
SOON = timedelta(hours=1)  # "within the hour"
HORIZON = timedelta(days=366)  # how far ahead a post's next time is looked for (as plan.upcoming does)


class NotAVersionError(SchedulerError):
    """BASE or HEAD names neither a file nor a revision: a usage error."""


# --- where each version comes from -----------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    toplevel: Path
    commit: repo.Commit


@dataclass(frozen=True)
class Source:
    """One version of posts.yaml: a file, or the file at the same path in a git revision."""

    label: str  # for a person: the file, or the revision and its commit
    name: str  # what its problems are rendered against: posts.yaml, or main:posts.yaml
    file: Path  # a file's path; for a revision, posts.yaml's path inside the exported tree
    revision: Revision | None = None


def locate(argument: str | None, role: str, config: Path) -> Source:
    """Where BASE or HEAD (`role`) finds posts.yaml: `argument` as an existing file, else as a revision
    of the git repository holding `config`, reading the file at `config`'s place in it. None is
    `config` itself, as it is now."""
    if argument is None:
        return Source(str(config), str(config), config)
    if Path(argument).is_file():
        return Source(argument, argument, Path(argument))
    where = config.resolve()
    toplevel = repo.toplevel(where.parent) if where.parent.is_dir() else None
    if toplevel is None:
        raise NotAVersionError(
            f"{role} '{argument}' is not a file, and {config} is not in a git repository to find a revision in"
        )
    commit = _commit(toplevel, argument)
    if commit is None:
        raise NotAVersionError(
            f"{role} '{argument}' is neither a file nor a revision of the git repository at {toplevel}; "
            "give a posts.yaml file, or a branch, tag or commit such as main or HEAD~1"
        )
    path = where.relative_to(toplevel.resolve()).as_posix()
    try:
        repo.git(toplevel, "cat-file", "-e", f"{commit.sha}:{path}")
    except repo.GitError:
        raise SchedulerError(f"{path} is not in {argument} ({commit.describe()})") from None
    return Source(f"{argument} ({commit.describe()})", f"{argument}:{path}", Path(path), Revision(toplevel, commit))


def _commit(toplevel: Path, revision: str) -> repo.Commit | None:
    try:
        return repo.commit(toplevel, revision)
    except repo.GitError:
        return None


@contextlib.contextmanager
def opened(source: Source) -> Iterator[Path]:
    """The version's file on disk, for as long as it is needed: a revision's tree is exported to a
    scratch folder and removed afterwards."""
    if source.revision is None:
        yield source.file
        return
    with repo.ExportedTree(source.revision.toplevel, source.revision.commit.sha) as root:
        yield root / source.file


def compare_versions(
    base: str, head: str | None, config: Path, now: datetime, snapshot: plan.Snapshot | None, ledger_note: str | None
) -> Diff:
    """Check BASE and HEAD (see `locate`) as of `now` and compare them, with the ledger's rows when
    there is a ledger; `ledger_note` says why a ledger could not be read."""
    sources = (locate(base, "BASE", config), locate(head, "HEAD", config))
    went_out = snapshot.went_out() if snapshot is not None else frozenset()
    reports = []
    for source in sources:
        with opened(source) as path:
            reports.append(content.check(path, now=now, went_out=went_out))
    return compare(sources[0], reports[0], sources[1], reports[1], now, snapshot, ledger_note)


# --- the changes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One version as checked: what it is, its problems, and how much of it could be compared."""

    label: str
    name: str
    revision: str | None  # the commit's full hash
    problems: tuple[Problem, ...]
    compared: Literal["all", "partly", "none"]

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors

    @property
    def valid(self) -> bool:
        return self.errors == 0


@dataclass(frozen=True)
class Schedule:
    """When a post goes out, as written; times are in the campaign's timezone."""

    kind: Literal["at", "every", "queue"]
    at: datetime | None = None
    every: str | None = None
    starts: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class SettingChange:
    """A setting shown as words: `max_late` 1h -> 3h, `size` square -> landscape."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class TextChange:
    """One piece of words in one language; None where that version has none."""

    field: str  # text (as published), slogan, excerpt, attribution or alt
    language: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class PostSummary:
    """An added or removed post: when it goes out, where, and its text as published."""

    post_id: str
    schedule: Schedule
    next_due: datetime | None
    accounts: tuple[str, ...]  # enabled
    disabled: tuple[str, ...]  # accounts it names that are disabled
    texts: tuple[TextChange, ...]


@dataclass(frozen=True)
class Renamed:
    old_id: str
    new_id: str


@dataclass(frozen=True)
class Retimed:
    post_id: str
    old: Schedule
    new: Schedule
    old_next: datetime | None
    new_next: datetime | None
    moved: bool  # the schedule changed (not only max_late)
    settings: tuple[SettingChange, ...] = ()


@dataclass(frozen=True)
class Retexted:
    post_id: str
    texts: tuple[TextChange, ...]  # as published: with the link and hashtags
    settings: tuple[SettingChange, ...] = ()  # thread, thread_numbers


@dataclass(frozen=True)
class Recarded:
    post_id: str
    settings: tuple[SettingChange, ...]  # card, template, size
    words: tuple[TextChange, ...]  # slogan or excerpt, attribution, alt


@dataclass(frozen=True)
class AccountChange:
    account: str
    change: Literal["added", "removed", "enabled", "disabled", "languages", "settings"]
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class PostAccounts:
    post_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class SlotShift:
    post_id: str
    old: datetime | None  # None: no slot
    new: datetime | None


@dataclass(frozen=True)
class WentOut:
    """What the ledger holds as sent (or perhaps sent) of a changed or removed post, per account and language."""

    post_id: str  # the id it went out under
    account: str
    language: str
    state: str  # of the latest: published, unconfirmed, claimed
    last: datetime
    times: int
    removed: bool


@dataclass(frozen=True)
class Held:
    post_id: str
    account: str
    language: str
    due: datetime
    reason: str  # the plan's note: what went out, and how to post it anyway


@dataclass(frozen=True)
class DueSoon:
    """A delivery within the hour that HEAD sends (goes_out) or that BASE would have sent and HEAD no longer does."""

    post_id: str
    account: str
    language: str
    due: datetime
    goes_out: bool


@dataclass(frozen=True)
class Diff:
    base: Version
    head: Version
    now: datetime  # in HEAD's timezone when known
    ledger: bool
    ledger_note: str | None = None
    head_paused: bool = False
    not_compared: tuple[str, ...] = ()  # posts with errors in either version
    added: tuple[PostSummary, ...] = ()
    removed: tuple[PostSummary, ...] = ()
    renamed: tuple[Renamed, ...] = ()
    retimed: tuple[Retimed, ...] = ()
    retexted: tuple[Retexted, ...] = ()
    recarded: tuple[Recarded, ...] = ()
    accounts: tuple[AccountChange, ...] = ()
    post_accounts: tuple[PostAccounts, ...] = ()
    slots: tuple[SlotShift, ...] = ()
    campaign: tuple[SettingChange, ...] = ()
    published: tuple[WentOut, ...] = ()
    held: tuple[Held, ...] = ()
    within_hour: tuple[DueSoon, ...] = ()

    @property
    def changed(self) -> bool:
        return any(
            (
                self.added,
                self.removed,
                self.renamed,
                self.retimed,
                self.retexted,
                self.recarded,
                self.accounts,
                self.post_accounts,
                self.slots,
                self.campaign,
            )
        )


def summary(diff: Diff) -> str:
    """One line of counts: "2 posts added, 1 re-timed, 1 account changed"."""
    unreadable = [role for role, version in (("BASE", diff.base), ("HEAD", diff.head)) if version.compared == "none"]
    if unreadable:
        return (
            f"Nothing compared: {' and '.join(unreadable)} {'has' if len(unreadable) == 1 else 'have'} too many errors"
        )
    post_counts = [
        (len(diff.added), "added"),
        (len(diff.removed), "removed"),
        (len(diff.renamed), "renamed"),
        (len(diff.retimed), "re-timed"),
        (len(diff.retexted), "re-texted"),
        (len(diff.recarded), "re-carded"),
        (len(diff.post_accounts), "sent to other accounts"),
    ]
    counted = [(count, what) for count, what in post_counts if count]
    # The first says what is counted: "2 posts added, 1 removed".
    phrases = [
        f"{count} {'post' if count == 1 else 'posts'} {what}" if index == 0 else f"{count} {what}"
        for index, (count, what) in enumerate(counted)
    ]
    for count, one, many in (
        (len(diff.accounts), "account changed", "accounts changed"),
        (len(diff.slots), "queue slot moved", "queue slots moved"),
        (len(diff.campaign), "campaign setting changed", "campaign settings changed"),
    ):
        if count:
            phrases.append(f"{count} {one if count == 1 else many}")
    return ", ".join(phrases) if phrases else "No change to the campaign."


# --- comparing -------------------------------------------------------------------------------


def compare(
    base_source: Source,
    base_report: content.Report,
    head_source: Source,
    head_report: content.Report,
    now: datetime,
    snapshot: plan.Snapshot | None,
    ledger_note: str | None = None,
) -> Diff:
    """The changes from BASE to HEAD as of `now`; the ledger's fates too when there is a ledger."""
    base = base_report.campaign or base_report.partial
    head = head_report.campaign or head_report.partial
    head_problems = head_report.problems if snapshot is not None else _old_past_times_dropped(head_report, base)
    shell = Diff(
        base=_version(base_source, base_report, base_report.problems, base),
        head=_version(head_source, head_report, head_problems, head),
        now=now.astimezone(head.timezone if head is not None else UTC),
        ledger=snapshot is not None,
        ledger_note=ledger_note,
        head_paused=head is not None and head.paused,
    )
    if base is None or head is None:
        return shell
    broken = _broken_ids(base_report) | _broken_ids(head_report)
    # Posts with errors in either version are left out of both, so they move no slot of the others.
    base, head = _without(base, broken), _without(head, broken)
    return _Comparison(base, head, now, snapshot or plan.Snapshot(), ledger=snapshot is not None).run(
        shell, tuple(sorted(broken))
    )


def _version(source: Source, report: content.Report, problems: list[Problem], usable: Campaign | None) -> Version:
    compared: Literal["all", "partly", "none"] = (
        "all" if report.campaign is not None else "partly" if usable is not None else "none"
    )
    revision = source.revision.commit.sha if source.revision is not None else None
    return Version(source.label, source.name, revision, tuple(problems), compared)


def _old_past_times_dropped(report: content.Report, base: Campaign | None) -> list[Problem]:
    """Without a ledger, a past `at` that BASE already had is old news, not a warning: as `validate`
    treats one already in the last commit (so a review of a long campaign stays quiet)."""
    head = report.campaign or report.partial
    if head is None or base is None:
        return report.problems
    before = {post.id: post.at for post in base.posts if post.at is not None}
    unchanged = {
        format_path(("posts", index, "at"))
        for index, post in zip(report.partial_indices, head.posts, strict=True)
        if post.at is not None and before.get(post.id) == post.at
    }
    return [p for p in report.problems if not (p.severity is Severity.WARNING and p.path in unchanged)]


def _broken_ids(report: content.Report) -> set[str]:
    """The ids of the posts the file has but that could not be compared for their errors."""
    raw = report.document.data.get("posts") if report.document is not None else None
    if not isinstance(raw, list):
        return set()
    kept = set(report.partial_indices)
    return {
        item["id"]
        for index, item in enumerate(raw)
        if index not in kept and isinstance(item, dict) and isinstance(item.get("id"), str)
    }


def _without(campaign: Campaign, post_ids: set[str]) -> Campaign:
    if not post_ids:
        return campaign
    return campaign.model_copy(update={"posts": tuple(p for p in campaign.posts if p.id not in post_ids)})


class _Comparison:
    """BASE and HEAD side by side, each with its queue slots from the same snapshot and `now`."""

    def __init__(self, base: Campaign, head: Campaign, now: datetime, snapshot: plan.Snapshot, *, ledger: bool) -> None:
        self.base, self.head, self.now, self.snapshot, self.ledger = base, head, now, snapshot, ledger
        self.base_slots = plan.queue_slots(base, snapshot, now)
        self.head_slots = plan.queue_slots(head, snapshot, now)
        self.old = {post.id: post for post in base.posts}
        self.new = {post.id: post for post in head.posts}

    def run(self, shell: Diff, not_compared: tuple[str, ...]) -> Diff:
        added = [post for post_id, post in self.new.items() if post_id not in self.old]
        removed = [post for post_id, post in self.old.items() if post_id not in self.new]
        renames = _renames(removed, added)
        renamed_from = {new.id: old for old, new in renames}
        added = [post for post in added if post.id not in renamed_from]
        removed = [post for post in removed if post.id not in {old.id for old, _ in renames}]
        # Every post in both versions (a renamed one under its two ids), in HEAD's order.
        pairs = [
            (self.old.get(post_id) or renamed_from[post_id], post)
            for post_id, post in self.new.items()
            if post_id in self.old or post_id in renamed_from
        ]
        result = dataclasses.replace(
            shell,
            not_compared=not_compared,
            added=tuple(self._summary(self.head, self.head_slots, post, new=True) for post in added),
            removed=tuple(self._summary(self.base, self.base_slots, post, new=False) for post in removed),
            renamed=tuple(Renamed(old.id, new.id) for old, new in renames),
            retimed=_found(pairs, self._retimed),
            retexted=_found(pairs, self._retexted),
            recarded=_found(pairs, self._recarded),
            accounts=tuple(_account_changes(self.base, self.head)),
            post_accounts=_found(pairs, self._post_accounts),
            slots=_found(pairs, self._slot_shift),
            campaign=tuple(_campaign_changes(self.base, self.head)),
        )
        if not self.ledger:
            return result
        # What the edit touches, by HEAD's ids and by BASE's.
        edited: tuple[Retimed | Retexted | Recarded | PostAccounts | SlotShift, ...] = (
            *result.retimed,
            *result.retexted,
            *result.recarded,
            *result.post_accounts,
            *result.slots,
        )
        new_ids = {change.post_id for change in edited} | {post.id for post in added} | set(renamed_from)
        old_id = {new.id: old.id for old, new in pairs}
        old_ids = {old_id[post_id] for post_id in new_ids if post_id in old_id} | {post.id for post in removed}
        return dataclasses.replace(
            result,
            published=tuple(self._published(old_ids, {post.id for post in removed})),
            held=tuple(self._held(new_ids)),
            within_hour=tuple(self._within_hour(new_ids, old_ids, {old: new for new, old in old_id.items()})),
        )

    # -- per post ---------------------------------------------------------------------------

    def _summary(self, campaign: Campaign, slots: dict[str, datetime], post: Post, *, new: bool) -> PostSummary:
        words = {lang: text.compose(post, lang) for lang in _ordered(post.text, campaign.languages)}
        texts = tuple(
            TextChange("text", lang, None, published) if new else TextChange("text", lang, published, None)
            for lang, published in words.items()
        )
        targets = campaign.accounts_of(post)
        return PostSummary(
            post.id,
            _schedule(campaign, post),
            _next_due(campaign, post, slots, self.now),
            tuple(a for a in targets if campaign.accounts[a].enabled),
            tuple(a for a in targets if not campaign.accounts[a].enabled),
            texts,
        )

    def _retimed(self, old: Post, new: Post) -> Retimed | None:
        moved = _timing(self.base, old) != _timing(self.head, new)
        before, after = self.base.max_late_of(old), self.head.max_late_of(new)
        # A change of defaults.max_late alone is listed once, as a campaign setting.
        own = old.max_late is not None or new.max_late is not None
        late = SettingChange("max_late", _shown(before), _shown(after)) if own and before != after else None
        if not moved and late is None:
            return None
        return Retimed(
            new.id,
            _schedule(self.base, old),
            _schedule(self.head, new),
            _next_due(self.base, old, self.base_slots, self.now),
            _next_due(self.head, new, self.head_slots, self.now),
            moved,
            (late,) if late is not None else (),
        )

    def _retexted(self, old: Post, new: Post) -> Retexted | None:
        return _retexted(old, new, self.head.languages)

    def _recarded(self, old: Post, new: Post) -> Recarded | None:
        compared = [("card", _card_kind(old), _card_kind(new)), ("template", _template(old), _template(new))]
        if not (_sized_by_default(old) and _sized_by_default(new)):
            compared.append(("size", self._size(self.base, old), self._size(self.head, new)))
        settings = [SettingChange(name, before, after) for name, before, after in compared if before != after]
        card = new.card or old.card
        words_field = "slogan" if card is not None and card.slogan else "excerpt"
        languages = self.head.languages
        words = [
            *_text_changes(words_field, _words(old), _words(new), languages),
            *_text_changes("attribution", _attribution(old), _attribution(new), languages),
            *_text_changes("alt", dict(old.alt), dict(new.alt), languages),
        ]
        return Recarded(new.id, tuple(settings), tuple(words)) if settings or words else None

    @staticmethod
    def _size(campaign: Campaign, post: Post) -> str:  # what the card is drawn at
        return (post.card.size or campaign.defaults.card_size) if post.card is not None else "none"

    def _post_accounts(self, old: Post, new: Post) -> PostAccounts | None:
        """Changes to the accounts a post names (itself or through defaults.accounts); a post that
        goes to every account in both versions follows the campaign's accounts, listed on their own."""
        named = (old.accounts or self.base.defaults.accounts, new.accounts or self.head.defaults.accounts)
        if named == (None, None):
            return None
        before, after = self.base.accounts_of(old), self.head.accounts_of(new)
        added = tuple(a for a in after if a not in before)
        removed = tuple(a for a in before if a not in after)
        return PostAccounts(new.id, added, removed) if added or removed else None

    def _slot_shift(self, old: Post, new: Post) -> SlotShift | None:
        if not (old.queued and new.queued):
            return None
        before, after = self.base_slots.get(old.id), self.head_slots.get(new.id)
        if before == after:
            return None
        return SlotShift(new.id, _local(before, self.base), _local(after, self.head))

    # -- against the ledger -----------------------------------------------------------------

    def _published(self, old_ids: set[str], removed: set[str]) -> Iterator[WentOut]:
        order = {post_id: index for index, post_id in enumerate(self.old)}
        sent = self.snapshot.out_by_post
        keys = [key for key, records in sent.items() if key[0] in old_ids and records]
        for key in sorted(keys, key=lambda key: (order.get(key[0], len(order)), key)):
            post_id, account, language = key
            latest = max(sent[key], key=lambda record: record.updated_at)
            last = _at(latest.updated_at, self.base)
            yield WentOut(post_id, account, language, latest.state, last, len(sent[key]), post_id in removed)

    def _held(self, new_ids: set[str]) -> Iterator[Held]:
        _, end, _ = plan.span(self.head, self.snapshot, self.now)
        for planned in plan.deliveries(self.head, self.snapshot, self.now, end, self.now):
            d = planned.delivery
            if planned.state == plan.HELD and d.post_id in new_ids:
                reason = (planned.note or "").removeprefix("held: ")
                yield Held(d.post_id, d.account, d.language, _at(d.due, self.head), reason)

    def _within_hour(self, new_ids: set[str], old_ids: set[str], new_id_of: dict[str, str]) -> Iterator[DueSoon]:
        going = [
            p.delivery
            for p in plan.deliveries(self.head, self.snapshot, self.now, self.now + SOON, self.now)
            if p.goes_out
        ]
        kept = {(d.post_id, d.due, d.account, d.language) for d in going}
        was_going = [
            p.delivery
            for p in plan.deliveries(self.base, self.snapshot, self.now, self.now + SOON, self.now)
            if p.goes_out and p.delivery.post_id in old_ids
        ]
        soon = [
            DueSoon(d.post_id, d.account, d.language, _at(d.due, self.base), goes_out=False)
            for d in was_going
            if (new_id_of.get(d.post_id, d.post_id), d.due, d.account, d.language) not in kept
        ]
        soon += [
            DueSoon(d.post_id, d.account, d.language, _at(d.due, self.head), goes_out=True)
            for d in going
            if d.post_id in new_ids
        ]
        yield from sorted(soon, key=lambda s: (s.due, s.post_id, s.account, s.language))


def _found(pairs: list[tuple[Post, Post]], change: Callable[[Post, Post], T | None]) -> tuple[T, ...]:
    """The change of each pair of posts that has one."""
    return tuple(found for old, new in pairs if (found := change(old, new)) is not None)


def _renames(removed: list[Post], added: list[Post]) -> list[tuple[Post, Post]]:
    """Each removed post paired with the first added one that publishes the same text and card
    (as the ledger recognises a repeat), one to one."""
    free = list(added)
    pairs = []
    for old in removed:
        match = next((new for new in free if _fingerprints(new) == _fingerprints(old)), None)
        if match is not None:
            free.remove(match)
            pairs.append((old, match))
    return pairs


def _fingerprints(post: Post) -> dict[str, str]:
    return {language: text.fingerprint(post, language) for language in post.text}


def _retexted(old: Post, new: Post, languages: tuple[str, ...]) -> Retexted | None:
    texts = _text_changes("text", _published_texts(old), _published_texts(new), languages)
    settings = [
        SettingChange(name, _shown(getattr(old, name)), _shown(getattr(new, name)))
        for name in ("thread", "thread_numbers")
        if getattr(old, name) != getattr(new, name)
    ]
    return Retexted(new.id, tuple(texts), tuple(settings)) if texts or settings else None


def _published_texts(post: Post) -> dict[str, str]:
    """Each language's text as it goes out: with the link and hashtags."""
    return {language: text.compose(post, language) for language in post.text}


def _text_changes(
    field: str, before: dict[str, str], after: dict[str, str], languages: tuple[str, ...]
) -> list[TextChange]:
    return [
        TextChange(field, language, before.get(language), after.get(language))
        for language in _ordered([*before, *after], languages)
        if before.get(language) != after.get(language)
    ]


def _timing(campaign: Campaign, post: Post) -> tuple[Any, ...]:
    """What decides a post's times: equal for equal schedules however written, different when the
    campaign's timezone moves its wall-clock times."""
    rule = post.every
    recurrence = (rule.clock, rule.month_days, rule.months, rule.weekdays) if rule is not None else None
    zone = str(campaign.timezone) if rule is not None else None
    return post.at, recurrence, zone, post.starts, post.until, post.queued


def _schedule(campaign: Campaign, post: Post) -> Schedule:
    starts, until = _local(post.starts, campaign), _local(post.until, campaign)
    if post.at is not None:
        return Schedule("at", at=_at(post.at, campaign))
    if post.every is not None:
        return Schedule("every", every=post.every.text, starts=starts, until=until)
    return Schedule("queue", until=until)


def _next_due(campaign: Campaign, post: Post, slots: dict[str, datetime], now: datetime) -> datetime | None:
    found = next(timeline.post_instants(campaign, post, now, now + HORIZON, slots), None)
    return _local(found, campaign)


def _at(instant: datetime, campaign: Campaign) -> datetime:
    return instant.astimezone(campaign.timezone)


def _local(instant: datetime | None, campaign: Campaign) -> datetime | None:
    return _at(instant, campaign) if instant is not None else None


def _card_kind(post: Post) -> str:
    if post.card is None:
        return "none"
    return "slogan card" if post.card.slogan is not None else "excerpt card"


def _sized_by_default(post: Post) -> bool:
    """A card with no size of its own: a change of defaults.card_size is listed once, as a campaign setting."""
    return post.card is not None and post.card.size is None


def _words(post: Post) -> dict[str, str]:
    return post.card.words if post.card is not None else {}


def _attribution(post: Post) -> dict[str, str]:
    return dict(post.card.attribution) if post.card is not None else {}


def _template(post: Post) -> str:
    return post.card.kind if post.card is not None else "none"


def _ordered(keys: Iterable[str], languages: tuple[str, ...]) -> list[str]:
    """Language codes in the campaign's order, any others after them."""
    present = list(dict.fromkeys(keys))
    return [lang for lang in languages if lang in present] + [lang for lang in present if lang not in languages]


def _account_changes(base: Campaign, head: Campaign) -> Iterator[AccountChange]:
    for account_id in dict.fromkeys([*base.accounts, *head.accounts]):
        before, after = base.accounts.get(account_id), head.accounts.get(account_id)
        if before is None and after is not None:
            yield AccountChange(account_id, "added", new=_account_words(after))
        elif after is None and before is not None:
            yield AccountChange(account_id, "removed", old=_account_words(before))
        elif before is not None and after is not None:
            if before.enabled != after.enabled:
                yield AccountChange(account_id, "enabled" if after.enabled else "disabled")
            if before.languages != after.languages:
                yield AccountChange(account_id, "languages", _shown(before.languages), _shown(after.languages))
            others = [
                name
                for name in type(after).model_fields
                if name not in ("enabled", "languages") and getattr(before, name, None) != getattr(after, name)
            ]
            if others:
                old = "; ".join(f"{name}: {_shown(getattr(before, name, None))}" for name in others)
                new = "; ".join(f"{name}: {_shown(getattr(after, name))}" for name in others)
                yield AccountChange(account_id, "settings", old, new)


def _account_words(account: Account) -> str:
    return f"{account.platform} in {_shown(account.languages)}, {'enabled' if account.enabled else 'disabled'}"


def _campaign_changes(base: Campaign, head: Campaign) -> Iterator[SettingChange]:
    for name in ("timezone", "languages", "paused"):
        before, after = _shown(getattr(base, name)), _shown(getattr(head, name))
        if before != after:
            yield SettingChange(name, before, after)
    for section in ("queue", "defaults", "brand", "x_prices", "stats"):
        old, new = getattr(base, section), getattr(head, section)
        if old is None or new is None:
            if old != new:
                yield SettingChange(section, _shown(old), _shown(new))
            continue
        for key in type(new).model_fields:
            before, after = _shown(getattr(old, key)), _shown(getattr(new, key))
            if before != after:
                yield SettingChange(f"{section}.{key}", before, after)


def _shown(value: Any) -> str:
    """A setting's value in plain words."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Recurrence):
        return value.text
    if isinstance(value, (tuple, list)):
        return ", ".join(_shown(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_shown(item)}" for key, item in value.items()) or "none"
    if isinstance(value, BaseModel):
        return "; ".join(f"{key}: {_shown(getattr(value, key))}" for key in type(value).model_fields)
    return str(value)
