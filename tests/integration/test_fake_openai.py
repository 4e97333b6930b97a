"""The fake OpenAI server, driven by the real `openai` SDK over real HTTP.

These double as examples for the adapter authors: each test shows how to script one behaviour
and what the SDK turns it into (see the docstring of `tests.fake_openai` for the cheat sheet).
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Literal

import openai
import pydantic
import pytest
from openai import AsyncOpenAI
from openai.types.responses import ParsedResponse
from PIL import Image as PILImage
from pydantic import BaseModel, Field

from tests.fake_openai import (
    FakeOpenAI,
    closed_port_url,
    example_from_schema,
    requested_schema,
)

pytest_plugins = ["tests.fake_openai"]

TEXT_MODEL = "gpt-5-mini"
IMAGE_MODEL = "gpt-image-1"
MESSAGES = [{"role": "user", "content": "Write the next page."}]


class Page(BaseModel):
    text: str
    question: str | None


class Mood(StrEnum):
    HAPPY = "happy"
    SLEEPY = "sleepy"


class Character(BaseModel):
    name: str = Field(min_length=2, max_length=20)
    age: int = Field(ge=3, le=9)


class Scene(BaseModel):
    """Awkward on purpose: refs, enums, literals, bounds, nested lists, nullable objects."""

    title: str = Field(min_length=12)
    mood: Mood
    type: Literal["page", "cover"]  # "type" and "properties" as field names, on purpose
    properties: list[Character] | None
    characters: list[Character] = Field(min_length=2, max_length=3)
    sidekick: Character | None
    weight: float = Field(gt=0, lt=1)
    tags: list[list[str]]
    done: bool


@pytest.fixture
async def sdk(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    """The real SDK on the fake, as the adapters will build it, with no retries unless asked
    (`sdk.with_options(max_retries=2, timeout=0.2)` shares the connection pool)."""
    client = AsyncOpenAI(api_key="test", base_url=fake_openai.base_url, max_retries=0)
    yield client
    await client.close()


async def parse_page(client: AsyncOpenAI) -> ParsedResponse[Page]:
    return await client.responses.parse(
        model=TEXT_MODEL, input="Write the next page.", text_format=Page
    )


# --------------------------------------------------------------------------------------------
# Responses API
# --------------------------------------------------------------------------------------------


async def test_responses_parse_returns_the_scripted_object_and_usage(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.reply(
        {"text": "Momo hopped.", "question": "Where?"}, input_tokens=120, output_tokens=30
    )

    response = await parse_page(sdk)

    assert response.output_parsed == Page(text="Momo hopped.", question="Where?")
    assert response.status == "completed"
    assert response.model == TEXT_MODEL
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (120, 30)
    assert response.usage.total_tokens == 150
    assert response.output_text == '{"text": "Momo hopped.", "question": "Where?"}'


async def test_responses_request_carries_the_strict_json_schema_of_the_model(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    await parse_page(sdk)

    (request,) = fake_openai.responses.requests
    assert request["model"] == TEXT_MODEL
    assert request["text"]["format"]["type"] == "json_schema"
    assert request["text"]["format"]["strict"] is True
    name, schema, strict = requested_schema(request) or ("", {}, False)
    assert (name, strict) == ("Page", True)
    assert schema["required"] == ["text", "question"]
    assert fake_openai.responses.calls[0].headers["authorization"] == "Bearer test"


async def test_replies_are_consumed_in_order_then_the_default_answers(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.reply(Page(text="one", question=None)).reply(
        lambda request: {"text": f"two for {request['model']}", "question": None}
    )

    texts = [(await parse_page(sdk)).output_parsed for _ in range(3)]

    assert [page.text if page else None for page in texts] == [
        "one",
        f"two for {TEXT_MODEL}",
        "example text",
    ]
    assert fake_openai.responses.count == 3


async def test_default_reply_is_valid_for_an_awkward_schema(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    response = await sdk.responses.parse(model=TEXT_MODEL, input="scene", text_format=Scene)
    chat = await sdk.chat.completions.parse(
        model=TEXT_MODEL, messages=MESSAGES, response_format=Scene
    )

    assert isinstance(response.output_parsed, Scene)
    assert len(response.output_parsed.characters) == 2
    assert isinstance(chat.choices[0].message.parsed, Scene)


def test_example_from_schema_satisfies_pydantic_schemas() -> None:
    Scene.model_validate(example_from_schema(Scene.model_json_schema()))


async def test_a_reply_callable_that_raises_is_a_500_and_recorded_in_errors(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.responses.reply(lambda request: request["no such key"])

    with pytest.raises(openai.InternalServerError, match="The fake failed"):
        await parse_page(sdk)

    assert [type(e) for e in fake_openai.errors] == [KeyError]
    fake_openai.errors.clear()  # or the fixture fails the test at teardown


async def test_structured_default_can_be_replaced(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    seen: list[str | None] = []

    def default(schema_name: str | None, request: dict[str, object]) -> dict[str, object]:
        seen.append(schema_name)
        return {"text": "from the default", "question": None}

    fake_openai.structured_default = default

    response = await parse_page(sdk)

    assert response.output_parsed == Page(text="from the default", question=None)
    assert seen == ["Page"]


async def test_plain_text_request_gets_a_story_sentence(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    response = await sdk.responses.create(model=TEXT_MODEL, input="Hello")

    assert response.output_text.startswith("Once upon a time")


async def test_responses_refusal_is_a_refusal_content_item_and_nothing_parsed(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.refuse("I can't help with that")

    response = await parse_page(sdk)

    assert response.output_parsed is None
    (message,) = response.output
    assert message.type == "message"
    refusals = [c.refusal for c in message.content if c.type == "refusal"]
    assert refusals == ["I can't help with that"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="not-json"),
        pytest.param('{"text": "no question field"}', id="missing-field"),
        pytest.param('{"text": 7, "question": null}', id="wrong-type"),
    ],
)
async def test_malformed_output_makes_responses_parse_raise_pydantic_validation_error(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI, text: str | None
) -> None:
    if text is None:
        fake_openai.responses.malformed()
    else:
        fake_openai.responses.malformed(text)

    with pytest.raises(pydantic.ValidationError):
        await parse_page(sdk)


async def test_truncated_responses_output_fails_to_parse_with_validation_error(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.truncate({"text": "a long story that never ends", "question": None})

    with pytest.raises(pydantic.ValidationError):
        await parse_page(sdk)

    fake_openai.responses.truncate()
    raw = await sdk.responses.create(model=TEXT_MODEL, input="x")
    assert raw.status == "incomplete"
    assert raw.incomplete_details is not None
    assert raw.incomplete_details.reason == "max_output_tokens"


class Scores(BaseModel):
    scores: dict[str, int]


async def test_a_dict_field_is_refused_like_openai_refuses_it(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    """The SDK leaves `additionalProperties: {...}` on dict fields; strict mode refuses that."""
    with pytest.raises(openai.BadRequestError, match="additionalProperties"):
        await sdk.responses.parse(model=TEXT_MODEL, input="x", text_format=Scores)


async def test_non_strict_hand_written_schema_is_refused_like_openai(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    loose = {"type": "object", "properties": {"text": {"type": "string"}}}

    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(
            model=TEXT_MODEL,
            input="x",
            text={
                "format": {"type": "json_schema", "name": "Loose", "schema": loose, "strict": True}
            },
        )

    assert caught.value.code == "invalid_json_schema"
    assert "additionalProperties" in caught.value.message


# --------------------------------------------------------------------------------------------
# Chat Completions
# --------------------------------------------------------------------------------------------


async def test_chat_parse_returns_the_scripted_object_and_usage(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.chat.reply(
        {"text": "Tori sang.", "question": None}, input_tokens=9, output_tokens=4
    )

    completion = await sdk.chat.completions.parse(
        model=TEXT_MODEL, messages=MESSAGES, response_format=Page
    )

    message = completion.choices[0].message
    assert message.parsed == Page(text="Tori sang.", question=None)
    assert message.refusal is None
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 4)
    assert completion.usage.total_tokens == 13
    (request,) = fake_openai.chat.requests
    assert request["response_format"]["json_schema"]["name"] == "Page"
    assert request["messages"] == MESSAGES


async def test_chat_refusal_sets_message_refusal_and_leaves_content_null(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.chat.refuse("I can't help with that")

    completion = await sdk.chat.completions.parse(
        model=TEXT_MODEL, messages=MESSAGES, response_format=Page
    )

    message = completion.choices[0].message
    assert message.refusal == "I can't help with that"
    assert message.content is None
    assert message.parsed is None


async def test_malformed_output_makes_chat_parse_raise_pydantic_validation_error(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.chat.malformed().malformed("{}")

    for _ in range(2):
        with pytest.raises(pydantic.ValidationError):
            await sdk.chat.completions.parse(
                model=TEXT_MODEL, messages=MESSAGES, response_format=Page
            )


async def test_truncated_chat_output_raises_length_finish_reason_error(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.chat.truncate()

    with pytest.raises(openai.LengthFinishReasonError):
        await sdk.chat.completions.parse(model=TEXT_MODEL, messages=MESSAGES, response_format=Page)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


async def test_images_generate_returns_b64_json_of_a_png_of_the_requested_size(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    result = await sdk.images.generate(
        model=IMAGE_MODEL, prompt="a rabbit in the snow", size="1024x1536", moderation="low"
    )

    assert result.data is not None
    (image,) = result.data
    assert image.url is None
    assert image.b64_json is not None
    picture = PILImage.open(io.BytesIO(base64.b64decode(image.b64_json)))
    assert (picture.format, picture.size) == ("PNG", (1024, 1536))
    assert result.usage is not None
    assert result.usage.total_tokens > 0
    assert fake_openai.images.moderation_levels == ["low"]
    assert fake_openai.images.last_request["prompt"] == "a rabbit in the snow"


async def test_images_follow_n_and_output_format_and_record_a_missing_moderation(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    result = await sdk.images.generate(
        model=IMAGE_MODEL, prompt="x", n=2, output_format="jpeg", size="1024x1024"
    )

    assert result.data is not None
    assert len(result.data) == 2
    picture = PILImage.open(io.BytesIO(base64.b64decode(result.data[1].b64_json or "")))
    assert picture.format == "JPEG"
    assert fake_openai.images.moderation_levels == [None]


async def test_images_reply_returns_the_scripted_bytes(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.images.reply(b"not a png")

    result = await sdk.images.generate(model=IMAGE_MODEL, prompt="x")

    assert result.data is not None
    assert base64.b64decode(result.data[0].b64_json or "") == b"not a png"


async def test_images_refusal_raises_bad_request_with_moderation_blocked_code(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.images.refuse()

    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.images.generate(model=IMAGE_MODEL, prompt="x")

    assert caught.value.status_code == 400
    assert caught.value.code == "moderation_blocked"
    assert caught.value.type == "image_generation_user_error"


# --------------------------------------------------------------------------------------------
# Moderations
# --------------------------------------------------------------------------------------------


async def test_moderations_flag_only_inputs_containing_the_scripted_substrings(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.moderations.flag("knife").flag("scary", category="harassment")

    result = await sdk.moderations.create(
        model="omni-moderation-latest",
        input=["a rabbit with a KNIFE", "a sleepy cat", "a scary ghost"],
    )

    assert [r.flagged for r in result.results] == [True, False, True]
    knife, cat, ghost = result.results
    assert knife.categories.violence is True
    assert knife.categories.harassment is False
    assert knife.category_scores.violence > 0.5 > knife.category_scores.harassment
    assert knife.category_applied_input_types.violence == ["text"]
    assert not any(cat.categories.model_dump().values())
    assert ghost.categories.harassment is True
    assert result.model == "omni-moderation-latest"


async def test_moderations_string_input_gets_one_unflagged_result_by_default(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    result = await sdk.moderations.create(input="a knife")

    (only,) = result.results
    assert only.flagged is False
    assert fake_openai.moderations.requests == [{"input": "a knife"}]


async def test_moderations_multimodal_input_gets_one_result(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.moderations.flag("knife")

    result = await sdk.moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "a knife"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    )

    (only,) = result.results
    assert only.flagged is True
    assert only.category_applied_input_types.violence == ["text", "image"]


# --------------------------------------------------------------------------------------------
# Errors, retries, request ids
# --------------------------------------------------------------------------------------------


async def test_scripted_429_raises_rate_limit_error_without_retries(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.fail(429)

    with pytest.raises(openai.RateLimitError) as caught:
        await parse_page(sdk)

    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.request_id == fake_openai.responses.calls[0].request_id
    assert error.request_id is not None
    assert error.request_id.startswith("req_fake_")
    assert fake_openai.responses.count == 1


async def test_scripted_500_raises_internal_server_error(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.chat.fail(500)

    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.chat.completions.parse(model=TEXT_MODEL, messages=MESSAGES, response_format=Page)

    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (503, openai.InternalServerError),
    ],
)
async def test_other_statuses_raise_the_matching_sdk_error(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    fake_openai.moderations.fail(status, message="scripted", code="some_code")

    with pytest.raises(error) as caught:
        await sdk.moderations.create(input="x")

    assert caught.value.message.endswith("scripted")
    assert caught.value.code == "some_code"


async def test_sdk_retries_a_429_with_retry_after_and_then_succeeds(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.fail(429, times=1, headers={"retry-after": "0"})

    response = await parse_page(sdk.with_options(max_retries=2))

    assert response.output_parsed is not None
    assert fake_openai.responses.count == 2
    first, second = fake_openai.responses.calls
    assert (first.status, second.status) == (429, 200)
    assert second.headers["x-stainless-retry-count"] == "1"


async def test_retry_after_ms_makes_the_retry_immediate(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.images.fail(500, times=2, headers={"retry-after-ms": "1"})
    began = time.monotonic()

    await sdk.with_options(max_retries=2).images.generate(model=IMAGE_MODEL, prompt="x")

    assert time.monotonic() - began < 0.4  # the SDK's own backoff starts at 0.5 s
    assert [call.status for call in fake_openai.images.calls] == [500, 500, 200]


async def test_fail_with_times_none_fails_every_call_until_reset(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.moderations.fail(503, times=None)

    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            await sdk.moderations.create(input="x")
    fake_openai.reset()

    await sdk.moderations.create(input="x")
    assert fake_openai.moderations.count == 1


async def test_request_id_header_is_visible_on_raw_responses_and_results(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    raw = await sdk.moderations.with_raw_response.create(input="x")
    parsed = await parse_page(sdk)

    assert raw.headers["x-request-id"] == fake_openai.moderations.calls[0].request_id
    assert raw.parse().results[0].flagged is False
    assert parsed._request_id == fake_openai.responses.calls[0].request_id
    assert raw.headers["x-request-id"] != parsed._request_id


async def test_unknown_path_is_an_openai_shaped_404(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.embeddings.create(model="text-embedding-3-small", input="x")

    assert "Invalid URL" in caught.value.message
    assert caught.value.request_id is not None


# --------------------------------------------------------------------------------------------
# Timing and connections
# --------------------------------------------------------------------------------------------


async def test_delay_lets_concurrent_calls_overlap(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.responses.delay(0.3)
    began = time.monotonic()

    results = await asyncio.gather(*(parse_page(sdk) for _ in range(3)))

    elapsed = time.monotonic() - began
    assert all(r.output_parsed is not None for r in results)
    assert 0.3 <= elapsed < 0.8
    calls = fake_openai.responses.calls
    assert fake_openai.responses.max_in_flight == 3
    assert max(c.started for c in calls) < min(c.ended or 0 for c in calls)
    assert all((c.duration or 0) >= 0.3 for c in calls)


async def test_keep_alive_calls_are_fast(fake_openai: FakeOpenAI, sdk: AsyncOpenAI) -> None:
    timings = []
    for _ in range(10):
        began = time.perf_counter()
        await sdk.moderations.create(input="x")
        timings.append(time.perf_counter() - began)

    assert sorted(timings)[5] < 0.03  # Nagle + delayed ACK would make each 40 ms or more


async def test_wait_for_blocks_until_the_calls_have_arrived(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.chat.delay(0.2)
    task = asyncio.create_task(sdk.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES))

    await asyncio.to_thread(fake_openai.chat.wait_for, 1)

    assert fake_openai.chat.calls[0].ended is None
    completion = await task
    assert completion.choices[0].message.content


async def test_client_timeout_shorter_than_the_delay_raises_api_timeout_error(
    fake_openai: FakeOpenAI,
    sdk: AsyncOpenAI,
) -> None:
    fake_openai.responses.delay(2)

    with pytest.raises(openai.APITimeoutError):
        await parse_page(sdk.with_options(timeout=0.2))


async def test_nothing_listening_raises_api_connection_error(fake_openai_url_down: str) -> None:
    async with AsyncOpenAI(api_key="test", base_url=fake_openai_url_down, max_retries=0) as down:
        with pytest.raises(openai.APIConnectionError) as caught:
            await down.moderations.create(input="x")

    assert not isinstance(caught.value, openai.APITimeoutError)


async def test_closed_port_url_refuses_connections_too() -> None:
    async with AsyncOpenAI(api_key="test", base_url=closed_port_url(), max_retries=0) as down:
        with pytest.raises(openai.APIConnectionError):
            await down.moderations.create(input="x")


# --------------------------------------------------------------------------------------------
# The server itself
# --------------------------------------------------------------------------------------------


async def test_reset_clears_scripts_delays_flags_and_the_log(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.responses.fail(500, times=3).delay(5)
    fake_openai.moderations.flag("cat")
    fake_openai.reset()

    began = time.monotonic()
    await parse_page(sdk)
    result = await sdk.moderations.create(input="cat")

    assert time.monotonic() - began < 1
    assert result.results[0].flagged is False
    assert (fake_openai.responses.count, fake_openai.moderations.count) == (1, 1)


def test_running_starts_and_stops_a_server_of_its_own() -> None:
    began = time.perf_counter()
    with FakeOpenAI.running() as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
        assert fake.startup_seconds < 2  # about 25 ms on a quiet machine
    assert time.perf_counter() - began < 5
    with pytest.raises(RuntimeError):
        _ = fake.base_url


async def test_the_fake_offers_a_ready_made_client(fake_openai: FakeOpenAI) -> None:
    async with fake_openai.client() as ready_made:
        result = await ready_made.moderations.create(input="x")

        assert ready_made.max_retries == 0
        assert result.results


async def test_a_rate_limit_refuses_calls_above_it_with_429_until_the_window_moves(
    fake_openai: FakeOpenAI, sdk: AsyncOpenAI
) -> None:
    fake_openai.images.rate_limit(2, per_seconds=0.5)
    draw = {"model": "gpt-image-1", "prompt": "a fox"}
    await sdk.images.generate(**draw)  # type: ignore[call-overload]
    await sdk.images.generate(**draw)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.images.generate(**draw)  # type: ignore[call-overload]
    assert refused.value.code == "rate_limit_exceeded"
    await asyncio.sleep(0.55)
    await sdk.images.generate(**draw)  # type: ignore[call-overload]
    assert [call.status for call in fake_openai.images.calls] == [200, 200, 429, 200]
