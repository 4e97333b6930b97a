"""Fixtures and helpers for the OpenAI adapter tests: the real SDK client (built as the app builds
it) on the fake OpenAI server, the config per API style, and small stories to write from.

A plugin, next to the fake:
    pytest_plugins = ["tests.fake_openai", "tests.integration.openai_support"]

PYTEST_DONT_REWRITE (no asserts here; the test modules import it before `pytest_plugins`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from openai import AsyncOpenAI

from app.domain.values import BookSpec, Character, Language, Page, StoryContext
from app.infrastructure.generation.openai import OpenAIConfig, build_openai_client
from app.infrastructure.generation.openai.config import ApiStyle
from app.infrastructure.generation.openai.prompts import Prompts, load_prompts
from tests.fake_openai import ChatEndpoint, FakeOpenAI, ResponsesEndpoint

API_STYLES = ["responses", "chat"]
SHEET = "Mina: a small white rabbit with a red knitted scarf and round blue eyes."
CHARACTERS = (
    Character("Mina", "a small white rabbit with a red scarf"),
    Character("Tori", "a sleepy orange fox"),
)


@pytest.fixture(params=API_STYLES)
def api_style(request: pytest.FixtureRequest) -> ApiStyle:
    style: ApiStyle = request.param
    return style


@pytest.fixture
def config(api_style: ApiStyle) -> OpenAIConfig:
    return OpenAIConfig(api_style=api_style)


@pytest.fixture
def text_api(fake_openai: FakeOpenAI, api_style: ApiStyle) -> ResponsesEndpoint | ChatEndpoint:
    """The fake endpoint the configured API style talks to."""
    return fake_openai.responses if api_style == "responses" else fake_openai.chat


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    """As the lifespan builds it, on the fake, with no retries."""
    built = build_openai_client("test", fake_openai.base_url, timeout_seconds=5, max_retries=0)
    yield built
    await built.close()


@pytest.fixture
def prompts() -> Prompts:
    return load_prompts("v1")


def spec(
    page_count: int = 5,
    *,
    language: Language = Language.EN,
    reader_age: int | None = None,
    setting: str = "a snowy forest",
) -> BookSpec:
    return BookSpec(CHARACTERS, page_count, language, reader_age, setting)


def page_text(number: int) -> str:
    return f"Page {number} text: Mina and Tori walked on through the snowy forest together."


def story(
    book: BookSpec,
    pages: int,
    *,
    summary: str = "",
    sheet: str = SHEET,
    text: Callable[[int], str] = page_text,
) -> StoryContext:
    written = tuple(
        Page(n, f"idea {n}", text(n), f"staging/u/b/{n}.png") for n in range(1, pages + 1)
    )
    return StoryContext(book, written, sheet, summary)


def user_prompt(request: dict[str, Any]) -> str:
    """The user prompt of a Responses or Chat Completions request."""
    if "input" in request:
        return str(request["input"])
    return str(request["messages"][-1]["content"])


def instructions(request: dict[str, Any]) -> str:
    if "instructions" in request:
        return str(request["instructions"])
    return str(request["messages"][0]["content"])


def whole_prompt(request: dict[str, Any]) -> str:
    return instructions(request) + "\n" + user_prompt(request)
