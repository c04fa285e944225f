"""Drawing the three card templates: slogan, quote and bilingual, on the brand's background."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from scheduler.cards.fonts import EMOJI_STRIKE, FontFiles
from scheduler.cards.layout import Block, Metrics, Run, fit, segments

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class Style:
    background: tuple[str, ...]
    text_color: str
    accent_color: str
    fonts: FontFiles
    logo: Image.Image | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Drawn:
    """A finished card, and the area inside which everything but the background is drawn."""

    image: Image.Image
    safe_area: Box


def blank(style: Style, width: int, height: int, footer: str) -> Drawn:
    """The card with its background, logo and footer only: what every template draws its text on."""
    return _Canvas(style, width, height, footer).finish()


def slogan(style: Style, width: int, height: int, text: str, footer: str) -> Drawn:
    canvas = _Canvas(style, width, height, footer)
    left, top, right, bottom = canvas.text_box
    metrics = Metrics(style.fonts, bold=True, line_spacing=1.15)
    (block,) = fit([text], metrics, right - left, bottom - top, max_size=round(height * 0.2))
    canvas.block(block, top + (bottom - top - block.height) // 2, style.text_color, centered=True)
    return canvas.finish()


def quote(
    style: Style, width: int, height: int, text: str, marks: tuple[str, str], attribution: str, footer: str
) -> Drawn:
    canvas = _Canvas(style, width, height, footer)
    left, top, right, bottom = canvas.text_box
    attribution_block = None
    if attribution:
        attribution_metrics = Metrics(style.fonts, bold=True)
        (attribution_block,) = fit(
            [f"— {attribution}"], attribution_metrics, right - left, (bottom - top) // 4, max_size=round(height * 0.032)
        )
        bottom -= attribution_block.height + round(height * 0.04)
    metrics = Metrics(style.fonts, bold=False, line_spacing=1.3)
    opening, closing = marks
    (block,) = fit(
        [f"{opening}{text.strip()}{closing}"], metrics, right - left, bottom - top, max_size=round(height * 0.075)
    )
    y = top + (bottom - top - block.height) // 2
    canvas.block(block, y, style.text_color, centered=False)
    if attribution_block is not None:
        canvas.block(attribution_block, y + block.height + round(height * 0.04), style.accent_color, centered=False)
    return canvas.finish()


def bilingual(style: Style, width: int, height: int, texts: list[str], footer: str) -> Drawn:
    canvas = _Canvas(style, width, height, footer)
    left, top, right, bottom = canvas.text_box
    metrics = Metrics(style.fonts, bold=True, line_spacing=1.15)
    gap = 1.2  # in units of the font size; the divider sits in its middle
    blocks = fit(texts, metrics, right - left, bottom - top, max_size=round(height * 0.16), gap=gap)
    size = blocks[0].size
    total = sum(b.height for b in blocks) + round(gap * size) * (len(blocks) - 1)
    y = top + (bottom - top - total) // 2
    colors = [style.text_color, style.accent_color]
    for index, block in enumerate(blocks):
        if index:
            middle = y + round(gap * size) // 2
            thickness = max(2, round(size * 0.06))
            half = (right - left) // 6
            centre = (left + right) // 2
            canvas.draw.rectangle(
                (centre - half, middle - thickness // 2, centre + half, middle + thickness // 2),
                fill=style.accent_color,
            )
            y += round(gap * size)
        canvas.block(block, y, colors[index % 2], centered=True)
        y += block.height
    return canvas.finish()


class _Canvas:
    def __init__(self, style: Style, width: int, height: int, footer: str) -> None:
        self.style = style
        self.image = _background(style.background, width, height).copy()
        self.draw = ImageDraw.Draw(self.image)
        margin = round(min(width, height) * 0.08)
        top = margin
        if style.logo is not None:
            logo = style.logo.copy()
            logo.thumbnail((width // 4, round(height * 0.08)), Image.Resampling.LANCZOS)
            self.image.paste(logo, (margin, margin), logo if logo.mode == "RGBA" else None)
            top += logo.height + round(height * 0.03)
        bottom = height - margin
        if footer:
            footer_metrics = Metrics(style.fonts, bold=False)
            (block,) = fit(
                [footer], footer_metrics, width - 2 * margin, round(height * 0.08), max_size=round(height * 0.022)
            )
            self.block(
                block, bottom - block.height, style.text_color, centered=False, left=margin, right=width - margin
            )
            bottom -= block.height + round(height * 0.03)
        self.text_box: Box = (margin, top, width - margin, bottom)
        self.safe_area: Box = (margin, margin, width - margin, height - margin)

    def block(
        self, block: Block, top: int, color: str, *, centered: bool, left: int | None = None, right: int | None = None
    ) -> None:
        box_left = self.text_box[0] if left is None else left
        box_right = self.text_box[2] if right is None else right
        metrics = block.metrics
        font = metrics.fonts.text_font(metrics.bold, block.size)
        baseline = top + block.above
        for line, extent in zip(block.lines, block.extents, strict=True):
            x = box_left + ((box_right - box_left) - extent.advance) / 2 if centered else box_left
            # Keep overhanging ink (a final accent, an italic tail) inside the box.
            x = max(x, box_left - extent.left)
            x = min(x, box_right - extent.right)
            for segment in segments(line):
                if segment.emoji:
                    self._emoji(segment, metrics, block.size, x, baseline)
                    x += metrics.run_width(segment, block.size)
                else:
                    self.draw.text((x, baseline), segment.text, font=font, fill=color, anchor="ls")
                    x += font.getlength(segment.text)
            baseline += metrics.line_height(block.size)

    def _emoji(self, run: Run, metrics: Metrics, size: int, x: float, baseline: int) -> None:
        picture, ascent = _scaled_emoji(metrics.fonts, run.text, size)
        self.image.paste(picture, (round(x), baseline - ascent), picture)

    def finish(self) -> Drawn:
        return Drawn(self.image, self.safe_area)


@functools.lru_cache(maxsize=2)  # each is a full-size canvas (4 MB): keep only the last few
def _background(colors: tuple[str, ...], width: int, height: int) -> Image.Image:
    first = Image.new("RGB", (width, height), colors[0])
    if len(colors) == 1:
        return first
    mask = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", (width, height), colors[1]), first, mask)


@functools.lru_cache(maxsize=64)
def _scaled_emoji(fonts: FontFiles, text: str, size: int) -> tuple[Image.Image, int]:
    """An emoji run drawn at the colour font's bitmap size, scaled to `size`; and its scaled ascent."""
    font = fonts.emoji_font()
    ascent, descent = font.getmetrics()
    strike = Image.new("RGBA", (max(1, round(font.getlength(text))), ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(strike).text((0, ascent), text, font=font, embedded_color=True, anchor="ls")
    scale = size / EMOJI_STRIKE
    scaled = strike.resize(
        (max(1, round(strike.width * scale)), max(1, round(strike.height * scale))), Image.Resampling.LANCZOS
    )
    return scaled, round(ascent * scale)
