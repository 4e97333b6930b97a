"""The OpenAI moderator through the real SDK on the fake OpenAI server: it fails closed."""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI

from app.application.errors import ContentRejected, ModerationUnavailable
from app.domain.values import Language
from app.infrastructure.generation.offline.moderation import CHILD_MESSAGE
from app.infrastructure.generation.openai import (
    OpenAIConfig,
    OpenAIModerator,
    build_openai_client,
)
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai", "tests.integration.openai_support"]


@pytest.fixture
def moderator(client: AsyncOpenAI) -> OpenAIModerator:
    return OpenAIModerator(client, OpenAIConfig())


@pytest.mark.parametrize("language", [Language.EN, Language.KO])
async def test_a_flagged_input_is_rejected_with_the_child_message_in_the_books_language(
    moderator: OpenAIModerator, fake_openai: FakeOpenAI, language: Language
) -> None:
    fake_openai.moderations.flag("knife")

    with pytest.raises(ContentRejected) as caught:
        await moderator.check(["a rabbit", "a rabbit with a knife"], language)

    assert caught.value.child_message == CHILD_MESSAGE[language]


async def test_every_text_is_checked_in_one_call_to_the_moderation_model(
    moderator: OpenAIModerator, fake_openai: FakeOpenAI
) -> None:
    await moderator.check(["Mina", "a white rabbit", "  ", "a snowy forest"], Language.EN)

    (request,) = fake_openai.moderations.requests
    assert request == {
        "model": "omni-moderation-latest",
        "input": ["Mina", "a white rabbit", "a snowy forest"],
    }


async def test_nothing_to_check_makes_no_call(
    moderator: OpenAIModerator, fake_openai: FakeOpenAI
) -> None:
    await moderator.check(["", "   "], Language.EN)

    assert fake_openai.moderations.count == 0


async def test_flagged_reports_generated_text_without_raising(
    moderator: OpenAIModerator, fake_openai: FakeOpenAI
) -> None:
    fake_openai.moderations.flag("growled")

    assert await moderator.flagged("The wolf growled.") is True
    assert await moderator.flagged("The owl hooted.") is False


async def test_an_unreachable_moderation_endpoint_fails_closed(fake_openai_url_down: str) -> None:
    client = build_openai_client("test", fake_openai_url_down, timeout_seconds=2, max_retries=0)
    moderator = OpenAIModerator(client, OpenAIConfig())
    try:
        with pytest.raises(ModerationUnavailable, match="could not reach"):
            await moderator.check(["a rabbit"], Language.EN)
        with pytest.raises(ModerationUnavailable):
            await moderator.flagged("a rabbit")
    finally:
        await client.close()


@pytest.mark.parametrize("status", [503, 500, 429, 400])
async def test_a_moderation_error_fails_closed(
    moderator: OpenAIModerator, fake_openai: FakeOpenAI, status: int
) -> None:
    fake_openai.moderations.fail(status, times=2)

    with pytest.raises(ModerationUnavailable, match=str(status)):
        await moderator.check(["a rabbit"], Language.EN)
    with pytest.raises(ModerationUnavailable, match=str(status)):
        await moderator.flagged("a rabbit")


async def test_a_moderation_timeout_fails_closed(fake_openai: FakeOpenAI) -> None:
    fake_openai.moderations.delay(1)
    client = build_openai_client("test", fake_openai.base_url, timeout_seconds=0.2, max_retries=0)
    try:
        with pytest.raises(ModerationUnavailable, match="timed out"):
            await OpenAIModerator(client, OpenAIConfig()).check(["a rabbit"], Language.KO)
    finally:
        await client.close()
