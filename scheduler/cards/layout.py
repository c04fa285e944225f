"""Fitting words into a box: the largest font size at which the text wraps inside it.

Words break only at breaking spaces (a no-break space keeps its neighbours together), never
inside a word: a word too wide for the box lowers the size instead. A lone word on the last
line is avoided when moving one more word down still fits. Emoji are laid out as part of their
word, drawn from the colour emoji font scaled to the text size.
"""

from __future__ import annotations

import math
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
class Extent:
    """Where a line's ink falls, relative to its origin on the baseline (y grows downwards)."""

    advance: float
    left: float
    top: float
    right: float
    bottom: float


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

    def extent(self, line: Line, size: int) -> Extent:
        """The ink of a line drawn as `segments(line)`: glyphs may overhang their advance."""
        font = self.fonts.text_font(self.bold, size)
        x = 0.0
        left = top = float("inf")
        right = bottom = float("-inf")
        for segment in segments(line):
            if segment.emoji:
                ascent, descent = self.fonts.emoji_font().getmetrics()
                scale = size / EMOJI_STRIKE
                width = self.run_width(segment, size)
                box = (0.0, -ascent * scale - 1, width + 1, descent * scale + 1)
            else:
                width = float(font.getlength(segment.text))
                box = tuple(float(v) for v in font.getbbox(segment.text, anchor="ls"))  # type: ignore[assignment]
            left, top = min(left, x + box[0]), min(top, box[1])
            right, bottom = max(right, x + box[2]), max(bottom, box[3])
            x += width
        return Extent(x, min(left, 0.0), top, max(right, x), bottom)


def segments(line: Line) -> list[Run]:
    """A line as few drawing calls as possible: text across words in one run (so the shaper kerns
    it as a whole), each emoji stretch on its own."""
    result: list[Run] = []
    for position, word in enumerate(line):
        runs = list(word.runs)
        if position:
            runs.insert(0, Run(" ", emoji=False))
        for run in runs:
            if result and not run.emoji and not result[-1].emoji:
                result[-1] = Run(result[-1].text + run.text, emoji=False)
            else:
                result.append(run)
    return result


@dataclass(frozen=True)
class Block:
    """Text laid out at one size: its lines, where their ink falls, and how much room they take."""

    lines: tuple[Line, ...]
    extents: tuple[Extent, ...]
    size: int
    metrics: Metrics

    @property
    def above(self) -> int:
        """From the block's top to the first baseline: room for the ascent, or taller ink."""
        ascent, _ = self.metrics.ascent_descent(self.size)
        return max(ascent, math.ceil(-self.extents[0].top)) if self.extents else 0

    @property
    def height(self) -> int:
        if not self.lines:
            return 0
        _, descent = self.metrics.ascent_descent(self.size)
        below = max(descent, math.ceil(self.extents[-1].bottom))
        return self.above + (len(self.lines) - 1) * self.metrics.line_height(self.size) + below

    @property
    def width(self) -> float:
        return max((e.right - e.left for e in self.extents), default=0.0)


def wrap(paras: Sequence[Sequence[Word]], widths: dict[Word, float], space: float, max_width: float) -> list[Line]:
    """Each paragraph wrapped greedily; where that leaves a lone word on its last line, the
    narrowest re-wrap with the same number of lines and company for that word, if one exists."""
    lines: list[Line] = []
    for words in paras:
        wrapped = _greedy(words, widths, space, max_width)
        if len(wrapped) >= 2 and len(wrapped[-1]) == 1:
            narrower = max_width
            for _ in range(24):
                narrower *= 0.96
                candidate = _greedy(words, widths, space, narrower)
                if len(candidate) > len(wrapped) or any(widths[word] > narrower for word in words):
                    break
                if len(candidate[-1]) >= 2:
                    wrapped = candidate
                    break
        lines.extend(wrapped)
    return lines


def _greedy(words: Sequence[Word], widths: dict[Word, float], space: float, max_width: float) -> list[Line]:
    lines: list[Line] = []
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
    return lines


def _line_width(line: Line, widths: dict[Word, float], space: float) -> float:
    return sum(widths[word] for word in line) + space * (len(line) - 1)


def fit(
    texts: Sequence[str], metrics: Metrics, box_width: int, box_height: int, max_size: int, gap: float = 0.0
) -> list[Block]:
    """Lay out each text at the one largest size at which all of them, stacked with `gap` x size
    between them, fit the box, ink included. Sizes are searched on advance widths measured once at
    a reference size and scaled; the result is then checked on the exact ink at the chosen size."""
    paras = [paragraphs(text) for text in texts]
    words = {word for para in paras for words in para for word in words}
    reference = {word: metrics.word_width(word, _REFERENCE_SIZE) for word in words}
    reference_space = metrics.space(_REFERENCE_SIZE)

    def estimate(size: int) -> bool:
        scale = size / _REFERENCE_SIZE
        widths = {word: width * scale for word, width in reference.items()}
        if any(width > box_width for width in widths.values()):
            return False
        ascent, descent = metrics.ascent_descent(size)
        heights = [
            (len(wrap(para, widths, reference_space * scale, box_width)) - 1) * metrics.line_height(size)
            + ascent
            + descent
            for para in paras
        ]
        return sum(heights) + round(gap * size) * (len(paras) - 1) <= box_height

    def exact(size: int, strict: bool = True) -> list[Block] | None:
        widths = {word: metrics.word_width(word, size) for word in words}
        if strict and any(width > box_width for width in widths.values()):
            return None
        space = metrics.space(size)
        wrapped = [tuple(wrap(para, widths, space, box_width)) for para in paras]
        # Ink extents cost a shaping pass per line: measure them only for a layout still in the running.
        blocks = [Block(lines, tuple(metrics.extent(line, size) for line in lines), size, metrics) for lines in wrapped]
        total = sum(block.height for block in blocks) + round(gap * size) * (len(blocks) - 1)
        too_wide = any(block.width > box_width for block in blocks)
        return blocks if not strict or (total <= box_height and not too_wide) else None

    low, high = MIN_SIZE, max(MIN_SIZE, max_size)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate(middle):
            low = middle
        else:
            high = middle - 1
    # Scaled advances are close to the exact ink but not equal: confirm, stepping down as needed.
    for size in range(low, MIN_SIZE - 1, -1):
        blocks = exact(size)
        if blocks is not None:
            return blocks
    forced = exact(MIN_SIZE, strict=False)
    assert forced is not None
    return forced
