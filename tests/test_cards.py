"""Cards: golden images, layout rules, the safe area, colour emoji, encoding, cache and bad logos;
rendering in worker processes, linking into a preview, pruning."""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import pickle
import shutil
import struct
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from scheduler.cards import THUMBNAIL_WIDTH, CardSpec, CardStore, batch, draw, fonts, images, layout
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
    from PIL import features

    monkeypatch.setattr(features, "check", lambda _name: False)
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


# A batch big enough for render_all to use worker processes, every card distinct.
def batch_specs(count: int = batch.PROCESS_THRESHOLD + 2) -> list[CardSpec]:
    return [
        spec("quote" if i % 2 else "slogan", "es" if i % 3 else "en", "square", texts=(f"¡Haití libre! {i}",))
        for i in range(count)
    ]


def emoji_cards(count: int) -> list[CardSpec]:
    """Cards whose PNG (about 100 kB with the emoji) is over a 60 kB cap, so they get a JPEG fallback."""
    return [spec("slogan", "en", "portrait", texts=(f"U.S. out of Haiti! ✊🇭🇹 {i}",)) for i in range(count)]


def test_card_spec_survives_pickling_to_a_worker() -> None:
    card = spec("quote", "en", "portrait", logo=LOGO)
    copy = pickle.loads(pickle.dumps(card))  # noqa: S301 (our own object, as the worker receives it)
    assert copy == card
    assert copy.key() == card.key()


def test_render_all_renders_each_distinct_card_once_in_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools: list[int] = []

    class CountedPool(ProcessPoolExecutor):
        def __init__(self, workers: int, **options: Any) -> None:
            pools.append(workers)
            super().__init__(workers, **options)

    monkeypatch.setattr(batch, "ProcessPoolExecutor", CountedPool)
    specs = batch_specs()
    store = CardStore(tmp_path / "cards")
    progress: list[tuple[int, int]] = []
    paths = store.render_all(
        specs + specs[:3], workers=2, on_progress=lambda done, total: progress.append((done, total))
    )
    assert pools == [2]
    assert store.rendered == len(specs)
    assert paths == {card.key(): tmp_path / "cards" / f"{card.key()}.png" for card in specs}
    assert progress[0] == (0, len(specs))
    assert progress[-1] == (len(specs), len(specs))
    assert [done for done, _ in progress] == list(range(len(specs) + 1))

    # Byte for byte what rendering one by one in this process gives, thumbnails included.
    serial = CardStore(tmp_path / "serial")
    for card in specs:
        assert paths[card.key()].read_bytes() == serial.png(card).read_bytes()
        assert store.thumbnail_path(card.key()).read_bytes() == serial.thumbnail(card).read_bytes()

    progress.clear()
    again = CardStore(tmp_path / "cards")
    assert again.render_all(specs, workers=2, on_progress=lambda done, total: progress.append((done, total))) == paths
    assert again.rendered == 0
    assert progress == [(len(specs), len(specs))]
    assert pools == [2]  # nothing to draw: no worker started


def test_render_all_completes_a_partial_cache(tmp_path: Path) -> None:
    specs = batch_specs(3)
    store = CardStore(tmp_path / "cards")
    store.render_all(specs)
    store.thumbnail_path(specs[0].key()).unlink()
    store.png_path(specs[1].key()).unlink()
    progress: list[tuple[int, int]] = []
    again = CardStore(tmp_path / "cards")
    again.render_all(specs, on_progress=lambda done, total: progress.append((done, total)))
    assert again.rendered == 1  # the thumbnail is scaled from the cached card, not drawn again
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert all(store.png_path(c.key()).exists() and store.thumbnail_path(c.key()).exists() for c in specs)


def test_a_few_cards_are_drawn_without_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker process was started for a handful of cards")

    monkeypatch.setattr(batch, "ProcessPoolExecutor", no_pool)
    store = CardStore(tmp_path / "cards")
    store.render_all(batch_specs(batch.PROCESS_THRESHOLD - 1), workers=2)
    assert store.rendered == batch.PROCESS_THRESHOLD - 1


def test_a_card_failing_in_a_worker_stops_the_batch_with_its_message_and_no_half_card(tmp_path: Path) -> None:
    broken = tmp_path / "Broken-Bold.ttf"
    broken.write_bytes(b"not a font")
    specs = batch_specs()
    specs.insert(3, spec("slogan", "en", "square", fonts=fonts.FontFiles(FONTS.regular, broken)))
    store = CardStore(tmp_path / "cards")
    with pytest.raises(SchedulerError, match=r"Broken-Bold\.ttf: cannot load this font"):
        store.render_all(specs, workers=2)
    written = sorted((tmp_path / "cards").iterdir())
    assert not [path.name for path in written if path.name.startswith(".")]
    for path in written:  # what was finished is whole
        with Image.open(path) as image:
            image.load()
    assert not store.png_path(specs[3].key()).exists()


def test_cache_files_are_readable_by_the_team(tmp_path: Path) -> None:
    store = CardStore(tmp_path / "cards")
    card, other = emoji_cards(2)
    store.render_all([card])
    store.png(other)
    store.thumbnail(other)
    store.upload(other, 60_000)
    files = list((tmp_path / "cards").iterdir())
    assert len(files) == 5
    assert {path.stat().st_mode & 0o777 for path in files} == {0o644}


def test_link_into_shares_the_cached_file(tmp_path: Path) -> None:
    store = CardStore(tmp_path / "state" / "cards")
    card = spec("slogan", "en", "portrait")
    page = tmp_path / "preview" / "cards"
    linked = store.link_into(card, page)
    thumbnail = store.link_into(card, page, width=THUMBNAIL_WIDTH)
    assert linked == page / f"{card.key()}.png"
    assert thumbnail == page / f"{card.key()}-w{THUMBNAIL_WIDTH}.png"
    assert os.path.samestat(linked.stat(), store.png(card).stat())
    assert os.path.samestat(thumbnail.stat(), store.thumbnail(card).stat())
    assert store.png(card).stat().st_nlink == 2
    assert store.link_into(card, page) == linked  # linking again changes nothing
    assert store.png(card).stat().st_nlink == 2
    assert store.rendered == 1
    assert not [path for path in page.iterdir() if path.name.startswith(".")]


def test_link_into_replaces_an_old_copy_and_shares_a_private_card(tmp_path: Path) -> None:
    store = CardStore(tmp_path / "state" / "cards")
    card = spec("slogan", "en", "portrait")
    cached = store.png(card)
    cached.chmod(0o600)  # as cached before cards were shared
    page = tmp_path / "preview"
    page.mkdir()
    copy = page / cached.name
    shutil.copyfile(cached, copy)  # what preview used to write: a second copy
    linked = store.link_into(card, page)
    assert os.path.samestat(linked.stat(), cached.stat())
    assert cached.stat().st_mode & 0o777 == 0o644


def test_link_into_copies_where_no_link_can_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    store = CardStore(tmp_path / "state" / "cards")
    card = spec("slogan", "en", "portrait")
    monkeypatch.setattr(os, "link", cross_device)
    copied = store.link_into(card, tmp_path / "preview")
    assert copied.read_bytes() == store.png(card).read_bytes()
    assert not os.path.samestat(copied.stat(), store.png(card).stat())
    assert copied.stat().st_mode & 0o777 == 0o644


def test_prune_removes_exactly_the_cards_no_longer_used(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    store = CardStore(folder)
    kept, dropped, linked = emoji_cards(3)
    for card in (kept, dropped, linked):
        store.png(card)
        store.thumbnail(card)
        store.upload(card, 60_000)  # the JPEG fallback
    store.link_into(linked, tmp_path / "preview")
    stale = folder / f".{kept.key()}.png.abc123.tmp"  # left by a killed write, long ago
    stale.write_bytes(b"half a card")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    fresh = folder / f".{dropped.key()}.png.def456.tmp"  # a write in progress
    fresh.write_bytes(b"half a card")
    other = folder / "notes.txt"
    other.write_text("not a card")
    before = {path.name: path.stat().st_size for path in folder.iterdir()}

    removed, freed = store.prune({kept.key()})

    doomed = [name for name in before if name.startswith((dropped.key(), linked.key()))] + [stale.name]
    assert len(doomed) == 7
    assert sorted(path.name for path in folder.iterdir()) == sorted(set(before) - set(doomed))
    assert removed == 7
    # The linked card's files stay on disk through the preview's link (only its PNG is linked).
    unlinked = [name for name in doomed if name != f"{linked.key()}.png"]
    assert freed == sum(before[name] for name in unlinked)
    assert (tmp_path / "preview" / f"{linked.key()}.png").exists()
    assert store.prune({kept.key()}) == (0, 0)
