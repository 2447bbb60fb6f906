"""Every setting an operator can turn is documented."""

from __future__ import annotations

from pathlib import Path

from domain.settings import Settings

CONFIGURATION = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_in_the_configuration_guide() -> None:
    guide = CONFIGURATION.read_text()
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in guide]
    assert missing == []
