"""OpenAI generators: page text and questions as structured output, illustrations from a GPT image
model, and moderation; used when an API key is configured. They also work against any
OpenAI-compatible server (`LW_OPENAI_BASE_URL`), through Chat Completions where the server lacks
the Responses API. Prompts are versioned template files in `prompts/`."""

from app.infrastructure.generation.openai.config import OpenAIConfig, build_openai_client
from app.infrastructure.generation.openai.context_generator import OpenAIContextGenerator
from app.infrastructure.generation.openai.illustrator import OpenAIIllustrator
from app.infrastructure.generation.openai.moderation import OpenAIModerator
from app.infrastructure.generation.openai.question_generator import OpenAIQuestionGenerator

__all__ = [
    "OpenAIConfig",
    "OpenAIContextGenerator",
    "OpenAIIllustrator",
    "OpenAIModerator",
    "OpenAIQuestionGenerator",
    "build_openai_client",
]
