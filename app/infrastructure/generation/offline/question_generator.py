"""Offline question generator: next-page suggestions from a curated bilingual bank.

The default when no AI key is configured. The part of the story the next page belongs to (beginning,
middle, or near the end: the last two pages) picks the templates; the characters' names fill them,
a different character for each suggestion where the book has several. Choices come from a SHA-256
of the story so far, so the same context always gets the same suggestions.
"""

from __future__ import annotations

from app.application.errors import GenerationFailed
from app.application.ports.generation import QuestionGenerator, Suggestions
from app.domain.values import MAX_QUESTIONS, StoryContext
from app.infrastructure.generation.offline.language import digest, fill
from app.infrastructure.generation.offline.question_bank import BANK, Phase


class OfflineQuestionGenerator(QuestionGenerator):
    """Suggests up to three ideas for the next page; needs no network and no key."""

    async def create(self, context: StoryContext) -> Suggestions:
        try:
            return Suggestions(tuple(suggest(context)))
        except Exception as error:
            raise GenerationFailed(f"the offline question generator failed: {error}") from error


def phase_of(context: StoryContext) -> Phase:
    page, total = context.next_page_number, context.spec.page_count
    if page >= total or (page > 1 and page >= total - 1):
        return Phase.ENDING
    if page <= max(1, total // 4):
        return Phase.BEGINNING
    return Phase.MIDDLE


def suggest(context: StoryContext) -> list[str]:
    if context.is_complete:
        return []
    spec = context.spec
    names = [character.name for character in spec.characters]
    bank = BANK[spec.language][phase_of(context)]
    pool = [*bank.solo, *(bank.pair if len(names) > 1 else ())]
    last_text = context.pages[-1].text if context.pages else ""
    seed = digest(spec.language, spec.page_count, context.next_page_number, last_text, *names)
    first_character = seed[-1] % len(names)
    suggestions: list[str] = []
    for slot in range(min(MAX_QUESTIONS, len(pool))):
        template = pool.pop(int.from_bytes(seed[slot * 4 : slot * 4 + 4], "big") % len(pool))
        # Walk round the cast so each suggestion features someone else.
        name = names[(first_character + slot) % len(names)]
        friend = names[(first_character + slot + 1) % len(names)]
        question = fill(template, {"name": name, "friend": friend})
        if question not in suggestions:
            suggestions.append(question)
    return suggestions
