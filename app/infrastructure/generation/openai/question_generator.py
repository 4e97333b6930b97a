"""The question generator: 1-3 ideas for the next page, from the same bounded view of the story."""

from __future__ import annotations

import logging

from openai import AsyncOpenAI

from app.application.errors import GenerationFailed
from app.application.ports.generation import QuestionGenerator, Suggestions
from app.domain.values import MAX_QUESTIONS, StoryContext, Usage
from app.infrastructure.generation.openai import story
from app.infrastructure.generation.openai.config import OpenAIConfig
from app.infrastructure.generation.openai.moderation import OpenAIModerator
from app.infrastructure.generation.openai.prompts import load_prompts
from app.infrastructure.generation.openai.structured import QuestionsOut, Structured

log = logging.getLogger(__name__)


class OpenAIQuestionGenerator(QuestionGenerator):
    """Questions that moderation flags are asked for once more, gentler; flagged twice, the
    generation fails (a child never sees them)."""

    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig, moderator: OpenAIModerator):
        self._structured = Structured(client, config)
        self._prompts = load_prompts(config.prompt_version)
        self._verbatim_pages = config.verbatim_pages
        self._moderator = moderator

    async def create(self, context: StoryContext) -> Suggestions:
        if context.is_complete:
            return Suggestions(())
        prompt = self.prompt(context)
        questions, usage = await self._ask(context, prompt)
        if await self._moderator.flagged(*questions):
            log.info("the suggested questions were flagged by moderation; asking once more")
            gentler = f"{prompt}\n\n{self._prompts.render('regenerate')}"
            questions, again = await self._ask(context, gentler)
            usage += again
            if await self._moderator.flagged(*questions):
                raise GenerationFailed("the suggested questions were flagged by moderation twice")
        return Suggestions(tuple(questions), usage)

    async def _ask(self, context: StoryContext, prompt: str) -> tuple[list[str], Usage]:
        answer = await self._structured.parse(
            "questions", QuestionsOut, self.instructions(context), prompt
        )
        questions = distinct(answer.value.questions)[:MAX_QUESTIONS]
        if not questions:
            raise GenerationFailed("the model suggested no question")
        return questions, answer.usage

    def instructions(self, context: StoryContext) -> str:
        prompts, spec = self._prompts, context.spec
        return prompts.render(
            "questions_system",
            language_rule=story.language_rule(prompts, spec.language, of="questions_language"),
            age_rule=story.age_rule(prompts, spec.reader_age),
        )

    def prompt(self, context: StoryContext) -> str:
        prompts, spec = self._prompts, context.spec
        return prompts.render(
            "questions_user",
            names=story.names(spec),
            setting=story.setting(prompts, spec),
            story_so_far=story.story_so_far(prompts, context, self._verbatim_pages),
            page_number=context.next_page_number,
            page_count=spec.page_count,
            phase_rule=prompts.render(
                "questions_final" if context.is_last_page else "questions_next"
            ),
        )


def distinct(questions: list[str]) -> list[str]:
    """Trimmed, blanks dropped, each once (ignoring case), in the model's order."""
    seen: set[str] = set()
    kept: list[str] = []
    for question in questions:
        text = " ".join(question.split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(text)
    return kept
