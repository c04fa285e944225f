"""What each platform's text will be, and how long each platform says it is.

X counts by twitter-text's weighted rules, Mastodon counts graphemes with every URL as 23 and
`@user@domain` as `@user`, Bluesky counts graphemes and UTF-8 bytes. The counters import no
platform SDK, so `validate` stays fast; tests hold them equal to the platforms' own libraries.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


# A gap between words: a run of grapheme clusters that are white space throughout (a space that
# carries a combining mark belongs to the word after it, so a break never cuts a cluster).
_GAP = regex.compile(r"(?:(?=\s)\X(?<=\s))+")
# A word that may end a sentence: end punctuation, then any closing quotes or brackets. It does end
# one when the next word does not start in lower case (a link may) and it is no abbreviation
# (U.S., EE.UU., Dr.).
_SENTENCE_END = regex.compile(r"[.!?…‽][\p{Pf}\p{Pe}\"']*$")
_ABBREVIATION = regex.compile(
    r"(?:^|[^\w.])(?:(?:\w{1,2}\.){2,}|(?i:mr|mrs|ms|dr|dra|sr|sra|srta|st|jr|prof|gen|gov|sen|rep)\.)"
    r"[\p{Pf}\p{Pe}\"']*$"
)
_LOWER_CASE_START = regex.compile(r"^[\p{Pi}\p{Ps}\"'¿¡]*\p{Ll}(?![\w.+-]*://)")
# A clause ends after a comma, semicolon, colon or dash (or a ! ? … inside a sentence), and before
# a spaced dash or a conjunction.
_CLAUSE_END = regex.compile(r"[,;:—–!?…‽][\p{Pf}\p{Pe}\"']*$")
_DASH_START = regex.compile(r"^[—–]")
_CONJUNCTIONS = frozenset(
    {"and", "but", "or", "nor", "because", "while", "whereas", "although", "though"}
    | {"y", "e", "o", "u", "ni", "pero", "sino", "que", "porque", "aunque", "mientras"}
)
_LINE_BREAKS = frozenset("\n\r\v\f\x85\u2028\u2029")

# What ending a part at each kind of break costs: a sentence end or a line break nothing, a clause
# break a little, a plain word break more, a cut inside a word far more.
_SENTENCE_BREAK, _CLAUSE_BREAK, _CONJUNCTION_BREAK, _WORD_BREAK, _CUT = 0.0, 3.0, 4.0, 6.0, 100.0
# Balance: each part is aimed at the average length, costing its squared relative distance from
# it. A part under 45% of the average is also short, at _SHORT_COST per average length missing: a
# sentence end still beats a word break for a part down to about 41% of the average (26% of the
# longest of two). A part that is a single word costs more than anything but an extra part.
_SHORT_SHARE = 0.45
_SHORT_COST = 150.0
_LONE_WORD_COST = 1000.0


def split_thread(text: str, platform: str, *, numbered: bool = True, max_parts: int = 25) -> list[str]:
    """`text` as one post if it fits `platform`, else as a thread of parts that each fit.

    The thread has as few parts as possible; among those splits, parts end at sentence ends
    rather than clause breaks, at clause breaks rather than between words, and are of even
    length, none a single word or a short tail where another split avoids it. A URL, hashtag or
    mention is never cut, nor is a grapheme cluster; a longer word is cut only when it cannot
    fit a post. Line breaks inside a part are kept. Numbered parts end with " 1/3".
    """
    if fits(platform, text) or platform not in LIMITS:
        return [text]
    body = text.strip()
    if not body:
        return []  # only white space: nothing to post
    words = _words(body)
    total_guess = 2
    while True:
        # Every part is measured with the widest number it could carry, so the numbers always fit.
        suffix = f" {total_guess}/{total_guess}" if numbered else ""
        parts = _pack(body, words, platform, suffix, max_parts)
        if not numbered or len(str(len(parts))) <= len(str(total_guess)):
            break
        total_guess = len(parts)
    if numbered:
        return [f"{part} {i}/{len(parts)}" for i, part in enumerate(parts, 1)]
    return parts


def _words(body: str) -> list[tuple[int, int, float]]:
    """Where each word of `body` starts and ends, and what ending a part after it costs."""
    gaps = list(_GAP.finditer(body))
    spans = list(zip([0] + [gap.end() for gap in gaps], [gap.start() for gap in gaps] + [len(body)], strict=True))
    words = []
    for index, (start, end) in enumerate(spans):
        if index == len(gaps):
            words.append((start, end, 0.0))
            continue
        following = body[spans[index + 1][0] : spans[index + 1][1]]
        cost = _break_cost(body[start:end], gaps[index].group(), following)
        words.append((start, end, cost))
    return words


def _break_cost(word: str, gap: str, following: str) -> float:
    if not _LINE_BREAKS.isdisjoint(gap):
        return _SENTENCE_BREAK
    if _SENTENCE_END.search(word) and not _LOWER_CASE_START.match(following) and not _ABBREVIATION.search(word):
        return _SENTENCE_BREAK
    if _CLAUSE_END.search(word) or _DASH_START.match(following):
        return _CLAUSE_BREAK
    if following in _CONJUNCTIONS:
        return _CONJUNCTION_BREAK
    return _WORD_BREAK


@functools.lru_cache(maxsize=16_384)
def _piece_length(platform: str, piece: str) -> int:
    """A word's or gap's length: they repeat within a text and across posts, and X counts some slowly."""
    return length(platform, piece)


def _pack(body: str, words: list[tuple[int, int, float]], platform: str, suffix: str, max_parts: int) -> list[str]:
    """The parts of the best split of `body` (see `split_thread`), each fitting with `suffix` added.

    The split is a dynamic programme over the breaks between pieces (words, or the grapheme
    clusters of a word too long for one post). A part's length is estimated as the sum of its
    pieces' and gaps' lengths, which is exact but for rare contexts (twitter-text may read a URL
    differently inside a longer text); the chosen parts are checked with `fits`, and if one fails
    the split is redone measuring every candidate part in full.
    """
    limit = LIMITS[platform]
    room = limit.length - length(platform, suffix)
    byte_room = None if limit.max_bytes is None else limit.max_bytes - len(suffix.encode("utf-8"))
    starts: list[int] = []
    ends: list[int] = []
    word_of: list[int] = []  # which word each piece belongs to
    costs: list[float] = []  # of a break after each piece
    total = [0]  # length of all pieces and gaps before each piece
    total_bytes = [0]
    gap_length: list[int] = []  # of the gap after each piece
    gap_bytes: list[int] = []

    def add(start: int, end: int, word: int, cost: float, gap: str) -> None:
        piece = body[start:end]
        size = _piece_length(platform, gap) if gap else 0
        starts.append(start)
        ends.append(end)
        word_of.append(word)
        costs.append(cost)
        gap_length.append(size)
        gap_bytes.append(len(gap.encode("utf-8")))
        total.append(total[-1] + _piece_length(platform, piece) + size)
        total_bytes.append(total_bytes[-1] + len(piece.encode("utf-8")) + gap_bytes[-1])

    for index, (start, end, cost) in enumerate(words):
        gap = body[end : words[index + 1][0]] if index + 1 < len(words) else ""
        word = body[start:end]
        too_long = _piece_length(platform, word) > room or (
            byte_room is not None and len(word.encode("utf-8")) > byte_room
        )
        if not too_long:
            add(start, end, index, cost, gap)
            continue
        if word.startswith(("#", "@")) or "://" in word:
            raise ValueError(f"'{word[:40]}' is too long for one post on {platform} and cannot be cut")
        clusters = regex.findall(r"\X", word)
        offset = start
        for number, cluster in enumerate(clusters, 1):
            last = number == len(clusters)
            add(offset, offset + len(cluster), index, cost if last else _CUT, gap if last else "")
            offset += len(cluster)

    def estimated_fits(first: int, stop: int) -> bool:
        """Whether pieces first..stop-1 fit, by the sum of their lengths."""
        if total[stop] - total[first] - gap_length[stop - 1] > room:
            return False
        return byte_room is None or total_bytes[stop] - total_bytes[first] - gap_bytes[stop - 1] <= byte_room

    def measured_fits(first: int, stop: int) -> bool:
        return fits(platform, body[starts[first] : ends[stop - 1]] + suffix)

    for span_fits in (estimated_fits, measured_fits):
        reaches = _reaches(len(starts), span_fits)
        stuck = next((first for first, stop in enumerate(reaches) if stop == first), None)
        if stuck is not None:
            piece = body[starts[stuck] : ends[stuck]]
            raise ValueError(f"'{piece[:40]}' is too long for one post on {platform} and cannot be cut")
        breaks = _best_breaks(reaches, total, gap_length, word_of, costs, max_parts, platform)
        parts = [body[starts[first] : ends[stop - 1]] for first, stop in itertools.pairwise(breaks)]
        if span_fits is measured_fits or all(fits(platform, part + suffix) for part in parts):
            break
    return parts


def _reaches(count: int, span_fits: Callable[[int, int], bool]) -> list[int]:
    """For each piece, where the longest part starting with it stops (pieces first..stop-1), or the
    piece itself if even it alone does not fit. A part within one that fits fits too, so the stop
    only moves forward: about two checks a piece."""
    reaches = []
    stop = 1
    for first in range(count):
        stop = max(stop, first + 1)
        if stop == first + 1 and not span_fits(first, stop):
            reaches.append(first)
            continue
        while stop < count and span_fits(first, stop + 1):
            stop += 1
        reaches.append(stop)
    return reaches


def _best_breaks(
    reaches: list[int],
    total: list[int],
    gap_length: list[int],
    word_of: list[int],
    costs: list[float],
    max_parts: int,
    platform: str,
) -> list[int]:
    """The breaks (0, ..., len(reaches)) of the cheapest split into the fewest parts."""
    count = len(reaches)
    # Fewest parts for the pieces from each break to the end, and for those before it.
    after = [0] * (count + 1)
    for first in range(count - 1, -1, -1):
        after[first] = 1 + after[reaches[first]]
    parts = after[0]
    if parts > max_parts:
        raise ValueError(f"the text needs more than {max_parts} posts on {platform}")
    before = [0] * (count + 1)
    earliest = [0] * (count + 1)  # the first piece a part ending at each break may start with
    first = 0
    for stop in range(1, count + 1):
        while reaches[first] < stop:
            first += 1
        earliest[stop] = first
        before[stop] = before[first] + 1
    # Only breaks on some split into `parts` parts are considered, each reached from the layer before.
    target = max(total[count] / parts, 1.0)
    cheapest = [math.inf] * (count + 1)
    cheapest[0] = 0.0
    previous = [0] * (count + 1)
    for stop in range(1, count + 1):
        layer = before[stop] - 1
        if layer + 1 + after[stop] != parts:
            continue
        end = total[stop] - gap_length[stop - 1]
        break_cost = costs[stop - 1] if stop < count else 0.0
        last_word = word_of[stop - 1]
        best, best_first = math.inf, 0
        for first in range(earliest[stop], stop):
            if before[first] != layer or cheapest[first] == math.inf:
                continue
            share = (end - total[first]) / target
            cost = cheapest[first] + break_cost + (share - 1.0) ** 2
            if share < _SHORT_SHARE:
                cost += _SHORT_COST * (_SHORT_SHARE - share)
            if word_of[first] == last_word:
                cost += _LONE_WORD_COST
            if cost < best:
                best, best_first = cost, first
        cheapest[stop], previous[stop] = best, best_first
    breaks = [count]
    while breaks[-1]:
        breaks.append(previous[breaks[-1]])
    return breaks[::-1]


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
