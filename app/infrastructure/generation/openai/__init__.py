"""OpenAI generators: page text and questions as structured output, illustrations from a GPT image
model, and moderation; used when an API key is configured. They also work against any
OpenAI-compatible server (`LW_OPENAI_BASE_URL`), through Chat Completions where the server lacks
the Responses API. Prompts are versioned template files in `prompts/`."""

from app.infrastructure.generation.openai.config import OpenAIConfig, build_openai_client
from app.infrastructure.generation.openai.illustrator import OpenAIIllustrator
from app.infrastructure.generation.openai.moderation import OpenAIModerator
from app.infrastructure.generation.openai.questions import OpenAIQuestionAsker
from app.infrastructure.generation.openai.writer import OpenAIPageWriter

__all__ = [
    "OpenAIConfig",
    "OpenAIIllustrator",
    "OpenAIModerator",
    "OpenAIPageWriter",
    "OpenAIQuestionAsker",
    "build_openai_client",
]
