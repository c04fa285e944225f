"""The commands. The only module that prints or exits; each command is a thin layer over the library."""

from __future__ import annotations

import functools
import itertools
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from scheduler import content, files, timeline
from scheduler.errors import SchedulerError
from scheduler.models import Campaign

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PROBLEMS = 1
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO time such as 2026-12-01T09:00-05:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"'{value}' has no UTC offset; add one, e.g. {value}-05:00 or {value}Z")
    return moment


def common_options(command: F) -> F:
    """--config, -v and --debug, which every command takes, and the error handling they share."""

    @click.option(
        "--config",
        "config",
        type=click.Path(path_type=Path),
        default=Path("posts.yaml"),
        envvar="SCHEDULER_CONFIG",
        show_default=True,
        show_envvar=True,
        help="The campaign file.",
    )
    @click.option("-v", "--verbose", is_flag=True, help="Say more.")
    @click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected error.")
    @functools.wraps(command)
    def wrapper(*args: Any, verbose: bool, debug: bool, **kwargs: Any) -> Any:
        logging.basicConfig(
            level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        try:
            return command(*args, verbose=verbose, **kwargs)
        except SchedulerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_PROBLEMS)
        except Exception as exc:  # a bug: say so in one line unless asked for the traceback
            if debug:
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)", err=True)
            sys.exit(EXIT_PROBLEMS)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="slogan-scheduler")
def cli() -> None:
    """Render bilingual slogan cards and post statement excerpts on a schedule, exactly once.

    Everything is driven by one file, posts.yaml. Start with `validate`.
    """


@cli.command()
@common_options
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option(
    "--now",
    callback=_parse_now,
    metavar="ISO",
    help="Check as if it were this time (e.g. 2026-12-01T09:00-05:00), for rehearsals.",
)
def validate(config: Path, verbose: bool, strict: bool, now: datetime | None) -> None:
    """Check posts.yaml and print every problem at once, as FILE:LINE:COL: KEY.PATH: MESSAGE.

    Exits 1 when there are errors (or warnings, with --strict), else 0. With -v it also prints
    when each post goes out, in local time and UTC.
    """
    moment = now or datetime.now(UTC)
    report = content.check(config, now=moment)
    name = str(config)
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
        _print_schedule(campaign, moment)
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
@click.option("--now", callback=_parse_now, metavar="ISO", help="Preview the campaign as of this time.")
def preview(config: Path, verbose: bool, out: Path | None, now: datetime | None) -> None:
    """Render every card and write OUT/index.html: the campaign as each platform will get it.

    The page shows a calendar, then each post in time order with its local time and UTC, each
    account's exact text counted against its platform's limit (over-limit in red), every card
    with its alt text, and every warning. It works offline.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scheduler import preview as preview_page
    from scheduler.cards import CardStore, require_shaping

    moment = now or datetime.now(UTC)
    report = content.check(config, now=moment)
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
        )
    click.echo(
        f"Wrote {result.index}: {_plural(result.occurrences, 'post occurrence')}, "
        f"{_plural(result.deliveries, 'delivery', 'deliveries')}, {_plural(result.cards, 'card')} "
        f"({result.rendered} rendered, {result.cards - result.rendered} from the cache); "
        f"{_plural(len(report.warnings), 'warning')}"
    )


def _campaign_or_exit(report: content.Report, name: str) -> Campaign:
    """The campaign, or every error printed and exit 1."""
    if report.campaign is None:
        for problem in report.problems:
            click.echo(problem.render(name), err=True)
        click.echo(f"{name}: {_plural(len(report.errors), 'error')}; fix them first (run validate)", err=True)
        sys.exit(EXIT_PROBLEMS)
    return report.campaign


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _print_schedule(campaign: Campaign, now: datetime) -> None:
    zone = campaign.timezone
    slots = timeline.assign_slots(campaign, now)
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
        when = (
            "; ".join(f"{i.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({i.astimezone(UTC):%H:%M} UTC)" for i in instants)
            or "no time left in the coming year"
        )
        targets = ", ".join(
            f"{a}[{','.join(lang for lang in campaign.accounts[a].languages if lang in post.text)}]"
            for a in campaign.accounts_of(post)
        )
        click.echo(f"  {post.id}: {how}: {when} -> {targets}")


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def main() -> None:
    cli(prog_name="run.py" if Path(sys.argv[0]).name == "run.py" else "slogan-scheduler")
