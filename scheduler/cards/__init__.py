"""Cards: a post's slogan or excerpt drawn as an on-brand image in each language, with its alt text.

`specs_for` says which card each language of a post gets; `CardStore` renders each distinct card
once into a content-addressed cache and hands out its bytes under a platform's size cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from scheduler.cards import draw, images
from scheduler.cards.fonts import FontFiles, require_shaping
from scheduler.files import digest, write_atomic
from scheduler.models import CARD_PIXELS, Campaign, CardSize, Post, Template

__all__ = ["CardSpec", "CardStore", "FontFiles", "alt_text", "require_shaping", "specs_for"]

log = logging.getLogger(__name__)

RENDERER_VERSION = "1"
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
        logo = images.load_logo(self.logo) if self.logo else None
        return draw.Style(self.background, self.text_color, self.accent_color, self.fonts, logo)

    def render(self) -> draw.Drawn:
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


class CardStore:
    """The content-addressed card cache under state/cards: a card is rendered once, ever."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rendered = 0

    def png(self, spec: CardSpec) -> Path:
        path = self.folder / f"{spec.key()}.png"
        if not path.exists():
            write_atomic(path, images.png(spec.render().image))
            self.rendered += 1
            log.debug("rendered card %s", path.name)
        return path

    def thumbnail(self, spec: CardSpec, width: int) -> Path:
        path = self.folder / f"{spec.key()}-w{width}.png"
        if not path.exists():
            from PIL import Image

            with Image.open(self.png(spec)) as image:
                small = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
                write_atomic(path, images.png(small))
        return path

    def upload(self, spec: CardSpec, max_bytes: int) -> tuple[bytes, str]:
        """The card's bytes and MIME type, as PNG when it fits `max_bytes`, else the best JPEG that does."""
        path = self.png(spec)
        data = path.read_bytes()
        if len(data) <= max_bytes:
            return data, "image/png"
        fallback = self.folder / f"{path.stem}-{max_bytes}.jpg"
        if not fallback.exists():
            from PIL import Image

            with Image.open(path) as image:
                write_atomic(fallback, images.jpeg_under(image, max_bytes))
        return fallback.read_bytes(), "image/jpeg"
