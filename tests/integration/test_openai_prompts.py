"""The prompt templates: package resources, complete, each one valid and filled as written."""

from __future__ import annotations

from importlib import resources
from string import Template

import pytest

from app.infrastructure.generation.openai.prompts import REQUIRED, Prompts, load_prompts

PACKAGE = "app.infrastructure.generation.openai"


def template_files(version: str) -> dict[str, str]:
    folder = resources.files(PACKAGE).joinpath("prompts").joinpath(version)
    return {
        entry.name.removesuffix(".md"): entry.read_text("utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    }


def test_the_v1_templates_are_package_resources_and_exactly_the_ones_used() -> None:
    assert set(template_files("v1")) == REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_template_is_valid_and_fills_every_placeholder(name: str) -> None:
    template = Template(template_files("v1")[name])
    assert template.is_valid(), name
    values = {key: f"<{key}>" for key in template.get_identifiers()}

    filled = load_prompts("v1").render(name, **values)

    assert "$" not in filled.replace("$$", "")
    assert all(f"<{key}>" in filled for key in values)


def test_a_missing_value_is_an_error_not_a_silent_gap() -> None:
    with pytest.raises(KeyError):
        load_prompts("v1").render("page_user", child_input="a snowman")


def test_a_value_is_inserted_as_typed_even_with_placeholder_characters() -> None:
    filled = load_prompts("v1").render("story_page", number=1, text="costs $5 {name} ${x}")

    assert filled.endswith("costs $5 {name} ${x}")


def test_the_style_line_is_one_line_that_asks_for_no_text_in_the_picture() -> None:
    style = load_prompts("v1").render("image_style")

    assert "\n" not in style
    assert "no text" in style


def test_an_unknown_version_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="no prompt templates"):
        Prompts("v0")


def test_templates_are_read_once_per_version() -> None:
    assert load_prompts("v1") is load_prompts("v1")
