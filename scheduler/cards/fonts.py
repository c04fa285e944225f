"""The bundled fonts: loaded once per size, with the shaping engine and glyph coverage checked."""

from __future__ import annotations

import functools
import hashlib
import mmap
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from scheduler.errors import SchedulerError
from scheduler.files import digest

if TYPE_CHECKING:  # Pillow loads when a card is drawn, not when a campaign is checked
    from PIL import ImageFont

EMOJI_STRIKE = 109  # the one bitmap size Noto Color Emoji carries; other sizes are scaled from it
EMOJI_FONT = Path(__file__).resolve().parent.parent.parent / "assets" / "fonts" / "NotoColorEmoji.ttf"
_EMOJI_CLUSTER = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")


def require_shaping() -> None:
    """Cards need libraqm for kerning and combining accents; without it Pillow silently degrades."""
    from PIL import features

    if not features.check("raqm"):
        raise SchedulerError(
            "Pillow cannot shape text: libraqm or its libfribidi is missing, so accents and kerning would "
            "be wrong. On Debian or Ubuntu: apt-get install libfribidi0 libraqm0, then run again."
        )


def is_emoji(cluster: str) -> bool:
    return _EMOJI_CLUSTER.search(cluster) is not None


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path
    emoji: Path = EMOJI_FONT

    def fingerprint(self) -> str:
        """Changes whenever any font file changes, so cached cards drawn with the old one are not reused."""
        digest = hashlib.sha256()
        for path in (self.regular, self.bold, self.emoji):
            stat = path.stat()
            digest.update(_file_digest(path, stat.st_mtime_ns, stat.st_size).encode())
        return digest.hexdigest()

    def text_font(self, bold: bool, size: int) -> ImageFont.FreeTypeFont:
        return _load(self.bold if bold else self.regular, size)

    def emoji_font(self) -> ImageFont.FreeTypeFont:
        return _load(self.emoji, EMOJI_STRIKE)

    def missing_glyphs(self, text: str, *, bold: bool) -> list[str]:
        """Characters of `text` that neither the text font nor the emoji font can draw."""
        covered = _coverage(self.bold if bold else self.regular) | _coverage(self.emoji)
        missing: list[str] = []
        for char in text:
            if ord(char) in covered or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp", "Mn"):
                continue
            if char not in missing:
                missing.append(char)
        return missing


@functools.lru_cache(maxsize=64)
def _load(path: Path, size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    except OSError as exc:
        raise SchedulerError(f"{path}: cannot load this font ({exc})") from None


@functools.cache
def _coverage(path: Path) -> frozenset[int]:
    try:
        with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as font:
            return _cmap_code_points(font)
    except (OSError, ValueError, struct.error):
        pass  # an unusual font: fontTools reads every kind of cmap, at ten times the cost
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap()
    except (OSError, TTLibError, KeyError, struct.error) as exc:
        raise SchedulerError(f"{path}: cannot read this font ({exc})") from None
    if cmap is None:
        raise SchedulerError(f"{path}: cannot read this font (it maps no Unicode characters)")
    return frozenset(cmap)


# The Unicode cmap subtables fontTools' getBestCmap prefers, in its order: (platform, encoding, format).
_BEST_CMAPS = ((3, 10, 12), (0, 6, 12), (0, 4, 12), (0, 3, 4), (0, 2, 4), (0, 1, 4), (0, 0, 4), (3, 1, 4))


def _cmap_code_points(font: bytes | mmap.mmap) -> frozenset[int]:
    """The code points of the font's best Unicode cmap (format 12 or 4), read directly: `validate` checks
    glyph coverage on every run, and fontTools' import and cmap decoding cost ~50 ms of it.
    ValueError when the font has neither format."""
    (tables,) = struct.unpack_from(">H", font, 4)
    cmap = next(
        (offset for tag, _, offset, _ in struct.iter_unpack(">4sIII", font[12 : 12 + 16 * tables]) if tag == b"cmap"),
        None,
    )
    if cmap is None:
        raise ValueError("no cmap")
    (count,) = struct.unpack_from(">H", font, cmap + 2)
    found: dict[tuple[int, int, int], int] = {}
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", font, cmap + 4 + 8 * index)
        (kind,) = struct.unpack_from(">H", font, cmap + offset)
        found.setdefault((platform, encoding, kind), cmap + offset)
    for wanted in _BEST_CMAPS:
        if wanted in found:
            start = found[wanted]
            return _format12(font, start) if wanted[2] == 12 else _format4(font, start)
    raise ValueError("no Unicode cmap of format 4 or 12")


def _format12(font: bytes | mmap.mmap, start: int) -> frozenset[int]:
    (groups,) = struct.unpack_from(">I", font, start + 12)
    points: set[int] = set()
    for first, last, _ in struct.iter_unpack(">III", font[start + 16 : start + 16 + 12 * groups]):
        points.update(range(first, last + 1))
    return frozenset(points)


def _format4(font: bytes | mmap.mmap, start: int) -> frozenset[int]:
    (doubled,) = struct.unpack_from(">H", font, start + 6)
    segments = doubled // 2
    ends = struct.unpack_from(f">{segments}H", font, start + 14)
    starts = struct.unpack_from(f">{segments}H", font, start + 16 + doubled)
    deltas = struct.unpack_from(f">{segments}h", font, start + 16 + 2 * doubled)
    range_offsets_at = start + 16 + 3 * doubled
    range_offsets = struct.unpack_from(f">{segments}H", font, range_offsets_at)
    points: set[int] = set()
    for index, (first, last, delta, range_offset) in enumerate(zip(starts, ends, deltas, range_offsets, strict=True)):
        for code in range(first, last + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = range_offsets_at + 2 * index + range_offset + 2 * (code - first)
                (glyph,) = struct.unpack_from(">H", font, at)
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                points.add(code)
    return frozenset(points)


@functools.lru_cache(maxsize=64)
def _file_digest(path: Path, _mtime_ns: int, _size: int) -> str:
    return digest(path)
