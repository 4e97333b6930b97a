"""Offline generators: the default when no AI key is configured; no network, no key, deterministic.

Page text is the child's own idea framed as a story, questions come from a curated bilingual bank,
and pictures are drawn with Pillow.
"""

from app.infrastructure.generation.offline.context_generator import OfflineContextGenerator
from app.infrastructure.generation.offline.illustrator import PillowIllustrator
from app.infrastructure.generation.offline.moderation import OfflineModerator
from app.infrastructure.generation.offline.question_generator import OfflineQuestionGenerator

__all__ = [
    "OfflineContextGenerator",
    "OfflineModerator",
    "OfflineQuestionGenerator",
    "PillowIllustrator",
]
