"""The command group every command module registers with, loading a module only for its own commands.

Each command lives in one module of this package, named in COMMANDS: running `validate` imports
campaign.py alone, not the modules of the publishing commands (click's "lazily loading
subcommands" pattern). `--help` lists them all, and then imports them all.
"""

from __future__ import annotations

import gc
import importlib

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

COMMANDS = {
    "validate": "campaign",
    "preview": "campaign",
    "excerpts": "campaign",
    "schema": "reference",
    "diff": "review",
    "review-comment": "forge",
    "post": "publishing",
    "status": "publishing",
    "daemon": "running",
    "pause": "publishing",
    "resume": "publishing",
    "backup": "publishing",
    "accounts": "publishing",
    "stats": "engagement",
    "report": "engagement",
}


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"scheduler.cli.{COMMANDS[cmd_name]}")  # it registers its commands
        if not gc.isenabled():  # main() paused it for the imports: resume, and never walk what they made
            gc.freeze()
            gc.enable()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings=CONTEXT)
@click.version_option(package_name="slogan-scheduler")
def cli() -> None:
    """Render bilingual slogan cards and post statement excerpts on a schedule, exactly once.

    Everything is driven by one file, posts.yaml. Start with `validate`.
    """
