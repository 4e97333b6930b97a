"""Checks on what a generator handed back: a broken answer is a failed generation, not a 4xx."""

from __future__ import annotations

from app.application.errors import GenerationFailed
from app.application.ports import Suggestions
from app.domain.errors import InvalidValue
from app.domain.values import Questions


def next_page_questions(suggestions: Suggestions) -> Questions:
    """1-3 usable suggestions for the next page, or `GenerationFailed`."""
    try:
        questions = Questions(suggestions.items)
    except InvalidValue as error:
        raise GenerationFailed(f"the question generator gave unusable questions: {error}") from None
    if not questions.items:
        raise GenerationFailed("the question generator gave no question")
    return questions
