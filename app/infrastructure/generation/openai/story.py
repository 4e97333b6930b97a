"""The story as a prompt sees it, bounded: the running summary once the book is past a few pages,
the latest pages word for word, and nothing older, so a prompt's size does not grow with the book.
"""

from __future__ import annotations

import re

from app.domain.values import BookSpec, Language, StoryContext
from app.infrastructure.generation.openai.prompts import Prompts

DEFAULT_AGES = "4-7"
# Generous next to what the prompts ask for (a summary of ~120 words, pages of 2-5 sentences):
# they only cap what a misbehaving model, or a book begun elsewhere, could carry in.
MAX_SUMMARY_CHARS = 1500
MAX_PAGE_CHARS = 1500


def story_so_far(prompts: Prompts, context: StoryContext, verbatim_pages: int) -> str:
    pages = context.pages
    if not pages:
        return prompts.render("story_start")
    recent = "\n".join(
        prompts.render("story_page", number=page.number, text=clip(page.text, MAX_PAGE_CHARS))
        for page in pages[-verbatim_pages:]
    )
    if len(pages) <= verbatim_pages:
        return prompts.render("story_recent", recent_pages=recent)
    # A book begun without a summary (written offline before a key was set) keeps the end of
    # its older pages instead, cut to the same bound.
    older = context.summary or " ".join(page.text for page in pages[:-verbatim_pages])
    summary = clip(older, MAX_SUMMARY_CHARS, keep_end=not context.summary)
    return prompts.render("story_summarised", summary=summary, recent_pages=recent)


def age_rule(prompts: Prompts, reader_age: int | None) -> str:
    if reader_age is None:
        return prompts.render("age_middle", age=DEFAULT_AGES)
    band = "age_young" if reader_age <= 4 else "age_middle" if reader_age <= 7 else "age_older"
    return prompts.render(band, age=reader_age)


def language_rule(prompts: Prompts, language: Language, *, of: str = "language") -> str:
    return prompts.render(f"{of}_{language.value}")


# Three or more angle brackets in a row: what a child's text would need to close its fence.
_DELIMITER = re.compile(r"<{3,}|>{3,}")


def fenced(text: str) -> str:
    """What a child typed, as one line between <<< and >>>: line breaks and runs of spaces become
    one space (a field cannot start lines that look like the prompt's own), and every run of
    three or more angle brackets is taken out, so nothing inside can close the fence."""
    line = " ".join(text.split())
    while (cleaned := _DELIMITER.sub("", line)) != line:
        line = cleaned  # taking one run out can join two halves into another
    return f"<<<{' '.join(line.split())}>>>"


def setting(prompts: Prompts, spec: BookSpec) -> str:
    return fenced(spec.setting) if spec.setting else prompts.render("setting_none")


def names(spec: BookSpec) -> str:
    return ", ".join(fenced(character.name) for character in spec.characters)


def clip(text: str, limit: int, *, keep_end: bool = False) -> str:
    """At most `limit` characters, cut at a space where one is near."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if keep_end:
        cut = text[-(limit - 1) :]
        space = cut.find(" ")
        return "…" + (cut[space + 1 :] if 0 <= space < limit // 4 else cut)
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 3 // 4 else cut) + "…"
