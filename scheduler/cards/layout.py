"""Fitting words into a box: the largest font size at which the text wraps inside it.

Words break only at breaking spaces (a no-break space keeps its neighbours together), never
inside a word: a word too wide for the box lowers the size instead. A lone word on the last
line is avoided when moving one more word down still fits. Emoji are laid out as part of their
word, drawn from the colour emoji font scaled to the text size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from scheduler.cards.fonts import EMOJI_STRIKE, FontFiles, is_emoji

# Breaking white space; U+00A0, U+2007 and U+202F (no-break spaces) are deliberately absent.
_BREAK = regex.compile(r"[ \t\u1680\u2000-\u2006\u2008-\u200a\u205f\u3000]+")
_REFERENCE_SIZE = 100
MIN_SIZE = 6


@dataclass(frozen=True)
class Run:
    """A stretch of a word drawn with one font: text, or emoji."""

    text: str
    emoji: bool


@dataclass(frozen=True)
class Word:
    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


Line = tuple[Word, ...]


def paragraphs(text: str) -> list[list[Word]]:
    """`text` as paragraphs (split at line breaks) of words (split at breaking spaces)."""
    result = []
    for paragraph in text.strip().split("\n"):
        words = [_word(chunk) for chunk in _BREAK.split(paragraph.strip()) if chunk]
        if words:
            result.append(words)
    return result


def _word(chunk: str) -> Word:
    runs: list[Run] = []
    for cluster in regex.findall(r"\X", chunk):
        emoji = is_emoji(cluster)
        if runs and runs[-1].emoji == emoji:
            runs[-1] = Run(runs[-1].text + cluster, emoji)
        else:
            runs.append(Run(cluster, emoji))
    return Word(tuple(runs))


@dataclass(frozen=True)
class Metrics:
    """Measuring one style of text (regular or bold) at any size."""

    fonts: FontFiles
    bold: bool
    line_spacing: float = 1.25

    def run_width(self, run: Run, size: int) -> float:
        if run.emoji:
            return float(self.fonts.emoji_font().getlength(run.text)) * size / EMOJI_STRIKE
        return float(self.fonts.text_font(self.bold, size).getlength(run.text))

    def word_width(self, word: Word, size: int) -> float:
        return sum(self.run_width(run, size) for run in word.runs)

    def space(self, size: int) -> float:
        return float(self.fonts.text_font(self.bold, size).getlength(" "))

    def ascent_descent(self, size: int) -> tuple[int, int]:
        ascent, descent = self.fonts.text_font(self.bold, size).getmetrics()
        return ascent, descent

    def line_height(self, size: int) -> int:
        return round(size * self.line_spacing)

    def block_height(self, lines: int, size: int) -> int:
        ascent, descent = self.ascent_descent(size)
        return (lines - 1) * self.line_height(size) + ascent + descent


@dataclass(frozen=True)
class Block:
    """Text laid out at one size: its lines, and how much room they take."""

    lines: tuple[Line, ...]
    size: int
    width: float
    height: int
    metrics: Metrics


def wrap(paras: Sequence[Sequence[Word]], widths: dict[Word, float], space: float, max_width: float) -> list[Line]:
    """Greedy wrap, then a lone last word takes a neighbour with it when that still fits."""
    lines: list[Line] = []
    for words in paras:
        start = len(lines)
        current: list[Word] = []
        current_width = 0.0
        for word in words:
            added = widths[word] if not current else current_width + space + widths[word]
            if current and added > max_width:
                lines.append(tuple(current))
                current, current_width = [word], widths[word]
            else:
                current.append(word)
                current_width = added
        lines.append(tuple(current))
        if len(lines) - start >= 2 and len(lines[-1]) == 1 and len(lines[-2]) >= 3:
            moved = (lines[-2][-1], *lines[-1])
            if _line_width(moved, widths, space) <= max_width:
                lines[-2], lines[-1] = lines[-2][:-1], moved
    return lines


def _line_width(line: Line, widths: dict[Word, float], space: float) -> float:
    return sum(widths[word] for word in line) + space * (len(line) - 1)


def fit(
    texts: Sequence[str], metrics: Metrics, box_width: int, box_height: int, max_size: int, gap: float = 0.0
) -> list[Block]:
    """Lay out each text at the one largest size at which all of them, stacked with `gap` x size
    between them, fit the box. Sizes are searched on widths measured once at a reference size and
    scaled, then the result is checked with exact measurements at the chosen size."""
    paras = [paragraphs(text) for text in texts]
    words = {word for para in paras for words in para for word in words}
    reference = {word: metrics.word_width(word, _REFERENCE_SIZE) for word in words}
    reference_space = metrics.space(_REFERENCE_SIZE)

    def layout(size: int, exact: bool, strict: bool = True) -> list[Block] | None:
        if exact:
            widths = {word: metrics.word_width(word, size) for word in words}
            space = metrics.space(size)
        else:
            scale = size / _REFERENCE_SIZE
            widths = {word: width * scale for word, width in reference.items()}
            space = reference_space * scale
        if strict and any(width > box_width for width in widths.values()):
            return None
        blocks = []
        for para in paras:
            lines = wrap(para, widths, space, box_width)
            width = max((_line_width(line, widths, space) for line in lines), default=0.0)
            blocks.append(Block(tuple(lines), size, width, metrics.block_height(len(lines), size), metrics))
        total = sum(block.height for block in blocks) + round(gap * size) * (len(blocks) - 1)
        return blocks if total <= box_height or not strict else None

    low, high = MIN_SIZE, max(MIN_SIZE, max_size)
    while low < high:
        middle = (low + high + 1) // 2
        if layout(middle, exact=False) is not None:
            low = middle
        else:
            high = middle - 1
    # Scaled widths are close but not exact (hinting): confirm, stepping down if needed.
    for size in range(min(low + 2, max_size), MIN_SIZE - 1, -1):
        blocks = layout(size, exact=True)
        if blocks is not None:
            return blocks
    forced = layout(MIN_SIZE, exact=True, strict=False)
    assert forced is not None
    return forced
