"""The prompt templates: versioned files in `prompts/<version>/`, package data, filled with
`string.Template` (a child's `$` or `{` stays as typed: only the template's own placeholders are
substituted)."""

from __future__ import annotations

import functools
from importlib import resources
from string import Template

_PACKAGE = __package__ or "app.infrastructure.generation.openai"
_SUFFIX = ".md"

REQUIRED = frozenset(
    {
        *("page_system", "page_user", "page_opening", "page_continue", "page_ending"),
        *("regenerate", "summary", "setting_none"),
        *("story_start", "story_recent", "story_summarised", "story_page"),
        *("age_young", "age_middle", "age_older", "language_en", "language_ko"),
        *("questions_system", "questions_user", "questions_next", "questions_final"),
        *("questions_language_en", "questions_language_ko"),
        *("sheet_system", "sheet_user", "sheet_character"),
        *("image_style", "image", "image_cover", "image_page"),
    }
)


class Prompts:
    """One version's templates, all read (and checked complete) when built."""

    def __init__(self, version: str) -> None:
        folder = resources.files(_PACKAGE).joinpath("prompts").joinpath(version)
        if not folder.is_dir():
            raise ValueError(f"no prompt templates for version {version!r}")
        self.version = version
        self._templates = {
            entry.name.removesuffix(_SUFFIX): Template(entry.read_text("utf-8").strip())
            for entry in folder.iterdir()
            if entry.name.endswith(_SUFFIX)
        }
        missing = REQUIRED - self._templates.keys()
        if missing:
            raise ValueError(f"prompt templates {version} lack {', '.join(sorted(missing))}")

    def render(self, template: str, /, **values: object) -> str:
        """The template filled in; a placeholder left without a value is a KeyError."""
        return self._templates[template].substitute({key: str(v) for key, v in values.items()})


@functools.cache
def load_prompts(version: str) -> Prompts:
    return Prompts(version)
