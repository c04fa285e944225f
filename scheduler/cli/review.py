"""Reviewing an edit before it ships: diff."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from scheduler.cli.common import EXIT_PROBLEMS, common_options, existing_ledger, ledger_option, now_option
from scheduler.cli.group import cli

EXIT_USAGE = 2


@cli.command()
@common_options
@ledger_option
@click.argument("base", default="HEAD", required=False)
@click.argument("head", required=False)
@click.option(
    "--format",
    "form",
    type=click.Choice(("text", "markdown", "json")),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a pull or merge request comment, json for tools.",
)
@now_option("Compare as if it were this time (e.g. 2026-12-01T09:00-05:00), for rehearsals.")
def diff(
    config: Path,
    verbose: bool,
    ledger_url: str | None,
    base: str,
    head: str | None,
    form: str,
    now: datetime | None,
) -> None:
    """Show what a change to posts.yaml does to the campaign.

    BASE and HEAD are each a posts.yaml file or a git revision (a branch, tag or commit such as
    main, origin/main or HEAD~1; posts.yaml is then read at the place of --config in it). BASE is
    HEAD, the last commit, unless given; HEAD is the --config file as it is now unless given.

    Prints HEAD's problems, then the posts added, removed, renamed, re-timed (old and new schedule
    and next time), re-texted and re-carded (each language's old and new words), the accounts
    changed, the queue slots that move and the campaign settings changed. With a ledger, also what already
    went out of the posts changed (this edit does not re-post it), what will be held as a repeat,
    and what goes out, or no longer does, within the hour. Exits 1 when HEAD does not validate, 2
    when BASE or HEAD is neither a file nor a revision, else 0.
    """
    from scheduler.diff import NotAVersionError, compare_versions
    from scheduler.diff_render import render

    moment = now or datetime.now(UTC)
    snapshot, unreadable = existing_ledger(config, ledger_url)
    try:
        result = compare_versions(base, head, config, moment, snapshot, unreadable)
    except NotAVersionError as exc:  # a usage error, in one line
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(render(result, form), nl=False)
    if not result.head.valid:
        sys.exit(EXIT_PROBLEMS)
