"""The illustrator: a GPT image model draws the cover and each page. Every prompt carries the one
style line and the character sheet, so the characters look the same on every page. The picture
comes back as base64 in the response; a URL from the model is never fetched."""

from __future__ import annotations

import base64
import binascii
from typing import Literal, cast

import openai
from openai import AsyncOpenAI
from openai.types import ImagesResponse

from app.application.errors import GenerationFailed
from app.application.ports.generation import (
    IllustrationKind,
    IllustrationRequest,
    Illustrator,
    Image,
)
from app.domain.values import Usage
from app.infrastructure.generation.openai import story
from app.infrastructure.generation.openai.calls import Attempt
from app.infrastructure.generation.openai.config import OpenAIConfig
from app.infrastructure.generation.openai.prompts import load_prompts

# The quality setting is a plain string; the API itself refuses one the model does not know.
_Quality = Literal["low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"]
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


class OpenAIIllustrator(Illustrator):
    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig) -> None:
        self._client = client
        self._config = config
        self._prompts = load_prompts(config.prompt_version)

    async def draw(self, request: IllustrationRequest) -> Image:
        config = self._config
        attempt = Attempt(f"{request.kind} image", config.image_model, "images")
        try:
            response = await self._generate(self.prompt(request))
        except openai.OpenAIError as error:
            raise GenerationFailed(attempt.raised(error)) from None
        request_id = response._request_id
        try:
            data, content_type = _decoded(response)
        except ValueError as error:
            raise GenerationFailed(attempt.failed(str(error), request_id)) from None
        usage = response.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        spent = tokens + Usage(images=1)
        attempt.succeeded(request_id, spent)
        return Image(data, content_type, spent)

    def prompt(self, request: IllustrationRequest) -> str:
        prompts, spec = self._prompts, request.context.spec
        place = story.setting(prompts, spec)
        if request.kind is IllustrationKind.COVER:
            scene = prompts.render("image_cover", setting=place)
        else:
            scene = prompts.render(
                "image_page",
                page_number=request.page_number or request.context.next_page_number,
                page_count=spec.page_count,
                setting=place,
                scene=story.fenced(request.scene),
            )
        return prompts.render(
            "image",
            style=prompts.render("image_style"),
            character_sheet=request.context.character_sheet or story.names(spec),
            scene=scene,
        )

    async def _generate(self, prompt: str) -> ImagesResponse:
        config = self._config
        if config.image_model.startswith("gpt-image"):
            return await self._client.images.generate(
                model=config.image_model,
                prompt=prompt,
                n=1,
                size=config.image_size,
                quality=cast(_Quality, config.image_quality),
                moderation=config.image_moderation,
                output_format="png",
            )
        # Older image models answer with a URL unless asked for base64, and know no moderation
        # level or output format.
        return await self._client.images.generate(
            model=config.image_model,
            prompt=prompt,
            n=1,
            size=config.image_size,
            response_format="b64_json",
        )


def _decoded(response: ImagesResponse) -> tuple[bytes, str]:
    if not response.data:
        raise ValueError("returned no image")
    encoded = response.data[0].b64_json
    if not encoded:
        reason = "returned a URL instead of the image" if response.data[0].url else "no image"
        raise ValueError(reason)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("returned an image that is not valid base64") from None
    content_type = content_type_of(data)
    if content_type is None:
        raise ValueError("returned bytes that are not a PNG, JPEG or WebP image")
    return data, content_type


def content_type_of(data: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
