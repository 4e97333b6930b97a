"""The curated bank of next-page suggestions, per language and per part of the story.

`{name}` is one character and `{friend}` another; `pair` templates are used only when the book has
two or more characters. A Korean particle after a placeholder (`{name은}`) is chosen by the final
consonant of the name. Each phase holds at least 12 one-character templates per language.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.values import Language


class Phase(StrEnum):
    BEGINNING = "beginning"
    MIDDLE = "middle"
    ENDING = "ending"


@dataclass(frozen=True, slots=True)
class PhaseBank:
    solo: tuple[str, ...]
    pair: tuple[str, ...]


_ENGLISH: dict[Phase, PhaseBank] = {
    Phase.BEGINNING: PhaseBank(
        solo=(
            "Where does {name} live?",
            "What does {name} love to do most?",
            "What does {name} find on the way home?",
            "Who knocks on {name}'s door one morning?",
            "What is {name} most curious about?",
            "What special thing does {name} always carry?",
            "Where does {name} want to go today?",
            "What does {name} wish for?",
            "Who is {name}'s best friend?",
            "What does {name} see outside the window?",
            "What strange sound does {name} hear?",
            "What makes {name} feel a little nervous?",
            "What surprise is waiting for {name} today?",
            "What does {name} eat before the adventure starts?",
        ),
        pair=(
            "How did {name} and {friend} first meet?",
            "What game do {name} and {friend} like to play together?",
            "Where do {name} and {friend} decide to go?",
            "What does {name} want to show {friend}?",
        ),
    ),
    Phase.MIDDLE: PhaseBank(
        solo=(
            "What does {name} discover behind the door?",
            "Who comes to help {name}?",
            "What goes wrong for {name}?",
            "Where does the path lead {name}?",
            "What does {name} say when everything changes?",
            "What brave thing does {name} do?",
            "What funny thing happens to {name}?",
            "What does {name} find in a hidden box?",
            "How does the weather change around {name}?",
            "Which new friend does {name} meet?",
            "What clever idea does {name} have?",
            "What does {name} hear in the distance?",
            "What does {name} need to fix?",
            "Where does {name} hide?",
        ),
        pair=(
            "What do {name} and {friend} argue about?",
            "How does {friend} help {name}?",
            "What secret does {friend} tell {name}?",
            "What do {name} and {friend} build together?",
        ),
    ),
    Phase.ENDING: PhaseBank(
        solo=(
            "How does {name} solve the problem?",
            "How does {name} get back home?",
            "What does {name} learn today?",
            "Who does {name} thank at the end?",
            "What does {name} take home to remember the day?",
            "How does {name} celebrate?",
            "What does {name} dream about that night?",
            "What happy surprise waits for {name} at the end?",
            "What does {name} promise to do next time?",
            "How does {name} feel now that the adventure is over?",
            "What does {name} tell everyone about the adventure?",
            "Where does {name} rest after the long day?",
            "What is the last thing {name} sees before the story ends?",
        ),
        pair=(
            "How do {name} and {friend} say goodbye?",
            "What do {name} and {friend} promise each other?",
            "How do {name} and {friend} celebrate together?",
            "What gift does {name} give {friend}?",
        ),
    ),
}

_KOREAN: dict[Phase, PhaseBank] = {
    Phase.BEGINNING: PhaseBank(
        solo=(
            "{name은} 어디에 살고 있나요?",
            "{name이} 가장 좋아하는 일은 무엇인가요?",
            "{name은} 집에 오는 길에 무엇을 발견했나요?",
            "어느 날 아침, 누가 {name}의 집 문을 두드렸나요?",
            "{name은} 무엇이 가장 궁금한가요?",
            "{name이} 늘 가지고 다니는 특별한 물건은 무엇인가요?",
            "오늘 {name은} 어디에 가고 싶어 하나요?",
            "{name}의 소원은 무엇인가요?",
            "{name}의 가장 친한 친구는 누구인가요?",
            "{name은} 창밖에서 무엇을 보았나요?",
            "{name이} 들은 이상한 소리는 무엇이었나요?",
            "{name을} 조금 떨리게 하는 것은 무엇인가요?",
            "오늘 {name}에게 어떤 깜짝 선물이 기다리고 있나요?",
            "모험을 떠나기 전에 {name은} 무엇을 먹었나요?",
        ),
        pair=(
            "{name와} {friend은} 어떻게 처음 만났나요?",
            "{name와} {friend이} 함께 즐겨 하는 놀이는 무엇인가요?",
            "{name와} {friend은} 어디로 가기로 했나요?",
            "{name이} {friend}에게 보여 주고 싶은 것은 무엇인가요?",
        ),
    ),
    Phase.MIDDLE: PhaseBank(
        solo=(
            "문 뒤에서 {name은} 무엇을 발견했나요?",
            "누가 {name을} 도와주러 왔나요?",
            "{name}에게 어떤 문제가 생겼나요?",
            "길을 따라가던 {name은} 어디에 도착했나요?",
            "모든 것이 바뀌었을 때 {name은} 뭐라고 말했나요?",
            "{name은} 어떤 용감한 일을 했나요?",
            "{name}에게 어떤 웃긴 일이 일어났나요?",
            "{name이} 숨겨진 상자에서 찾은 것은 무엇인가요?",
            "{name}의 주변에서 날씨가 어떻게 변했나요?",
            "{name은} 어떤 새 친구를 만났나요?",
            "{name은} 어떤 기발한 생각을 떠올렸나요?",
            "{name이} 멀리서 들은 소리는 무엇인가요?",
            "{name은} 무엇을 고쳐야 했나요?",
            "{name은} 어디에 숨었나요?",
        ),
        pair=(
            "{name와} {friend은} 무엇 때문에 다투었나요?",
            "{friend은} {name을} 어떻게 도와주었나요?",
            "{friend이} {name}에게 알려 준 비밀은 무엇인가요?",
            "{name와} {friend이} 함께 만든 것은 무엇인가요?",
        ),
    ),
    Phase.ENDING: PhaseBank(
        solo=(
            "{name은} 문제를 어떻게 해결했나요?",
            "{name은} 어떻게 집으로 돌아왔나요?",
            "오늘 {name은} 무엇을 배웠나요?",
            "마지막에 {name은} 누구에게 고맙다고 말했나요?",
            "{name은} 오늘을 기억하려고 무엇을 가져왔나요?",
            "{name은} 어떻게 축하했나요?",
            "그날 밤 {name은} 어떤 꿈을 꾸었나요?",
            "마지막에 {name}에게 어떤 기쁜 일이 기다리고 있었나요?",
            "다음번에 {name은} 무엇을 하겠다고 약속했나요?",
            "모험이 끝나고 {name은} 어떤 기분이 들었나요?",
            "{name은} 모두에게 모험 이야기를 어떻게 들려주었나요?",
            "긴 하루를 보낸 뒤 {name은} 어디에서 쉬었나요?",
            "이야기가 끝나기 전 {name이} 마지막으로 본 것은 무엇인가요?",
        ),
        pair=(
            "{name와} {friend은} 어떻게 작별 인사를 했나요?",
            "{name와} {friend은} 서로 무엇을 약속했나요?",
            "{name와} {friend은} 함께 어떻게 축하했나요?",
            "{name이} {friend}에게 준 선물은 무엇인가요?",
        ),
    ),
}

BANK: dict[Language, dict[Phase, PhaseBank]] = {Language.EN: _ENGLISH, Language.KO: _KOREAN}
