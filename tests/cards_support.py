"""Card specs shared by the card tests and the golden-image generator."""

from __future__ import annotations

from pathlib import Path

from scheduler.cards import CardSpec, FontFiles
from scheduler.models import CardSize, Template

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "cards"
LOGO = ROOT / "assets" / "logo.png"
FONTS = FontFiles(ROOT / "assets" / "fonts" / "NotoSans-Regular.ttf", ROOT / "assets" / "fonts" / "NotoSans-Bold.ttf")

SLOGANS = {"en": "U.S. out of Haiti! ✊🇭🇹", "es": "¡EE.UU. fuera de Haití! ✊🇭🇹"}
EXCERPTS = {
    "en": "There can be no “Zone of Peace” in the Americas if there is no peace and freedom for the people of Haiti.",
    "es": "No puede haber una «Zona de Paz» en las Américas si no hay paz y libertad para el pueblo de Haití.",
}
ATTRIBUTIONS = {
    "en": "Black Alliance for Peace Haiti/Americas Team, 14 October 2024",
    "es": "Equipo Haití/Américas de la Alianza Negra por la Paz, 14 de octubre de 2024",
}
FOOTERS = {
    "en": "Black Alliance for Peace · Haiti/Americas Team",
    "es": "Alianza Negra por la Paz · Equipo Haití/Américas",
}
TEMPLATES: tuple[Template, ...] = ("slogan", "quote", "bilingual")
SIZES: tuple[CardSize, ...] = ("square", "portrait", "landscape")
LANGUAGES = ("en", "es")


def spec(template: Template, language: str, size: CardSize, **changes: object) -> CardSpec:
    other = "es" if language == "en" else "en"
    if template == "bilingual":
        texts: tuple[str, ...] = (SLOGANS[language], SLOGANS[other])
    elif template == "quote":
        texts = (EXCERPTS[language],)
    else:
        texts = (SLOGANS[language],)
    fields: dict[str, object] = {
        "template": template,
        "size": size,
        "language": language,
        "texts": texts,
        "attribution": ATTRIBUTIONS[language] if template == "quote" else "",
        "footer": FOOTERS[language],
        "background": ("#14213d", "#0b1021"),
        "text_color": "#ffffff",
        "accent_color": "#fca311",
        "fonts": FONTS,
        "logo": None,
    }
    fields.update(changes)
    return CardSpec(**fields)  # type: ignore[arg-type]


def golden_path(template: str, language: str, size: str) -> Path:
    return GOLDEN / f"{template}-{language}-{size}.png"


if __name__ == "__main__":
    # Regenerate the golden images after an intended change of look: python -m tests.cards_support
    from scheduler.cards import images

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for template in TEMPLATES:
        for language in LANGUAGES:
            for size in SIZES:
                golden_path(template, language, size).write_bytes(
                    images.png(spec(template, language, size).render().image)
                )
    with_logo = spec("quote", "en", "portrait", logo=LOGO)
    (GOLDEN / "quote-en-portrait-logo.png").write_bytes(images.png(with_logo.render().image))
