"""The OpenAI illustrator through the real SDK on the fake OpenAI server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from app.application.errors import GenerationFailed
from app.application.ports.generation import IllustrationKind, IllustrationRequest
from app.domain.values import Usage
from app.infrastructure.generation.openai import OpenAIConfig, OpenAIIllustrator
from app.infrastructure.generation.openai.prompts import Prompts
from tests.fake_openai import FakeOpenAI, _Answer, fake_image
from tests.integration.openai_support import SHEET, spec, story

pytest_plugins = ["tests.fake_openai", "tests.integration.openai_support"]


def cover() -> IllustrationRequest:
    return IllustrationRequest(story(spec(), 0), IllustrationKind.COVER, scene="a snowy forest")


def page(number: int = 3, scene: str = "Tori builds a snowman") -> IllustrationRequest:
    return IllustrationRequest(
        story(spec(page_count=5), number - 1), IllustrationKind.PAGE, scene, number
    )


@pytest.fixture
def illustrator(client: AsyncOpenAI) -> OpenAIIllustrator:
    return OpenAIIllustrator(client, OpenAIConfig())


def answer_images(
    monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI, data: list[dict[str, Any]]
) -> None:
    """Every image call gets `data` as it stands (the fake itself only sends good base64)."""

    def answer(outcome: object, body: dict[str, Any]) -> _Answer:
        return _Answer(200, {"created": 1, "data": data})

    monkeypatch.setattr(fake.images, "_answer", answer)


@pytest.fixture
async def image_host() -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server for an image URL that counts the connections made to it."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/picture.png", connections
    server.close()
    await server.wait_closed()


async def test_the_image_is_the_exact_png_the_model_sent_with_its_usage(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    png = fake_image(48, 32)
    fake_openai.images.reply(png)

    image = await illustrator.draw(cover())

    assert image.data == png
    assert image.content_type == "image/png"
    call = fake_openai.images.calls[0]
    assert call.status == 200
    assert image.usage.images == 1
    assert image.usage.tokens_in > 0
    assert image.usage.tokens_out == 272  # the fake's image tokens for one picture


async def test_a_jpeg_is_kept_as_a_jpeg(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    jpeg = fake_image(32, 32, "jpeg")
    fake_openai.images.reply(jpeg)

    image = await illustrator.draw(page())

    assert (image.data, image.content_type) == (jpeg, "image/jpeg")


async def test_the_request_names_model_size_quality_png_and_one_image(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    await illustrator.draw(page())

    (request,) = fake_openai.images.requests
    assert request["model"] == "gpt-image-1"
    assert (request["size"], request["quality"], request["n"]) == ("1024x1024", "medium", 1)
    assert request["output_format"] == "png"
    assert "response_format" not in request


async def test_every_picture_prompt_carries_the_style_line_and_the_character_sheet(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI, prompts: Prompts
) -> None:
    await illustrator.draw(cover())
    for number in (1, 2, 5):
        await illustrator.draw(page(number))

    style = prompts.render("image_style")
    sent = [request["prompt"] for request in fake_openai.images.requests]
    assert len(sent) == 4
    assert all(style in prompt and SHEET in prompt for prompt in sent)
    assert sent[0].startswith(style)


async def test_a_page_picture_draws_the_childs_idea_and_the_page_number(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    await illustrator.draw(page(4, scene="Tori builds a snowman"))

    prompt = fake_openai.images.last_request["prompt"]
    assert "Tori builds a snowman" in prompt
    assert "Page 4 of 5" in prompt
    assert "a snowy forest" in prompt


async def test_the_cover_is_a_cover_scene_of_the_setting(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI, prompts: Prompts
) -> None:
    await illustrator.draw(cover())

    prompt = fake_openai.images.last_request["prompt"]
    assert prompts.render("image_cover", setting="<<<a snowy forest>>>") in prompt


@pytest.mark.parametrize("level", ["auto", "low"])
async def test_the_configured_image_moderation_level_is_sent(
    client: AsyncOpenAI, fake_openai: FakeOpenAI, level: Any
) -> None:
    await OpenAIIllustrator(client, OpenAIConfig(image_moderation=level)).draw(cover())

    assert fake_openai.images.moderation_levels == [level]


async def test_an_older_image_model_is_asked_for_base64_not_a_url(
    client: AsyncOpenAI, fake_openai: FakeOpenAI
) -> None:
    await OpenAIIllustrator(client, OpenAIConfig(image_model="dall-e-3")).draw(cover())

    request = fake_openai.images.last_request
    assert request["response_format"] == "b64_json"
    assert "moderation" not in request


async def test_a_url_instead_of_the_image_is_refused_and_never_fetched(
    illustrator: OpenAIIllustrator,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    image_host: tuple[str, list[int]],
) -> None:
    url, connections = image_host
    answer_images(monkeypatch, fake_openai, [{"url": url}])

    with pytest.raises(GenerationFailed, match="URL instead of the image"):
        await illustrator.draw(cover())

    await asyncio.sleep(0.05)
    assert connections == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param([{"b64_json": "not base64 at all!"}], "not valid base64", id="bad-base64"),
        pytest.param(
            [{"b64_json": base64.b64encode(b"GIF89a....").decode()}],
            "not a PNG, JPEG or WebP",
            id="not-an-image",
        ),
        pytest.param([], "no image", id="empty-data"),
    ],
)
async def test_an_unusable_image_answer_is_a_generation_failure(
    illustrator: OpenAIIllustrator,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    data: list[dict[str, Any]],
    reason: str,
) -> None:
    answer_images(monkeypatch, fake_openai, data)

    with pytest.raises(GenerationFailed, match=reason):
        await illustrator.draw(page())


async def test_bytes_that_are_not_an_image_are_a_generation_failure(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    fake_openai.images.reply(b"<html>not a picture</html>")

    with pytest.raises(GenerationFailed, match="not a PNG"):
        await illustrator.draw(page())


async def test_a_picture_blocked_by_the_image_safety_system_is_a_generation_failure(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI
) -> None:
    fake_openai.images.refuse()

    with pytest.raises(GenerationFailed, match="safety system"):
        await illustrator.draw(page())


@pytest.mark.parametrize("status", [429, 500, 503, 400])
async def test_an_image_api_error_is_a_generation_failure(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI, status: int
) -> None:
    fake_openai.images.fail(status)

    with pytest.raises(GenerationFailed, match=str(status)):
        await illustrator.draw(page())


async def test_usage_without_a_usage_block_still_counts_the_image(
    illustrator: OpenAIIllustrator, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_images(monkeypatch, fake_openai, [{"b64_json": base64.b64encode(fake_image()).decode()}])

    image = await illustrator.draw(page())

    assert image.usage == Usage(images=1)
