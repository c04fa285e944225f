"""The engagement report: what the published posts got, as one offline page a phone can read.

One folder: index.html (a header with the totals, charts drawn by matplotlib as inline SVG, the top
posts with their cards, every delivery in a table), cards/ (the top posts' card images) and, when
asked, engagement.csv. Each delivery counts with its latest snapshot; one never fetched is "not
fetched yet", never zero. All user text is escaped and the page has no script. matplotlib is imported
by this module only, so the other commands never pay for it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from scheduler.pages import document, escape, plural, write_page
from scheduler.platforms.base import Counts

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

TOP_POSTS = 10
CHART_POSTS = 20  # more bars than this are unreadable on a phone; the numbers below each chart have all
LABEL_CHARS = 22
FIGURE_WIDTH = 4.5  # inches: about a phone's width, so the labels stay readable once scaled down
NO_COUNTS = frozenset({"outbox"})  # platforms that never report counts
INK = "#1d1d1f"
# Okabe-Ito and Tol colors, darkened where needed: each has at least 3:1 contrast against white.
PALETTE = ("#0072B2", "#D55E00", "#117733", "#AA4499", "#332288", "#882255", "#7A6000", "#555555")
KIND_COLORS = {"slogan": PALETTE[0], "excerpt": PALETTE[1], "text": PALETTE[2]}
METRICS = ("likes", "reposts", "replies", "quotes")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CSV_COLUMNS = (
    "post_id",
    "kind",
    "language",
    "account",
    "platform",
    "published",
    "url",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "impressions",
    "engagement",
    "fetched_at",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLATFORM_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "outbox": "Outbox"}
_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "path",  # glyphs drawn as paths: no font needed, and user text never becomes SVG text
    "svg.hashsalt": "report",  # the same numbers give the same page
    "text.parse_math": False,  # a post id such as "$x$" is text: mathtext would reshape it, or raise
    "text.usetex": False,
    "font.size": 11,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#6e6e73",
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5ea",
    "axes.axisbelow": True,
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Snapshot:
    at: datetime  # UTC, when the counts were fetched
    counts: Counts


@dataclass(frozen=True)
class Row:
    """One published delivery: one post, one occurrence, one account, one language."""

    post_id: str
    kind: str  # "slogan", "excerpt" (the post's card kind) or "text" (no card)
    language: str
    account: str
    platform: str
    published: datetime  # UTC
    url: str
    text: str  # what went out
    card: Path | None  # the card's PNG, if any; missing on disk: shown without an image
    history: tuple[Snapshot, ...] = ()  # oldest first; empty: no counts fetched yet

    @property
    def latest(self) -> Counts | None:
        return self.history[-1].counts if self.history else None


@dataclass(frozen=True)
class _Chart:
    key: str
    caption: str
    svg: str
    numbers: str  # the same data as a table: the text alternative, and the exact values


def build(rows: Sequence[Row], out: Path, *, timezone: ZoneInfo, title: str, now: datetime, csv: bool = False) -> Path:
    """Write OUT/index.html (and OUT/engagement.csv with csv=True; card thumbnails copied into OUT/cards/);
    return the index path."""
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda row: (row.published, row.post_id, row.account, row.language))
    counted = [(row, counts) for row in ordered if (counts := row.latest) is not None]
    top = sorted(counted, key=lambda pair: (-pair[1].engagement, pair[0].published))[:TOP_POSTS]
    cards = _copy_cards([row for row, _ in top], out / "cards")
    page = _Page(timezone, now)
    body = [
        page.header(title, ordered, counted, csv),
        page.charts(ordered, counted),
        page.top_posts(top, cards, bool(ordered)),
        page.table(ordered),
    ]
    table_file = out / "engagement.csv"
    if csv:
        write_page(table_file, _csv(ordered))
    else:  # a CSV of an earlier report would not match this page
        table_file.unlink(missing_ok=True)
    index = out / "index.html"
    write_page(index, document(title, _CSS, body).encode("utf-8"))
    return index


def _copy_cards(rows: Sequence[Row], folder: Path) -> dict[Path, str]:
    """Each card once, named by a hash of its content (never by a name from outside), by source path."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    sources: dict[Path, str] = {}
    for row in rows:
        if row.card is None or row.card in sources:
            continue
        try:
            data = row.card.read_bytes()
        except OSError:  # gone since it was published: the post is shown without its card
            continue
        name = f"{hashlib.sha256(data).hexdigest()[:32]}.png"
        if not (folder / name).is_file():
            write_page(folder / name, data)
        sources[row.card] = f"cards/{name}"
    kept = {Path(source).name for source in sources.values()}
    for stale in folder.glob("*.png"):  # cards of an earlier report's top posts
        if stale.name not in kept:
            stale.unlink()
    return sources


def _csv(rows: Sequence[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        counts = row.latest
        numbers: list[int | None] = (
            [None] * 6
            if counts is None
            else [counts.likes, counts.reposts, counts.replies, counts.quotes, counts.impressions, counts.engagement]
        )
        texts = [row.post_id, row.kind, row.language, row.account, row.platform, _iso(row.published), row.url]
        fetched = _iso(row.history[-1].at) if row.history else ""
        writer.writerow([*map(_csv_text, texts), *("" if n is None else n for n in numbers), fetched])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM: spreadsheets then read the accents right


def _csv_text(value: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: a leading quote keeps it text."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def _number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _platform(name: str) -> str:
    return _PLATFORM_NAMES.get(name, name)


def _link(url: str) -> str:
    """Only web addresses become links: javascript: and the like are shown, never followed."""
    parts = urlsplit(url)
    if parts.scheme.lower() in {"http", "https"} and parts.netloc:
        return f'<a class="url" href="{escape(url)}" rel="noreferrer">{escape(url)}</a>'
    return f'<span class="url">{escape(url)}</span>'


def _table(head: Sequence[str], body: Iterable[Sequence[str | int | float | None]]) -> str:
    """A plain table of text and numbers (right-aligned; None shown as a dash)."""
    cells = "".join(f'<th scope="col">{escape(name)}</th>' for name in head)
    lines = []
    for line in body:
        lines.append(
            "<tr>"
            + "".join(
                f'<td class="t">{escape(cell)}</td>' if isinstance(cell, str) else f'<td class="n">{_number(cell)}</td>'
                for cell in line
            )
            + "</tr>"
        )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


@dataclass
class _Page:
    timezone: ZoneInfo
    now: datetime

    def local(self, instant: datetime) -> str:
        return f"{instant.astimezone(self.timezone):%a %d %b %Y %H:%M %Z}"

    def short(self, instant: datetime) -> str:
        return f"{instant.astimezone(self.timezone):%Y-%m-%d %H:%M}"

    def header(self, title: str, rows: Sequence[Row], counted: Sequence[tuple[Row, Counts]], with_csv: bool) -> str:
        outbox = sum(1 for row in rows if not row.history and row.platform in NO_COUNTS)
        pending = len(rows) - len(counted) - outbox
        engagement = sum(counts.engagement for _, counts in counted)
        views = sum(counts.impressions or 0 for _, counts in counted)
        status = [f"{len(counted):,} with counts", f"{pending:,} not fetched yet"]
        if outbox:
            status.append(f"{outbox:,} to the outbox (no counts)")
        seen = f", and {plural(views, 'view')} on X" if views else ""
        total = (
            f"<strong>Total engagement: {engagement:,}</strong> (likes, reposts, replies and quotes{seen})."
            if counted
            else "<strong>No counts yet.</strong>"  # not "0": nothing was measured
        )
        download = '<p><a href="engagement.csv">The numbers as a spreadsheet (CSV)</a></p>' if with_csv else ""
        return (
            f"<header><h1>{escape(title)}</h1>"
            f"<p>Made {escape(self.local(self.now))} ({self.now.astimezone(UTC):%Y-%m-%d %H:%M} UTC). "
            f"Times are in {escape(self.timezone.key)}.</p>"
            f'<p class="totals"><strong>{plural(len(rows), "delivery", "deliveries")}</strong>: {", ".join(status)}. '
            f"{total}</p>"
            f"{download}"
            '<section class="note" aria-label="What the counts mean"><ul>'
            "<li>Each delivery counts with the latest counts fetched for it. A delivery not fetched yet is left out "
            "of the totals and charts, not counted as zero; a dash means the platform does not count that.</li>"
            "<li>Mastodon: the counts are what the account's own server has seen; other servers may have seen "
            "more.</li>"
            "<li>Bluesky: the counts come from the AppView, Bluesky's index of the network.</li>"
            "<li>X: impressions are views, not engagement.</li>"
            "<li>Outbox: nothing is published anywhere, so there are no counts.</li>"
            "</ul></section></header>"
        )

    def charts(self, rows: Sequence[Row], counted: Sequence[tuple[Row, Counts]]) -> str:
        parts = ['<section aria-labelledby="charts"><h2 id="charts">Charts</h2>']
        if counted:
            figures = _charts(counted, rows, self)
            parts.append('<div class="charts">')
            parts.extend(
                f'<figure class="chart" id="{chart.key}"><figcaption id="{chart.key}-caption">{escape(chart.caption)}'
                f"</figcaption>{chart.svg}<details><summary>The numbers</summary>"
                f'<div class="scroll">{chart.numbers}</div></details></figure>'
                for chart in figures
            )
            parts.append("</div>")
        else:
            parts.append(f'<p class="empty">{_nothing_yet(bool(rows))}</p>')
        parts.append("</section>")
        return "".join(parts)

    def top_posts(self, top: Sequence[tuple[Row, Counts]], cards: dict[Path, str], any_rows: bool) -> str:
        parts = ['<section aria-labelledby="top"><h2 id="top">Top posts</h2>']
        if not top:
            parts.append(f'<p class="empty">{_nothing_yet(any_rows)}</p>')
        for rank, (row, counts) in enumerate(top, 1):
            source = cards.get(row.card) if row.card is not None else None
            alt = f"Card of the post {row.post_id} ({row.language})"
            picture = (
                f'<a class="thumb" href="{escape(source)}"><img src="{escape(source)}" alt="{escape(alt)}"></a>'
                if source
                else ""
            )
            numbers = "".join(
                f"<li><strong>{_number(value)}</strong> {one if value == 1 else many}</li>"
                for one, many, value in (*counts.named(), ("engagement", "engagement", counts.engagement))
            )
            parts.append(
                f'<article class="top"><h3>{rank}. <span class="id">{escape(row.post_id)}</span></h3>'
                f'<p class="who">{escape(row.language)} · {escape(row.account)} on {escape(_platform(row.platform))} · '
                f"{escape(self.local(row.published))}</p>"
                f'<div class="top-body">{picture}<div class="details">'
                f'<ul class="counts">{numbers}</ul>'
                f'<p class="text" lang="{escape(row.language)}">{escape(row.text)}</p>'
                f"<p>{_link(row.url)}</p></div></div></article>"
            )
        parts.append("</section>")
        return "".join(parts)

    def table(self, rows: Sequence[Row]) -> str:
        texts = ("Published", "Post", "Kind", "Language", "Account", "Platform")
        numbers = ("Likes", "Reposts", "Replies", "Quotes", "Views", "Engagement", "Fetched")
        head = "".join(f'<th scope="col">{name}</th>' for name in texts)
        head += "".join(f'<th scope="col" class="n">{name}</th>' for name in numbers)
        head += '<th scope="col">Link</th>'
        lines = []
        for row in rows:
            counts = row.latest
            if counts is None:
                why = "outbox: no counts" if row.platform in NO_COUNTS else "not fetched yet"
                cells = f'<td colspan="7" class="pending">{why}</td>'
            else:
                values = [*(getattr(counts, metric) for metric in METRICS), counts.impressions, counts.engagement]
                cells = "".join(f'<td class="n">{_number(value)}</td>' for value in values)
                cells += f'<td class="n">{escape(self.short(row.history[-1].at))}</td>'
            lines.append(
                f'<tr><td class="n">{escape(self.short(row.published))}</td><td class="id">{escape(row.post_id)}</td>'
                f"<td>{escape(row.kind)}</td><td>{escape(row.language)}</td><td>{escape(row.account)}</td>"
                f'<td>{escape(_platform(row.platform))}</td>{cells}<td class="link">{_link(row.url)}</td></tr>'
            )
        listing = (
            f'<div class="scroll" role="region" aria-label="All deliveries" tabindex="0"><table class="all">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"
            if rows
            else "<p>Nothing has been published yet.</p>"
        )
        return f'<section aria-labelledby="all"><h2 id="all">All deliveries</h2>{listing}</section>'


def _nothing_yet(any_rows: bool) -> str:
    if not any_rows:
        return "No counts yet: nothing has been published."
    return "No counts yet: no delivery has had its counts fetched."


def _charts(counted: Sequence[tuple[Row, Counts]], rows: Sequence[Row], page: _Page) -> list[_Chart]:
    # rc_context restores matplotlib's settings afterwards; Figure (not pyplot) keeps no global figure.
    with matplotlib.rc_context(_STYLE):
        return [
            _per_post(counted),
            _per_language(counted),
            _per_platform(counted),
            _by_hour(counted, page.timezone),
            _by_weekday(counted, page.timezone),
            _over_time(rows, page),
        ]


def _figure(height: float) -> Figure:
    return Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")


def _label(text: str) -> str:
    """A post id short enough to leave room for its bar."""
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1] + "…"


def _svg(figure: Figure, key: str) -> str:
    """The figure as an <svg> element for the page: no prolog, ids of its own, scaled by the page's CSS."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    markup = markup[markup.index("<svg") :]
    markup = re.sub(r"<metadata>.*?</metadata>|<!--.*?-->", "", markup, flags=re.S)  # comments repeat the labels
    markup = re.sub(r'(\bid="|href="#|url\(#)', rf"\g<1>{key}-", markup)  # several charts share one document
    view_box = re.search(r'viewBox="[^"]*"', markup)
    assert view_box is not None, "matplotlib writes a viewBox"
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" {view_box.group()} '
        f'role="img" aria-labelledby="{key}-caption" focusable="false">'
    )
    return re.sub(r"<svg\b[^>]*>", opening, markup, count=1)


def _legend(figure: Figure, handles: Sequence[Patch]) -> None:
    figure.legend(handles=list(handles), loc="outside upper center", ncols=min(len(handles), 4))


def _patches(colors: dict[str, str]) -> list[Patch]:
    return [Patch(facecolor=color, label=name) for name, color in colors.items()]


def _ranked(totals: dict[str, int]) -> tuple[list[str], list[str], str]:
    """All posts, most engaging first; those worth a bar; and what the caption says of the rest."""
    ranked = sorted(totals, key=lambda post: (-totals[post], post))
    more = f" (the {CHART_POSTS} most engaging of {len(ranked)})" if len(ranked) > CHART_POSTS else ""
    return ranked, ranked[:CHART_POSTS], more


def _per_post(counted: Sequence[tuple[Row, Counts]]) -> _Chart:
    totals: dict[str, int] = defaultdict(int)
    kinds: dict[str, str] = {}
    for row, counts in counted:
        totals[row.post_id] += counts.engagement
        kinds.setdefault(row.post_id, row.kind)
    ranked, shown, more = _ranked(totals)
    colors = {kind: KIND_COLORS.get(kind, PALETTE[-1]) for kind in sorted({kinds[p] for p in shown})}
    figure = _figure(1.4 + 0.3 * len(shown))
    axes = figure.add_subplot()
    positions = list(range(len(shown)))
    axes.barh(positions, [totals[p] for p in shown], color=[colors[kinds[p]] for p in shown])
    axes.set_yticks(positions, [_label(p) for p in shown])
    axes.invert_yaxis()  # the most engaging on top
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("Engagement")
    _legend(figure, _patches(colors))
    key = "chart-posts"
    numbers = _table(("Post", "Kind", "Engagement"), ((p, kinds[p], totals[p]) for p in ranked))
    return _Chart(key, f"Engagement per post, by kind{more}", _svg(figure, key), numbers)


def _per_language(counted: Sequence[tuple[Row, Counts]]) -> _Chart:
    totals: dict[str, int] = defaultdict(int)
    by_language: dict[tuple[str, str], int] = defaultdict(int)
    for row, counts in counted:
        totals[row.post_id] += counts.engagement
        by_language[(row.post_id, row.language)] += counts.engagement
    languages = sorted({language for _, language in by_language})
    colors = {language: PALETTE[i % len(PALETTE)] for i, language in enumerate(languages)}
    ranked, shown, more = _ranked(totals)
    figure = _figure(1.4 + (0.1 + 0.2 * len(languages)) * len(shown))
    axes = figure.add_subplot()
    height = 0.8 / len(languages)
    for index, language in enumerate(languages):
        offsets = [post + (index - (len(languages) - 1) / 2) * height for post in range(len(shown))]
        values = [by_language.get((p, language), 0) for p in shown]
        axes.barh(offsets, values, height=height, color=colors[language])
    axes.set_yticks(list(range(len(shown))), [_label(p) for p in shown])
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("Engagement")
    _legend(figure, _patches(colors))
    key = "chart-languages"
    numbers = _table(("Post", *languages), ((p, *(by_language.get((p, lang)) for lang in languages)) for p in ranked))
    return _Chart(key, f"Engagement per post and language, side by side{more}", _svg(figure, key), numbers)


def _per_platform(counted: Sequence[tuple[Row, Counts]]) -> _Chart:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*METRICS, "views"), 0))
    for row, counts in counted:
        for metric in METRICS:
            totals[row.platform][metric] += getattr(counts, metric) or 0
        totals[row.platform]["views"] += counts.impressions or 0
    platforms = sorted(totals)
    colors = {metric: PALETTE[i] for i, metric in enumerate(METRICS)}
    figure = _figure(3.6)
    axes = figure.add_subplot()
    positions = list(range(len(platforms)))
    bottom = [0] * len(platforms)
    for metric in METRICS:
        values = [totals[platform][metric] for platform in platforms]
        axes.bar(positions, values, bottom=bottom, color=colors[metric], edgecolor="white", linewidth=0.5)
        bottom = [below + value for below, value in zip(bottom, values, strict=True)]
    axes.set_xticks(positions, [_label(_platform(platform)) for platform in platforms])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Total")
    _legend(figure, _patches(colors))
    key = "chart-platforms"
    numbers = _table(
        ("Platform", "Likes", "Reposts", "Replies", "Quotes", "Views"),
        ((_platform(p), *totals[p].values()) for p in platforms),
    )
    return _Chart(key, "Likes, reposts, replies and quotes per platform", _svg(figure, key), numbers)


def _averages(counted: Sequence[tuple[Row, Counts]], slot_of: Any, slots: int) -> tuple[list[int], list[float | None]]:
    """Deliveries and average engagement per delivery in each slot (an hour, a weekday)."""
    deliveries, sums = [0] * slots, [0] * slots
    for row, counts in counted:
        slot = slot_of(row)
        deliveries[slot] += 1
        sums[slot] += counts.engagement
    return deliveries, [total / n if n else None for total, n in zip(sums, deliveries, strict=True)]


def _by_slot(
    key: str, caption: str, names: Sequence[str], deliveries: list[int], averages: list[float | None], tick_every: int
) -> _Chart:
    figure = _figure(2.8)
    axes = figure.add_subplot()
    axes.bar(list(range(len(names))), [a or 0 for a in averages], color=PALETTE[0])
    ticks = list(range(0, len(names), tick_every))
    axes.set_xticks(ticks, [names[t] for t in ticks])
    axes.set_ylabel("Average engagement")
    numbers = _table(("When", "Deliveries", "Average engagement"), zip(names, deliveries, averages, strict=True))
    return _Chart(key, caption, _svg(figure, key), numbers)


def _by_hour(counted: Sequence[tuple[Row, Counts]], timezone: ZoneInfo) -> _Chart:
    deliveries, averages = _averages(counted, lambda row: row.published.astimezone(timezone).hour, 24)
    names = [f"{hour:02d}" for hour in range(24)]
    caption = f"Average engagement per delivery by hour of publication ({timezone.key})"
    return _by_slot("chart-hours", caption, names, deliveries, averages, 3)


def _by_weekday(counted: Sequence[tuple[Row, Counts]], timezone: ZoneInfo) -> _Chart:
    deliveries, averages = _averages(counted, lambda row: row.published.astimezone(timezone).weekday(), 7)
    caption = f"Average engagement per delivery by weekday of publication ({timezone.key})"
    return _by_slot("chart-weekdays", caption, WEEKDAYS, deliveries, averages, 1)


def _over_time(rows: Sequence[Row], page: _Page) -> _Chart:
    """Per platform, after each snapshot: the sum over its deliveries of the latest counts known then."""
    lines: dict[str, list[tuple[datetime, int]]] = {}
    for platform in sorted({row.platform for row in rows if row.history}):
        fetched = sorted(
            (snapshot.at, index, snapshot.counts.engagement)
            for index, row in enumerate(rows)
            if row.platform == platform
            for snapshot in row.history
        )
        latest: dict[int, int] = {}
        points = lines[platform] = []
        for at, together in groupby(fetched, key=lambda entry: entry[0]):
            latest.update((index, engagement) for _, index, engagement in together)
            points.append((at, sum(latest.values())))
    colors = {_platform(p): PALETTE[i % len(PALETTE)] for i, p in enumerate(lines)}
    figure = _figure(3.2)
    axes = figure.add_subplot()
    for platform, points in lines.items():
        axes.plot(
            [at for at, _ in points],  # type: ignore[arg-type]  # matplotlib's units take datetimes; its stubs do not
            [total for _, total in points],
            drawstyle="steps-post",
            marker="o",
            markersize=3,
            color=colors[_platform(platform)],
        )
    # matplotlib.dates ships no type hints
    locator = AutoDateLocator(tz=page.timezone, minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=page.timezone))  # type: ignore[no-untyped-call]
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Engagement so far")
    _legend(figure, _patches(colors))
    key = "chart-time"
    numbers = _table(
        ("Platform", "Fetched", "Engagement"),
        ((_platform(p), page.short(at), total) for p, points in lines.items() for at, total in points),
    )
    return _Chart(key, f"Engagement over time, per platform ({page.timezone.key})", _svg(figure, key), numbers)


_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f5f5f7}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0;overflow-wrap:anywhere}h2{font-size:1.3rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
a{color:#0058a3}
.note{font-size:.9rem;color:#424245}.note ul{padding-left:1.2rem;margin:.25rem 0}
.empty{background:#fff;border-left:4px solid #6e6e73;padding:.5rem .75rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));gap:1rem}
.chart{margin:0;background:#fff;border-radius:8px;padding:.75rem;min-width:0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.chart figcaption{font-weight:600;margin-bottom:.5rem}
.chart svg{display:block;width:100%;height:auto}
details{margin-top:.5rem;font-size:.85rem}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums;background:#fff}
th,td{border-bottom:1px solid #e5e5ea;padding:.3rem .5rem;text-align:left;vertical-align:top;white-space:nowrap}
th.n,td.n{text-align:right}
td.t,td.id,td.link{white-space:normal;overflow-wrap:anywhere;min-width:6rem;max-width:18rem}
td.id,td.link{min-width:10rem}
.pending{color:#6e6e73;font-style:italic}
article{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.id,.who,.url{overflow-wrap:anywhere}
.who{margin:0 0 .5rem;font-size:.85rem;color:#424245}
.top-body{display:flex;flex-wrap:wrap;gap:1rem}
.thumb{flex:0 1 12rem;min-width:0}
.thumb img{display:block;width:100%;height:auto;border-radius:4px}
.details{flex:1 1 16rem;min-width:0}
.counts{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem}
.counts strong{font-variant-numeric:tabular-nums}
.text{margin:.5rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
"""
