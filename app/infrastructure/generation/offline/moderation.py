"""Offline moderation: a short curated bilingual list of words that have no place in a picture
book for small children. It is a floor, not a classifier: with an AI key the OpenAI moderation
endpoint checks every input and every generated page instead."""

from __future__ import annotations

import re
import unicodedata

from app.application.errors import ContentRejected
from app.application.ports.generation import ContentModerator
from app.domain.values import Language

_ENGLISH = (
    "kill", "killed", "killing", "murder", "blood", "bloody", "gun", "guns", "shoot", "stab",
    "knife attack", "suicide", "drugs", "cocaine", "heroin", "sex", "sexy", "naked", "nude",
    "porn", "rape", "torture", "behead", "bomb", "terrorist", "whore", "slut", "fuck", "shit",
    "bitch", "cunt", "nazi",
)  # fmt: skip
_KOREAN = (
    "죽여", "죽이", "살인", "피투성이", "총으로", "칼로 찔", "자살", "마약", "섹스", "야동",
    "알몸", "성폭행", "고문", "폭탄", "테러", "시발", "씨발", "병신", "좆", "개새끼",
)  # fmt: skip
_WORDS = re.compile(r"\b(" + "|".join(re.escape(w) for w in _ENGLISH) + r")\b", re.IGNORECASE)

CHILD_MESSAGE = {
    Language.EN: "Let's pick a different idea for our story: something kind, fun or magical!",
    Language.KO: "이야기에 어울리는 다른 생각을 골라 볼까요? 다정하고 재미있는 생각이면 좋아요!",
}


def is_unsuitable(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return bool(_WORDS.search(folded)) or any(word in folded for word in _KOREAN)


class OfflineModerator(ContentModerator):
    async def check(self, texts: list[str], language: Language) -> None:
        if any(is_unsuitable(text) for text in texts):
            raise ContentRejected(CHILD_MESSAGE[language])
