"""The bundled fonts: loaded once per size, with the shaping engine and glyph coverage checked."""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import regex
from PIL import ImageFont, features

from scheduler.errors import SchedulerError
from scheduler.files import digest

EMOJI_STRIKE = 109  # the one bitmap size Noto Color Emoji carries; other sizes are scaled from it
EMOJI_FONT = Path(__file__).resolve().parent.parent.parent / "assets" / "fonts" / "NotoColorEmoji.ttf"
_EMOJI_CLUSTER = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")


def require_shaping() -> None:
    """Cards need libraqm for kerning and combining accents; without it Pillow silently degrades."""
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
    try:
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    except OSError as exc:
        raise SchedulerError(f"{path}: cannot load this font ({exc})") from None


@functools.cache
def _coverage(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True) as font:
            return frozenset(font.getBestCmap())
    except (OSError, TTLibError) as exc:
        raise SchedulerError(f"{path}: cannot read this font ({exc})") from None


@functools.lru_cache(maxsize=64)
def _file_digest(path: Path, _mtime_ns: int, _size: int) -> str:
    return digest(path)
