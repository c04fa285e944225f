"""The commands as a user runs them: exact output, exit codes, help, and no traceback."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scheduler import content
from scheduler.cli import cli
from tests.conftest import NOW, ROOT, Result

BROKEN = Path(__file__).parent / "broken"


def test_shipped_campaign_validates(run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "--strict", "--now", NOW)
    assert result.lines == ["posts.yaml: 16 posts, 5 accounts (1 enabled), languages en, es; 0 errors, 0 warnings"]
    assert result.exit_code == 0


def test_verbose_prints_each_schedule_in_local_time_and_utc(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "-v", "--now", NOW)
    assert result.exit_code == 0
    assert "Schedule in time order (times in America/New_York, then UTC):" in result.lines
    assert "  Wed 2026-12-02 12:00 EST (17:00 UTC)  kenya-out-of-haiti (at) -> outbox[en,es]" in result.lines
    assert "  Mon 2026-12-07 12:00 EST (17:00 UTC)  us-out-of-haiti (every) -> outbox[en,es]" in result.lines
    assert "  Sat 2026-12-19 12:00 EST (17:00 UTC)  staging-ground-military-base (queue) -> outbox[en,es]" in (
        result.lines
    )
    assert "Recurring posts:" in result.lines
    assert any(line.startswith("  us-out-of-haiti: every mon 12:00 from ") for line in result.lines)


def test_warnings_fail_only_with_strict(project: Path, run_cli: Callable[..., Result]) -> None:
    shutil.copy(BROKEN / "16-past-at.yaml", project / "posts.yaml")
    relaxed = run_cli("validate", "--now", NOW)
    assert relaxed.exit_code == 0
    assert relaxed.lines[-1] == "posts.yaml: 1 post, 1 account (1 enabled), languages en, es; 0 errors, 1 warning"
    assert run_cli("validate", "--strict", "--now", NOW).exit_code == 1


def test_config_from_environment(
    project: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(BROKEN / "16-past-at.yaml", project / "campaign.yaml")
    monkeypatch.setenv("SCHEDULER_CONFIG", "campaign.yaml")
    result = run_cli("validate", "--now", NOW)
    assert result.lines[0].startswith("campaign.yaml:8:9: posts[0].at: warning:")


def test_missing_config_is_a_content_error(project: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("validate")
    assert result.lines == [
        "posts.yaml:1:1: cannot read the file: No such file or directory",
        "posts.yaml: 1 error, 0 warnings",
    ]
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "--bogus"], "No such option '--bogus'"),
        (["validate", "--now", "2026-12-01T09:00"], "has no UTC offset"),
        (["validate", "--now", "tomorrow"], "is not an ISO time"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, run_cli: Callable[..., Result]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_unexpected_error_is_one_line_without_debug(
    project: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(content, "check", explode)
    result = run_cli("validate")
    assert result.lines == ["Error: unexpected RuntimeError: boom (run again with --debug for details)"]
    assert result.exit_code == 1
    from click.testing import CliRunner

    debug = CliRunner().invoke(cli, ["validate", "--debug"])
    assert isinstance(debug.exception, RuntimeError)


def test_every_command_has_help_and_is_in_the_readme(run_cli: Callable[..., Result]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert cli.commands
    for name, command in cli.commands.items():
        result = run_cli(name, "--help")
        assert result.exit_code == 0
        assert result.lines[0].startswith(f"Usage: run.py {name}")
        assert command.help
        assert f"run.py {name}" in readme, f"README.md does not document `run.py {name}`"


def test_real_process_prints_no_traceback_and_loads_no_platform_sdk(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['run.py', 'validate', '--config', sys.argv[1], '--ledger', sys.argv[2]]\n"
        "from scheduler.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "heavy = {'tweepy', 'mastodon', 'atproto', 'atproto_client', 'psycopg', 'apscheduler', 'twitter_text',\n"
        "         'difflib'}\n"
        "unused = {'scheduler.platforms', 'scheduler.ledger'}\n"
        "print(sorted(({m.split('.')[0] for m in sys.modules} & heavy) | (set(sys.modules) & unused)), code,\n"
        "      file=sys.stderr)\n"
    )
    shipped = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "posts.yaml"), f"sqlite:///{tmp_path / 'no-ledger.sqlite3'}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert shipped.stderr.strip() == "[] 0"
    broken = tmp_path / "posts.yaml"
    broken.write_bytes((BROKEN / "01-yaml-syntax.yaml").read_bytes())
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "validate", "--config", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0].endswith(
        "YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping"
    )


def test_a_command_runs_with_garbage_collection_on_and_its_imports_set_aside() -> None:
    """main() pauses collection while a command loads, then resumes it before the command runs (a
    daemon without it would never free a cycle), with what the imports made frozen out of its way."""
    probe = (
        "import gc, sys\n"
        "import scheduler.content\n"
        "seen = []\n"
        "check = scheduler.content.check\n"
        "def spy(*args, **kwargs):\n"
        "    seen.append((gc.isenabled(), gc.get_freeze_count()))\n"
        "    return check(*args, **kwargs)\n"
        "scheduler.content.check = spy\n"
        "sys.argv = ['run.py', 'validate']\n"
        "from scheduler.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, seen, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    code, seen = done.stderr.strip().split(" ", 1)
    assert code == "0", done.stderr
    ((enabled, frozen),) = ast.literal_eval(seen)
    assert enabled
    assert frozen > 10_000, frozen


def test_post_loads_only_what_it_uses(folder: Path) -> None:
    """A one-off `post` to the outbox of a card already cached loads no platform SDK, no database layer
    beyond sqlite3, no scheduler and nothing that draws: each costs a person waiting on a crisis day."""
    (folder / "posts.yaml").write_text(
        "timezone: America/New_York\n"
        "languages: [en]\n"
        "accounts:\n"
        "  outbox: {platform: outbox, languages: [en]}\n"
        "posts:\n"
        "  - id: slogan\n"
        '    text: {en: "U.S. out of Haiti!"}\n'
        '    card: {slogan: {en: "U.S. out of Haiti!"}, size: square}\n'
        '    every: "mon 12:00"\n'
        "  - id: again\n"
        '    text: {en: "U.S. out of Haiti, now!"}\n'
        '    card: {slogan: {en: "U.S. out of Haiti!"}, size: square}\n'
        '    every: "tue 12:00"\n',
        encoding="utf-8",
    )
    probe = (
        "import sys\n"
        "sys.argv = ['run.py', 'post', sys.argv[1]]\n"
        "from scheduler.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "heavy = {'tweepy', 'mastodon', 'atproto', 'atproto_client', 'httpx', 'sqlalchemy', 'psycopg',\n"
        "         'apscheduler', 'fontTools', 'requests'}\n"
        "drawing = {'scheduler.cards.draw', 'PIL.ImageDraw', 'PIL.ImageFont'}\n"
        "print(sorted(({m.split('.')[0] for m in sys.modules} & heavy) | (set(sys.modules) & drawing)), code,\n"
        "      file=sys.stderr)\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", probe, "slogan"], capture_output=True, text=True, cwd=folder, check=False
    )
    assert first.stderr.strip().endswith("0"), first.stderr  # it drew the card, once
    second = subprocess.run(  # another post with the same card
        [sys.executable, "-c", probe, "again"], capture_output=True, text=True, cwd=folder, check=False
    )
    assert second.stderr.strip() == "[] 0", second.stderr
    assert second.stdout.startswith("published   outbox en file://"), second.stdout


def test_each_command_is_found_in_the_module_named_for_it() -> None:
    """The lazy group imports one module per command: its list must match what the modules register."""
    import importlib

    from scheduler.cli.group import COMMANDS, cli

    for module in set(COMMANDS.values()):
        importlib.import_module(f"scheduler.cli.{module}")
    assert set(cli.commands) == set(COMMANDS)
    assert {name: getattr(command.callback, "__module__", None) for name, command in cli.commands.items()} == {
        name: f"scheduler.cli.{module}" for name, module in COMMANDS.items()
    }
