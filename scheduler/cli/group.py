"""The command group every command module registers with."""

from __future__ import annotations

import click

from scheduler.cli.common import CONTEXT


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="slogan-scheduler")
def cli() -> None:
    """Render bilingual slogan cards and post statement excerpts on a schedule, exactly once.

    Everything is driven by one file, posts.yaml. Start with `validate`.
    """
