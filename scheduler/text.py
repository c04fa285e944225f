"""What each platform's text will be, and how long each platform says it is.

X counts by twitter-text's weighted rules, Mastodon counts graphemes with every URL as 23 and
`@user@domain` as `@user`, Bluesky counts graphemes and UTF-8 bytes. The counters import no
platform SDK, so `validate` stays fast; tests hold them equal to the platforms' own libraries.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from scheduler.models import Post


@dataclass(frozen=True)
class Limit:
    length: int
    unit: str
    max_bytes: int | None = None


LIMITS: dict[str, Limit] = {
    "x": Limit(280, "weighted characters"),
    "mastodon": Limit(500, "characters"),
    "bluesky": Limit(300, "graphemes", max_bytes=3000),
}

URL_LENGTH = 23
# Longest image description each platform takes (Bluesky has no hard limit; its app stops at 2000).
ALT_LIMITS: dict[str, int] = {"x": 1000, "mastodon": 1500, "bluesky": 2000}


def compose(post: Post, language: str) -> str:
    """The text as published: the post's words, then its link and any hashtags not already in them."""
    text = post.text[language].strip()
    present = {tag.lower() for tag in re.findall(r"#(\w+)", text)}
    trailer = [post.link] if post.link else []
    trailer += [f"#{tag}" for tag in post.hashtags if tag.lower() not in present]
    return f"{text}\n\n{' '.join(trailer)}" if trailer else text


def fingerprint(post: Post, language: str) -> str:
    """What a delivery of `post` in `language` shows (its text and card), whatever its id or time:
    the ledger uses it to recognise a post published before under another id."""
    card = post.card.model_dump(mode="json") if post.card is not None else None
    body = json.dumps([compose(post, language), card], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def length(platform: str, text: str) -> int:
    if platform == "x":
        return x_length(text)
    if platform == "mastodon":
        return mastodon_length(text)
    return graphemes(text)


@dataclass(frozen=True)
class Overage:
    """A text over a platform's limit: `count` of `limit` in `unit`."""

    count: int
    limit: int
    unit: str


def overages(platform: str, text: str) -> list[Overage]:
    limit = LIMITS.get(platform)
    if limit is None:
        return []
    found = []
    count = length(platform, text)
    if count > limit.length:
        found.append(Overage(count, limit.length, limit.unit))
    if limit.max_bytes is not None:
        size = len(text.encode("utf-8"))
        if size > limit.max_bytes:
            found.append(Overage(size, limit.max_bytes, "bytes"))
    return found


# Characters that may join a neighbour into one grapheme (marks, joiners, flags, Hangul jamo,
# CR before LF): text without any of them has one grapheme per code point.
_MAY_JOIN = regex.compile(r"[^\p{Grapheme_Cluster_Break=Other}\p{Grapheme_Cluster_Break=Control}\n]")


def fits(platform: str, text: str) -> bool:
    return not overages(platform, text)


# Sentence ends: a full stop, question or exclamation mark or ellipsis (and any closing quote),
# followed by white space. Abbreviations like "U.S." may end up split; that only costs a break.
_SENTENCE_END = regex.compile(r"(?<=[.!?…][\p{Pf}\p{Pe}\"']*)\s+")


def split_thread(text: str, platform: str, *, numbered: bool = True, max_parts: int = 25) -> list[str]:
    """`text` as one post if it fits `platform`, else as a thread of parts that each fit.

    Breaks fall between sentences where possible, else between words; a URL, hashtag or mention
    is never cut, nor is a grapheme cluster. Numbered parts end with " 1/3".
    """
    if fits(platform, text) or platform not in LIMITS:
        return [text]
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    total_guess = 2
    while True:
        parts = _pack(sentences, platform, numbered, total_guess)
        if len(parts) > max_parts:
            raise ValueError(f"the text needs more than {max_parts} posts on {platform}")
        if not numbered or len(str(len(parts))) <= len(str(total_guess)):
            break
        total_guess = len(parts)
    if numbered:
        return [f"{part} {i}/{len(parts)}" for i, part in enumerate(parts, 1)]
    return parts


def _pack(sentences: list[str], platform: str, numbered: bool, total_guess: int) -> list[str]:
    suffix = f" {total_guess}/{total_guess}" if numbered else ""

    def ok(candidate: str) -> bool:
        return fits(platform, candidate + suffix)

    parts: list[str] = []
    current = ""
    for sentence in sentences:
        joined = f"{current} {sentence}" if current else sentence
        if ok(joined):
            current = joined
            continue
        if current:
            parts.append(current)
            current = ""
        if ok(sentence):
            current = sentence
            continue
        for word in _words(sentence, platform, ok):
            joined = f"{current} {word}" if current else word
            if ok(joined):
                current = joined
            else:
                if current:
                    parts.append(current)
                current = word
    if current:
        parts.append(current)
    return parts


def _words(sentence: str, platform: str, ok: Any) -> list[str]:
    """The sentence's words; a word too long for one post is cut between grapheme clusters,
    unless it is a URL, hashtag or mention, which cannot be cut."""
    result = []
    for word in sentence.split():
        if ok(word):
            result.append(word)
            continue
        if word.startswith(("#", "@")) or "://" in word:
            raise ValueError(f"'{word[:40]}' is too long for one post on {platform} and cannot be cut")
        piece = ""
        for cluster in regex.findall(r"\X", word):
            if ok(piece + cluster):
                piece += cluster
            else:
                result.append(piece)
                piece = cluster
        if piece:
            result.append(piece)
    return result


def graphemes(text: str) -> int:
    if _MAY_JOIN.search(text) is None:
        return len(text)
    return len(regex.findall(r"\X", text))


# --- Mastodon -------------------------------------------------------------------------------

_REMOTE_MENTION = re.compile(r"(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9\.\-]+[a-z0-9]+)", re.IGNORECASE)


def mastodon_length(text: str) -> int:
    """Mastodon's length: a URL (always with a scheme there) counts 23, `@user@domain` counts as `@user`."""
    countable = text
    if "://" in text:
        countable = _mastodon_url_pattern().sub(lambda m: m.group(2) + "x" * URL_LENGTH, countable)
    countable = _REMOTE_MENTION.sub(r"\1@\3", countable)
    return graphemes(countable)


@functools.cache
def _mastodon_url_pattern() -> re.Pattern[str]:
    """Mastodon's own URL expression, as Mastodon.py ships it, read without importing the SDK."""
    source = _package_source("mastodon", "_url_regex.py")
    raw = source.split('r"""', 1)[1].split('"""', 1)[0]
    return re.compile(json.loads(raw)["source"], re.IGNORECASE)


# --- X ----------------------------------------------------------------------------------------

# Code points twitter-text weighs 1; every other one weighs 2.
_X_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")
_DOT_WORD = re.compile(r"\.([^\W\d_]+)")
# Every emoji in twitter-text's list holds at least one of these (pictographs, flag letters,
# skin tones, the keycap mark or the emoji variation selector).
_EMOJI_PART = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}\u20e3\ufe0f]")


def x_length(text: str) -> int:
    """X's weighted length, as twitter-text computes it.

    twitter-text is exact but slow (its URL and emoji expressions take about a millisecond a
    text, and importing it 0.2 s), so plain text that can hold neither a URL nor an emoji is
    counted directly; anything else goes through twitter-text.
    """
    normalized = re.sub(r"\r\n|\r", "\n", unicodedata.normalize("NFC", text))
    if _may_hold_url(normalized) or _may_hold_emoji(normalized):
        from twitter_text import parse_tweet

        return int(parse_tweet(text).weightedLength)
    return len(normalized) + len(_X_HEAVY.findall(normalized))


def _may_hold_emoji(text: str) -> bool:
    return _EMOJI_PART.search(text) is not None


def _may_hold_url(text: str) -> bool:
    if "." not in text:
        return False  # twitter-text finds no URL in a text without a dot either
    if "://" in text or ".xn--" in text.lower():
        return True
    tlds, longest = _top_level_domains()
    for match in _DOT_WORD.finditer(text):
        word = match.group(1).lower()
        if any(word[:size] in tlds for size in range(2, min(len(word), longest) + 1)):
            return True
    return False


@functools.cache
def _top_level_domains() -> tuple[frozenset[str], int]:
    """twitter-text's own TLD lists, read from its source without importing the package, and the
    length of the longest."""
    names: set[str] = set()
    for module in ("valid_gtld.py", "valid_cctld.py"):
        source = _package_source("twitter_text", f"regexp/{module}")
        pattern = "".join(re.findall(r"'((?:[^'\\]|\\.)*)'", source))
        body = pattern.split("(?:(?:", 1)[1].split(")(?=", 1)[0]
        names.update(body.lower().split("|"))
    names.discard("")
    return frozenset(names), max(map(len, names))


def _package_source(package: str, relative: str) -> str:
    """The text of a file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the Python package {package} is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / relative).read_text(encoding="utf-8")
