"""Draft posts from a bilingual statement: its slogans, and its strongest sentences as quotations.

Drafts have no `at` or `every`: they take queue slots. They are printed as posts.yaml entries, or
appended to the `posts:` list of posts.yaml with every existing byte left as it was.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from scheduler import statement, text, twins
from scheduler.errors import SchedulerError
from scheduler.models import Campaign
from scheduler.statement import Alignment, SentencePair
from scheduler.twins import MONTH_NAMES

# Used when the campaign names no accounts to count against.
DEFAULT_PLATFORMS = ("x", "mastodon", "bluesky")
QUOTES = {"en": ("“", "”"), "es": ("«", "»")}
# The authors of the statements this tool is for; the attribution used only when the campaign's
# defaults.attribution does not give one.
AUTHOR = {
    "en": "Black Alliance for Peace Haiti/Americas Team",
    "es": "Equipo Haití/Américas de la Alianza Negra por la Paz",
}
MAX_EXCERPTS = 10
MIN_SCORE = 2.0


class ExcerptError(SchedulerError):
    """The statement or posts.yaml could not be used for drafts."""


# --- reading ---------------------------------------------------------------------------------


def read_statement(paths: Sequence[Path], languages: tuple[str, str]) -> Alignment:
    """The statement in one file holding both languages one after the other, or one file per language."""
    try:
        sources = [path.read_text(encoding="utf-8") for path in paths]
    except (OSError, UnicodeDecodeError) as exc:
        raise ExcerptError(f"cannot read the statement: {exc}") from None
    try:
        if len(sources) == 1:
            sections = statement.split_languages(sources[0], len(languages))
        else:
            sections = [statement.blocks(source) for source in sources]
        first, second = (statement.parse(lang, section) for lang, section in zip(languages, sections, strict=True))
    except ValueError as exc:
        raise ExcerptError(f"{paths[0]}: {exc}") from None
    return statement.align_statements(first, second)


# --- proposing -------------------------------------------------------------------------------


@dataclass
class Draft:
    id: str
    text: dict[str, str]
    card: dict[str, Any]
    thread: bool = False
    note: str = ""  # where it comes from, shown as a comment above the entry
    words: dict[str, str] = field(default_factory=dict)  # the quoted words, without quotation marks

    def as_yaml(self) -> CommentedMap:
        entry = CommentedMap()
        entry["id"] = self.id
        entry["text"] = _quoted_map(self.text)
        if self.thread:
            entry["thread"] = True
        card = CommentedMap()
        for key, value in self.card.items():
            card[key] = _quoted_map(value) if isinstance(value, dict) else value
        entry["card"] = card
        return entry


def _quoted_map(values: dict[str, str]) -> CommentedMap:
    result = CommentedMap()
    for key, value in values.items():
        result[key] = DoubleQuotedScalarString(value)
    return result


# Words that make a sentence a claim worth quoting.
_STRONG = re.compile(
    r"\b(denounc\w*|condemn\w*|assert\w*|stand with|warn\w*|call on|call for|demand\w*|oppos\w*|reject\w*|"
    r"mobiliz\w*|must|can be no|cannot|unlawful|illegitimate|legitimacy|sovereignty|occupation|failed|"
    r"end|free|freedom|respect)\b",
    re.IGNORECASE,
)
# Openings that lean on the sentence before: out of context they dangle.
_DANGLING = re.compile(r"^(it|this|that|these|those|they|he|she|such|its|their)\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^(yet|however|but|and|so|though|although|while|prior to this|thus|also)\b", re.IGNORECASE)
_POINTS_ELSEWHERE = re.compile(r"\b(here|above|below|this letter|this vote|the letter)\b", re.IGNORECASE)
_SWEET_SPOT = (90, 230)  # characters of English: long enough to say something, short enough for X


def score(sentence: str) -> float:
    """How well a sentence stands on its own as a quotation: strong claims, names, no dangling start."""
    value = min(len(_STRONG.findall(sentence)), 3) * 1.0
    value += min(len(twins.anchors(sentence).names), 3) * 0.5
    if re.match(r"^we\b", sentence, re.IGNORECASE) or re.match(r"^there can be no\b", sentence, re.IGNORECASE):
        value += 1.5  # the organisation's own voice, or a principle
    if not sentence[:1].isupper() and not sentence.startswith(("“", '"')):
        value -= 3
    if _DANGLING.match(sentence):
        value -= 3
    if _CONNECTIVE.match(sentence):
        value -= 1.5
    if _POINTS_ELSEWHERE.search(sentence):
        value -= 4
    low, high = _SWEET_SPOT
    if low <= len(sentence) <= high:
        value += 1
    elif len(sentence) < low * 0.6:
        value -= 2
    return value


@dataclass(frozen=True)
class _Candidate:
    pairs: tuple[SentencePair, ...]
    score: float

    @property
    def words(self) -> tuple[str, str]:
        return " ".join(p.first for p in self.pairs), " ".join(p.second for p in self.pairs)


def _candidates(alignment: Alignment) -> list[_Candidate]:
    """Each sure sentence pair, and each two-sentence passage of one paragraph (a little less favoured)."""
    sure = [pair for pair in alignment.sentences if not pair.doubts]
    found = [_Candidate((pair,), score(pair.first)) for pair in sure]
    for a, b in itertools.pairwise(sure):
        if a.paragraph != b.paragraph or _POINTS_ELSEWHERE.search(a.first + b.first):
            continue
        # A passage is as good as its opening, plus what a leaning second sentence gains from it.
        found.append(_Candidate((a, b), score(a.first) + max(score(b.first), 0) * 0.5 - 2.0))
    # Whatever fits one post on X beats a thread: prefer it.
    return [_Candidate(c.pairs, c.score - (0 if text.fits("x", _quote("en", c.words[0])) else 1.5)) for c in found]


def propose(
    alignment: Alignment, platforms: dict[str, tuple[str, ...]], attribution: dict[str, str] | None
) -> list[Draft]:
    """The slogans as slogan cards, then the best excerpts in statement order, each with a unique id.

    `platforms` gives the platforms each language is posted to; every variant fits all of them or
    the post is a thread. `attribution` goes on each quote card; None when the campaign has one.
    """
    first, second = alignment.languages
    drafts: list[Draft] = []
    used: set[str] = set()
    for number, (a, b) in enumerate(alignment.slogans, 1):
        words = {first: a, second: b}
        drafts.append(
            Draft(
                _unique(slug(a), used),
                dict(words),
                {"slogan": dict(words)},
                note=f"closing slogan {number}",
                words=words,
            )
        )
    chosen: list[_Candidate] = []
    taken: set[int] = set()
    for candidate in sorted(_candidates(alignment), key=lambda c: -c.score):
        if candidate.score < MIN_SCORE or len(chosen) >= MAX_EXCERPTS:
            break
        ids = {id(pair) for pair in candidate.pairs}
        if ids & taken:
            continue
        chosen.append(candidate)
        taken |= ids
    order = {id(pair): i for i, pair in enumerate(alignment.sentences)}
    for candidate in sorted(chosen, key=lambda c: order[id(c.pairs[0])]):
        a, b = candidate.words
        words = {first: a, second: b}
        quoted = {lang: _quote(lang, value) for lang, value in words.items()}
        thread = any(not text.fits(p, quoted[lang]) for lang in quoted for p in platforms.get(lang, ()))
        if thread:
            for lang, value in quoted.items():
                for platform in platforms.get(lang, ()):
                    text.split_thread(value, platform)  # raises if it cannot be a thread either
        card: dict[str, Any] = {"excerpt": dict(words), "template": "quote"}
        if attribution:
            card["attribution"] = dict(attribution)
        where = candidate.pairs[0].where
        if len(candidate.pairs) > 1:
            where += f" and {candidate.pairs[-1].where.rsplit(', ', 1)[-1]}"
        drafts.append(
            Draft(
                _unique(slug(a), used),
                quoted,
                card,
                thread=thread,
                note=f"{where} (score {candidate.score:.1f})",
                words=words,
            )
        )
    return drafts


def _quote(language: str, words: str) -> str:
    opening, closing = QUOTES.get(language, ("“", "”"))
    return f"{opening}{words}{closing}"


_SLUG_WORDS = 6


_SLUG_SKIP = frozenset({"the", "a", "an", "of", "and", "to", "in", "for", "that", "on", "by", "is", "it", "its"})


def slug(words: str) -> str:
    """A stable id from the first words: "U.S. out of Haiti!" -> us-out-of-haiti.

    A long text skips its little words, so the id says more: "We warn that the U.S. aims..." ->
    we-warn-us-aims-use-haiti.
    """
    plain = twins.plain(words).lower().replace(".", "")
    tokens = re.findall(r"[a-z0-9]+", plain)
    if len(tokens) > _SLUG_WORDS:
        tokens = [token for token in tokens if token not in _SLUG_SKIP]
    result = ""
    for token in tokens[:_SLUG_WORDS]:
        candidate = f"{result}-{token}" if result else token
        if len(candidate) > 56:
            break
        result = candidate
    return result or "excerpt"


def _unique(base: str, used: set[str]) -> str:
    candidate, number = base, 2
    while candidate in used:
        candidate, number = f"{base}-{number}", number + 1
    used.add(candidate)
    return candidate


def attribution_from(alignment: Alignment) -> dict[str, str]:
    """Each language's attribution line: the author, and the statement's date when its dateline has one."""
    result = {}
    for stated in alignment.statements:
        author = AUTHOR.get(stated.language)
        if author is None:
            continue
        day = stated.dateline
        result[stated.language] = f"{author}, {format_date(day, stated.language)}" if day else author
    return result


def format_date(day: date, language: str) -> str:
    month = MONTH_NAMES.get(language, MONTH_NAMES["en"])[day.month - 1]
    return f"{day.day} de {month} de {day.year}" if language == "es" else f"{day.day} {month} {day.year}"


def platforms_of(campaign: Campaign | None, languages: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The platforms each language goes to: the campaign's accounts, else X, Mastodon and Bluesky."""
    if campaign is None:
        return {lang: DEFAULT_PLATFORMS for lang in languages}
    result: dict[str, tuple[str, ...]] = {}
    for lang in languages:
        found = {a.platform for a in campaign.accounts.values() if lang in a.languages and a.platform in text.LIMITS}
        result[lang] = tuple(sorted(found))
    return result


# --- output ----------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a line: a folded quotation is hard to proofread
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def render(drafts: Sequence[Draft], header: Sequence[str], indent: int = 2) -> str:
    """The drafts as posts.yaml entries (a YAML list, indented to paste under `posts:`), with comments."""
    lines = [f"# {line}" if line else "#" for line in header]
    for draft in drafts:
        buffer = io.StringIO()
        _yaml().dump([draft.as_yaml()], buffer)
        lines.append("")
        lines.append(" " * indent + f"# {draft.note}")
        lines.extend(" " * indent + line[2:] if line.startswith("  ") else line for line in _entry_lines(buffer))
    return "\n".join(lines) + "\n"


def _entry_lines(buffer: io.StringIO) -> list[str]:
    # ruamel writes a top-level list as "  - id: ..." with this indentation; keep it as it is.
    return buffer.getvalue().rstrip("\n").split("\n")


@dataclass
class WriteResult:
    added: list[str]
    skipped: list[tuple[str, str]]  # id, why


def existing_words(data: Any) -> dict[str, str]:
    """Every slogan, excerpt or text already in posts.yaml (without quotation marks), with its post id."""
    found: dict[str, str] = {}
    posts = data.get("posts") if isinstance(data, dict) else None
    for post in posts if isinstance(posts, list) else []:
        if not isinstance(post, dict):
            continue
        texts = [post.get("text")]
        card = post.get("card")
        if isinstance(card, dict):
            texts += [card.get("excerpt"), card.get("slogan")]
        for localized in texts:
            if isinstance(localized, dict):
                for value in localized.values():
                    if isinstance(value, str):
                        found.setdefault(_bare(value), str(post.get("id")))
    return found


def _bare(words: str) -> str:
    return " ".join(words.strip("“”«»\"' …").split()).lower()


def already_there(draft: Draft, ids: set[str], words: dict[str, str]) -> str | None:
    """Why a draft must not be added, or None: its id is taken, or its words are already quoted."""
    if draft.id in ids:
        return f"id '{draft.id}' is already in posts.yaml"
    for value in draft.words.values():
        bare = _bare(value)
        for existing, post_id in words.items():
            if len(existing) >= 12 and (existing in bare or bare in existing):
                return f"its words are already quoted by post '{post_id}'"
    return None


def load_round_trip(path: Path) -> tuple[str, Any]:
    try:
        original = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExcerptError(f"cannot read {path}: {exc}") from None
    try:
        return original, _yaml().load(original)
    except Exception as exc:  # ruamel's errors have no common base worth naming
        raise ExcerptError(f"{path}: not YAML ruamel.yaml can keep as written: {exc}") from None


def write(path: Path, drafts: Sequence[Draft]) -> WriteResult:
    """Append the drafts not already there to the posts list of `path`, leaving every existing byte as it was."""
    original, data = load_round_trip(path)
    if not isinstance(data, CommentedMap):
        raise ExcerptError(f"{path}: the top level is not a mapping; run validate")
    posts = data.get("posts")
    if posts is None:
        posts = data["posts"] = CommentedSeq()
    if not isinstance(posts, CommentedSeq):
        raise ExcerptError(f"{path}: posts is not a list; run validate")
    ids = {str(p.get("id")) for p in posts if isinstance(p, dict)}
    words = existing_words(data)
    result = WriteResult([], [])
    for draft in drafts:
        reason = already_there(draft, ids, words)
        if reason:
            result.skipped.append((draft.id, reason))
            continue
        posts.append(draft.as_yaml())
        # A blank line and where it comes from, as between the hand-written posts.
        posts.yaml_set_comment_before_after_key(len(posts) - 1, before=f"\n{draft.note}", indent=_indent_of(posts))
        ids.add(draft.id)
        result.added.append(draft.id)
    if not result.added:
        return result
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    updated = buffer.getvalue()
    if not _only_inserted(original, updated):
        raise ExcerptError(
            f"{path}: writing would change existing lines (ruamel.yaml could not keep its formatting); "
            "nothing was written: paste the printed entries instead"
        )
    path.write_text(updated, encoding="utf-8")
    return result


def _indent_of(posts: CommentedSeq) -> int:
    """The column of the list's dashes (ruamel records where each item starts)."""
    return max(int(posts.lc.col or 0), 0) if posts and posts.lc.col is not None else 2


def _only_inserted(original: str, updated: str) -> bool:
    """Whether `updated` is `original` with one run of text inserted and nothing else changed."""
    common = 0
    limit = min(len(original), len(updated))
    while common < limit and original[common] == updated[common]:
        common += 1
    return len(updated) > len(original) and updated.endswith(original[common:])
