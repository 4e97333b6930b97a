"""Every way a text call can fail becomes `GenerationFailed`; retries are the SDK's, bounded; each
attempt is logged with the provider's request id and never with a prompt or the child's words."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from openai import AsyncOpenAI

from app.application.errors import ContentRejected, GenerationFailed
from app.application.ports.generation import IllustrationKind, IllustrationRequest
from app.domain.values import Language
from app.infrastructure.generation.openai import (
    OpenAIConfig,
    OpenAIContextGenerator,
    OpenAIIllustrator,
    OpenAIModerator,
    OpenAIQuestionGenerator,
    build_openai_client,
)
from app.infrastructure.generation.openai.prompts import Prompts
from tests.fake_openai import ChatEndpoint, FakeOpenAI, ResponsesEndpoint
from tests.integration.openai_support import SHEET, spec, story

pytest_plugins = ["tests.fake_openai", "tests.integration.openai_support"]

TextApi = ResponsesEndpoint | ChatEndpoint
CHILD_INPUT = "PURPLE-ZEBRA-7731 eats the moon cake"


@dataclass(frozen=True)
class Failure:
    script: Callable[[TextApi], object]
    reason: str
    timeout: float = 5.0
    nothing_listening: bool = False


FAILURES = {
    "timeout": Failure(lambda api: api.delay(1), "timed out", timeout=0.2),
    "rate-limited": Failure(lambda api: api.fail(429), "answered with 429"),
    "server-error": Failure(lambda api: api.fail(500), "answered with 500"),
    "overloaded": Failure(lambda api: api.fail(503), "answered with 503"),
    "bad-request": Failure(lambda api: api.fail(400), "answered with 400"),
    "refusal": Failure(lambda api: api.refuse(), "refused"),
    "not-json": Failure(lambda api: api.malformed(), "malformed structured output"),
    "missing-field": Failure(lambda api: api.malformed("{}"), "malformed structured output"),
    # The SDK parses before anyone can look at the status: chat raises on finish "length", the
    # Responses API fails to parse the cut JSON.
    "truncated": Failure(lambda api: api.truncate(), "length limit|malformed structured output"),
    "connection-refused": Failure(lambda api: None, "could not reach", nothing_listening=True),
}

Call = Callable[[OpenAIContextGenerator, OpenAIQuestionGenerator], Awaitable[object]]
CALLS: dict[str, Call] = {
    "page": lambda writer, asker: writer.create(story(spec(), 1), CHILD_INPUT),
    "questions": lambda writer, asker: asker.create(story(spec(), 1)),
    "sheet": lambda writer, asker: writer.character_sheet(spec()),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("kind", FAILURES)
async def test_every_failure_of_a_text_call_is_a_generation_failure(
    fake_openai: FakeOpenAI,
    fake_openai_url_down: str,
    text_api: TextApi,
    config: OpenAIConfig,
    kind: str,
    call: str,
) -> None:
    failure = FAILURES[kind]
    url = fake_openai_url_down if failure.nothing_listening else fake_openai.base_url
    client = build_openai_client("test", url, timeout_seconds=failure.timeout, max_retries=0)
    writer = OpenAIContextGenerator(client, config, OpenAIModerator(client, config))
    asker = OpenAIQuestionGenerator(client, config, OpenAIModerator(client, config))
    failure.script(text_api)
    try:
        with pytest.raises(GenerationFailed, match=failure.reason) as caught:
            await CALLS[call](writer, asker)
    finally:
        await client.close()

    assert CHILD_INPUT not in str(caught.value)
    assert text_api.count == (0 if failure.nothing_listening else 1)


async def test_a_rate_limited_call_is_retried_and_succeeds_when_retries_are_allowed(
    fake_openai: FakeOpenAI, text_api: TextApi, config: OpenAIConfig
) -> None:
    text_api.fail(429, times=1, headers={"retry-after-ms": "1"})
    client = build_openai_client("test", fake_openai.base_url, timeout_seconds=5, max_retries=2)
    try:
        page = await OpenAIContextGenerator(client, config, OpenAIModerator(client, config)).create(
            story(spec(), 0), CHILD_INPUT
        )
    finally:
        await client.close()

    assert page.text
    assert [c.status for c in text_api.calls] == [429, 200]


async def test_retries_are_bounded_by_max_retries(
    fake_openai: FakeOpenAI, text_api: TextApi, config: OpenAIConfig
) -> None:
    text_api.fail(500, times=None, headers={"retry-after-ms": "1"})
    client = build_openai_client("test", fake_openai.base_url, timeout_seconds=5, max_retries=2)
    try:
        with pytest.raises(GenerationFailed, match="500"):
            await OpenAIQuestionGenerator(client, config, OpenAIModerator(client, config)).create(
                story(spec(), 1)
            )
    finally:
        await client.close()

    assert text_api.count == 3


# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------


def info_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]


async def test_each_attempt_is_logged_with_its_request_id_and_no_prompt_or_child_input(
    fake_openai: FakeOpenAI,
    text_api: TextApi,
    config: OpenAIConfig,
    prompts: Prompts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client = build_openai_client("test", fake_openai.base_url, timeout_seconds=5, max_retries=1)
    moderator = OpenAIModerator(client, config)
    writer = OpenAIContextGenerator(client, config, moderator)
    asker = OpenAIQuestionGenerator(client, config, OpenAIModerator(client, config))
    illustrator = OpenAIIllustrator(client, config)
    context = story(spec(), 1)
    fake_openai.moderations.flag("PURPLE-ZEBRA")
    failures: list[Exception] = []
    try:
        await writer.character_sheet(spec())
        await moderator.check(["a rabbit"], Language.EN)
        text_api.reply({"text": f"{CHILD_INPUT}, said Mina.", "summary": CHILD_INPUT})
        text_api.reply({"text": "Mina waved at the moon.", "summary": CHILD_INPUT})
        await writer.create(context, CHILD_INPUT)  # flagged once, then written again
        text_api.fail(429, times=1, headers={"retry-after-ms": "1"})  # a retried attempt
        await asker.create(context)
        await illustrator.draw(IllustrationRequest(context, IllustrationKind.PAGE, CHILD_INPUT, 2))
        for script in (
            lambda: text_api.malformed(f'{{"text": "{CHILD_INPUT}'),
            lambda: text_api.refuse(f"I won't write {CHILD_INPUT}"),
        ):
            script()
            with pytest.raises(GenerationFailed) as caught:
                await writer.create(context, CHILD_INPUT)
            failures.append(caught.value)
        with pytest.raises(ContentRejected) as rejected:
            await moderator.check([CHILD_INPUT], Language.EN)
        failures.append(rejected.value)
    finally:
        await client.close()

    messages = info_messages(caplog)
    logged = "\n".join(messages)
    calls = [
        *text_api.calls,
        *fake_openai.images.calls,
        *fake_openai.moderations.calls,
    ]
    assert len(text_api.calls) == 7  # sheet, page twice, 429 + retry, two failures
    for call in calls:
        assert any(call.request_id in message for message in messages), call.request_id
    assert "PURPLE-ZEBRA" not in logged
    assert SHEET not in logged
    system_prompt_line = prompts.render("page_opening")
    assert system_prompt_line not in logged
    assert "snowy forest" not in logged
    assert all("PURPLE-ZEBRA" not in str(error) for error in failures)


@pytest.mark.parametrize("kind", ["overloaded", "not-json", "refusal"])
async def test_a_failed_call_is_logged_and_reported_with_its_request_id(
    client: AsyncOpenAI,
    fake_openai: FakeOpenAI,
    text_api: TextApi,
    config: OpenAIConfig,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO)
    FAILURES[kind].script(text_api)

    with pytest.raises(GenerationFailed) as caught:
        await OpenAIQuestionGenerator(client, config, OpenAIModerator(client, config)).create(
            story(spec(), 1)
        )

    (call,) = text_api.calls
    assert call.request_id in str(caught.value)
    failed = [r for r in caplog.records if "questions failed" in r.getMessage()]
    assert len(failed) == 1
    assert call.request_id in failed[0].getMessage()
    assert failed[0].levelno == logging.WARNING
