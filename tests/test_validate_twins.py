"""`validate` warns, once per post, when a post's languages disagree (the check of scheduler/twins.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT, Result


@pytest.fixture
def campaign_copy(project: Path) -> Path:
    shutil.copy(ROOT / "assets" / "logo.png", project / "assets" / "logo.png")
    shutil.copy(ROOT / "posts.yaml", project / "posts.yaml")
    return project / "posts.yaml"


def test_the_shipped_campaign_has_no_disagreement(run_cli: Callable[..., Result], campaign_copy: Path) -> None:
    result = run_cli("validate", "--strict", "--config", str(campaign_copy), "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "may not say the same thing" not in result.output


def test_validate_warns_at_the_text_of_a_post_whose_languages_disagree(
    run_cli: Callable[..., Result], campaign_copy: Path
) -> None:
    shipped = campaign_copy.read_text(encoding="utf-8")
    short = "“We stand with the Haitian people and civil society…”"
    assert len(short) == 53
    # Only the text of the post, not its card: the first of the two identical lines.
    changed = shipped.replace(
        '      en: "“We stand with the Haitian people and civil society groups who have consistently opposed '
        'foreign armed intervention…”"',
        f'      en: "{short}"',
        1,
    ).replace('      es: "¡Kenia fuera de Haití!"', '      es: "¡Fuera de Haití!"', 1)
    assert changed.count(short) == 1
    campaign_copy.write_text(changed, encoding="utf-8")
    lines = changed.splitlines()
    kenya = lines.index("  - id: kenya-out-of-haiti") + 2  # its text:, 1-based
    stand = lines.index("  - id: stand-with-haitian-people") + 2
    result = run_cli("validate", "--config", str(campaign_copy), "--now", NOW)
    assert result.exit_code == 0, result.output
    shown = [line.replace(str(campaign_copy), "posts.yaml") for line in result.lines]
    warnings = [line for line in shown if "may not say the same thing" in line]
    assert warnings == [
        f"posts.yaml:{kenya + 1}:7: posts[1].text: warning: the languages may not say the same thing: "
        "the names differ: Kenya in en, not in es",
        f"posts.yaml:{stand + 1}:7: posts[6].text: warning: the languages may not say the same thing: "
        "the es text is 2.6x as long as the en text (usually 0.8-1.7x)",
    ]
    assert run_cli("validate", "--strict", "--config", str(campaign_copy), "--now", NOW).exit_code == 1
