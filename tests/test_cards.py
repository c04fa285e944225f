"""Cards: golden images, layout rules, the safe area, colour emoji, encoding, cache and bad logos."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from scheduler.cards import CardStore, draw, fonts, images, layout
from scheduler.errors import SchedulerError
from tests.cards_support import FONTS, GOLDEN, LANGUAGES, LOGO, SIZES, TEMPLATES, golden_path, spec


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_card_matches_golden(template: str, language: str, size: str) -> None:
    assert_matches(spec(template, language, size).render().image, golden_path(template, language, size))  # type: ignore[arg-type]


def test_card_with_logo_matches_golden() -> None:
    assert_matches(spec("quote", "en", "portrait", logo=LOGO).render().image, GOLDEN / "quote-en-portrait-logo.png")


def assert_matches(image: Image.Image, golden: Path) -> None:
    assert golden.exists(), f"missing {golden}; regenerate with: python -m tests.cards_support"
    rendered = pixels(image)
    expected = pixels(Image.open(golden))
    assert rendered.shape == expected.shape
    difference = np.abs(rendered - expected)
    # Tolerance for rasteriser differences between builds, not for a changed layout.
    assert difference.mean() < 0.5
    assert (difference.max(axis=2) > 48).mean() < 0.002


def outside_safe_area_changed(drawn: draw.Drawn, blank: draw.Drawn) -> int:
    left, top, right, bottom = drawn.safe_area
    mask = np.ones(drawn.image.size[::-1], dtype=bool)
    mask[top:bottom, left:right] = False
    changed = np.abs(pixels(drawn.image) - pixels(blank.image)).max(axis=2) > 0
    return int((changed & mask).sum())


ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "es": "áéíóúüñÁÉÍÓÚÑ¡¿«»",
    "fr": "àâçéèêëîïôûùüÿœæÀÂÇÉÈÊÎÔÛ«»’",
    "ht": "òèÒÈ",  # Haitian Creole adds ò and è to the Latin alphabet
}
characters = st.sampled_from(list("".join(ALPHABETS.values()) + " .,;:!?'\"-—–…()/%\u00a0"))
card_texts = st.lists(characters, min_size=1, max_size=300).map("".join).filter(lambda t: t.strip() != "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=card_texts,
    template=st.sampled_from(["slogan", "quote", "bilingual"]),
    size=st.sampled_from(SIZES),
    language=st.sampled_from(["en", "es", "fr", "ht"]),
)
def test_any_text_renders_inside_the_safe_area(text: str, template: str, size: str, language: str) -> None:
    texts = (text, text[::-1]) if template == "bilingual" else (text,)
    card = spec(template, "en", size, texts=texts)  # type: ignore[arg-type]
    card = dataclasses.replace(card, language=language)
    drawn = card.render()
    blank = draw.blank(card.style(), *card.pixels, card.footer)
    assert outside_safe_area_changed(drawn, blank) == 0
    assert (np.abs(pixels(drawn.image) - pixels(blank.image)).max(axis=2) > 0).any(), "nothing was drawn"


def test_a_single_long_word_shrinks_the_size_instead_of_breaking() -> None:
    metrics = layout.Metrics(FONTS, bold=True)
    word = "Anticonstitucionalmente"
    (short,) = layout.fit(["Haiti"], metrics, 900, 900, max_size=200)
    (long,) = layout.fit([word], metrics, 900, 900, max_size=200)
    assert long.size < short.size
    assert [w.text for line in long.lines for w in line] == [word]
    assert len(long.lines) == 1


def test_no_break_space_keeps_words_together() -> None:
    metrics = layout.Metrics(FONTS, bold=True)
    (block,) = layout.fit(["Free\u00a0Haiti now and forever"], metrics, 500, 2000, max_size=120)
    texts = [[w.text for w in line] for line in block.lines]
    assert any("Free\u00a0Haiti" in line for line in texts)
    assert all("Free" not in line for line in texts)


def test_a_lone_last_word_takes_company_when_a_break_allows() -> None:
    widths = {}
    words = [layout.Word((layout.Run(t, False),)) for t in ("aaaa", "bbbb", "cccc", "dd")]
    for word, width in zip(words, (40, 40, 40, 20), strict=True):
        widths[word] = float(width)
    greedy = layout.wrap([words], widths, space=10, max_width=130)
    assert [[w.text for w in line] for line in greedy] == [["aaaa", "bbbb"], ["cccc", "dd"]]
    lone = [layout.Word((layout.Run(t, False),)) for t in ("aaaa", "bbbb", "cccc", "d")]
    widths.update(dict(zip(lone, (40, 40, 40, 10), strict=True)))
    wrapped = layout.wrap([lone], widths, space=10, max_width=150)
    assert [len(line) for line in wrapped] == [2, 2]


def test_emoji_are_drawn_in_colour() -> None:
    card = spec("slogan", "en", "square", texts=("✊🇭🇹",))
    image = card.render().image.convert("HSV")
    saturation = np.asarray(image)[:, :, 1]
    assert (saturation > 150).sum() > 10_000  # flag red and blue, the fist's yellow


def test_quote_marks_follow_the_language() -> None:
    from scheduler.cards import QUOTE_MARKS

    assert QUOTE_MARKS["en"] == ("“", "”")
    assert QUOTE_MARKS["es"] == ("«", "»")


def test_shaping_engine_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    fonts.require_shaping()
    monkeypatch.setattr(fonts.features, "check", lambda _name: False)
    with pytest.raises(SchedulerError, match="apt-get install libfribidi0 libraqm0"):
        fonts.require_shaping()


def test_png_has_no_metadata_and_jpeg_fallback_fits_the_cap() -> None:
    image = spec("slogan", "en", "portrait").render().image  # the emoji make its PNG about 100 kB
    data = images.png(image)
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "PNG"
        assert not set(decoded.info) - {"dpi"}
        assert not decoded.getexif()
    cap = 60_000
    assert len(data) > cap
    jpeg = images.jpeg_under(image, cap)
    assert len(jpeg) <= cap
    with Image.open(io.BytesIO(jpeg)) as decoded:
        assert decoded.format == "JPEG"
        assert JpegImagePlugin.get_sampling(decoded) == 0  # 4:4:4, no chroma subsampling
    with pytest.raises(SchedulerError, match="does not fit in 1,000 bytes"):
        images.jpeg_under(image, 1000)


def test_store_renders_each_card_once_and_serves_under_a_cap(tmp_path: Path) -> None:
    store = CardStore(tmp_path / "cards")
    card = spec("slogan", "en", "portrait")
    first = store.png(card)
    assert store.png(card) == first
    assert store.rendered == 1
    changed = spec("slogan", "en", "portrait", text_color="#fefefe")
    assert changed.key() != card.key()
    store.png(changed)
    assert store.rendered == 2
    data, mime = store.upload(card, 10**9)
    assert (mime, data) == ("image/png", first.read_bytes())
    small, mime = store.upload(card, 60_000)
    assert mime == "image/jpeg"
    assert len(small) <= 60_000
    assert store.upload(card, 60_000) == (small, mime)


def test_font_change_changes_the_key(tmp_path: Path) -> None:
    copy = tmp_path / "Bold.ttf"
    copy.write_bytes(FONTS.bold.read_bytes())
    card = spec("slogan", "en", "portrait")
    other = spec("slogan", "en", "portrait", fonts=fonts.FontFiles(FONTS.regular, copy))
    assert other.key() == card.key()
    copy.write_bytes(FONTS.bold.read_bytes() + b"\0")
    moved = spec("slogan", "en", "portrait", fonts=fonts.FontFiles(FONTS.regular, copy))
    assert moved.key() != card.key()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_png_header_only(30000, 30000), "too large to decode safely"),
        (_png_header_only(6000, 6000), "6000x6000 pixels; a logo may have at most 25,000,000"),
        (b"this is not an image", "not an image Pillow can read"),
        (_png_header_only(64, 64), "damaged or truncated"),
    ],
)
def test_bad_logo_gives_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(content)
    with pytest.raises(SchedulerError, match=message) as caught:
        images.load_logo(logo)
    assert str(caught.value).startswith(f"{logo}: ")
