"""Commands about the campaign file: validate, preview, excerpts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler import content, files
from scheduler.cards import CardStore, require_shaping, specs_for
from scheduler.cli.common import (
    EXIT_PROBLEMS,
    _campaign_or_exit,
    _plural,
    _stderr_console,
    common_options,
    existing_ledger,
    ledger_option,
    now_option,
)
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError
from scheduler.models import Campaign, Post

if TYPE_CHECKING:
    from scheduler import plan


@cli.command()
@common_options
@ledger_option
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@now_option("Check as if it were this time (e.g. 2026-12-01T09:00-05:00), for rehearsals.")
def validate(config: Path, verbose: bool, ledger_url: str | None, strict: bool, now: datetime | None) -> None:
    """Check posts.yaml and print every problem at once, as FILE:LINE:COL: KEY.PATH: MESSAGE.

    Exits 1 when there are errors (or warnings, with --strict), else 0. With -v it also prints
    when each post goes out, in local time and UTC, and what already went out. When there is a
    ledger, a past time that went out is no warning, and a once-only post that repeats what went
    out under another id is one; without a ledger, a past time already in the last git commit is
    no warning, so --strict works as a pre-commit hook for the whole campaign.
    """
    from scheduler import history, plan

    moment = now or datetime.now(UTC)
    snapshot, unreadable = existing_ledger(config, ledger_url)
    settled = snapshot.went_out() if snapshot is not None else history.CommittedTimes(config)
    report = content.check(config, now=moment, went_out=settled)
    if report.campaign is not None and snapshot is not None:
        held = {p.delivery.post_id: p.note or "held" for p in plan.held(report.campaign, snapshot, moment)}
        known = {post.id for post in report.campaign.posts}
        held |= {post_id: note for post_id, note in snapshot.held_notes().items() if post_id in known}
        for post_id, note in held.items():
            report.warn_post(post_id, note)
        report.problems.sort()
    name = str(config)
    if unreadable:
        click.echo(f"Note: the ledger could not be read, so what already went out is not known here: {unreadable}")
    for problem in report.problems:
        click.echo(problem.render(name))
    errors, warnings = len(report.errors), len(report.warnings)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    campaign = report.campaign
    if campaign is None:
        click.echo(f"{name}: {counts}")
        sys.exit(EXIT_PROBLEMS)
    enabled = sum(1 for a in campaign.accounts.values() if a.enabled)
    click.echo(
        f"{name}: {_plural(len(campaign.posts), 'post')}, {_plural(len(campaign.accounts), 'account')} "
        f"({enabled} enabled), languages {', '.join(campaign.languages)}; {counts}"
    )
    cost = _x_cost_lines(campaign, snapshot, moment)
    for line in cost if verbose else cost[-1:]:
        click.echo(line)
    if verbose:
        _print_schedule(campaign, moment, snapshot or plan.Snapshot())
    if strict and warnings:
        sys.exit(EXIT_PROBLEMS)


@cli.command()
@common_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the preview to.  [default: preview/ beside posts.yaml]",
)
@ledger_option
@click.option("--prune", is_flag=True, help="Prune unused cards from the cache even when some posts have errors.")
@now_option("Preview the campaign as of this time.")
def preview(
    config: Path, verbose: bool, ledger_url: str | None, out: Path | None, prune: bool, now: datetime | None
) -> None:
    """Render every card and write OUT/index.html: the whole campaign as each platform will get it.

    The page counts what will go out (enabled accounts) and what would once the others are
    enabled; it has a table of contents and a calendar by month through the last `at`, `until` or
    queue slot (one page per month for a big campaign), then each post in time order with its
    local time and UTC, its cards and alt text, its text once per variant with the accounts that
    get it and their counts, each thread part per platform, and what already went out. Posts with
    errors are shown in red while the rest is complete; the command then exits 1. Cards are
    rendered in parallel and cached once; cards no longer used are pruned. It works offline.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scheduler import preview as preview_page

    moment = now or datetime.now(UTC)
    snapshot, unreadable = existing_ledger(config, ledger_url)
    if unreadable:
        click.echo(f"Note: the ledger could not be read, so what already went out is not shown: {unreadable}", err=True)
    report = content.check(config, now=moment, went_out=snapshot.went_out() if snapshot else frozenset())
    campaign = report.campaign or report.partial
    if campaign is None:
        _campaign_or_exit(report, str(config))
        return
    for problem in report.errors:
        click.echo(problem.render(str(config)), err=True)
    require_shaping()
    root = config.resolve().parent
    store = CardStore(files.state_dir(root) / "cards")
    target = out if out is not None else root / "preview"
    raw_posts = report.document.data.get("posts") if report.document is not None else None
    columns = (TextColumn("Rendering cards"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_stderr_console(), transient=True) as progress:
        task = progress.add_task("cards", total=None)
        result = preview_page.build(
            campaign,
            root,
            target,
            store,
            moment,
            report.problems,
            config.name,
            on_card=lambda done, total: progress.update(task, completed=done, total=total),
            snapshot=snapshot,
            raw_posts=raw_posts if isinstance(raw_posts, list) else [],
            notes=_x_cost_lines(campaign, snapshot, moment),
            kept=report.partial_indices if report.campaign is None else None,
        )
    pages = f" and {result.pages - 1} month pages" if result.pages > 1 else ""
    click.echo(
        f"Wrote {result.index}{pages}: {_plural(result.occurrences, 'post occurrence')}, "
        f"{_plural(result.deliveries, 'delivery', 'deliveries')} to enabled accounts, {_plural(result.cards, 'card')} "
        f"({result.rendered} rendered, {result.cards - result.rendered} from the cache); "
        f"{_plural(len(report.warnings), 'warning')}"
    )
    if prune or report.campaign is not None:  # never forget cards of posts that are only broken for now
        # Every post's cards stay, beyond the page's span too: the daemon will need them.
        keep = {spec.key() for post in campaign.posts for spec in specs_for(campaign, post, root).values()}
        removed, freed = store.prune(keep)
        if removed:
            click.echo(f"Pruned {_plural(removed, 'unused card file')} from the cache ({freed / 1e6:.1f} MB)")
    if report.errors:
        click.echo(
            f"{config}: {_plural(result.broken, 'post')} with errors shown in red on the page; "
            f"{_plural(len(report.errors), 'error')} in all (run validate)",
            err=True,
        )
        sys.exit(EXIT_PROBLEMS)


def _x_cost_lines(campaign: Campaign, snapshot: plan.Snapshot | None, now: datetime) -> list[str]:
    """What X will charge for what is still to go to the enabled X accounts: a line per account and
    month, then the total (none when nothing goes to X)."""
    from scheduler import costs, plan

    if not any(account.enabled and account.platform == "x" for account in campaign.accounts.values()):
        return costs.estimate(campaign, [], campaign.x_prices).render_lines()
    snapshot = snapshot or plan.Snapshot()
    _, end, _ = plan.span(campaign, snapshot, now)
    going = [
        p.delivery
        for p in plan.deliveries(campaign, snapshot, now, end, now)
        if p.goes_out and campaign.accounts[p.delivery.account].platform == "x"
    ]
    return costs.estimate(campaign, going, campaign.x_prices).render_lines()


# Checked in callbacks, not in the command, so a usage error exits 2 like click's own.
def _one_or_two_files(ctx: click.Context, files: tuple[Path, ...]) -> tuple[Path, ...]:
    if len(files) > 2:
        ctx.fail("give one statement file, or one file per language")
    return files


def _two_languages(ctx: click.Context, value: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in value.split(",") if code.strip())
    if len(codes) != 2 or codes[0] == codes[1]:
        ctx.fail(f"--langs: '{value}' is not two different language codes, such as en,es")
    return codes


@cli.command()
@common_options
@click.argument(
    "statement_files",
    nargs=-1,
    required=True,
    metavar="STATEMENT [STATEMENT_ES]",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=lambda ctx, _param, files: _one_or_two_files(ctx, files),
)
@click.option(
    "--langs",
    default="en,es",
    show_default=True,
    help="The statement's two languages, in file order.",
    callback=lambda ctx, _param, value: _two_languages(ctx, value),
)
@click.option("--write", is_flag=True, help="Append the drafts to the posts list of the --config file.")
def excerpts(
    config: Path, verbose: bool, statement_files: tuple[Path, ...], langs: tuple[str, str], write: bool
) -> None:
    """Propose draft posts from a bilingual statement: its closing slogans and its strongest excerpts.

    STATEMENT holds both languages one after the other, or give one file per language. The
    languages are aligned paragraph by paragraph and sentence by sentence; every pair the tool is
    unsure of is a warning and is left out. Drafts take queue slots. Prints posts.yaml entries, or
    with --write appends them to posts.yaml, skipping any already there, and validates the result.
    """
    from scheduler import excerpts as drafting

    languages = langs
    campaign = _campaign_or_exit(content.check(config), str(config)) if config.exists() or write else None
    alignment = drafting.read_statement(statement_files, languages)
    platforms = drafting.platforms_of(campaign, languages)
    has_attribution = campaign is not None and all(lang in campaign.defaults.attribution for lang in languages)
    attribution = None if has_attribution else drafting.attribution_from(alignment)
    drafts = drafting.propose(alignment, platforms, attribution)
    warnings = list(alignment.warnings)
    if campaign is None:
        warnings.append(f"no {config}: counting against X 280, Mastodon 500 and Bluesky 300")
    no_queue = campaign is not None and campaign.queue is None
    if no_queue:
        warnings.append(f"{config} has no queue: drafts have no time, so add a queue (or an `at` to each)")
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not write:
        slogans = sum(1 for d in drafts if "slogan" in d.card)
        header = [
            f"Draft posts from {', '.join(p.name for p in statement_files)}: {_plural(slogans, 'slogan')}, "
            f"{_plural(len(drafts) - slogans, 'excerpt')}. Proofread, then paste under `posts:`",
            "(or run again with --write). Without `at` or `every`, each takes the next queue slot.",
        ]
        if no_queue:
            header.append(f"{config.name} has no queue: add one, or give each post an `at`, or validate rejects them.")
        click.echo(drafting.render(drafts, header), nl=False)
        return
    if no_queue:
        raise SchedulerError(f"{config}: nothing written; add a queue first (see README.md, `queue:`)")
    result = drafting.write(config, drafts)
    for post_id, why in result.skipped:
        click.echo(f"skipped {post_id}: {why}")
    added = ", ".join(result.added) or "nothing"
    click.echo(f"Added {_plural(len(result.added), 'post')} to {config}: {added}")
    report = content.check(config)
    for problem in report.problems:
        click.echo(problem.render(str(config)))
    click.echo(f"{config}: {_plural(len(report.errors), 'error')}, {_plural(len(report.warnings), 'warning')}")
    if report.errors:
        sys.exit(EXIT_PROBLEMS)


def _print_schedule(campaign: Campaign, now: datetime, snapshot: plan.Snapshot) -> None:
    """Every occurrence in time order, as the daemon will send it (past, published and held marked,
    daylight-saving moves explained), then each recurring post's end and count."""
    from scheduler import plan

    zone = campaign.timezone
    start, end, _ = plan.span(campaign, snapshot, now)
    occurrences: dict[tuple[datetime, str], list[plan.Planned]] = {}
    for item in plan.deliveries(campaign, snapshot, start, end, now, enabled=False):
        occurrences.setdefault((item.delivery.due, item.delivery.post_id), []).append(item)
    posts = {post.id: post for post in campaign.posts}
    click.echo(f"\nSchedule in time order (times in {zone.key}, then UTC):")
    counts: dict[str, list[datetime]] = {}
    for (due, post_id), items in sorted(occurrences.items()):
        post = posts[post_id]
        counts.setdefault(post_id, []).append(due)
        live = [i for i in items if campaign.accounts[i.delivery.account].enabled]
        languages: dict[str, list[str]] = {}
        for i in live:
            languages.setdefault(i.delivery.account, []).append(i.delivery.language)
        targets = ", ".join(f"{a}[{','.join(langs)}]" for a, langs in languages.items()) or "no enabled account"
        how = "at" if post.at is not None else "every" if post.every is not None else "queue"
        click.echo(f"  {_instant(due, zone)}  {post_id} ({how}) -> {targets}{_fate_note(live, due, now)}")
        moved = _daylight_move(campaign, post, due)
        if moved:
            click.echo(f"      {moved}")
    if any(post.every is not None for post in campaign.posts):
        click.echo("\nRecurring posts:")
    for post in campaign.posts:
        if post.every is None:
            continue
        dues = counts.get(post.id, [])
        ahead = sum(1 for due in dues if due >= now)
        first = f" from {_instant(post.starts, zone)}" if post.starts is not None else ""
        if post.until is not None:
            ends = f"until {_instant(post.until, zone)}: {len(dues)} times in all, {ahead} still to come"
        else:
            ends = f"with no end (no until): {ahead} times through {_instant(end - timedelta(seconds=1), zone)}"
        click.echo(f"  {post.id}: every {post.every.text}{first}, {ends}")


def _fate_note(items: list[plan.Planned], due: datetime, now: datetime) -> str:
    from scheduler import plan

    states = {i.state for i in items}
    if not items:
        return ""
    if states <= set(plan.OUT):
        record = items[0].record
        when = f" {record.updated_at:%Y-%m-%d %H:%M} UTC" if record is not None else ""
        return f"  [published{when}]"
    if plan.HELD in states:
        return "  [held: repeats what already went out; see the warning above]"
    if states <= {plan.UPCOMING, plan.PENDING}:
        return "  [past: not published]" if due < now else ""
    return f"  [{', '.join(sorted(states))}]"


def _daylight_move(campaign: Campaign, post: Post, due: datetime) -> str:
    """Why a recurring time falls at another wall-clock time on a daylight-saving day."""
    rules = (
        [post.every] if post.every is not None else list(campaign.queue.slots) if post.queued and campaign.queue else []
    )
    local = due.astimezone(campaign.timezone)
    wall = local.time().replace(second=0, microsecond=0, tzinfo=None)
    intended = {t for rule in rules if rule.matches_day(local.date()) for t in rule.clock}
    if not intended or wall in intended:
        return ""
    skipped = max((t for t in intended if t < wall), default=min(intended))
    return f"moved from {skipped:%H:%M}, which does not exist on {local:%d %b} (the clocks go forward), to {wall:%H:%M}"


def _instant(instant: datetime, zone: tzinfo) -> str:
    return f"{instant.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%H:%M} UTC)"
