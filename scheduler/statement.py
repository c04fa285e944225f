"""Reading a bilingual statement and aligning its languages: pure functions, no I/O.

A statement is a title, paragraphs (the first may open with a dateline such as "OCTOBER 14, 2024—")
and closing slogans (short exclamatory lines), once per language. The languages are aligned
paragraph by paragraph, then sentence by sentence, by a small dynamic programme over length ratios
and shared anchors (numbers and names, with cross-language aliases such as Haití/Haiti, EE.UU./U.S.).
Every pair the shared check of twins.py is unsure of (the one `validate` uses on a post's languages)
is reported, never silently trusted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from scheduler import twins

# --- reading ---------------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n\s*\n")
_SLOGAN_MAX_WORDS = 8
_MONTHS = {
    **{name.lower(): number for names in twins.MONTH_NAMES.values() for number, name in enumerate(names, 1)},
    "setiembre": 9,
}
# A dateline opens the first paragraph: an optional bullet, a date with a year, then a dash.
_DATELINE = re.compile(r"^[\s•·*]*(?P<date>[^\n—–-]{0,40}?\b\d{4})\s*[—–-]+\s*")
_STOPWORDS = {
    "en": frozenset(
        [
            "the",
            "of",
            "and",
            "to",
            "in",
            "is",
            "that",
            "for",
            "with",
            "on",
            "by",
            "are",
            "was",
            "it",
            "we",
            "our",
            "this",
            "not",
            "as",
            "out",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "de",
            "del",
            "y",
            "que",
            "en",
            "por",
            "para",
            "con",
            "es",
            "un",
            "una",
            "se",
            "su",
            "sus",
            "no",
            "a",
            "al",
        ]
    ),
}


@dataclass(frozen=True)
class Paragraph:
    text: str  # white space collapsed; every sentence is a slice of it
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    language: str
    title: str
    dateline: date | None
    paragraphs: tuple[Paragraph, ...]
    slogans: tuple[str, ...]


def blocks(text: str) -> list[str]:
    """The blank-line separated blocks of a text, each with its white space collapsed."""
    return [" ".join(block.split()) for block in _BLANK_LINES.split(text.replace("\r\n", "\n")) if block.strip()]


def is_slogan(block: str) -> bool:
    """A short exclamatory line, such as "Free Haiti!" or "¡EE.UU. fuera de Haití!"."""
    return len(block.split()) <= _SLOGAN_MAX_WORDS and (block.endswith("!") or block.startswith("¡"))


def guess_language(block: str) -> str | None:
    """en or es by their commonest words (and Spanish's opening ¡ ¿), or None when unclear."""
    words = re.findall(r"\w+", block.lower())
    scores = {lang: sum(word in common for word in words) for lang, common in _STOPWORDS.items()}
    scores["es"] += 3 * (block.count("¡") + block.count("¿"))
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best


def split_languages(text: str, count: int) -> list[list[str]]:
    """One text holding `count` languages one after the other, as the blocks of each.

    Each language ends with its slogans, so a new one starts at the first prose block after a run
    of slogans; when that does not give `count` parts, a change of language (by common words) does.
    """
    all_blocks = blocks(text)
    starts = [0] + [
        i for i in range(1, len(all_blocks)) if is_slogan(all_blocks[i - 1]) and not is_slogan(all_blocks[i])
    ]
    if len(starts) != count:
        starts = [0]
        current = None
        for i, block in enumerate(all_blocks):
            language = guess_language(block) if len(block.split()) >= 4 else None
            if language is None:
                continue
            if current is not None and language != current:
                starts.append(_start_of_section(all_blocks, i))
            current = language
    if len(starts) != count:
        raise ValueError(
            f"found {len(starts)} language section(s) where {count} were expected; give one file per language instead"
        )
    return [all_blocks[a:b] for a, b in zip(starts, [*starts[1:], len(all_blocks)], strict=True)]


def _start_of_section(all_blocks: list[str], index: int) -> int:
    """A section starts at its title: step back over a short block without a full stop."""
    previous = all_blocks[index - 1] if index else ""
    if previous and not is_slogan(previous) and not previous.endswith(".") and len(previous.split()) <= 20:
        return index - 1
    return index


def parse(language: str, section: Sequence[str]) -> Statement:
    """A language's blocks as title, paragraphs split into sentences, and closing slogans."""
    if len(section) < 2:
        raise ValueError(f"the {language} text needs a title and at least one paragraph")
    title, *rest = section
    slogans: list[str] = []
    while rest and is_slogan(rest[-1]):
        slogans.insert(0, rest.pop())
    dateline = None
    if rest:
        found = _DATELINE.match(rest[0])
        if found:
            dateline = parse_date(found.group("date"))
            if dateline is not None:
                rest[0] = rest[0][found.end() :]
    paragraphs = tuple(Paragraph(text, tuple(split_sentences(text))) for text in rest)
    return Statement(language, title, dateline, paragraphs, tuple(slogans))


def parse_date(text: str) -> date | None:
    """ "OCTOBER 14, 2024" or "14 DE OCTUBRE DE 2024" as a date, else None."""
    words = re.findall(r"[^\W\d_]+|\d+", text.lower())
    months = [_MONTHS[w] for w in words if w in _MONTHS]
    numbers = [int(w) for w in words if w.isdigit()]
    days = [n for n in numbers if 1 <= n <= 31]
    years = [n for n in numbers if n >= 1000]
    if len(months) != 1 or not days or not years:
        return None
    try:
        return date(years[0], months[0], days[0])
    except ValueError:
        return None


# --- sentences -------------------------------------------------------------------------------

_CANDIDATE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
# Words that end with a full stop without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "dr.",
        "mr.",
        "mrs.",
        "ms.",
        "prof.",
        "sr.",
        "sra.",
        "srta.",
        "dra.",
        "st.",
        "etc.",
        "e.g.",
        "i.e.",
        "vs.",
        "no.",
        "nº.",
        "art.",
        "núm.",
        "approx.",
        "aprox.",
        "jr.",
        "gen.",
        "gov.",
        "sen.",
        "rep.",
        "col.",
        "lt.",
        "sgt.",
        "pres.",
        "inc.",
        "ltd.",
        "co.",
        "corp.",
        "fig.",
        "p.",
        "pp.",
        "vol.",
    ]
)
# Initialisms such as U.S., U.N., EE.UU.: letters and full stops only.
_INITIALISM = re.compile(r"^(?:[A-Za-z]{1,2}\.){2,}$|^[A-Z]\.$")
# After an initialism, these words show that a new sentence has begun ("...in the U.S. The...").
_SENTENCE_OPENERS = frozenset(
    [
        "The",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "We",
        "They",
        "He",
        "She",
        "Our",
        "In",
        "On",
        "At",
        "But",
        "And",
        "Yet",
        "However",
        "El",
        "La",
        "Los",
        "Las",
        "Este",
        "Esta",
        "Estos",
        "Nosotros",
        "Nuestro",
        "Nuestra",
        "Pero",
        "Sin",
        "En",
    ]
)


def split_sentences(paragraph: str) -> list[str]:
    """The paragraph's sentences, each a slice of it; "U.S.", "EE.UU.", "Dr." end none of them."""
    sentences = []
    start = 0
    for match in _CANDIDATE_END.finditer(paragraph):
        rest = paragraph[match.end() :].lstrip()
        if not rest or not _opens_sentence(rest):
            continue
        word = paragraph[: match.end()].rsplit(None, 1)[-1].lstrip("“\"'«(¡¿")
        if match.group().startswith(".") and _is_abbreviation(word):
            next_word = rest.split(None, 1)[0]
            if next_word not in _SENTENCE_OPENERS:
                continue
        sentences.append(paragraph[start : match.end()].strip())
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _opens_sentence(text: str) -> bool:
    first = text.lstrip("“\"'«(¡¿‘")[:1]
    return bool(first) and (first.isupper() or first.isdigit())


def _is_abbreviation(word: str) -> bool:
    return word.lower() in _ABBREVIATIONS or bool(_INITIALISM.match(word))


# --- comparing a pair ------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    similarity: float  # 0 unrelated .. 1 a sure translation
    doubts: tuple[str, ...]  # why the pair may not be a translation; empty when sure


def compare(first: str, second: str, languages: tuple[str, str]) -> Check:
    """How likely `second` translates `first`, from their lengths and shared numbers and names."""
    ratio = (len(second) / max(len(first), 1)) / twins.expected_ratio(languages)
    length_score = max(0.0, 1 - abs(math.log(ratio)) / math.log(2.2))
    a, b = twins.anchors(first), twins.anchors(second)
    doubts = tuple(twins.pair_disagreements(first, second, languages))
    if a.empty and b.empty:
        return Check(0.8 * length_score, doubts)
    shared = len(a.numbers & b.numbers) + len(a.names & b.names) + _fuzzy_shared(a.other_names, b.other_names)
    total = len(a.numbers | b.numbers) + len(a.names | b.names) + max(len(a.other_names), len(b.other_names))
    anchor_score = shared / total if total else 0.5
    return Check(0.4 * length_score + 0.6 * anchor_score, doubts)


def _fuzzy_shared(first: frozenset[str], second: frozenset[str]) -> int:
    """How many names of `first` have a look-alike in `second` (Presidential/Presidencial)."""
    return sum(1 for word in first if any(_alike(word, other) for other in second))


def _alike(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    prefix = len(a) if a == b else next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
    return prefix >= 0.7 * min(len(a), len(b))


# --- aligning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """Items `first` of one language aligned with items `second` of the other (indices from 0).

    One of them is empty when an item has no counterpart; two items on one side mean the
    translation merged or split them.
    """

    first: tuple[int, ...]
    second: tuple[int, ...]
    check: Check | None = None


_SKIP_COST = 0.6  # leaving an item without a counterpart costs about as much as a poor pair
_MERGE_PENALTY = 0.2


def align(
    first: Sequence[str],
    second: Sequence[str],
    similarity: Callable[[str, str], Check],
    *,
    merges: bool = True,
) -> list[Link]:
    """The cheapest alignment keeping both orders: pairs cost 1 - similarity, skips _SKIP_COST."""
    n, m = len(first), len(second)
    moves = [(1, 1), (1, 0), (0, 1)] + ([(2, 1), (1, 2)] if merges else [])
    infinity = float("inf")
    cost = [[infinity] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, Check | None]]] = [[(0, 0, None)] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == infinity:
                continue
            for di, dj in moves:
                ni, nj = i + di, j + dj
                if ni > n or nj > m:
                    continue
                check = None
                if di and dj:
                    check = similarity(" ".join(first[i:ni]), " ".join(second[j:nj]))
                    step = 1 - check.similarity + (_MERGE_PENALTY if di + dj > 2 else 0)
                else:
                    step = _SKIP_COST
                if cost[i][j] + step < cost[ni][nj]:
                    cost[ni][nj] = cost[i][j] + step
                    back[ni][nj] = (di, dj, check)
    links = []
    i, j = n, m
    while i or j:
        di, dj, check = back[i][j]
        links.append(Link(tuple(range(i - di, i)), tuple(range(j - dj, j)), check))
        i, j = i - di, j - dj
    return links[::-1]


# --- the whole statement ---------------------------------------------------------------------


@dataclass(frozen=True)
class SentencePair:
    paragraph: tuple[int, int]  # the paragraph's index in each language
    first: str
    second: str
    doubts: tuple[str, ...]
    where: str  # "paragraph 2, sentence 3", for people


@dataclass
class Alignment:
    languages: tuple[str, str]
    statements: tuple[Statement, Statement]
    paragraphs: list[Link] = field(default_factory=list)
    sentences: list[SentencePair] = field(default_factory=list)
    slogans: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def paragraph_text(self, side: int, index: int) -> str:
        return self.statements[side].paragraphs[index].text


def align_statements(first: Statement, second: Statement) -> Alignment:
    """Pair the two languages' paragraphs, their sentences and the slogans, noting every doubt."""
    languages = (first.language, second.language)
    result = Alignment(languages, (first, second))

    def similar(a: str, b: str) -> Check:
        return compare(a, b, languages)

    result.paragraphs = align(
        [p.text for p in first.paragraphs], [p.text for p in second.paragraphs], similar, merges=False
    )
    for link in result.paragraphs:
        if not (link.first and link.second):
            result.warnings.append(_unpaired_paragraph(link, languages, result.paragraphs))
            continue
        a, b = link.first[0], link.second[0]
        where = f"paragraph {a + 1}" + ("" if a == b else f" ({languages[1]} paragraph {b + 1})")
        if link.check is not None and link.check.similarity < 0.35:
            result.warnings.append(f"{where}: the paragraphs may not be translations ({_reasons(link.check)})")
        _align_sentences(result, a, b, where)
    result.slogans = _align_slogans(result, first.slogans, second.slogans)
    return result


def _unpaired_paragraph(link: Link, languages: tuple[str, str], links: list[Link]) -> str:
    side, index = (0, link.first[0]) if link.first else (1, link.second[0])
    position = links.index(link)
    before = next((x for x in reversed(links[:position]) if x.first and x.second), None)
    after = next((x for x in links[position + 1 :] if x.first and x.second), None)
    first, second = languages

    def pair(x: Link) -> str:
        return f"{first} {x.first[0] + 1} / {second} {x.second[0] + 1}"

    context = [f"after the pair {pair(before)}"] if before else []
    context += [f"before the pair {pair(after)}"] if after else []
    return (
        f"{languages[side]} paragraph {index + 1} has no {languages[1 - side]} counterpart: alignment breaks "
        f"there ({', '.join(context) or 'no paragraph is paired'}); it is left out and the paragraphs "
        "around it stay paired"
    )


def _align_sentences(result: Alignment, a: int, b: int, where: str) -> None:
    languages = result.languages
    first = result.statements[0].paragraphs[a].sentences
    second = result.statements[1].paragraphs[b].sentences
    for link in align(first, second, lambda x, y: compare(x, y, languages)):
        numbers = "+".join(str(i + 1) for i in link.first)
        label = f"{where}, sentence {numbers}" if numbers else where
        if not (link.first and link.second):
            side, items = (0, link.first) if link.first else (1, link.second)
            shown = "+".join(str(i + 1) for i in items)
            result.warnings.append(
                f"{where}: {languages[side]} sentence {shown} has no counterpart in {languages[1 - side]}; left out"
            )
            continue
        text_a = " ".join(first[i] for i in link.first)
        text_b = " ".join(second[i] for i in link.second)
        doubts = link.check.doubts if link.check else ()
        if len(link.first) != len(link.second):
            shown = "+".join(str(i + 1) for i in link.second)
            doubts = (*doubts, f"{languages[0]} sentence {numbers} matches {languages[1]} sentence {shown}")
        if doubts:
            result.warnings.append(f"{label}: unsure of the pair ({'; '.join(doubts)})")
        result.sentences.append(SentencePair((a, b), text_a, text_b, doubts, label))


def _align_slogans(result: Alignment, first: Sequence[str], second: Sequence[str]) -> list[tuple[str, str]]:
    """Slogans pair in order, by the names they carry; a pair is checked as any other."""

    def by_names(a: str, b: str) -> Check:
        names_a, names_b = twins.anchors(a).names, twins.anchors(b).names
        union = names_a | names_b
        similarity = len(names_a & names_b) / len(union) if names_a != names_b else 1.0 if union else 0.7
        return Check(similarity, tuple(twins.pair_disagreements(a, b, result.languages)))

    pairs = []
    for link in align(first, second, by_names, merges=False):
        if not (link.first and link.second):
            side, index = (0, link.first[0]) if link.first else (1, link.second[0])
            slogans = first if side == 0 else second
            result.warnings.append(f"slogan “{slogans[index]}” ({result.languages[side]}) has no counterpart; left out")
            continue
        a, b = first[link.first[0]], second[link.second[0]]
        if link.check and link.check.doubts:
            result.warnings.append(f"slogan {link.first[0] + 1}: unsure of “{a}” / “{b}” ({_reasons(link.check)})")
            continue
        pairs.append((a, b))
    return pairs


def _reasons(check: Check) -> str:
    return "; ".join(check.doubts) or f"similarity {check.similarity:.2f}"
