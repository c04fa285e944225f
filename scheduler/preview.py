"""The preview page: the whole campaign as each platform will get it, before anything goes out.

One self-contained folder (HTML pages and the card images), readable offline and on a phone:
the header says what will go out (enabled accounts only) and what would once the others are
enabled; a table of contents and a calendar by month link to every occurrence through the last
`at`, `until` or queue slot; each occurrence shows its cards once, its text once per distinct
variant with the accounts that get it and their counts, each thread part per platform, and what
the ledger says already happened. Posts with errors are shown in red with their messages while
the rest of the page is complete. A campaign too big for one page gets one page per month. All
user text is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler import plan, text, timeline
from scheduler.cards import CardSpec, CardStore, alt_text, specs_for
from scheduler.errors import Problem, Severity
from scheduler.models import Campaign, Delivery, Post
from scheduler.pages import document, escape, plural, write_page

OCCURRENCES_PER_PAGE = 300  # more than this: one page per month
_POST_PATH = re.compile(r"^posts\[(\d+)\]")


@dataclass
class Preview:
    index: Path
    occurrences: int
    deliveries: int
    cards: int
    rendered: int
    pages: int = 1
    broken: int = 0


@dataclass
class _Card:
    key: str
    file: str
    alt: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Broken:
    """A post with errors, as the file holds it."""

    index: int
    post_id: str
    texts: dict[str, str]
    problems: tuple[Problem, ...]


def build(
    campaign: Campaign,
    root: Path,
    out: Path,
    store: CardStore,
    now: datetime,
    problems: list[Problem],
    config_name: str,
    on_card: Callable[[int, int], None] = lambda done, total: None,
    snapshot: plan.Snapshot | None = None,
    raw_posts: Sequence[Any] = (),
    notes: Sequence[str] = (),
    kept: Sequence[int] | None = None,
) -> Preview:
    """Write the page(s) for `campaign` (the posts that validated) into `out`.

    `raw_posts` is the file's posts list as written, to show posts with errors, and `kept` the indices
    of those that validated (the others are shown in red, with their own errors or the setting they
    depend on); `notes` are extra header lines (the estimated X cost)."""
    snapshot = snapshot or plan.Snapshot()
    start, end, endless = plan.span(campaign, snapshot, now)
    planned = plan.deliveries(campaign, snapshot, start, end, now, enabled=False)
    slots = plan.queue_slots(campaign, snapshot, now)
    found = timeline.occurrences(campaign, start, end, slots)
    posts = {post.id: post for post in campaign.posts}
    cards = _render_cards(campaign, root, out, store, [posts[o.post_id] for o in found], on_card)
    fates = {p.delivery.key: p for p in planned}
    broken = _broken_posts(problems, raw_posts, kept)
    page = _Page(campaign, posts, cards, fates, config_name, now)
    months = _by_month(campaign, found)
    split = len(found) > OCCURRENCES_PER_PAGE
    enabled = [p for p in planned if campaign.accounts[p.delivery.account].enabled]
    header = page.header(enabled, planned, (start, end), endless, broken, notes)
    index_body = [header, _problems(problems, config_name, broken), page.contents(months, split)]
    index_body.append(page.calendar(months, split))
    written = [out / "index.html"]
    for stale in out.glob("20[0-9][0-9]-[0-9][0-9].html"):  # month pages of an earlier, bigger version
        stale.unlink()
    if split:
        for month, occurrences in months.items():
            body = [
                f'<p><a href="index.html">← Contents and calendar</a></p><h2 id="timeline">{month:%B %Y}</h2>',
                *(page.occurrence(o) for o in occurrences),
            ]
            written.append(out / _month_file(month))
            write_page(written[-1], page.document(f"{month:%B %Y}", body).encode("utf-8"))
    else:
        index_body.append('<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>')
        for month, occurrences in months.items():
            index_body.append(f'<h3 class="month" id="{_month_anchor(month)}">{month:%B %Y}</h3>')
            index_body.extend(page.occurrence(o) for o in occurrences)
        index_body.append("</section>")
    write_page(written[0], page.document("Campaign preview", index_body).encode("utf-8"))
    going = sum(1 for p in enabled if p.goes_out)
    keys = {card.key for card in cards.values()}
    return Preview(written[0], len(found), going, len(keys), store.rendered, len(written), len(broken))


def _render_cards(
    campaign: Campaign,
    root: Path,
    out: Path,
    store: CardStore,
    posts: list[Post],
    on_card: Callable[[int, int], None],
) -> dict[tuple[str, str], _Card]:
    """Each card once in the cache (rendered in parallel), linked into the page's folder, never copied."""
    wanted: dict[tuple[str, str], CardSpec] = {}
    for post in posts:
        for language, spec in specs_for(campaign, post, root).items():
            wanted[(post.id, language)] = spec
    folder = out / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    distinct = {spec.key(): spec for spec in wanted.values()}
    store.render_all(list(distinct.values()), on_progress=on_card, thumbnail_width=None)  # the page shows cards whole
    names = {key: store.link_into(spec, folder).name for key, spec in distinct.items()}
    linked = set(names.values())
    for stale in folder.iterdir():  # cards of an earlier version of the campaign
        if stale.name not in linked:
            stale.unlink()
    by_post = {post.id: post for post in posts}
    return {
        (post_id, language): _Card(
            spec.key(),
            f"cards/{names[spec.key()]}",
            {language: alt_text(campaign, by_post[post_id], language)},
        )
        for (post_id, language), spec in wanted.items()
    }


def _broken_posts(problems: list[Problem], raw_posts: Sequence[Any], kept: Sequence[int] | None) -> list[_Broken]:
    """The posts that did not validate, with their errors, as the file holds them."""
    errors: dict[int, list[Problem]] = {}
    for problem in problems:
        matched = _POST_PATH.match(problem.path)
        if matched and problem.severity is Severity.ERROR:
            errors.setdefault(int(matched.group(1)), []).append(problem)
    if kept is not None:
        setting = Problem(0, 0, "", "left out: it depends on a setting above that has errors", Severity.ERROR)
        for index in set(range(len(raw_posts))) - set(kept) - set(errors):
            errors[index] = [setting]
    broken = []
    for index, found in sorted(errors.items()):
        raw = raw_posts[index] if index < len(raw_posts) else None
        raw = raw if isinstance(raw, dict) else {}
        texts = raw.get("text")
        texts = {str(k): str(v) for k, v in texts.items()} if isinstance(texts, dict) else {}
        broken.append(_Broken(index, str(raw.get("id") or f"post {index + 1}"), texts, tuple(found)))
    return broken


def _by_month(campaign: Campaign, found: list[timeline.Occurrence]) -> dict[date, list[timeline.Occurrence]]:
    months: dict[date, list[timeline.Occurrence]] = {}
    for occurrence in found:
        local = occurrence.due.astimezone(campaign.timezone)
        months.setdefault(date(local.year, local.month, 1), []).append(occurrence)
    return months


def _month_file(month: date) -> str:
    return f"{month:%Y-%m}.html"


def _month_anchor(month: date) -> str:
    return f"month-{month:%Y-%m}"


def _anchor(occurrence: timeline.Occurrence) -> str:
    return f"{occurrence.post_id}-{occurrence.due:%Y%m%dT%H%M}"


@dataclass
class _Page:
    campaign: Campaign
    posts: dict[str, Post]
    cards: dict[tuple[str, str], _Card]
    fates: dict[str, plan.Planned]
    config_name: str
    now: datetime

    def local(self, instant: datetime) -> str:
        return f"{instant.astimezone(self.campaign.timezone):%a %d %b %Y %H:%M %Z}"

    def document(self, title: str, body: list[str]) -> str:
        return document(f"{title}: {self.config_name}", _CSS, body)

    def header(
        self,
        enabled: list[plan.Planned],
        planned: list[plan.Planned],
        bounds: tuple[datetime, datetime],
        endless: list[str],
        broken: list[_Broken],
        notes: Sequence[str],
    ) -> str:
        zone = self.campaign.timezone
        going = [p for p in enabled if p.goes_out]
        occurrences = {(p.delivery.post_id, p.delivery.due) for p in going}
        went = [p for p in enabled if p.state in plan.OUT]
        parts = [
            "<header><h1>Campaign preview</h1>",
            f"<p>{escape(self.config_name)}: <strong>{plural(len(occurrences), 'post')} going out as "
            f"{plural(len(going), 'delivery', 'deliveries')}</strong> to the enabled accounts "
            f"({escape(', '.join(a for a, acc in self.campaign.accounts.items() if acc.enabled) or 'none')}), "
            f"from {escape(self.local(bounds[0]))} through {escape(self.local(bounds[1] - timedelta(seconds=1)))}. "
            f"Times are in {escape(zone.key)}, then UTC. Made {escape(self.local(self.now))}.</p>",
        ]
        if went:
            parts.append(f"<p>{plural(len(went), 'delivery', 'deliveries')} already went out (marked below).</p>")
        disabled = [p for p in planned if not self.campaign.accounts[p.delivery.account].enabled and p.goes_out]
        if disabled:
            names = sorted({p.delivery.account for p in disabled})
            parts.append(
                f"<p>Once {escape(', '.join(names))} {'is' if len(names) == 1 else 'are'} enabled, "
                f"{plural(len(disabled), 'more delivery', 'more deliveries')} would go out.</p>"
            )
        for post_id in endless:
            parts.append(
                f"<p><code>{escape(post_id)}</code> repeats with no end (no <code>until</code>): shown through "
                f"{escape(self.local(bounds[1] - timedelta(seconds=1)))}.</p>"
            )
        parts.extend(f"<p>{escape(note)}</p>" for note in notes)
        if broken:
            parts.append(
                f'<p class="broken-summary">{plural(len(broken), "post has", "posts have")} errors and will not '
                "go out until fixed: they are listed first, in red.</p>"
            )
        if self.campaign.paused:
            parts.append(
                '<p class="paused">The campaign is paused (<code>paused: true</code>): nothing will go out.</p>'
            )
        parts.append("</header>")
        return "".join(parts)

    def contents(self, months: dict[date, list[timeline.Occurrence]], split: bool) -> str:
        items = []
        for month, occurrences in months.items():
            target = _month_file(month) if split else f"#{_month_anchor(month)}"
            items.append(f'<li><a href="{target}">{month:%B %Y}</a> ({plural(len(occurrences), "post")})</li>')
        listing = "".join(items) or "<li>Nothing is due.</li>"
        return f'<nav aria-labelledby="contents"><h2 id="contents">Contents</h2><ul class="toc">{listing}</ul></nav>'

    def calendar(self, months: dict[date, list[timeline.Occurrence]], split: bool) -> str:
        zone = self.campaign.timezone
        parts = ['<section aria-labelledby="calendar"><h2 id="calendar">Calendar</h2>']
        head = "".join(f'<th scope="col">{d}</th>' for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
        for month, occurrences in months.items():
            by_day: dict[date, list[timeline.Occurrence]] = {}
            for occurrence in occurrences:
                by_day.setdefault(occurrence.due.astimezone(zone).date(), []).append(occurrence)
            page = _month_file(month) if split else ""
            day = month - timedelta(days=month.weekday())
            rows = []
            while day.month == month.month or day < month:
                cells = []
                for offset in range(7):
                    current = day + timedelta(days=offset)
                    if current.month != month.month:
                        cells.append('<td class="outside"></td>')
                        continue
                    entries = "".join(
                        f'<a href="{page}#{escape(_anchor(o))}" class="entry" title="{escape(o.post_id)}">'
                        f'<span>{o.due.astimezone(zone):%H:%M}</span> <span class="id">{escape(o.post_id)}</span></a>'
                        for o in by_day.get(current, [])
                    )
                    empty = "" if entries else " empty"
                    cells.append(f'<td class="day{empty}"><span class="date">{current:%a %d %b}</span>{entries}</td>')
                rows.append(f"<tr>{''.join(cells)}</tr>")
                day += timedelta(days=7)
            parts.append(
                f'<h3>{month:%B %Y}</h3><div class="calendar"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>"
            )
        if not months:
            parts.append("<p>Nothing is due.</p>")
        parts.append("</section>")
        return "".join(parts)

    def occurrence(self, occurrence: timeline.Occurrence) -> str:
        post = self.posts[occurrence.post_id]
        due = occurrence.due
        parts = [
            f'<article id="{escape(_anchor(occurrence))}">',
            f'<h3>{escape(self.local(due))} <small>({due.astimezone(UTC):%H:%M} UTC)</small> · <span class="id">'
            f"{escape(post.id)}</span></h3>",
            self._cards(post),
        ]
        variants: dict[tuple[str, str], list[tuple[str, plan.Planned | None]]] = {}
        disabled: list[str] = []
        for account_id in self.campaign.accounts_of(post):
            account = self.campaign.accounts[account_id]
            for language in account.languages:
                if language not in post.text:
                    continue
                if not account.enabled:
                    disabled.append(f"{account_id} ({language})")
                    continue
                fate = self.fates.get(Delivery(due, post.id, account_id, language).key)
                variants.setdefault((language, text.compose(post, language)), []).append((account_id, fate))
        for (language, composed), accounts in variants.items():
            parts.append(self._variant(post, language, composed, accounts))
        if disabled:
            parts.append(f'<p class="disabled">Not posted (account disabled): {escape(", ".join(disabled))}</p>')
        parts.append("</article>")
        return "".join(parts)

    def _cards(self, post: Post) -> str:
        shown: set[str] = set()
        figures = []
        for language in post.text:
            card = self.cards.get((post.id, language))
            if card is None:
                continue
            alt = card.alt[language]
            picture = (
                ""
                if card.file in shown
                else f'<a href="{escape(card.file)}"><img src="{escape(card.file)}" alt="{escape(alt)}"></a>'
            )
            shown.add(card.file)
            figures.append(
                f"<figure>{picture}<figcaption><strong>Alt text ({escape(language)}):</strong> "
                f'<span class="alt">{escape(alt)}</span></figcaption></figure>'
            )
        return f'<div class="cards">{"".join(figures)}</div>' if figures else ""

    def _variant(
        self, post: Post, language: str, composed: str, accounts: list[tuple[str, plan.Planned | None]]
    ) -> str:
        rows = []
        for account_id, fate in accounts:
            platform = self.campaign.accounts[account_id].platform
            rows.append(self._account(post, platform, account_id, composed, fate))
        return (
            f'<div class="variant" lang="{escape(language)}"><p class="text">{escape(composed)}</p>'
            f'<ul class="accounts">{"".join(rows)}</ul></div>'
        )

    def _account(self, post: Post, platform: str, account_id: str, composed: str, fate: plan.Planned | None) -> str:
        where = f"<strong>{escape(account_id)}</strong> ({escape(platform)})"
        parts = [composed]
        split_error = None
        if post.thread and platform in text.LIMITS:
            try:
                parts = text.split_thread(composed, platform, numbered=post.thread_numbers)
            except ValueError as exc:
                split_error = str(exc)
        if len(parts) == 1:
            line = f'<li class="account"><span>{where}</span> {_count(platform, composed)}{_fate(fate)}'
            if split_error:
                line += f'<p class="problem">{escape(split_error)}</p>'
            return line + "</li>"
        items = "".join(f'<li><span class="part">{escape(part)}</span> {_count(platform, part)}</li>' for part in parts)
        return (
            f'<li class="account"><span>{where}: a thread of {len(parts)} posts</span>{_fate(fate)}'
            f'<ol class="thread">{items}</ol></li>'
        )


def _count(platform: str, composed: str) -> str:
    limit = text.LIMITS.get(platform)
    if limit is None:
        return f'<span class="count">{text.graphemes(composed):,} characters</span>'
    length = text.length(platform, composed)
    measure = f"{length}/{limit.length} {limit.unit}"
    if limit.max_bytes is not None:
        measure += f", {len(composed.encode('utf-8'))}/{limit.max_bytes} bytes"
    css = "count over" if text.overages(platform, composed) else "count"
    return f'<span class="{css}">{escape(measure)}</span>'


def _fate(fate: plan.Planned | None) -> str:
    """What the ledger says of a delivery that will not simply go out at its time."""
    if fate is None or fate.state == plan.UPCOMING:
        return ""
    record = fate.record
    went = f" {record.updated_at:%Y-%m-%d %H:%M} UTC" if record is not None and fate.state in plan.OUT else ""
    links = "".join(f' <a href="{escape(url)}">{escape(url)}</a>' for url in (record.urls if record else []))
    note = f" ({escape(fate.note)})" if fate.note else ""
    return f'<p class="fate {escape(fate.state)}"><strong>{escape(fate.state)}</strong>{escape(went)}{note}{links}</p>'


def _problems(problems: list[Problem], config_name: str, broken: list[_Broken]) -> str:
    parts = []
    if broken:
        parts.append('<section aria-labelledby="broken" class="broken"><h2 id="broken">Posts with errors</h2>')
        for post in broken:
            texts = "".join(
                f'<p class="text" lang="{escape(lang)}"><strong>{escape(lang)}:</strong> {escape(value)}</p>'
                for lang, value in post.texts.items()
            )
            messages = "".join(
                f"<li><code>{escape(p.render(config_name) if p.line else p.message)}</code></li>" for p in post.problems
            )
            parts.append(f'<article class="error"><h3>{escape(post.post_id)}</h3><ul>{messages}</ul>{texts}</article>')
        parts.append("</section>")
    shown = {p for post in broken for p in post.problems}
    rest = [p for p in problems if p not in shown]
    items = "".join(
        f'<li class="{escape(p.severity.value)}"><code>{escape(p.render(config_name))}</code></li>' for p in rest
    )
    heading = f"Warnings and other problems ({len(rest)})" if rest else "Warnings"
    parts.append(
        f'<section aria-labelledby="warnings" class="warnings"><h2 id="warnings">{heading}</h2>'
        f"{f'<ul>{items}</ul>' if rest else '<p>None.</p>'}</section>"
    )
    return "".join(parts)


_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f5f5f7}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.3rem;margin:1.5rem 0 .5rem}h3{font-size:1.05rem;margin:0 0 .5rem}
code{overflow-wrap:anywhere}
.id{white-space:nowrap}
.paused,.broken-summary{background:#fde2e1;border-left:4px solid #c0392b;padding:.5rem}
.warnings ul{padding-left:1.2rem}.warnings li{margin:.25rem 0}.warnings li.error{color:#c0392b}
.broken article{border:2px solid #c0392b;background:#fff5f4}
.broken li,.problem{color:#c0392b}
.toc{columns:12rem;padding-left:1.2rem}
.calendar{max-width:100%}
.calendar table{border-collapse:collapse;width:100%;table-layout:fixed}
.calendar th,.calendar td{border:1px solid #d2d2d7;vertical-align:top;padding:2px;font-size:.75rem;overflow:hidden}
.calendar td{height:3.5rem;background:#fff}
.calendar td.outside{background:#eee}
.calendar .date{display:block;color:#6e6e73}
.calendar .entry{display:block;text-decoration:none;color:inherit;margin-top:2px;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
@media (max-width:40rem){
.calendar table,.calendar tbody,.calendar tr{display:block}
.calendar thead,.calendar td.outside,.calendar td.empty{display:none}
.calendar td{display:block;height:auto;border-width:0 0 1px 0;padding:.35rem 0;font-size:.9rem}
}
article{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
article h3 .id{white-space:normal;overflow-wrap:normal;word-break:normal}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 14rem;min-width:0}
figure img{display:block;max-width:100%;height:auto;border-radius:4px}
figcaption{font-size:.85rem;color:#424245;margin-top:.25rem;white-space:pre-wrap;overflow-wrap:anywhere}
.variant{border-top:1px solid #e5e5ea;padding:.5rem 0}
.text,.part{margin:.25rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.accounts{list-style:none;padding:0;margin:.25rem 0 0;font-size:.85rem;color:#424245}
.account{display:flex;flex-wrap:wrap;gap:.25rem 1rem;justify-content:space-between;padding:.2rem 0}
.thread{flex-basis:100%;margin:.25rem 0 0;padding-left:1.5rem}
.thread li{display:flex;flex-wrap:wrap;gap:.25rem 1rem;justify-content:space-between;margin:.2rem 0}
.count{font-variant-numeric:tabular-nums;white-space:nowrap}
.count.over{color:#c0392b;font-weight:700}
.disabled{color:#86868b;font-size:.85rem;margin:.25rem 0 0}
.fate{flex-basis:100%;margin:0;font-size:.85rem;overflow-wrap:anywhere}
.fate.held,.fate.failed,.fate.expired{color:#c0392b}.fate.published{color:#1e7b34}
"""
