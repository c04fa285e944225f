"""The preview page: the whole campaign as each platform will get it, before anything goes out.

One self-contained folder (index.html and the card images), readable offline and on a phone:
a calendar of the campaign, then every occurrence in order with its local time and UTC, each
account's exact text counted against its platform's limit, each card with its alt text, and
every validation warning. All user text is escaped.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from scheduler import plan, text, timeline
from scheduler.cards import CardSpec, CardStore, alt_text, specs_for
from scheduler.errors import Problem
from scheduler.files import write_atomic
from scheduler.models import Campaign, Delivery, Post

MIN_WINDOW = timedelta(weeks=8)
MAX_WINDOW = timedelta(days=366)
THUMBNAIL_WIDTH = 160


@dataclass
class Preview:
    index: Path
    occurrences: int
    deliveries: int
    cards: int
    rendered: int


@dataclass
class _Card:
    spec: CardSpec
    file: str
    thumbnail: str
    alt: dict[str, str] = field(default_factory=dict)


def window(campaign: Campaign, now: datetime, slots: dict[str, datetime]) -> tuple[datetime, datetime]:
    """From now to the last one-off or queued post, at least eight weeks, at most a year."""
    last = now + MIN_WINDOW
    for post in campaign.posts:
        if post.at is not None:
            last = max(last, post.at + timedelta(days=1))
    if slots:
        last = max(last, *(instant + timedelta(days=1) for instant in slots.values()))
    return now, min(last, now + MAX_WINDOW)


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
) -> Preview:
    """`snapshot`: the ledger, when there is one, so that what already went out is shown as such."""
    snapshot = snapshot or plan.Snapshot()
    slots = plan.queue_slots(campaign, snapshot, now)
    start, end = window(campaign, now, slots)
    found = timeline.occurrences(campaign, start, end, slots)
    posts = {post.id: post for post in campaign.posts}
    due_posts = [posts[o.post_id] for o in found]
    cards = _render_cards(campaign, root, out, store, due_posts, on_card)
    fates = {p.delivery.key: p for p in plan.deliveries(campaign, snapshot, start, end, now, enabled=False)}
    going = sum(1 for p in fates.values() if p.goes_out and campaign.accounts[p.delivery.account].enabled)
    page = _page(campaign, found, posts, cards, problems, config_name, now, (start, end), going, fates)
    index = out / "index.html"
    write_atomic(index, page.encode("utf-8"))
    unique = {card.spec.key() for card in cards.values()}
    return Preview(index, len(found), going, len(unique), store.rendered)


def _render_cards(
    campaign: Campaign,
    root: Path,
    out: Path,
    store: CardStore,
    posts: list[Post],
    on_card: Callable[[int, int], None],
) -> dict[tuple[str, str], _Card]:
    wanted: dict[tuple[str, str], CardSpec] = {}
    for post in posts:
        for language, spec in specs_for(campaign, post, root).items():
            wanted[(post.id, language)] = spec
    folder = out / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    distinct = {spec.key(): spec for spec in wanted.values()}
    for done, (key, spec) in enumerate(distinct.items(), 1):
        source = store.png(spec)
        _copy_if_changed(source, folder / f"{key}.png")
        _copy_if_changed(store.thumbnail(spec, THUMBNAIL_WIDTH), folder / f"{key}-thumb.png")
        on_card(done, len(distinct))
    by_post = {post.id: post for post in posts}
    cards = {}
    for (post_id, language), spec in wanted.items():
        key = spec.key()
        cards[(post_id, language)] = _Card(
            spec,
            f"cards/{key}.png",
            f"cards/{key}-thumb.png",
            {language: alt_text(campaign, by_post[post_id], language)},
        )
    return cards


def _copy_if_changed(source: Path, target: Path) -> None:
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _local(instant: datetime, campaign: Campaign) -> str:
    return f"{instant.astimezone(campaign.timezone):%a %d %b %Y %H:%M %Z}"


def _page(
    campaign: Campaign,
    found: list[timeline.Occurrence],
    posts: dict[str, Post],
    cards: dict[tuple[str, str], _Card],
    problems: list[Problem],
    config_name: str,
    now: datetime,
    span: tuple[datetime, datetime],
    delivery_count: int,
    fates: dict[str, plan.Planned],
) -> str:
    zone = campaign.timezone
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Campaign preview: {_e(config_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header>",
        "<h1>Campaign preview</h1>",
        f"<p>{_e(config_name)}: {len(found)} posts going out to {delivery_count} deliveries between "
        f"{_e(_local(span[0], campaign))} and {_e(_local(span[1], campaign))}. Times are in {_e(zone.key)}, "
        f"then UTC. Made {_e(now.astimezone(zone).strftime('%d %b %Y %H:%M %Z'))}.</p>",
    ]
    if campaign.paused:
        parts.append(
            '<p class="paused">The campaign is paused (<code>paused: true</code>): nothing will be posted.</p>'
        )
    parts.append("</header><main>")
    parts.append(_warnings(problems, config_name))
    parts.append(_calendar(campaign, found, cards))
    parts.append('<section aria-labelledby="timeline-heading"><h2 id="timeline-heading">Timeline</h2>')
    for occurrence in found:
        parts.append(_occurrence(campaign, occurrence, posts[occurrence.post_id], cards, fates))
    parts.append("</section></main></body></html>")
    return "\n".join(parts)


def _warnings(problems: list[Problem], config_name: str) -> str:
    if not problems:
        return (
            '<section aria-labelledby="warnings-heading"><h2 id="warnings-heading">Warnings</h2><p>None.</p></section>'
        )
    items = "".join(f"<li><code>{_e(problem.render(config_name))}</code></li>" for problem in problems)
    return (
        '<section aria-labelledby="warnings-heading" class="warnings">'
        f'<h2 id="warnings-heading">Warnings ({len(problems)})</h2><ul>{items}</ul></section>'
    )


def _calendar(campaign: Campaign, found: list[timeline.Occurrence], cards: dict[tuple[str, str], _Card]) -> str:
    zone = campaign.timezone
    if not found:
        return f"{_CALENDAR_HEADING}<p>Nothing is due.</p></section>"
    by_day: dict[date, list[timeline.Occurrence]] = {}
    for occurrence in found:
        by_day.setdefault(occurrence.due.astimezone(zone).date(), []).append(occurrence)
    first = min(by_day)
    last = max(by_day)
    day = first - timedelta(days=first.weekday())
    rows = []
    while day <= last:
        cells = []
        for offset in range(7):
            current = day + timedelta(days=offset)
            entries = []
            for occurrence in by_day.get(current, []):
                local = occurrence.due.astimezone(zone)
                anchor = _anchor(occurrence)
                card = cards.get((occurrence.post_id, campaign.languages[0])) or next(
                    (c for (pid, _), c in cards.items() if pid == occurrence.post_id), None
                )
                picture = f'<img src="{_e(card.thumbnail)}" alt="{_e(next(iter(card.alt.values())))}">' if card else ""
                label = f"<span>{local:%H:%M} {_e(occurrence.post_id)}</span>"
                entries.append(f'<a href="#{anchor}" class="entry">{picture}{label}</a>')
            label = f'<span class="day">{current:%d %b}</span>'
            cells.append(f"<td>{label}{''.join(entries)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
        day += timedelta(days=7)
    head = "".join(f'<th scope="col">{name}</th>' for name in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    return (
        f'{_CALENDAR_HEADING}<div class="calendar"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _anchor(occurrence: timeline.Occurrence) -> str:
    return f"{occurrence.post_id}-{occurrence.due:%Y%m%dT%H%M}"


def _occurrence(
    campaign: Campaign,
    occurrence: timeline.Occurrence,
    post: Post,
    cards: dict[tuple[str, str], _Card],
    fates: dict[str, plan.Planned],
) -> str:
    due = occurrence.due
    parts = [
        f'<article id="{_e(_anchor(occurrence))}">',
        f"<h3>{_e(_local(due, campaign))} <small>({due.astimezone(UTC):%H:%M} UTC)</small> · {_e(post.id)}</h3>",
    ]
    shown: set[str] = set()
    figures = []
    for language in post.text:
        card = cards.get((post.id, language))
        if card is None:
            continue
        alt = card.alt[language]
        repeat = card.file in shown
        shown.add(card.file)
        picture = "" if repeat else f'<a href="{_e(card.file)}"><img src="{_e(card.file)}" alt="{_e(alt)}"></a>'
        figures.append(
            f"<figure>{picture}<figcaption><strong>Alt text ({_e(language)}):</strong> "
            f'<span class="alt">{_e(alt)}</span></figcaption></figure>'
        )
    if figures:
        parts.append(f'<div class="cards">{"".join(figures)}</div>')
    rows = []
    for account_id in campaign.accounts_of(post):
        account = campaign.accounts[account_id]
        for language in account.languages:
            if language not in post.text:
                continue
            composed = text.compose(post, language)
            fate = fates.get(Delivery(occurrence.due, post.id, account_id, language).key)
            row = _delivery_row(account_id, account.platform, account.enabled, language, composed, fate)
            rows.append(row)
    parts.append(f'<div class="deliveries">{"".join(rows)}</div></article>')
    return "".join(parts)


def _delivery_row(
    account_id: str, platform: str, enabled: bool, language: str, composed: str, fate: plan.Planned | None
) -> str:
    limit = text.LIMITS.get(platform)
    if limit is None:
        count = f"{text.graphemes(composed)} characters"
        over = False
    else:
        length = text.length(platform, composed)
        over = bool(text.overages(platform, composed))
        count = f"{length}/{limit.length} {limit.unit}"
        if limit.max_bytes is not None:
            count += f", {len(composed.encode('utf-8'))}/{limit.max_bytes} bytes"
    state = "" if enabled else ' <span class="disabled">(account disabled)</span>'
    css = "count over" if over else "count"
    return (
        f'<div class="delivery" lang="{_e(language)}"><p class="who"><strong>{_e(platform)}</strong> · '
        f'{_e(account_id)} · {_e(language)}{state} <span class="{css}">{_e(count)}</span></p>'
        f"{_fate(fate)}"
        f'<p class="text">{_e(composed)}</p></div>'
    )


def _fate(fate: plan.Planned | None) -> str:
    """What the ledger says of a delivery that will not simply go out at its time."""
    if fate is None or fate.state == plan.UPCOMING:
        return ""
    record = fate.record
    went = f" {record.updated_at:%Y-%m-%d %H:%M} UTC" if record is not None and fate.state in plan.OUT else ""
    links = "".join(f' <a href="{_e(url)}">{_e(url)}</a>' for url in (record.urls if record else []))
    note = f" ({_e(fate.note)})" if fate.note else ""
    return f'<p class="fate {_e(fate.state)}"><strong>{_e(fate.state)}</strong>{_e(went)}{note}{links}</p>'


_CALENDAR_HEADING = '<section aria-labelledby="calendar-heading"><h2 id="calendar-heading">Calendar</h2>'
_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f5f5f7}
header,main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.3rem;margin:1.5rem 0 .5rem}h3{font-size:1.05rem;margin:0 0 .5rem}
code{overflow-wrap:anywhere}
.paused{background:#fde2e1;border-left:4px solid #c0392b;padding:.5rem}
.warnings ul{padding-left:1.2rem}.warnings li{margin:.25rem 0}
.calendar{overflow-x:auto;max-width:100%}
.calendar table{border-collapse:collapse;width:100%;table-layout:fixed;min-width:0}
.calendar th,.calendar td{border:1px solid #d2d2d7;vertical-align:top;padding:2px;font-size:.75rem;overflow:hidden}
.calendar td{height:4rem;background:#fff}
.calendar .day{display:block;color:#6e6e73}
.calendar .entry{display:block;text-decoration:none;color:inherit;margin-top:2px;overflow-wrap:anywhere}
.calendar img{display:block;width:100%;max-width:80px;height:auto}
article{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 14rem;min-width:0}
figure img{display:block;max-width:100%;height:auto;border-radius:4px}
figcaption{font-size:.85rem;color:#424245;margin-top:.25rem;white-space:pre-wrap;overflow-wrap:anywhere}
.delivery{border-top:1px solid #e5e5ea;padding:.5rem 0}
.who{margin:0;font-size:.85rem;color:#424245}
.count{float:right;font-variant-numeric:tabular-nums}
.count.over{color:#c0392b;font-weight:700}
.disabled{color:#86868b}
.fate{margin:.25rem 0 0;font-size:.85rem;overflow-wrap:anywhere}.fate.held,.fate.failed,.fate.expired{color:#c0392b}
.fate.published{color:#1e7b34}
.text{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
"""
