"""Cards: a post's slogan or excerpt drawn as an on-brand image in each language, with its alt text.

`specs_for` says which card each language of a post gets; `CardStore` renders each distinct card
once into a content-addressed cache (many at once in worker processes; for the daemon, always in a
short-lived process of their own: `cards.worker`), hands out its bytes under a platform's size cap,
links its files into a preview folder without a second copy, and forgets the cards a campaign no
longer uses.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.cards.fonts import FontFiles, require_shaping
from scheduler.files import digest
from scheduler.models import CARD_PIXELS, Campaign, CardSize, Post, Template

if TYPE_CHECKING:  # drawing needs Pillow; finding a cached card does not
    from scheduler.cards import draw
    from scheduler.cards.batch import Job

__all__ = ["THUMBNAIL_WIDTH", "CardSpec", "CardStore", "FontFiles", "alt_text", "require_shaping", "specs_for"]

log = logging.getLogger(__name__)

RENDERER_VERSION = "1"
# Cards are shared with the team through hard links in the preview folder, which carry the file's own mode;
# the cache stays private because state/ is 0700.
CARD_FILE_MODE = 0o644
THUMBNAIL_WIDTH = 160  # the preview's calendar
QUOTE_MARKS: dict[str, tuple[str, str]] = {
    "en": ("\u201c", "\u201d"),
    "es": ("\u00ab", "\u00bb"),
    "fr": ("\u00ab\u202f", "\u202f\u00bb"),
    "ht": ("\u00ab", "\u00bb"),
    "de": ("\u201e", "\u201c"),
}


@dataclass(frozen=True)
class CardSpec:
    """Everything that decides what a card looks like; equal specs give identical images."""

    template: Template
    size: CardSize
    language: str
    texts: tuple[str, ...]  # one text, or one per language for a bilingual card
    attribution: str
    footer: str
    background: tuple[str, ...]
    text_color: str
    accent_color: str
    fonts: FontFiles
    logo: Path | None

    def key(self) -> str:
        fields = {
            "renderer": RENDERER_VERSION,
            "template": self.template,
            "size": self.size,
            "language": self.language,
            "texts": self.texts,
            "attribution": self.attribution,
            "footer": self.footer,
            "colors": [self.background, self.text_color, self.accent_color],
            "fonts": self.fonts.fingerprint(),
            "logo": digest(self.logo) if self.logo else None,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]

    @property
    def pixels(self) -> tuple[int, int]:
        return CARD_PIXELS[self.size]

    def style(self) -> draw.Style:
        from scheduler.cards import draw, images

        logo = images.load_logo(self.logo) if self.logo else None
        return draw.Style(self.background, self.text_color, self.accent_color, self.fonts, logo)

    def render(self) -> draw.Drawn:
        from scheduler.cards import draw

        style = self.style()
        width, height = self.pixels
        if self.template == "slogan":
            return draw.slogan(style, width, height, self.texts[0], self.footer)
        if self.template == "quote":
            marks = QUOTE_MARKS.get(self.language, QUOTE_MARKS["en"])
            return draw.quote(style, width, height, self.texts[0], marks, self.attribution, self.footer)
        return draw.bilingual(style, width, height, list(self.texts), self.footer)


def specs_for(campaign: Campaign, post: Post, root: Path) -> dict[str, CardSpec]:
    """The card of each language the post is published in (none when the post has no card).

    A bilingual card is one image holding every language, shared by all of them.
    """
    card = post.card
    if card is None:
        return {}
    brand = campaign.brand
    fonts = FontFiles(root / brand.fonts.regular, root / brand.fonts.bold)
    words = card.words
    order = [lang for lang in campaign.languages if lang in words]
    specs = {}
    for language in post.text:
        texts = tuple(words[lang] for lang in order) if card.kind == "bilingual" else (words[language],)
        primary = order[0] if card.kind == "bilingual" else language
        specs[language] = CardSpec(
            template=card.kind,
            size=card.size or campaign.defaults.card_size,
            language=primary,
            texts=texts,
            attribution=_attribution(campaign, post, primary),
            footer=brand.footer.get(primary, ""),
            background=brand.background,
            text_color=brand.text_color,
            accent_color=brand.accent_color,
            fonts=fonts,
            logo=root / brand.logo if brand.logo else None,
        )
    return specs


def _attribution(campaign: Campaign, post: Post, language: str) -> str:
    if post.card is None or post.card.kind != "quote":
        return ""
    return post.card.attribution.get(language) or campaign.defaults.attribution.get(language, "")


def alt_text(campaign: Campaign, post: Post, language: str) -> str:
    """The image description for `language`: the post's own, else the card's words (and attribution)."""
    if language in post.alt:
        return post.alt[language]
    card = post.card
    if card is None:
        return ""
    words = card.words
    if card.kind == "bilingual":
        order = [language] + [lang for lang in campaign.languages if lang in words and lang != language]
        return "\n".join(words[lang] for lang in order)
    attribution = _attribution(campaign, post, language)
    return f"{words[language]}\n— {attribution}" if attribution else words[language]


# What the cache holds, by file name: <key>.png, its thumbnails <key>-w<width>.png, and the JPEG fallbacks
# <key>-<max bytes>.jpg of platforms with a byte cap.
_CACHED_FILE = re.compile(r"(?P<key>[0-9a-f]{32})(?:-w\d+)?\.png|(?P<jpeg_key>[0-9a-f]{32})-\d+\.jpg")
# write_atomic's temporary files; one older than this was left by a killed write, not one in progress.
_TEMPORARY_FILE = re.compile(r"\..+\.tmp")
STALE_TEMPORARY_SECONDS = 3600
# A hard link is impossible: another filesystem, or one without hard links, or too many links already.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


class CardStore:
    """The content-addressed card cache under state/cards: a card is rendered once, ever."""

    def __init__(self, folder: Path, *, separate_process: bool = False) -> None:
        self.folder = folder
        self.rendered = 0  # by this process
        # Draw in a short-lived process of its own (see cards.worker): for the long-running daemon.
        self.separate_process = separate_process

    def png_path(self, key: str) -> Path:
        return self.folder / f"{key}.png"

    def thumbnail_path(self, key: str, width: int = THUMBNAIL_WIDTH) -> Path:
        return self.folder / f"{key}-w{width}.png"

    def png(self, spec: CardSpec) -> Path:
        if self.separate_process:
            self.draw_missing([(spec, None)])
        path = self.png_path(spec.key())
        if not path.exists():  # (drawn apart, but pruned by a preview meanwhile: drawn here)
            from scheduler.cards import images
            from scheduler.cards.batch import write_card

            require_shaping()
            write_card(path, images.png(spec.render().image))
            self.rendered += 1
            log.debug("rendered card %s", path.name)
        return path

    def png_bytes(self, spec: CardSpec) -> bytes:
        """The card's PNG, drawn again if a `prune` (by a preview) removed it between the check and the read."""
        try:
            return self.png(spec).read_bytes()
        except FileNotFoundError:
            return self.png(spec).read_bytes()

    def thumbnail(self, spec: CardSpec, width: int = THUMBNAIL_WIDTH) -> Path:
        path = self.thumbnail_path(spec.key(), width)
        if not path.exists():
            from PIL import Image

            from scheduler.cards.batch import thumbnail_png, write_card

            with Image.open(io.BytesIO(self.png_bytes(spec))) as image:
                write_card(path, thumbnail_png(image, width))
        return path

    def render_all(
        self,
        specs: Iterable[CardSpec],
        *,
        workers: int | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        thumbnail_width: int | None = THUMBNAIL_WIDTH,
    ) -> dict[str, Path]:
        """Every distinct card's PNG by key, with its thumbnail (none for `thumbnail_width=None`),
        rendering those not yet cached.

        Missing cards are drawn in `workers` processes (default: every core this process may use), or
        here when there are only a few. `on_progress(done, total)` counts distinct cards: first those
        already cached, then each as it is written.
        """
        from scheduler.cards.batch import Job, default_workers, render_many

        distinct = {spec.key(): spec for spec in specs}
        total = len(distinct)
        jobs: list[Job] = []
        thumbnails_only: list[tuple[CardSpec, int]] = []
        for key, spec in distinct.items():
            png = self.png_path(key)
            wanted = () if thumbnail_width is None else ((thumbnail_width, self.thumbnail_path(key, thumbnail_width)),)
            if not png.exists():
                jobs.append(Job(spec, png, wanted))
            elif wanted and not wanted[0][1].exists():
                thumbnails_only.append((spec, wanted[0][0]))
        done = total - len(jobs) - len(thumbnails_only)
        report = on_progress or (lambda done, total: None)
        report(done, total)
        for spec, width in thumbnails_only:  # scaled from the cached PNG: no need to draw the card again
            self.thumbnail(spec, width)
            done += 1
            report(done, total)

        def finished(job: Job) -> None:
            nonlocal done
            self.rendered += 1
            done += 1
            report(done, total)

        render_many(jobs, workers or default_workers(), finished)
        return {key: self.png_path(key) for key in distinct}

    def link_into(self, spec: CardSpec, folder: Path, *, width: int | None = None) -> Path:
        """The cached PNG (or its thumbnail of `width`) in `folder` under the cache's file name, as a hard link:
        the same file, not a second copy, yet the folder stays self-contained. A copy only where a link
        cannot be made (`folder` on another filesystem). Renders the card first if it is not cached."""
        source = self.png(spec) if width is None else self.thumbnail(spec, width)
        target = folder / source.name
        status = source.stat()
        if status.st_mode & 0o777 != CARD_FILE_MODE:  # cached before cards were shared, or a write cut short
            source.chmod(CARD_FILE_MODE)
        try:
            existing: os.stat_result | None = target.stat()
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if os.path.samestat(existing, status):
                return target
            if existing.st_dev != status.st_dev and existing.st_size == status.st_size:
                return target  # the copy made last time, on another filesystem (the name is the content's)
        folder.mkdir(parents=True, exist_ok=True)
        # Made beside the target and renamed over it: a page never shows a missing or half-copied card.
        temporary = folder / f".{source.name}.{os.getpid()}.tmp"
        temporary.unlink(missing_ok=True)
        try:
            try:
                os.link(source, temporary)
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                shutil.copyfile(source, temporary)
                temporary.chmod(CARD_FILE_MODE)
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Remove every cached file (PNG, thumbnails, JPEG fallbacks) of a card whose key is not in `keep`,
        and what killed writes left behind. Returns (files removed, bytes freed); a file still linked
        from a preview folder frees its bytes only when that link goes too, so it counts none."""
        removed = freed = 0
        if not self.folder.is_dir():
            return removed, freed
        stale = time.time() - STALE_TEMPORARY_SECONDS
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue
                status = entry.stat(follow_symlinks=False)
                cached = _CACHED_FILE.fullmatch(entry.name)
                if cached is not None:
                    doomed = (cached["key"] or cached["jpeg_key"]) not in keep
                else:
                    doomed = _TEMPORARY_FILE.fullmatch(entry.name) is not None and status.st_mtime < stale
                if not doomed:
                    continue
                with contextlib.suppress(FileNotFoundError):  # another prune got there first
                    Path(entry.path).unlink()
                    removed += 1
                    freed += status.st_size if status.st_nlink == 1 else 0
        return removed, freed

    def check_drawing(self) -> None:
        """Raise `SchedulerError` unless cards can be drawn here, where this store draws them."""
        if self.separate_process:
            from scheduler.cards import worker

            worker.draw(self.folder, [])
        else:
            require_shaping()

    def draw_missing(self, wanted: Iterable[tuple[CardSpec, int | None]]) -> None:
        """Put each (card, byte cap) not yet cached in the cache, in one go: `upload` then only reads files."""
        missing = list({(spec.key(), cap): (spec, cap) for spec, cap in wanted if not self._cached(spec, cap)}.values())
        if missing and self.separate_process:
            from scheduler.cards import worker

            worker.draw(self.folder, missing)
        else:
            for spec, cap in missing:
                self.upload(spec, cap)

    def _cached(self, spec: CardSpec, max_bytes: int | None) -> bool:
        try:
            size = self.png_path(spec.key()).stat().st_size
        except FileNotFoundError:
            return False
        return max_bytes is None or size <= max_bytes or self._jpeg_path(spec, max_bytes).exists()

    def _jpeg_path(self, spec: CardSpec, max_bytes: int) -> Path:
        return self.folder / f"{spec.key()}-{max_bytes}.jpg"

    def upload(self, spec: CardSpec, max_bytes: int | None) -> tuple[bytes, str]:
        """The card's bytes and MIME type, as PNG when it fits `max_bytes` (or there is no cap), else the
        best JPEG that does."""
        if self.separate_process:
            self.draw_missing([(spec, max_bytes)])
        data = self.png_bytes(spec)
        if max_bytes is None or len(data) <= max_bytes:
            return data, "image/png"
        fallback = self._jpeg_path(spec, max_bytes)
        with contextlib.suppress(FileNotFoundError):
            return fallback.read_bytes(), "image/jpeg"
        from PIL import Image

        from scheduler.cards import images
        from scheduler.cards.batch import write_card

        with Image.open(io.BytesIO(data)) as image:
            jpeg = images.jpeg_under(image, max_bytes)
        write_card(fallback, jpeg)
        return jpeg, "image/jpeg"
