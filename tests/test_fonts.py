"""Glyph coverage read straight from the fonts' cmap tables agrees with fontTools."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from scheduler.cards import fonts
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoColorEmoji.ttf"])
def test_coverage_is_what_fonttools_reads(name: str) -> None:
    path = ROOT / "assets" / "fonts" / name
    with TTFont(str(path), lazy=True) as font:
        expected = frozenset(font.getBestCmap())
    assert fonts._cmap_code_points(path.read_bytes()) == expected
    fonts._coverage.cache_clear()
    assert fonts._coverage(path) == expected


def test_a_font_without_a_readable_cmap_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"\x00\x01\x00\x00" + b"\x00" * 40)
    fonts._coverage.cache_clear()
    with pytest.raises(fonts.SchedulerError, match=r"broken\.ttf: cannot read this font"):
        fonts._coverage(broken)
