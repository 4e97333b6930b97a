"""Moderation through the provider's moderation endpoint; it fails closed: when the check cannot
be made, nothing is generated."""

from __future__ import annotations

import openai
from openai import AsyncOpenAI

from app.application.errors import ContentRejected, ModerationUnavailable
from app.application.ports.generation import ContentModerator
from app.domain.values import Language
from app.infrastructure.generation.offline.moderation import CHILD_MESSAGE
from app.infrastructure.generation.openai.calls import Attempt
from app.infrastructure.generation.openai.config import OpenAIConfig


class OpenAIModerator(ContentModerator):
    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig) -> None:
        self._client = client
        self._model = config.moderation_model

    async def check(self, texts: list[str], language: Language) -> None:
        if await self._any_flagged(texts, "moderation"):
            raise ContentRejected(CHILD_MESSAGE[language])

    async def flagged(self, *texts: str) -> bool:
        """Whether any of these generated texts is unfit for the book, in one call (the caller
        decides what to do)."""
        return await self._any_flagged(list(texts), "output moderation")

    async def _any_flagged(self, texts: list[str], call: str) -> bool:
        inputs = [text for text in texts if text.strip()]
        if not inputs:
            return False
        attempt = Attempt(call, self._model, "moderations")
        try:
            result = await self._client.moderations.create(model=self._model, input=inputs)
        except openai.OpenAIError as error:
            raise ModerationUnavailable(attempt.raised(error)) from None
        if len(result.results) != len(inputs):
            reason = f"gave {len(result.results)} results for {len(inputs)} inputs"
            raise ModerationUnavailable(attempt.failed(reason, result._request_id))
        attempt.succeeded(result._request_id)
        return any(item.flagged for item in result.results)
