"""The JSON Schema of posts.yaml (`run.py schema`), checked with the real check-jsonschema against `validate`:
what validate accepts the schema accepts, and a shape error fails both at the same key."""

from __future__ import annotations

import functools
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from pydantic import TypeAdapter, ValidationError

from scheduler import content, models, source
from scheduler.schema import DIALECT, SHIPPED_PATH, document
from scheduler.source import format_path
from tests.conftest import NOW, ROOT, Result

SCHEMA = ROOT / SHIPPED_PATH
BROKEN = Path(__file__).parent / "broken"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")
_VALIDATE_LINE = re.compile(r"^[^:]+:\d+:\d+: (?:(?P<path>[\w.\[\]-]+): )?(?P<message>.*)$")


# --- running the two checkers ---------------------------------------------------------------


def check_jsonschema(schema: Path, instances: Iterable[Path]) -> dict[Path, set[str]]:
    """The key paths check-jsonschema reports errors at, per file, written as validate writes them."""
    files = list(instances)
    ran = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema), "--output-format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(ran.stdout)
    assert not report.get("parse_errors"), report["parse_errors"]
    assert ran.returncode == (1 if report["errors"] else 0), ran.stderr
    found: dict[Path, set[str]] = {path: set() for path in files}
    for error in report["errors"]:
        # Under anyOf/oneOf the error sits at the value; its deepest cause says which key is wrong.
        deepest = error.get("best_deep_match") or error
        where = Path(error["filename"])
        found[where] |= _key_paths(deepest["path"], deepest["message"], functools.partial(_data, where))
    return found


@functools.cache
def _data(path: Path) -> Any:
    """The file as validate reads it (times kept as text)."""
    return source.parse(path.read_bytes()).data


def _key_paths(json_path: str, message: str, data: Callable[[], Any]) -> set[str]:
    """`$.accounts['x-en']` -> `accounts.x-en`; a wrong key is named at the key, as validate does, where
    check-jsonschema names the mapping that holds it."""
    steps: list[str | int] = [
        int(index) if index else name or quoted
        for name, index, quoted in _PATH_STEP.findall(json_path.removeprefix("$"))
    ]
    unexpected = re.fullmatch(r"Additional properties are not allowed \((.*) (?:was|were) unexpected\)", message)
    named = re.match(r"'([^']*)' does not match ", message)
    if unexpected is not None:
        keys = re.findall(r"'([^']*)'", unexpected.group(1))
    elif named is not None and _is_key_of(data(), steps, named[1]):  # propertyNames: the key is in the message
        keys = [named[1]]
    else:
        return {format_path(tuple(steps))}
    return {format_path((*steps, key)) for key in keys}


def _is_key_of(data: Any, steps: list[str | int], key: str) -> bool:
    node = data
    for step in steps:
        node = node[step]
    return isinstance(node, dict) and key in node


def validate_errors(run_cli: Callable[..., Result], config: Path) -> set[str]:
    """The key paths of the errors `run.py validate` prints (warnings aside)."""
    result = run_cli("validate", "--config", str(config), "--now", NOW)
    paths = set()
    for line in result.lines[:-1]:
        match = _VALIDATE_LINE.match(line)
        assert match is not None, line
        if not match["message"].startswith("warning: "):
            paths.add(match["path"] or "")
    assert (result.exit_code == 1) == bool(paths), result.output
    return paths


# --- the command and the shipped file -------------------------------------------------------


def test_schema_prints_the_shipped_schema_file(run_cli: Callable[..., Result]) -> None:
    result = run_cli("schema")
    assert result.exit_code == 0
    assert result.output == SCHEMA.read_text(encoding="utf-8"), "refresh it: run.py schema --out " + SHIPPED_PATH


def test_schema_out_writes_the_same_schema(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / "editor" / "posts.schema.json"
    result = run_cli("schema", "--out", str(target))
    assert result.exit_code == 0
    assert result.lines == [f"Wrote {target}"]
    assert target.read_text(encoding="utf-8") == SCHEMA.read_text(encoding="utf-8")


def test_schema_out_to_an_unwritable_place_is_one_line(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    result = run_cli("schema", "--out", str(tmp_path / "a-file" / "posts.schema.json"))
    assert result.exit_code == 1
    assert result.lines == [
        f"Error: cannot write {tmp_path / 'a-file' / 'posts.schema.json'}: part of that path is a file, not a folder"
    ]


def test_the_schema_is_draft_2020_12_by_its_metaschema() -> None:
    assert json.loads(SCHEMA.read_text(encoding="utf-8"))["$schema"] == DIALECT
    ran = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--check-metaschema", str(SCHEMA)], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_posts_yaml_names_the_shipped_schema_on_its_first_line() -> None:
    first = (ROOT / "posts.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SHIPPED_PATH}"  # relative to posts.yaml
    assert SCHEMA.is_file()


def test_shipped_posts_yaml_passes() -> None:
    assert check_jsonschema(SCHEMA, [ROOT / "posts.yaml"]) == {ROOT / "posts.yaml": set()}


def test_every_top_level_setting_and_model_field_is_described_and_closed() -> None:
    schema = document()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {*models.SECTIONS, "posts"}
    assert schema["required"] == list(content.REQUIRED)
    for name, described in schema["properties"].items():
        target = schema["$defs"][described["$ref"].rpartition("/")[2]] if "$ref" in described else described
        assert described.get("description") or target.get("description"), name
    for name, model in schema["$defs"].items():
        assert model["additionalProperties"] is False, name
        for field, described in model["properties"].items():
            assert described.get("description") or field == "platform", f"{name}.{field}"


def test_enums_list_the_platforms_card_sizes_and_templates() -> None:
    schema = document()
    platform = schema["properties"]["accounts"]["additionalProperties"]["properties"]["platform"]
    assert platform["enum"] == list(models.PLATFORMS)
    card = schema["$defs"]["Card"]["properties"]
    assert card["size"]["enum"] == ["square", "portrait", "landscape", None]
    assert card["template"]["enum"] == ["slogan", "quote", "bilingual", None]
    assert schema["$defs"]["Defaults"]["properties"]["card_size"]["enum"] == ["square", "portrait", "landscape"]


def test_account_descriptions_name_their_secrets_and_offer_no_key_for_them() -> None:
    schema = document()
    for platform, secrets in models.SECRET_NAMES.items():
        account = schema["$defs"][models.ACCOUNT_MODELS[platform].__name__]
        for secret in secrets:
            assert f"<ID>_{secret}" in account["description"], platform
        assert not [key for key in account["properties"] if re.search("token|secret|password|key", key)]


def test_defaults_are_written_as_posts_yaml_writes_them() -> None:
    defaults = document()["$defs"]["Defaults"]["properties"]
    assert defaults["max_late"]["default"] == "1h"
    assert defaults["card_size"]["default"] == "portrait"


# --- broken files: both checkers fail, at the same keys -------------------------------------

SHAPE_ERRORS = (
    "08-unknown-top-level.yaml",
    "09-missing-timezone.yaml",
    "11-unknown-post-key.yaml",
    "15-impossible-date.yaml",
    "20-secret-in-account.yaml",
    "21-secret-password.yaml",
    "25-unknown-platform.yaml",
    "26-mastodon-no-instance.yaml",
    "27-bad-language-code.yaml",
    "29-at-and-every.yaml",
    "30-bad-recurrence.yaml",
    "31-bad-cron.yaml",
    "32-queued-without-queue.yaml",
    "33-card-both-kinds.yaml",
    "35-bad-color.yaml",
    "36-bad-duration.yaml",
    "37-text-not-string.yaml",
    "38-posts-not-list.yaml",
    "39-bad-post-id.yaml",
    "40-size-typo.yaml",
    "50-bad-card-size.yaml",
    "58-list-for-mapping.yaml",
    "61-twelve-hour-times.yaml",
)
# An unquoted `yes` is a boolean to validate (YAML 1.1) and text to editors and check-jsonschema (YAML 1.2).
YAML_1_1_ONLY = {"37-text-not-string.yaml": {"posts[0].text.es"}}


@pytest.fixture(scope="module")
def schema_on_broken_files() -> dict[Path, set[str]]:
    return check_jsonschema(SCHEMA, (BROKEN / name for name in SHAPE_ERRORS))


@pytest.mark.parametrize("name", SHAPE_ERRORS)
def test_broken_file_fails_the_schema_at_the_key_validate_names(
    name: str,
    project: Path,
    run_cli: Callable[..., Result],
    schema_on_broken_files: dict[Path, set[str]],
) -> None:
    shutil.copy(BROKEN / name, project / "posts.yaml")
    by_validate = validate_errors(run_cli, project / "posts.yaml")
    by_schema = schema_on_broken_files[BROKEN / name]
    assert by_schema
    assert by_schema == by_validate - YAML_1_1_ONLY.get(name, set())


# --- campaigns written every way validate accepts, and values it rejects ---------------------

TEMPLATE = """\
timezone: {timezone}
languages: [en, es]
paused: {paused}
brand:
  background: {background}
  text_color: "{text_color}"
defaults:
  max_late: {default_late}
accounts:
  outbox: {{platform: outbox, languages: [en, es], enabled: {enabled}}}
  {bsky_id}: {{platform: bluesky, handle: "{handle}", languages: [en], enabled: false, max_image_bytes: {image_bytes}}}
queue:
  starts: {queue_start}
  slots: [{slot}]
posts:
  - id: {post_id}
    text: {text}
    hashtags: {hashtags}
    link: {link}
    {timing}
  - id: queued
    text: {{en: Queued, es: En cola}}
    card: {card}
"""
PLAIN = {
    "timezone": "America/New_York",
    "paused": "false",
    "background": '["#14213d", "#0b1021"]',
    "text_color": "#ffffff",
    "default_late": "1h",
    "enabled": "true",
    "bsky_id": "bsky",
    "handle": "team.bsky.social",
    "image_bytes": "2000000",
    "queue_start": "2026-12-19",
    "slot": '"tue,thu 10:00"',
    "post_id": "p1",
    "text": "{en: Hi, es: Hola}",
    "hashtags": "[Haiti]",
    "link": "https://example.org/statement",
    "timing": "at: 2026-12-01 09:00",
    "card": "{slogan: {en: Free Haiti!, es: ¡Haití libre!}}",
}

ACCEPTED = [
    ("timezone", "UTC"),
    ("timezone", "America/Port-au-Prince"),
    ("timezone", "Etc/GMT+5"),
    ("paused", "no"),
    ("paused", "off"),
    ("paused", '"true"'),
    ("paused", "0"),
    ("enabled", "yes"),
    ("enabled", "On"),
    ("enabled", "1"),
    ("enabled", "y"),
    ("background", '"#123ABC"'),
    ("background", '["#000000"]'),
    ("text_color", "#FFFFFF"),
    ("default_late", "90"),
    ("default_late", "0"),
    ("default_late", "90m"),
    ("default_late", "1h30m"),
    ("default_late", "2d"),
    ("default_late", "45s"),
    ("default_late", "10min"),
    ("default_late", '"1d 2h"'),
    ("bsky_id", "bsky_2-b"),
    ("handle", "@Team.Bsky.Social"),
    ("image_bytes", "5_000_000"),
    ("image_bytes", '"5000000"'),
    ("image_bytes", "null"),
    ("queue_start", '"20261219"'),
    ("queue_start", '"2026-W51-6"'),
    ("slot", '"Tue, Thu 10:00", "sat 12:00"'),
    ("slot", '"0 10 * * tue,thu"'),
    ("post_id", "a_1-b"),
    ("text", "{en: Hi}\n    accounts: [bsky]"),
    ("hashtags", '["#Haiti", Haití, Ayiti_2026, "#NoToOccupation"]'),
    ("hashtags", "[]"),
    ("link", "http://127.0.0.1:8080/a?b=c#d"),
    ("link", "null"),
    ("timing", "at: 2026-12-01T09:00"),
    ("timing", 'at: "2026-12-01 09:00"'),
    ("timing", "at: 2026-12-01 09:00:00"),
    ("timing", "at: 2026-12-01T09:00:00.250Z"),
    ("timing", "at: 2026-12-01 09:00-05:00"),
    ("timing", "at: 2026-12-01 09:00 +0100"),
    ("timing", "at: 2026-12-01t0900"),
    ("timing", "at: 20261201T0900"),
    ("timing", "at: 2026-W49-2T09:00"),
    ("timing", "at: 2026-12-01 09"),
    ("timing", "every: mon 12:00"),
    ("timing", "every: Monday 12:00"),
    ("timing", 'every: "mon,wed,fri 09:00"'),
    ("timing", "every: daily 09:00 18:30"),
    ("timing", "every: 09:00, 18:30 Weekends"),
    ("timing", "every: weekdays 12:30"),
    ("timing", "every: fri-mon 8:05"),
    ("timing", "every: 7:30"),
    ("timing", 'every: "0 12 * * mon"'),
    ("timing", 'every: "*/15 9-17 * * MON-FRI"'),
    ("timing", 'every: "0 9 1,15 jan-mar,dec *"'),
    ("timing", 'every: "00 09 * * 0,7"'),
    ("timing", 'every: "0 9 * * sun"\n    starts: 2026-12-01 00:00\n    until: 2027-03-29 23:59'),
    ("timing", "every: mon 12:00\n    at: null"),
    ("timing", "until: 2027-01-31 23:59"),
    ("timing", "max_late: 3h"),
    ("timing", "at: 2026-12-01 09:00\n    max_late: 90"),
    ("timing", "at: 2026-12-01 09:00\n    thread: yes\n    thread_numbers: no"),
    ("timing", "at: 2026-12-01 09:00\n    accounts: [outbox]"),
    (
        "timing",
        "at: 2026-12-01 09:00\n    alt: {en: A card, es: Una tarjeta}\n    card:\n      excerpt: {en: Hi, es: Hola}",
    ),
    ("card", "{excerpt: {en: Hi, es: Hola}, template: quote, size: landscape, attribution: {en: Us, es: Nosotros}}"),
    ("card", "{slogan: {en: Hi, es: Hola}, template: bilingual, size: null}"),
    ("card", "{slogan: {en: Hi, es: Hola}, excerpt: null}"),
    ("card", "null"),
]

REJECTED = [
    ("timezone", '"America/New York"', "timezone"),
    ("paused", "maybe", "paused"),
    ("enabled", "2", "accounts.outbox.enabled"),
    ("background", '["#000000", "#111111", "#222222"]', "brand.background"),
    ("text_color", "white", "brand.text_color"),
    ("default_late", '"soon"', "defaults.max_late"),
    ("default_late", "-5", "defaults.max_late"),
    ("default_late", "1.5h", "defaults.max_late"),
    ("handle", "not a handle", "accounts.bsky.handle"),
    ("image_bytes", "0", "accounts.bsky.max_image_bytes"),
    ("queue_start", "2026-13-01", "queue.starts"),
    ("slot", '"tue,thu"', "queue.slots[0]"),
    ("post_id", "P1", "posts[0].id"),
    ("text", "{}", "posts[0].text"),
    ("text", '{en: Hi, es: "  "}', "posts[0].text.es"),
    ("bsky_id", "Bsky", "accounts.Bsky"),
    ("hashtags", '["#2026"]', "posts[0].hashtags[0]"),
    ("hashtags", '["two words"]', "posts[0].hashtags[0]"),
    ("hashtags", "Haiti", "posts[0].hashtags"),
    ("link", "ftp://example.org", "posts[0].link"),
    ("timing", "at: 2026-12-01", "posts[0].at"),
    ("timing", "at: 2026-04-31 09:00", "posts[0].at"),
    ("timing", "at: 2026-12-01 25:00", "posts[0].at"),
    ("timing", "at: 1764597600", "posts[0].at"),
    ("timing", "every: daily", "posts[0].every"),
    ("timing", "every: mon tue 09:00", "posts[0].every"),
    ("timing", "every: mondays 09:00", "posts[0].every"),
    ("timing", "every: weekdays,sat 09:00", "posts[0].every"),
    ("timing", "every: 24:00", "posts[0].every"),
    ("timing", 'every: "0 9 * *"', "posts[0].every"),
    ("timing", 'every: "60 9 * * *"', "posts[0].every"),
    ("timing", 'every: "0 9 * * monday"', "posts[0].every"),
    ("timing", 'every: "0 9 0 * *"', "posts[0].every"),
    ("timing", "starts: 2026-12-01 09:00", "posts[0].starts"),
    ("timing", "at: 2026-12-01 09:00\n    until: 2026-12-31 09:00", "posts[0].until"),
    ("timing", "at: 2026-12-01 09:00\n    thread: sometimes", "posts[0].thread"),
    ("timing", "at: 2026-12-01 09:00\n    accounts: [Outbox]", "posts[0].accounts[0]"),
    ("timing", "at: 2026-12-01 09:00\n    alt: {en: '', es: x}", "posts[0].alt.en"),
    ("card", "{slogan: {en: Hi, es: Hola}, template: quote}", "posts[1].card.template"),
    ("card", "{excerpt: {en: Hi, es: Hola}, template: slogan}", "posts[1].card.template"),
    ("card", "{size: square}", "posts[1].card"),
    ("card", "{slogan: {en: Hi, es: Hola}, colour: red}", "posts[1].card.colour"),
]


HEAD = "timezone: UTC\nlanguages: [en]\n"
OUTBOX = "accounts:\n  outbox: {platform: outbox, languages: [en]}\n"
# (the file, where validate puts the error, where the schema does when that differs)
WHOLE_FILES_REJECTED: list[tuple[str, str, str | None]] = [
    (HEAD + "accounts: {}\n", "accounts", None),
    (HEAD + "accounts:\n  main: {languages: [en]}\n", "accounts.main", None),
    (HEAD + "accounts:\n  Main: {platform: outbox, languages: [en]}\n", "accounts.Main", None),
    # uniqueItems names the list, not the second copy
    (
        HEAD + "accounts:\n  main: {platform: outbox, languages: [en, en]}\n",
        "accounts.main.languages[1]",
        "accounts.main.languages",
    ),
    (HEAD + OUTBOX + "queue: {slots: []}\n", "queue.slots", None),
    (HEAD + OUTBOX + "queue: null\n", "queue", None),
    (HEAD + OUTBOX + "brand: {fonts: {italic: x.ttf}}\n", "brand.fonts.italic", None),
    (HEAD + OUTBOX + "defaults: {card_size: square, accounts: [outbox], api_key: x}\n", "defaults.api_key", None),
    (HEAD + OUTBOX + "posts: null\n", "posts", None),
]


def _campaign(field: str, value: str) -> str:
    return TEMPLATE.format(**{**PLAIN, field: value})


@pytest.fixture
def written(project: Path) -> Callable[[list[str]], list[Path]]:
    def write(texts: list[str]) -> list[Path]:
        paths = []
        for number, text in enumerate(texts):
            path = project / f"campaign-{number:03d}.yaml"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths

    return write


def test_the_plain_campaign_is_valid(
    written: Callable[[list[str]], list[Path]], run_cli: Callable[..., Result]
) -> None:
    (path,) = written([TEMPLATE.format(**PLAIN)])
    assert validate_errors(run_cli, path) == set()
    assert check_jsonschema(SCHEMA, [path]) == {path: set()}


def test_every_form_validate_accepts_passes_the_schema(
    written: Callable[[list[str]], list[Path]], run_cli: Callable[..., Result]
) -> None:
    paths = written([_campaign(field, value) for field, value in ACCEPTED])
    by_schema = check_jsonschema(SCHEMA, paths)
    for (field, value), path in zip(ACCEPTED, paths, strict=True):
        assert validate_errors(run_cli, path) == set(), f"validate rejects {field}: {value}"
        assert by_schema[path] == set(), f"the schema rejects {field}: {value}"


def test_values_validate_rejects_fail_the_schema_at_the_same_key(
    written: Callable[[list[str]], list[Path]], run_cli: Callable[..., Result]
) -> None:
    paths = written([_campaign(field, value) for field, value, _ in REJECTED])
    by_schema = check_jsonschema(SCHEMA, paths)
    for (field, value, where), path in zip(REJECTED, paths, strict=True):
        assert validate_errors(run_cli, path) == {where}, f"validate on {field}: {value}"
        assert by_schema[path] == {where}, f"the schema on {field}: {value}"


def test_whole_files_validate_rejects_fail_the_schema_at_the_same_key(
    written: Callable[[list[str]], list[Path]], run_cli: Callable[..., Result]
) -> None:
    paths = written([text for text, _, _ in WHOLE_FILES_REJECTED])
    by_schema = check_jsonschema(SCHEMA, paths)
    for (text, where, schema_where), path in zip(WHOLE_FILES_REJECTED, paths, strict=True):
        assert validate_errors(run_cli, path) == {where}, f"validate on {text}"
        assert by_schema[path] == {schema_where or where}, f"the schema on {text}"


# --- each pattern against its validator, value by value ---------------------------------------


def _accepts(kind: Any, value: Any, context: dict[str, Any] | None = None) -> bool:
    try:
        TypeAdapter(kind).validate_python(value, context=context)
    except (ValidationError, ValueError):
        return False
    return True


def _cron_candidates() -> list[str]:
    fields = (
        ["0", "59", "60", "*", "*/15", "0-30/5", "5,10", "a"],
        ["9", "23", "24", "9-17", "*/2", "*/30"],
        ["*", "1", "31", "0", "32", "1,15"],
        ["*", "12", "13", "jan", "Jan-MAR", "foo"],
        ["*", "0", "7", "8", "mon", "MON-FRI", "monday", "sun,sat"],
    )
    return [" ".join(parts) for parts in itertools.product(*fields)] + ["0 9 * * 5-1", "*/0 9 * * *", "0 9 31-1 * *"]


def _readable_candidates() -> list[str]:
    days = ["mon", "Tue", "friday", "SUNDAY", "mon,wed", "tue , thu", "mon-fri", "fri-mon", "daily", "weekdays"]
    days += ["weekends", "mondays", "mon,daily", "weekdays,sat", "mon-", "xyz"]
    times = ["09:00", "7:30", "23:59", "24:00", "12:60", "09:00,18:30", "09:00 , 18:30", "9", "9:0", "09:00:00"]
    tokens = days + times
    pairs = [f"{a} {b}" for a, b in itertools.product(tokens, repeat=2)]
    return tokens + pairs + [f"{a} {b} {c}" for a, b, c in itertools.product(times[:3], days[:4], times[:3])]


def _moment_candidates() -> list[str]:
    days = ["2026-12-01", "2026-02-29", "2026-02-30", "2026-04-31", "2026-13-01", "20261201", "2026-W49-2", "2026W492"]
    clocks = ["09:00", "09", "0900", "09:00:30", "09:00:30.5", "09:00:30,25", "9:00", "24:00", "09:60"]
    zones = ["", "Z", "z", "-05:00", "+0530", "-05", " -05:00", "+25:00"]
    joined = [f"{d}{s}{c}{z}" for d, s, c, z in itertools.product(days, ["T", " ", "t", "x", "\t"], clocks, zones)]
    return [*joined, *days, " 2026-12-01 09:00 ", "2026-12-01  09:00", ""]


CANDIDATES: dict[str, tuple[Any, list[Any], Callable[[Any], bool]]] = {
    # name: (where in the schema, values, whether the validator accepts one)
    "every": (
        ("$defs", "Post", "properties", "every"),
        _cron_candidates() + _readable_candidates(),
        lambda v: _accepts(models.Schedule, v),
    ),
    "at": (
        ("$defs", "Post", "properties", "at"),
        _moment_candidates(),
        lambda v: _accepts(models.Moment, v, {"timezone": ZoneInfo("America/New_York")}),
    ),
    "queue.starts": (
        ("$defs", "Queue", "properties", "starts"),
        ["2026-12-19", "20261219", "2026-W51-6", "2026W516", "2026-W51", "2026-12", "2026-02-30", " 2026-12-19 "],
        lambda v: _accepts(models.Day, v),
    ),
    "max_late": (
        ("$defs", "Post", "properties", "max_late"),
        [
            "1h",
            "90m",
            "1h30m",
            "2d",
            "45s",
            "10min",
            "1d2h3m4s",
            "1d 2h",
            " 5m ",
            "",
            "h",
            "1",
            "1H",
            "1.5h",
            "-1h",
            "1m1h",
            0,
            90,
            -5,
            1.5,
            True,
        ],
        lambda v: _accepts(models.Duration, v),
    ),
    "id": (
        ("$defs", "Post", "properties", "id"),
        ["p1", "a", "0", "a-b_c", "-a", "_a", "A", "a b", "é", "a" * 64, "a" * 65, ""],
        lambda v: _accepts(models.Identifier, v),
    ),
    "hashtag": (
        ("$defs", "Post", "properties", "hashtags", "items"),
        [
            "Haiti",
            "#Haiti",
            "Haití",
            "Ayiti_2026",
            "ÉtatsUnis",
            "北京",
            "2026",
            "#2026",
            "٢٠٢٦",
            "#",
            "",
            "##a",
            "two words",
            "a-b",
            "½",
            "x²",
            "a\u0301",
        ],
        lambda v: _accepts(models.Hashtag, v),
    ),
    "colour": (
        ("$defs", "Brand", "properties", "text_color"),
        ["#ffffff", "#ABCdef", "#fff", "ffffff", "#fffffff", "#gggggg", "white"],
        lambda v: _accepts(models.Color, v),
    ),
    "language": (
        ("properties", "languages", "items"),
        ["en", "es", "haw", "pt-BR", "EN", "e", "engl", "pt-br", "pt_BR", ""],
        lambda v: _accepts(models.LanguageCode, v),
    ),
    "link": (
        ("$defs", "Post", "properties", "link"),
        [
            "https://example.org",
            "http://a",
            "https://a.b/c?d#e",
            "https://a:8080/",
            "HTTPS://a",
            "ftp://a",
            "https://",
            "https://a b",
            "https:///a",
            "example.org",
        ],
        lambda v: _accepts(models.HttpUrl, v),
    ),
    "boolean": (
        ("$defs", "OutboxAccount", "properties", "enabled"),
        [True, False, 0, 1, 2, "yes", "No", "ON", "off", "y", "N", "t", "F", "True", "1", "0", "2", "maybe", " yes"],
        lambda v: _accepts(bool, v),
    ),
    "max_image_bytes": (
        ("$defs", "XAccount", "properties", "max_image_bytes"),
        [1, 2_000_000, 0, -1, "5000000", "5_000_000", " 7 ", "+7", "0", "-7", "1e3", "7.0", "7.5", 7.5, "0x10"],
        lambda v: _accepts(models.XAccount, {"platform": "x", "languages": ["en"], "max_image_bytes": v}),
    ),
    "handle": (
        ("$defs", "BlueskyAccount", "properties", "handle"),
        ["team.bsky.social", "@Team.Bsky.Social", "a.b", "a-b.c-d.e", "-a.b", "a-.b", "a.1b", "a", "a..b", "a b.c"],
        lambda v: _accepts(models.BlueskyAccount, {"platform": "bluesky", "languages": ["en"], "handle": v}),
    ),
}
# What only the validator can tell: an empty cron range or a zero step, and 29 February of a common year.
KNOWN_WIDER = {"every": re.compile(r"^0 9 (?:\* \* 5-1|31-1 \* \*)$|^\*/0 "), "at": re.compile(r"^2026-02-29")}


def test_the_timezone_pattern_admits_every_installed_zone() -> None:
    pattern = document()["properties"]["timezone"]["pattern"]
    assert all(re.fullmatch(pattern.strip("^$"), zone) for zone in available_timezones())


def test_each_pattern_accepts_exactly_what_its_validator_accepts(tmp_path: Path) -> None:
    schema = document()
    properties = {}
    for name, (where, _, _) in CANDIDATES.items():
        node: Any = schema
        for step in where:
            node = node[step]
        properties[name] = {"type": "array", "items": node}
    probe = tmp_path / "probe.schema.json"
    probe.write_text(json.dumps({"$schema": DIALECT, "$defs": schema["$defs"], "properties": properties}))
    instance = tmp_path / "values.json"
    instance.write_text(json.dumps({name: values for name, (_, values, _) in CANDIDATES.items()}))
    rejected = check_jsonschema(probe, [instance])[instance]
    for name, (_, values, accepts) in CANDIDATES.items():
        by_schema = {i for i in range(len(values)) if f"{name}[{i}]" not in rejected}
        by_validator = {i for i, value in enumerate(values) if accepts(value)}
        assert [values[i] for i in sorted(by_validator - by_schema)] == [], f"{name}: the schema rejects these"
        wider = KNOWN_WIDER.get(name)
        unexplained = [values[i] for i in sorted(by_schema - by_validator) if not (wider and wider.search(values[i]))]
        assert unexplained == [], f"{name}: the schema accepts these"
