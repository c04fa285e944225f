"""The usual slips of a person editing posts.yaml, reported where they are in everyday words; a broken
setting hides no other problem; and the partial campaign the preview shows while there are errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler import content
from tests.conftest import NOW, ROOT, Result

SETTINGS = """timezone: America/New_York
languages: [en, es]
accounts:
  outbox: {platform: outbox, languages: [en, es]}
"""


def validate(project: Path, run_cli: Callable[..., Result], text: str | bytes) -> Result:
    path = project / "posts.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return run_cli("validate", "--now", NOW)


# --- syntax slips -----------------------------------------------------------------------------


def test_every_slip_is_reported_at_once_each_on_its_own_line(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project,
        run_cli,
        SETTINGS
        + "posts:\n"
        + "  - id: p1\n"
        + "    text: {en: Hi, es: Hola}\n"
        + "    at:2026-12-01 09:00\n"
        + "  - id: p2\n"
        + "    text:\n"
        + "      en:Hello\n"
        + "      es: Hola\n"
        + "    at: 2026-12-02 09:00\n"
        + "  - id: p3\n"
        + "    text:\n"
        + '      en: "Bye\n'
        + '      es: "Adiós"\n'
        + "    at: 2026-12-03 09:00\n",
    )
    assert result.lines == [
        'posts.yaml:8:7: posts[0].at: a colon needs a space after it: write "at: 2026-12-01 09:00", '
        'not "at:2026-12-01 09:00"',
        'posts.yaml:11:9: posts[1].text.en: a colon needs a space after it: write "en: Hello", not "en:Hello"',
        'posts.yaml:16:11: posts[2].text.en: this " is not closed: end the text with " on the same line',
        "posts.yaml: 3 errors, 0 warnings",
    ]
    assert result.exit_code == 1


def test_slips_are_found_in_a_file_with_windows_line_endings(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + "posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    at:2026-12-01 09:00\n"
    result = validate(project, run_cli, text.replace("\n", "\r\n").encode())
    assert result.lines[0] == (
        'posts.yaml:8:7: posts[0].at: a colon needs a space after it: write "at: 2026-12-01 09:00", '
        'not "at:2026-12-01 09:00"'
    )


def test_a_colon_without_space_at_the_top_level(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(project, run_cli, "timezone:America/New_York\nlanguages: [en]\n")
    assert result.lines[0] == (
        "posts.yaml:1:9: timezone: a colon needs a space after it: write "
        '"timezone: America/New_York", not "timezone:America/New_York"'
    )


def test_a_colon_without_space_inside_braces_is_read_as_meant(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project, run_cli, SETTINGS + "posts:\n  - id: p1\n    text: {en:Hello, es: Hola}\n    at: 2026-12-01 09:00\n"
    )
    # One error, and nothing about a language called "en:Hello".
    assert result.lines == [
        'posts.yaml:7:14: posts[0].text.en: a colon needs a space after it: write "en: Hello", not "en:Hello"',
        "posts.yaml: 1 error, 0 warnings",
    ]


def test_a_missing_colon(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(project, run_cli, SETTINGS + "posts:\n  - id p1\n    text: {en: Hi, es: Hola}\n")
    assert result.lines[0] == 'posts.yaml:6:7: posts[0].id: a colon is missing after "id": write "id: p1"'


def test_a_quote_inside_double_quotes(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project, run_cli, SETTINGS + 'posts:\n  - id: p1\n    text:\n      en: "They said "no" again"\n      es: Hola\n'
    )
    assert result.lines[0] == (
        'posts.yaml:8:22: posts[0].text.en: a " inside the text ends it early: inside double quotes write \\" for a '
        "quotation mark, or use curly quotes “ ”"
    )


def test_a_nested_key_indented_deeper_than_its_sibling(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project,
        run_cli,
        SETTINGS + "posts:\n  - id: p1\n    text:\n      en: Hi\n        es: Hola\n    at: 2026-12-01 09:00\n",
    )
    assert result.lines[0] == (
        'posts.yaml:9:9: posts[0].text.es: "es" is indented more than "en" above it, so it is read as part of '
        'the value of "en": line them up'
    )


def test_the_first_key_of_a_block_out_of_step_with_the_keys_below_it(
    project: Path, run_cli: Callable[..., Result]
) -> None:
    text = SETTINGS + "posts:\n   - id: p1\n    text: {en: Hi, es: Hola}\n    at: 2026-12-01 09:00\n"
    result = validate(project, run_cli, text)
    # One slip (the first post's "- id"), not one per key after it.
    assert result.lines == [
        'posts.yaml:6:6: posts[0].id: "id" is indented 5 spaces, but "text" below it is indented 4 spaces: '
        "the keys of one block must line up",
        "posts.yaml: 1 error, 0 warnings",
    ]


def test_a_key_halfway_between_two_blocks_names_both(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + "posts:\n  - id: p1\n    text:\n      en: Hi\n      es: Hola\n     at: 2026-12-01 09:00\n"
    result = validate(project, run_cli, text)
    assert result.lines[0] == (
        'posts.yaml:10:6: "at" is indented 5 spaces, but the keys above it are indented 6 ("es") or 4 ("text"): '
        "line it up with the one it belongs with"
    )


def test_a_missing_comma_between_quoted_items(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + 'posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    hashtags: ["Haiti" "MSS"]\n'
    result = validate(project, run_cli, text)
    assert result.lines[0] == (
        'posts.yaml:8:23: posts[0].hashtags[0]: a comma is missing after "Haiti": separate the items with commas'
    )


def test_a_list_item_among_keys(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(project, run_cli, SETTINGS + "  - x-en\n")
    assert result.lines[0] == (
        'posts.yaml:5:3: "- x-en" is a list item, but the lines around it are "key: value" lines, like "outbox:" '
        'above it: remove the "- ", or check its indentation'
    )


def test_a_list_item_indented_deeper_is_not_read_as_more_words(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(project, run_cli, SETTINGS + "queue:\n  slots:\n    - tue 10:00\n      - thu 10:00\nposts: []\n")
    assert result.lines == [
        'posts.yaml:8:7: queue.slots[0]: "- thu 10:00" is indented more than the line above it, so it is read as '
        "part of that line: line up the items of a list",
        "posts.yaml: 1 error, 0 warnings",
    ]


def test_curly_quotes_inside_straight_quotes_are_published_as_written(
    project: Path, run_cli: Callable[..., Result]
) -> None:
    text = (
        SETTINGS
        + 'posts:\n  - id: p1\n    text: {en: "“Free Haiti!”", es: "«¡Haití libre!»"}\n    at: 2026-12-01 09:00\n'
    )
    result = validate(project, run_cli, text)
    assert result.exit_code == 0
    assert result.lines[-1].endswith("0 errors, 0 warnings")
    campaign = content.load(project / "posts.yaml", now=datetime(2026, 11, 28, tzinfo=UTC))
    assert campaign.posts[0].text == {"en": "“Free Haiti!”", "es": "«¡Haití libre!»"}


def test_curly_quotes_cut_by_a_comma_inside_brackets(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + "posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    hashtags: [“Haiti, MSS”, Kenya]\n"
    result = validate(project, run_cli, text + "    at: 2026-12-01 09:00\n")
    assert result.lines == [
        "posts.yaml:8:16: posts[0].hashtags[0]: curly quotes “…” are not YAML quotes: write the text in straight "
        'quotes, "Haiti, MSS" (or "“Haiti, MSS”" to publish the curly ones)',
        "posts.yaml: 1 error, 0 warnings",
    ]


@pytest.mark.parametrize(
    ("written", "meant", "fixed"),
    [
        ("2026-12-01 10am", "10:00", "2026-12-01 10:00"),
        ("2026-12-01 10 AM", "10:00", "2026-12-01 10:00"),
        ("2026-12-01 10.30pm", "22:30", "2026-12-01 22:30"),
        ("2026-12-01 10:30 p.m.", "22:30", "2026-12-01 22:30"),
        ("2026-12-01 12am", "00:00", "2026-12-01 00:00"),
        ("2026-12-01 12pm", "12:00", "2026-12-01 12:00"),
        ("2026-12-01 9.05", "09:05", "2026-12-01 09:05"),
    ],
)
def test_a_twelve_hour_or_dotted_time(
    written: str, meant: str, fixed: str, project: Path, run_cli: Callable[..., Result]
) -> None:
    result = validate(
        project, run_cli, SETTINGS + f"posts:\n  - id: p1\n    text: {{en: Hi, es: Hola}}\n    at: {written}\n"
    )
    slip = written.removeprefix("2026-12-01 ")
    assert result.lines[0] == (
        f"posts.yaml:8:9: posts[0].at: write the time on a 24-hour clock, as {meant} rather than {slip}: '{fixed}'"
    )


def test_an_impossible_twelve_hour_time_gets_no_24_hour_advice(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project, run_cli, SETTINGS + "posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    at: 2026-12-01 13pm\n"
    )
    assert result.lines[0].startswith("posts.yaml:8:9: posts[0].at: '2026-12-01 13pm' is not a valid date and time")


def test_a_mapping_where_a_list_belongs(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(
        project,
        run_cli,
        SETTINGS + "posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    hashtags:\n      Haiti: MSS\n",
    )
    assert result.lines[0] == (
        'posts.yaml:9:7: posts[0].hashtags: must be a list, not a mapping: start each item with "- ", '
        "or write them as [a, b]"
    )


def test_a_list_where_a_mapping_belongs(project: Path, run_cli: Callable[..., Result]) -> None:
    result = validate(project, run_cli, SETTINGS + "posts:\n  - id: p1\n    text:\n      - en: Hi\n      - es: Hola\n")
    assert result.lines[0] == (
        "posts.yaml:8:7: posts[0].text: must be a mapping of keys to values, not a list: "
        'remove the "- " before each one'
    )


# --- a broken setting hides nothing else ----------------------------------------------------------


def test_a_bad_timezone_and_a_post_error_are_reported_in_one_run(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS.replace("America/New_York", "Mars/Olympus") + (
        "posts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n    accounts: [outbx]\n    at: 2026-12-01 09:00\n"
    )
    result = validate(project, run_cli, text)
    assert result.lines == [
        "posts.yaml:1:11: timezone: 'Mars/Olympus' is not an IANA timezone name such as America/New_York; "
        "until it is fixed, times are read as UTC",
        "posts.yaml:8:16: posts[0].accounts[0]: no account 'outbx'; did you mean 'outbox'?",
        "posts.yaml: 2 errors, 0 warnings",
    ]
    assert result.exit_code == 1


def test_a_missing_timezone_says_times_are_read_as_utc(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS.replace("timezone: America/New_York\n", "") + (
        "posts:\n  - id: p1\n    text: {en: Hi}\n    at: 2026-12-01 09:00\n"
    )
    result = validate(project, run_cli, text)
    assert result.lines == [
        "posts.yaml:1:1: missing required setting 'timezone'; until it is set, times are read as UTC",
        "posts.yaml:6:11: posts[0].text: missing text.es: account outbox posts in es "
        "(a post needs every language its accounts post)",
        "posts.yaml: 2 errors, 0 warnings",
    ]


def test_broken_accounts_do_not_make_every_post_wrong(project: Path, run_cli: Callable[..., Result]) -> None:
    text = (
        "timezone: America/New_York\nlanguages: [en, es]\naccounts:\n  - outbox\nposts:\n"
        "  - id: p1\n    text: {en: Hi, es: Hola}\n    accounts: [outbox]\n    at: 2026-12-01 09:00\n"
        "  - id: p1\n    text: {en: Bye, es: Adiós}\n    at: 2026-12-02 09:00\n"
    )
    result = validate(project, run_cli, text)
    assert result.lines == [
        'posts.yaml:4:3: accounts: must be a mapping of account ids to accounts, not a list: write "outbox: ..." '
        'lines, not "- outbox"',
        "posts.yaml:10:9: posts[1].id: duplicate post id 'p1' (first used by posts[0] on line 6)",
        "posts.yaml: 2 errors, 0 warnings",
    ]


def test_broken_languages_still_check_the_posts(project: Path, run_cli: Callable[..., Result]) -> None:
    text = (
        SETTINGS.replace("[en, es]\n", "en es\n", 1)
        + "posts:\n  - id: p1\n    text: {en: Hi}\n    at: 2026-12-01 09:00\n"
    )
    result = validate(project, run_cli, text)
    assert result.lines == [
        "posts.yaml:2:12: languages: must be a list, not 'en es'",
        "posts.yaml:7:11: posts[0].text: missing text.es: account outbox posts in es "
        "(a post needs every language its accounts post)",
        "posts.yaml: 2 errors, 0 warnings",
    ]


def test_broken_default_accounts_check_only_posts_with_their_own(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + (
        "defaults:\n  accounts: outbox\nposts:\n"
        "  - id: own\n    text: {en: Hi}\n    accounts: [outbox]\n    at: 2026-12-01 09:00\n"
        "  - id: default\n    text: {en: Hi}\n    at: 2026-12-01 09:00\n"
    )
    result = validate(project, run_cli, text)
    # Where the post without accounts goes is unknown until defaults.accounts is fixed: no guess about it.
    assert result.lines == [
        "posts.yaml:6:13: defaults.accounts: must be a list, not 'outbox'",
        "posts.yaml:9:11: posts[0].text: missing text.es: account outbox posts in es "
        "(a post needs every language its accounts post)",
        "posts.yaml: 2 errors, 0 warnings",
    ]


def test_a_broken_brand_checks_the_cards_against_the_default_fonts(
    project: Path, run_cli: Callable[..., Result]
) -> None:
    text = SETTINGS + (
        "brand:\n  fonts: NotoSans\n  background: '#000000'\n  text_color: '#010101'\nposts:\n"
        "  - id: p1\n    text: {en: Hi, es: Hola}\n    card: {slogan: {en: नमस्ते, es: Hola}}\n    at: 2026-12-01 09:00\n"
    )
    result = validate(project, run_cli, text)
    assert result.lines == [
        "posts.yaml:6:10: brand.fonts: must be a mapping of keys to values, not 'NotoSans'",
        "posts.yaml:8:15: brand.text_color: #010101 on the background #000000 has a contrast of 1.01:1; "
        "WCAG AA needs at least 4.5:1 for text to be readable",
        "posts.yaml:12:25: posts[0].card.slogan.en: warning: the card font cannot draw 'न' (U+0928), "
        "'म' (U+092E), 'स' (U+0938), 'त' (U+0924): it would show as an empty box",
        "posts.yaml: 2 errors, 1 warning",
    ]


def test_a_broken_queue_does_not_blame_the_queued_posts(project: Path, run_cli: Callable[..., Result]) -> None:
    text = SETTINGS + "queue:\n  slots: [someday]\nposts:\n  - id: p1\n    text: {en: Hi, es: Hola}\n"
    result = validate(project, run_cli, text)
    assert result.lines == [
        "posts.yaml:6:11: queue.slots[0]: 'someday' is not a schedule; write it as 'mon,wed,fri 09:00', "
        "'daily 09:00 18:30' or cron such as '0 9 * * mon'",
        "posts.yaml: 1 error, 0 warnings",
    ]


# --- the partial campaign ------------------------------------------------------------------------

CHECKED_AT = datetime(2026, 11, 28, tzinfo=UTC)


def check(project: Path, text: str) -> content.Report:
    (project / "posts.yaml").write_text(text, encoding="utf-8")
    return content.check(project / "posts.yaml", now=CHECKED_AT)


def test_partial_keeps_the_posts_without_errors(project: Path) -> None:
    report = check(
        project,
        "timezone: America/New_York\nlanguages: [en, es]\naccounts:\n"
        "  outbox: {platform: outbox, languages: [en, es]}\n"
        "  x-en: {platform: twitter, languages: [en]}\n"
        "queue:\n  slots: [tue 10:00]\n"
        "posts:\n"
        "  - id: fine\n    text: {en: Hi, es: Hola}\n    accounts: [outbox]\n    at: 2026-12-01 09:00\n"
        "  - id: half\n    text: {en: Hi}\n    accounts: [outbox]\n    at: 2026-12-01 09:00\n"
        "  - id: to-broken-account\n    text: {en: Hi}\n    accounts: [x-en]\n    at: 2026-12-01 09:00\n"
        "  - id: bad time\n    text: {en: Hi, es: Hola}\n    at: 2026-12-01 10am\n"
        "  - id: queued\n    text: {en: Hi, es: Hola}\n    accounts: [outbox]\n",
    )
    assert report.campaign is None
    assert report.errors
    assert report.partial is not None
    assert [post.id for post in report.partial.posts] == ["fine", "queued"]
    assert report.partial_indices == (0, 4)
    assert list(report.partial.accounts) == ["outbox"]
    assert report.partial.queue is not None
    assert str(report.partial.timezone) == "America/New_York"


def test_partial_is_none_when_the_accounts_are_broken(project: Path) -> None:
    report = check(
        project,
        "timezone: America/New_York\nlanguages: [en]\naccounts:\n  - outbox\n"
        "posts:\n  - id: p1\n    text: {en: Hi}\n    at: 2026-12-01 09:00\n",
    )
    assert report.errors
    assert report.partial is None
    assert report.partial_indices == ()


def test_partial_is_none_when_the_timezone_is_broken(project: Path) -> None:
    report = check(project, SETTINGS.replace("America/New_York", "Mars/Olympus") + "posts: []\n")
    assert report.errors
    assert report.partial is None


def test_partial_is_the_campaign_when_all_is_well() -> None:
    report = content.check(ROOT / "posts.yaml", now=CHECKED_AT)
    assert report.campaign is not None
    assert report.partial is report.campaign
    assert report.partial_indices == tuple(range(len(report.campaign.posts)))


def test_partial_leaves_out_what_cannot_be_drawn_or_placed(project: Path) -> None:
    report = check(
        project,
        SETTINGS + "brand:\n  logo: assets/missing.png\nqueue:\n  slots: [tue 10:00]\n  starts: someday\n"
        "posts:\n  - id: timed\n    text: {en: Hi, es: Hola}\n    at: 2026-12-01 09:00\n"
        "  - id: queued\n    text: {en: Hi, es: Hola}\n",
    )
    assert [problem.path for problem in report.errors] == ["brand.logo", "queue.starts"]
    assert report.partial is not None
    assert report.partial.brand.logo is None
    assert report.partial.queue is None  # a queue read without its start would place the posts elsewhere
    assert [post.id for post in report.partial.posts] == ["timed"]
