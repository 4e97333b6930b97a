"""The prompt for page n stays the same size however long the book grows: a 20-page book written
through the OpenAI context generator, page by page as the use case does, with the size of every
prompt measured as the fake server received it."""

from __future__ import annotations

from typing import Any

import pytest
from openai import AsyncOpenAI

from app.domain.values import MAX_PAGES, Page, StoryContext
from app.infrastructure.generation.openai import (
    OpenAIConfig,
    OpenAIContextGenerator,
    OpenAIModerator,
)
from app.infrastructure.generation.openai.story import MAX_SUMMARY_CHARS
from tests.fake_openai import ChatEndpoint, ResponsesEndpoint
from tests.integration.openai_support import SHEET, spec, user_prompt, whole_prompt

pytest_plugins = ["tests.fake_openai", "tests.integration.openai_support"]

PAGES = MAX_PAGES
FLAT_FROM = 5  # by then the story has passed the verbatim pages and carries a summary
MARGIN = 0.05


def written_page(number: int) -> str:
    """About 330 characters, like a page of four or five short sentences."""
    return (
        f"On page {number:02d}, Mina and Tori followed the silver path deeper into the forest. "
        "The snow sparkled under their paws, and an owl hooted softly from a tall pine. "
        "Tori found a warm mitten and gave it to Mina with a big smile. "
        "Together they laughed and hurried on to see what waited behind the next hill."
    )


def summary_after(number: int, *, growing: bool) -> str:
    if growing:  # a model that ignores the word limit and keeps every page
        return " ".join(written_page(n) for n in range(1, number + 1))
    # A faithful summary: about 100 words whatever the page.
    return (
        f"So far, up to page {number:02d}: Mina the white rabbit and Tori the orange fox set off "
        "through the snowy forest to find the moon's lost lantern. They crossed a frozen river, "
        "made friends with a wise owl who told them to follow the silver path, shared a warm "
        "mitten, and learned that the lantern was hidden beyond the hill. They are brave, kind "
        "to each other and curious, and they still hope to bring the light home before night."
    )


async def write_book(
    writer: OpenAIContextGenerator, text_api: ResponsesEndpoint | ChatEndpoint, *, growing: bool
) -> list[int]:
    """Writes every page, feeding each page and summary into the next context; returns the
    size in characters of the prompt (instructions and input) sent for each page."""
    context = StoryContext(spec(page_count=PAGES), (), SHEET, "")
    for number in range(1, PAGES + 1):

        def answer(request: dict[str, Any], number: int = number) -> dict[str, str]:
            return {"text": written_page(number), "summary": summary_after(number, growing=growing)}

        text_api.reply(answer)
        page = await writer.create(context, f"idea for page {number}: the friends find a clue")
        written = Page(number, f"idea {number}", page.text, f"staging/u/b/{number}.png")
        context = context.with_page(written, page.summary)
    assert context.is_complete
    return [len(whole_prompt(request)) for request in text_api.requests]


@pytest.fixture
def writer(client: AsyncOpenAI, config: OpenAIConfig) -> OpenAIContextGenerator:
    return OpenAIContextGenerator(client, config, OpenAIModerator(client, config))


async def test_the_prompt_size_stays_flat_over_a_twenty_page_book(
    writer: OpenAIContextGenerator,
    text_api: ResponsesEndpoint | ChatEndpoint,
    config: OpenAIConfig,
) -> None:
    sizes = await write_book(writer, text_api, growing=False)

    print(f"\nprompt size per page ({config.api_style}, characters):")
    for number, size in enumerate(sizes, start=1):
        print(f"  page {number:2d}: {size}")
    assert len(sizes) == PAGES
    settled = sizes[FLAT_FROM - 1]
    assert max(sizes[FLAT_FROM - 1 :]) <= settled * (1 + MARGIN)
    assert min(sizes[FLAT_FROM - 1 :]) >= settled * (1 - MARGIN)
    # Carrying every earlier page verbatim would add a page's length for each page written.
    all_verbatim = sizes[0] + sum(len(written_page(n)) for n in range(1, PAGES))
    assert sizes[-1] < all_verbatim / 2
    # The last prompt holds the summary and the last two pages, nothing older.
    last = user_prompt(text_api.requests[-1])
    assert summary_after(PAGES - 1, growing=False) in last
    assert [written_page(n) in last for n in (PAGES - 3, PAGES - 2, PAGES - 1)] == [
        False,
        True,
        True,
    ]


async def test_a_summary_that_keeps_growing_is_capped_so_the_prompt_stays_bounded(
    writer: OpenAIContextGenerator, text_api: ResponsesEndpoint | ChatEndpoint
) -> None:
    sizes = await write_book(writer, text_api, growing=True)

    print("\nprompt size per page with an ever-growing summary:", sizes)
    cap = sizes[FLAT_FROM - 1] + MAX_SUMMARY_CHARS
    assert max(sizes) <= cap
    # At the cap only the page number and the last page's ending rule still change the size.
    capped = sizes[FLAT_FROM + 2 :]
    assert max(capped) - min(capped) <= 50
