"""The broken-file corpus: each file gives exactly these lines from `validate --strict` and exits 1."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NOW, Result

CORPUS = Path(__file__).parent / "broken"

EXPECTED: dict[str, list[str]] = {
    "01-yaml-syntax.yaml": [
        "posts.yaml:8:5: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "02-tab-indent.yaml": [
        "posts.yaml:7:1: a tab character; indent with spaces only",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "03-duplicate-key.yaml": [
        "posts.yaml:9:5: duplicate key 'at' (first written on line 8)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "04-empty.yaml": [
        "posts.yaml:1:1: the file is empty; it should hold the campaign settings and posts",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "05-comments-only.yaml": [
        "posts.yaml:1:1: the file holds only comments; it should hold the campaign settings and posts",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "06-top-level-list.yaml": [
        "posts.yaml:1:1: the top level must be a mapping of settings (timezone, accounts, posts, ...), not a list",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "07-top-level-scalar.yaml": [
        "posts.yaml:1:1: the top level must be a mapping of settings (timezone, accounts, posts, ...), not a single value",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "08-unknown-top-level.yaml": [
        "posts.yaml:5:1: timzone: unknown setting; did you mean 'timezone'?",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "09-missing-timezone.yaml": [
        "posts.yaml:1:1: missing required setting 'timezone'",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "10-bad-timezone.yaml": [
        "posts.yaml:1:11: timezone: 'America/Port_au_Prince' is not an IANA timezone name such as America/New_York",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "11-unknown-post-key.yaml": [
        "posts.yaml:6:5: posts[0]: missing required key 'text'",
        "posts.yaml:7:5: posts[0].txt: unknown key; did you mean 'text'?",
        "posts.yaml: 2 errors, 0 warnings",
    ],
    "12-duplicate-post-id.yaml": [
        "posts.yaml:9:9: posts[1].id: duplicate post id 'p1' (first used by posts[0] on line 6)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "13-unknown-account.yaml": [
        "posts.yaml:8:16: posts[0].accounts[0]: no account 'outbx'; did you mean 'outbox'?",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "14-missing-language.yaml": [
        "posts.yaml:7:11: posts[0].text: missing text.es: account outbox posts in es (a post needs every language its accounts post)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "15-impossible-date.yaml": [
        "posts.yaml:8:9: posts[0].at: '2026-02-30 09:00' is not a valid date and time (day is out of range for month); write it as 2026-12-01 09:00 or 2026-12-01 09:00-05:00",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "16-past-at.yaml": [
        "posts.yaml:8:9: posts[0].at: warning: 2024-10-14 09:00 EDT is in the past; it will not be posted unless you post it by hand",
        "posts.yaml: 1 post, 1 account (1 enabled), languages en, es; 0 errors, 1 warning",
    ],
    "17-x-too-long.yaml": [
        "posts.yaml:9:7: posts[0].text: warning: the languages may not say the same thing: the es text is 155.5x as long as the en text (usually 0.8-1.7x); the names differ: EE.UU. and Haití in es, not in en",
        "posts.yaml:10:11: posts[0].text.es: text.es is 311/280 weighted characters for x (account x-es); cut 31, or set thread: true",
        "posts.yaml: 1 error, 1 warning",
    ],
    "18-mastodon-too-long.yaml": [
        "posts.yaml:8:11: posts[0].text.en: text.en is 536/500 characters for mastodon (account masto); cut 36, or set thread: true",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "19-bluesky-too-long.yaml": [
        "posts.yaml:8:11: posts[0].text.es: text.es is 321/300 graphemes for bluesky (account bsky); cut 21, or set thread: true",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "20-secret-in-account.yaml": [
        "posts.yaml:7:5: accounts.x-en.access_token: 'access_token' looks like a secret, and secrets never go in posts.yaml; set X_EN_ACCESS_TOKEN in the environment or in .env beside posts.yaml instead",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "21-secret-password.yaml": [
        "posts.yaml:8:5: accounts.bluesky.app_password: 'app_password' looks like a secret, and secrets never go in posts.yaml; set BLUESKY_APP_PASSWORD in the environment or in .env beside posts.yaml instead",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "22-logo-missing.yaml": [
        "posts.yaml:6:9: brand.logo: no such file: assets/missing-logo.png (paths are relative to the folder of posts.yaml)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "23-logo-outside.yaml": [
        "posts.yaml:6:9: brand.logo: '../../etc/passwd' is outside the project folder; keep assets beside posts.yaml",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "24-alias-bomb.yaml": [
        "posts.yaml:1:1: aliases (*name) expand this file to 1,868,370 values or more; at most 100,000 may come from aliases",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "25-unknown-platform.yaml": [
        "posts.yaml:4:20: accounts.main.platform: 'twitter' is not one of x, mastodon, bluesky, outbox; did you mean 'x'?",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "26-mastodon-no-instance.yaml": [
        "posts.yaml:4:10: accounts.masto: missing required key 'instance'",
        "posts.yaml:4:48: accounts.masto.instanse: unknown key; did you mean 'instance'?",
        "posts.yaml: 2 errors, 0 warnings",
    ],
    "27-bad-language-code.yaml": [
        "posts.yaml:2:13: languages[0]: 'EN' is not a language code; use a lower-case ISO 639 code such as en or es",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "28-account-language-not-in-campaign.yaml": [
        "posts.yaml:4:46: accounts.outbox.languages[1]: 'fr' is not a campaign language (en, es)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "29-at-and-every.yaml": [
        "posts.yaml:9:12: posts[0].every: give either at (one time) or every (a recurrence), not both",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "30-bad-recurrence.yaml": [
        "posts.yaml:8:12: posts[0].every: 'mondays at nine' is not a schedule; write it as 'mon,wed,fri 09:00', 'daily 09:00 18:30' or cron such as '0 9 * * mon'",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "31-bad-cron.yaml": [
        "posts.yaml:8:12: posts[0].every: '25' is not a valid hour (0-23)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "32-queued-without-queue.yaml": [
        "posts.yaml:6:5: posts[0]: has no at or every, and the campaign has no queue.slots to place it in",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "33-card-both-kinds.yaml": [
        "posts.yaml:10:7: posts[0].card: give either slogan or excerpt (one of them)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "34-card-missing-language.yaml": [
        "posts.yaml:10:15: posts[0].card.slogan: missing slogan.es: the post is published in es",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "35-bad-color.yaml": [
        "posts.yaml:6:15: brand.text_color: 'white' is not a colour; write it as #RRGGBB",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "36-bad-duration.yaml": [
        "posts.yaml:9:15: posts[0].max_late: 'an hour' is not a duration such as 30m, 2h or 1d",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "37-text-not-string.yaml": [
        "posts.yaml:7:16: posts[0].text.en: must be text, not the number 2024",
        "posts.yaml:7:26: posts[0].text.es: must be text, not true (a yes/no value; quote it if you mean text)",
        "posts.yaml: 2 errors, 0 warnings",
    ],
    "38-posts-not-list.yaml": [
        'posts.yaml:6:3: posts: must be a list of posts, not a mapping: start each post with "- ", as in "- id: ..."',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "39-bad-post-id.yaml": [
        "posts.yaml:6:9: posts[0].id: 'Post One' is not a valid id; use 1 to 64 lower-case letters, digits, '-' or '_'",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "40-size-typo.yaml": [
        "posts.yaml:11:13: posts[0].card.size: 'squar' is not one of square, portrait, landscape; did you mean 'square'?",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "41-recursive-alias.yaml": [
        "posts.yaml:5:7: an alias refers to the block that contains it",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "42-non-string-key.yaml": [
        "posts.yaml:8:7: a key must be plain text, not a list or mapping",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "43-until-before-starts.yaml": [
        "posts.yaml:10:12: posts[0].until: must be after starts",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "44-binary-junk.yaml": [
        "posts.yaml:3:1: this is not a text file (it contains NUL bytes)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "45-latin1.yaml": [
        "posts.yaml:3:1: not UTF-8 text (byte 0xe9); save the file as UTF-8",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "46-logo-not-an-image.yaml": [
        "posts.yaml:6:9: brand.logo: not an image Pillow can read (PNG, JPEG, GIF, WebP)",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "47-low-contrast.yaml": [
        "posts.yaml:7:15: brand.text_color: #999999 on the background #eeeeee has a contrast of 2.46:1; WCAG AA needs at least 4.5:1 for text to be readable",
        "posts.yaml:7:15: brand.text_color: #999999 on the background #ffffff has a contrast of 2.85:1; WCAG AA needs at least 4.5:1 for text to be readable",
        "posts.yaml: 2 errors, 0 warnings",
    ],
    "48-glyph-missing.yaml": [
        "posts.yaml:10:20: posts[0].card.slogan.en: warning: the card font cannot draw 'न' (U+0928), 'म' (U+092E), 'स' (U+0938), 'त' (U+0924): it would show as an empty box",
        "posts.yaml: 1 post, 1 account (1 enabled), languages en, es; 0 errors, 1 warning",
    ],
    "49-alt-too-long.yaml": [
        "posts.yaml:4:3: accounts: warning: no account is enabled: nothing will be posted",
        "posts.yaml:12:11: posts[0].alt.en: the alt text in en is 1050/1000 characters for x (account x-en)",
        "posts.yaml: 1 error, 1 warning",
    ],
    "50-bad-card-size.yaml": [
        "posts.yaml:6:14: defaults.card_size: 'huge' is not one of square, portrait, landscape",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "51-colon-without-space.yaml": [
        'posts.yaml:8:9: posts[0].text.en: a colon needs a space after it: write "en: Hello", not "en:Hello"',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "52-colon-without-space-at.yaml": [
        'posts.yaml:8:7: posts[0].at: a colon needs a space after it: write "at: 2026-12-01 09:00", not "at:2026-12-01 09:00"',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "53-unclosed-double-quote.yaml": [
        'posts.yaml:8:11: posts[0].text.en: this " is not closed: end the text with " on the same line',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "54-unclosed-single-quote.yaml": [
        "posts.yaml:7:16: posts[0].text.en: this ' is not closed: end the text with ' on the same line",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "55-apostrophe-in-single-quotes.yaml": [
        "posts.yaml:8:15: posts[0].text.en: the apostrophe in \"Don't\" ends the text in single quotes: write it twice (Don''t), or put the text in double quotes",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "56-key-indented-out-of-step.yaml": [
        'posts.yaml:8:6: posts[0].at: "at" is indented 5 spaces, but "text" above it is indented 4 spaces: the keys of one block must line up',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "57-list-item-out-of-step.yaml": [
        'posts.yaml:9:4: posts[1]: "- id: p2" is indented 3 spaces, but "- id: p1" above it is indented 2 spaces: the items of a list must line up',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "58-list-for-mapping.yaml": [
        'posts.yaml:4:3: accounts: must be a mapping of account ids to accounts, not a list: write "outbox: ..." lines, not "- outbox"',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "59-key-for-list-item.yaml": [
        'posts.yaml:9:3: "id" is where a list item is expected, like "- id: p1" above it: start it with "- ", or check its indentation',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "60-curly-quotes.yaml": [
        'posts.yaml:8:11: posts[0].text.en: curly quotes “…” are not YAML quotes: write the text in straight quotes, "U.S. out of Haiti!" (or "“U.S. out of Haiti!”" to publish the curly ones)',
        'posts.yaml:9:11: posts[0].text.es: curly quotes “…” are not YAML quotes: write the text in straight quotes, "¡EE.UU. fuera de Haití!" (or "“¡EE.UU. fuera de Haití!”" to publish the curly ones)',
        'posts.yaml:12:16: posts[1].text.en: curly quotes “…” are not YAML quotes: write the text in straight quotes, "Haiti, free" (or "“Haiti, free”" to publish the curly ones)',
        "posts.yaml: 3 errors, 0 warnings",
    ],
    "61-twelve-hour-times.yaml": [
        "posts.yaml:6:11: queue.slots[0]: write the time on a 24-hour clock, as 10:00 rather than 10 am: 'tue 10:00'",
        "posts.yaml:10:9: posts[0].at: write the time on a 24-hour clock, as 10:00 rather than 10am: '2026-12-01 10:00'",
        "posts.yaml:13:12: posts[1].every: write the time on a 24-hour clock, as 22:30 rather than 10.30pm: 'mon,thu 22:30'",
        "posts.yaml: 3 errors, 0 warnings",
    ],
    "62-text-with-colon.yaml": [
        'posts.yaml:8:11: posts[0].text.en: a text with ": " in it must be in double quotes: write en: "Breaking: U.S. out of Haiti"',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "63-bad-timezone-and-post-errors.yaml": [
        "posts.yaml:1:11: timezone: 'America/Port_au_Prince' is not an IANA timezone name such as America/New_York; until it is fixed, times are read as UTC",
        "posts.yaml:7:11: posts[0].text: missing text.es: account outbox posts in es (a post needs every language its accounts post)",
        "posts.yaml:11:16: posts[1].accounts[0]: no account 'outbx'; did you mean 'outbox'?",
        "posts.yaml:12:9: posts[1].at: warning: 2024-12-01 09:00 UTC is in the past; it will not be posted unless you post it by hand",
        "posts.yaml: 3 errors, 1 warning",
    ],
    "64-broken-settings-and-post-errors.yaml": [
        "posts.yaml:6:15: brand.text_color: 'white' is not a colour; write it as #RRGGBB",
        "posts.yaml:8:10: queue.slots: must be a list, not 'tue 10:00'",
        "posts.yaml:12:25: posts[0].card.slogan.en: warning: the card font cannot draw 'न' (U+0928), 'म' (U+092E), 'स' (U+0938), 'त' (U+0924): it would show as an empty box",
        "posts.yaml:14:11: posts[1].text: missing text.es: account outbox posts in es (a post needs every language its accounts post)",
        "posts.yaml: 3 errors, 1 warning",
    ],
    "65-at-sign.yaml": [
        'posts.yaml:4:37: accounts.bsky.handle: a value cannot start with @: put it in quotes, as "@team.bsky.social"',
        "posts.yaml: 1 error, 0 warnings",
    ],
    "66-card-missing-language-with-alt-limit.yaml": [
        "posts.yaml:10:16: posts[0].card.excerpt: missing excerpt.es: the post is published in es",
        "posts.yaml: 1 error, 0 warnings",
    ],
    "67-no-accounts.yaml": [  # an empty list would otherwise mean every account
        "posts.yaml:8:15: posts[0].accounts: must not be empty",
        "posts.yaml: 1 error, 0 warnings",
    ],
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file(name: str, project: Path, run_cli: Callable[..., Result]) -> None:
    shutil.copy(CORPUS / name, project / "posts.yaml")
    result = run_cli("validate", "--strict", "--now", NOW)
    assert result.lines == EXPECTED[name]
    assert result.exit_code == 1
    assert "Traceback" not in result.output
