"""The phrases the offline context generator frames a child's idea with, per language.

Placeholders: `{names}` (all the characters), `{name}` (one of them), `{place}` ("in the forest",
"숲속에") and `{where}` ("숲속에서"); a Korean particle after a placeholder (`{names이}`) is chosen
by the final consonant of what it follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.values import Language


@dataclass(frozen=True, slots=True)
class Framings:
    openings: tuple[str, ...]
    openings_with_setting: tuple[str, ...]
    connectives: tuple[str, ...]
    finales: tuple[str, ...]
    asides: tuple[str, ...]
    # The page when nothing printable is left of the child's input.
    blank_idea: str
    closings: tuple[str, ...]
    the_end: str
    # A child's idea that already starts with one of these needs no connective of ours.
    linking_starts: tuple[str, ...]


ENGLISH = Framings(
    openings=(
        "Once upon a time, there lived {names}.",
        "This is the story of {names}.",
        "Our story begins with {names}.",
        "Long, long ago, there lived {names}.",
    ),
    openings_with_setting=(
        "Once upon a time, {place}, there lived {names}.",
        "Long, long ago, {place}, lived {names}.",
        "Our story begins {place} with {names}.",
        "Far away, {place}, there lived {names}.",
    ),
    connectives=(
        "Then",
        "Next",
        "After that",
        "Suddenly",
        "A little later",
        "Just then",
        "Before long",
        "Soon",
    ),
    finales=("Finally", "At last", "In the end"),
    asides=(
        "What will {name} do now?",
        "What a surprise for {name}!",
        "Oh my! {name} can hardly believe it.",
        "How exciting for {name}!",
        "Look at {name}'s wide eyes!",
    ),
    blank_idea="{name} wondered what would happen next.",
    closings=(
        "And that is how the adventure of {names} came to a happy end.",
        "And that is how {names} had the most wonderful day.",
        "And so {names} lived happily ever after.",
        "From that day on, {names} never forgot this adventure.",
    ),
    the_end="The End.",
    linking_starts=(
        "then",
        "next",
        "after",
        "afterwards",
        "suddenly",
        "later",
        "meanwhile",
        "finally",
        "eventually",
        "soon",
        "and",
        "but",
        "so",
        "at last",
        "in the end",
        "one day",
        "once upon",
        "just then",
    ),
)

KOREAN = Framings(
    openings=(
        "옛날 옛적에 {names이} 살았어요.",
        "이것은 {names}의 이야기예요.",
        "아주 먼 옛날, {names이} 살고 있었어요.",
        "지금부터 {names}의 이야기를 들려줄게요.",
    ),
    openings_with_setting=(
        "옛날 옛적, {place} {names이} 살았어요.",
        "아주 먼 옛날, {place} {names이} 살고 있었어요.",
        "이것은 {where} 시작되는 {names}의 이야기예요.",
        "{where} {names}의 이야기가 시작돼요.",
    ),
    connectives=(
        "그러자",
        "그다음에",
        "잠시 후",
        "바로 그때",
        "얼마 지나지 않아",
        "그러고 나서",
        "그런데",
        "한참 뒤",
    ),
    finales=("마침내", "드디어", "마지막으로"),
    asides=(
        "{name은} 이제 어떻게 할까요?",
        "{name}에게는 정말 놀라운 일이었어요.",
        "{name}의 눈이 동그래졌어요.",
        "{name은} 숨을 크게 들이쉬었어요.",
        "{name은} 다음에 무슨 일이 일어날지 궁금했어요.",
    ),
    blank_idea="{name은} 다음에 무슨 일이 일어날지 궁금했어요.",
    closings=(
        "그렇게 {names}의 모험은 행복하게 끝이 났어요.",
        "그래서 {names은} 오래오래 행복하게 살았답니다.",
        "이렇게 {names}의 신나는 하루가 저물었어요.",
        "그날 이후로 {names은} 이 모험을 절대 잊지 않았어요.",
    ),
    the_end="끝.",
    linking_starts=(
        "그리고",
        "그런데",
        "그래서",
        "그러자",
        "그러나",
        "하지만",
        "갑자기",
        "그때",
        "그다음",
        "다음",
        "마침내",
        "드디어",
        "결국",
        "잠시",
        "한참",
        "그러고",
        "그날",
        "어느 날",
        "옛날",
    ),
)

FRAMINGS: dict[Language, Framings] = {Language.EN: ENGLISH, Language.KO: KOREAN}
