"""Structured output: the pydantic models the text model answers with, and one helper that asks
through the Responses API or Chat Completions (per the config) and turns every way a call can
fail into `GenerationFailed`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import openai
import pydantic
from openai import AsyncOpenAI
from pydantic import BaseModel

from app.application.errors import GenerationFailed
from app.domain.values import Usage
from app.infrastructure.generation.openai.calls import Attempt
from app.infrastructure.generation.openai.config import OpenAIConfig

# No dict fields: strict mode refuses the `additionalProperties` schema the SDK writes for them.


class PageOut(BaseModel):
    text: str
    summary: str


class QuestionsOut(BaseModel):
    # Not bounded in the schema: more than three are trimmed rather than failing the page.
    questions: list[str]


class SheetOut(BaseModel):
    sheet: str


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Parsed(Generic[M]):
    value: M
    usage: Usage
    request_id: str | None


class _Failed(Exception):
    """The call answered, but with nothing usable."""

    def __init__(self, reason: str, request_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


class Structured:
    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig) -> None:
        self._client = client
        self._config = config

    async def parse(self, call: str, output: type[M], instructions: str, prompt: str) -> Parsed[M]:
        attempt = Attempt(call, self._config.text_model, self._config.api_style)
        try:
            if self._config.api_style == "chat":
                parsed = await self._chat(output, instructions, prompt)
            else:
                parsed = await self._responses(output, instructions, prompt)
        except _Failed as failure:
            raise GenerationFailed(attempt.failed(failure.reason, failure.request_id)) from None
        except (openai.OpenAIError, pydantic.ValidationError) as error:
            raise GenerationFailed(attempt.raised(error)) from None
        attempt.succeeded(parsed.request_id, parsed.usage)
        return parsed

    async def _responses(self, output: type[M], instructions: str, prompt: str) -> Parsed[M]:
        response = await self._client.responses.parse(
            model=self._config.text_model,
            instructions=instructions,
            input=prompt,
            text_format=output,
            max_output_tokens=self._config.max_output_tokens,
        )
        request_id = response._request_id
        if response.status == "incomplete":
            raise _Failed("stopped at the output length limit", request_id)
        value = response.output_parsed
        if value is None:
            refused = any(
                content.type == "refusal"
                for item in response.output
                if item.type == "message"
                for content in item.content
            )
            raise _Failed("refused" if refused else "gave no output", request_id)
        usage = response.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        return Parsed(value, tokens, request_id)

    async def _chat(self, output: type[M], instructions: str, prompt: str) -> Parsed[M]:
        completion = await self._client.chat.completions.parse(
            model=self._config.text_model,
            messages=[
                {"role": "system", "content": instructions},
                {"role": "user", "content": prompt},
            ],
            response_format=output,
            max_completion_tokens=self._config.max_output_tokens,
        )
        request_id = completion._request_id
        if not completion.choices:
            raise _Failed("gave no output", request_id)
        message = completion.choices[0].message
        if message.parsed is None:
            raise _Failed("refused" if message.refusal else "gave no output", request_id)
        usage = completion.usage
        tokens = Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage()
        return Parsed(message.parsed, tokens, request_id)
