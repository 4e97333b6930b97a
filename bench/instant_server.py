"""`littlewriter serve` with generators that cost nothing, for measuring the service's own overhead.

The text, questions and picture are made once at start-up (the picture by the real Pillow
illustrator, so it has a realistic size) and handed back instantly; everything else (HTTP, auth,
the store's compare-and-set writes, staging the image, the response) is the real service on the
configured backends. Usage: python bench/instant_server.py PORT (settings: the LW_* environment).
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from app.application.ports import (
    CharacterSheet,
    ContextGenerator,
    IllustrationRequest,
    Illustrator,
    Image,
    PageText,
    QuestionGenerator,
    Suggestions,
)
from app.application.ports.generation import IllustrationKind
from app.domain.values import BookSpec, Character, StoryContext
from app.infrastructure.generation.offline import PillowIllustrator
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app


class InstantContextGenerator(ContextGenerator):
    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        return CharacterSheet("Momo: a rabbit")

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        return PageText(f"Then {child_input}.")


class InstantQuestionGenerator(QuestionGenerator):
    async def create(self, context: StoryContext) -> Suggestions:
        return Suggestions(("What happens next?",))


class InstantIllustrator(Illustrator):
    def __init__(self, picture: Image) -> None:
        self.picture = picture

    async def draw(self, request: IllustrationRequest) -> Image:
        return self.picture


def main() -> None:
    port = int(sys.argv[1])
    context = StoryContext(BookSpec((Character("Momo"),), 20, setting="a snowy forest"))
    picture = asyncio.run(
        PillowIllustrator().draw(IllustrationRequest(context, IllustrationKind.PAGE, "a map", 1))
    )
    overrides = Overrides(
        context_generator=InstantContextGenerator(),
        question_generator=InstantQuestionGenerator(),
        illustrator=InstantIllustrator(picture),
    )
    app = create_app(Settings(), overrides)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
