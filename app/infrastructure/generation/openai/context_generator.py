"""The context generator: the character sheet at the start, then each page (with the running
summary) from a bounded prompt; a page that moderation flags is written once more, gentler."""

from __future__ import annotations

import logging

from openai import AsyncOpenAI

from app.application.errors import GenerationFailed
from app.application.ports.generation import CharacterSheet, ContextGenerator, PageText
from app.domain.values import MAX_SHEET, BookSpec, StoryContext, Usage
from app.infrastructure.generation.openai import story
from app.infrastructure.generation.openai.config import OpenAIConfig
from app.infrastructure.generation.openai.moderation import OpenAIModerator
from app.infrastructure.generation.openai.prompts import load_prompts
from app.infrastructure.generation.openai.structured import PageOut, SheetOut, Structured

log = logging.getLogger(__name__)

SUMMARY_WORDS = 120


class OpenAIContextGenerator(ContextGenerator):
    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig, moderator: OpenAIModerator):
        self._structured = Structured(client, config)
        self._prompts = load_prompts(config.prompt_version)
        self._verbatim_pages = config.verbatim_pages
        self._moderator = moderator

    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        prompts = self._prompts
        characters = "\n".join(
            prompts.render(
                "sheet_character",
                name=story.fenced(c.name),
                description=story.fenced(c.description) if c.description else "-",
            )
            for c in spec.characters
        )
        prompt = prompts.render(
            "sheet_user", characters=characters, setting=story.setting(prompts, spec)
        )
        answer = await self._structured.parse(
            "sheet", SheetOut, prompts.render("sheet_system"), prompt
        )
        sheet = answer.value.sheet.strip()
        if not sheet:
            raise GenerationFailed("the model wrote an empty character sheet")
        # The sheet goes into every later prompt, the pictures' included: it is checked too.
        if await self._moderator.flagged(sheet):
            raise GenerationFailed("the character sheet was flagged by moderation")
        return CharacterSheet(story.clip(sheet, MAX_SHEET), answer.usage)

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        instructions = self.instructions(context)
        prompt = self.page_prompt(context, child_input)
        page, usage = await self._write(instructions, prompt)
        if await self._moderator.flagged(page.text):
            log.info("the page text was flagged by moderation; writing it once more, gentler")
            gentler = f"{prompt}\n\n{self._prompts.render('regenerate')}"
            page, again = await self._write(instructions, gentler)
            usage += again
            if await self._moderator.flagged(page.text):
                raise GenerationFailed("the page text was flagged by moderation twice")
        summary = story.clip(page.summary, story.MAX_SUMMARY_CHARS) or None
        return PageText(page.text, summary, usage)

    def instructions(self, context: StoryContext) -> str:
        """The system prompt: the rules, the reader's age and the book's language."""
        prompts, spec = self._prompts, context.spec
        return prompts.render(
            "page_system",
            language_rule=story.language_rule(prompts, spec.language),
            age_rule=story.age_rule(prompts, spec.reader_age),
            summary_rule=prompts.render("summary", summary_words=SUMMARY_WORDS),
        )

    def page_prompt(self, context: StoryContext, child_input: str) -> str:
        """The user prompt for the next page: bounded however long the book is."""
        prompts, spec = self._prompts, context.spec
        if context.is_last_page:
            rule = "page_ending"
        elif not context.pages:
            rule = "page_opening"
        else:
            rule = "page_continue"
        return prompts.render(
            "page_user",
            character_sheet=context.character_sheet or story.names(spec),
            setting=story.setting(prompts, spec),
            story_so_far=story.story_so_far(prompts, context, self._verbatim_pages),
            page_number=context.next_page_number,
            page_count=spec.page_count,
            page_rule=prompts.render(rule),
            child_input=story.fenced(child_input),
        )

    async def _write(self, instructions: str, prompt: str) -> tuple[PageOut, Usage]:
        answer = await self._structured.parse("page", PageOut, instructions, prompt)
        page = PageOut(text=answer.value.text.strip(), summary=answer.value.summary.strip())
        if not page.text:
            raise GenerationFailed("the model wrote an empty page")
        return page, answer.usage
