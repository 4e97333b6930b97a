"""Every setting is in the README's settings list, under its environment variable's name."""

from __future__ import annotations

from pathlib import Path

from app.infrastructure.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    settings = readme[readme.index("## Settings") :]
    names = [f"LW_{name.upper()}" for name in Settings.model_fields]

    assert len(names) > 80
    assert [name for name in names if f"`{name}`" not in settings] == []
