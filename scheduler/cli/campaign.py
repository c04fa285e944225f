"""Commands about the campaign file: validate, preview, excerpts."""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler import content, files, timeline
from scheduler.cards import CardStore, require_shaping
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
from scheduler.models import Campaign

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
    settled = snapshot.went_out() if snapshot is not None else history.unchanged_times(config)
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
@now_option("Preview the campaign as of this time.")
def preview(config: Path, verbose: bool, ledger_url: str | None, out: Path | None, now: datetime | None) -> None:
    """Render every card and write OUT/index.html: the campaign as each platform will get it.

    The page shows a calendar, then each post in time order with its local time and UTC, each
    account's exact text counted against its platform's limit (over-limit in red), every card
    with its alt text, and every warning. It works offline.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scheduler import preview as preview_page

    moment = now or datetime.now(UTC)
    snapshot, unreadable = existing_ledger(config, ledger_url)
    if unreadable:
        click.echo(f"Note: the ledger could not be read, so what already went out is not shown: {unreadable}", err=True)
    report = content.check(config, now=moment, went_out=snapshot.went_out() if snapshot else frozenset())
    campaign = _campaign_or_exit(report, str(config))
    require_shaping()
    root = config.resolve().parent
    store = CardStore(files.state_dir(root) / "cards")
    target = out if out is not None else root / "preview"
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
        )
    click.echo(
        f"Wrote {result.index}: {_plural(result.occurrences, 'post occurrence')}, "
        f"{_plural(result.deliveries, 'delivery', 'deliveries')}, {_plural(result.cards, 'card')} "
        f"({result.rendered} rendered, {result.cards - result.rendered} from the cache); "
        f"{_plural(len(report.warnings), 'warning')}"
    )


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
    """Each post's next times, as the daemon will send them, and what became of those that went out."""
    from scheduler import plan

    zone = campaign.timezone
    slots = plan.queue_slots(campaign, snapshot, now)
    horizon = now + timedelta(days=366)
    click.echo(f"\nSchedule (times in {zone.key}, then UTC):")
    for post in campaign.posts:
        if post.at is not None:
            how = "at"
            instants = [post.at]
        elif post.every is not None:
            how = f"every {post.every.text}"
            instants = list(itertools.islice(timeline.post_instants(campaign, post, now, horizon, slots), 3))
        else:
            how = "queue slot"
            instants = [slots[post.id]] if post.id in slots else []
        when = "; ".join(_instant(i, zone) for i in instants) or "no time left in the coming year"
        targets = ", ".join(
            f"{a}[{','.join(lang for lang in campaign.accounts[a].languages if lang in post.text)}]"
            for a in campaign.accounts_of(post)
        )
        click.echo(f"  {post.id}: {how}: {when} -> {targets}")
        for instant in instants[:1] if post.every is None else []:
            for d in timeline.deliveries(campaign, [timeline.Occurrence(instant.astimezone(UTC), post.id)]):
                fate = plan.resolve(post, snapshot, d)
                if fate.state != plan.UPCOMING:
                    went = (
                        f" {fate.record.updated_at:%Y-%m-%d %H:%M} UTC"
                        if fate.record and fate.state in plan.OUT
                        else ""
                    )
                    urls = f" {' '.join(fate.record.urls)}" if fate.record and fate.record.urls else ""
                    note = f" ({fate.note})" if fate.note else ""
                    click.echo(f"      {d.account} {d.language}: {fate.state}{went}{urls}{note}")


def _instant(instant: datetime, zone: tzinfo) -> str:
    return f"{instant.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%H:%M} UTC)"
