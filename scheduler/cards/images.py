"""Reading untrusted images (the logo) safely, and encoding cards under a platform's byte cap."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from scheduler.errors import SchedulerError

MAX_LOGO_PIXELS = 25_000_000
JPEG_QUALITIES = (92, 86, 80, 74, 68, 62, 56, 50, 44, 38)


def load_logo(path: Path) -> Image.Image:
    """The logo as RGBA; a clear error naming the file for anything that is not a sane image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > MAX_LOGO_PIXELS:
                    raise SchedulerError(
                        f"{path}: the image is {width}x{height} pixels; a logo may have at most "
                        f"{MAX_LOGO_PIXELS:,} (this looks like a decompression bomb)"
                    )
                opened.load()
                return opened.convert("RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SchedulerError(f"{path}: refused, the image is too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise SchedulerError(f"{path}: not an image Pillow can read (PNG, JPEG, GIF, WebP)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise SchedulerError(f"{path}: the image is damaged or truncated ({exc})") from None


def png(image: Image.Image) -> bytes:
    """PNG without metadata: Pillow writes no text, time or EXIF chunks unless asked to."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def jpeg_under(image: Image.Image, max_bytes: int) -> bytes:
    """The best JPEG (no chroma subsampling, so coloured text stays crisp) that fits `max_bytes`."""
    rgb = image.convert("RGB")
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        rgb.save(buffer, "JPEG", quality=quality, subsampling=0, optimize=True)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise SchedulerError(
        f"the card does not fit in {max_bytes:,} bytes even as a JPEG at quality {JPEG_QUALITIES[-1]}; "
        "raise the account's max_image_bytes or choose a smaller card size"
    )
