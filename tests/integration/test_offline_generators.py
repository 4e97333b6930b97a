"""The offline generators: page text from the child's words, bank questions, Pillow pictures."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from app.application.errors import ContentRejected, GenerationFailed
from app.application.ports.generation import IllustrationKind, IllustrationRequest
from app.domain.values import (
    BookSpec,
    Character,
    Language,
    Page,
    StoryContext,
    Usage,
    text_problem,
)
from app.infrastructure.generation.offline import (
    OfflineContextGenerator,
    OfflineModerator,
    OfflineQuestionGenerator,
    PillowIllustrator,
    question_bank,
)
from app.infrastructure.generation.offline import context_generator as writer_module
from app.infrastructure.generation.offline import illustrator as illustrator_module
from app.infrastructure.generation.offline import question_generator as questions_module
from app.infrastructure.generation.offline.fonts import FontBook
from app.infrastructure.generation.offline.framings import ENGLISH, KOREAN
from app.infrastructure.generation.offline.language import fill, with_particle
from app.infrastructure.generation.offline.question_bank import BANK, Phase

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ROOT = Path(__file__).resolve().parents[2]


def context(
    names: tuple[str, ...] = ("Mina", "Tori"),
    *,
    written: int = 0,
    page_count: int = 6,
    language: Language = Language.EN,
    setting: str = "",
    texts: tuple[str, ...] = (),
) -> StoryContext:
    """A story with `written` pages done; the next page to write is `written + 1`."""
    spec = BookSpec(tuple(Character(name) for name in names), page_count, language, setting=setting)
    pages = tuple(
        Page(n, f"idea {n}", texts[n - 1] if n <= len(texts) else f"Page {n} text.", f"key-{n}")
        for n in range(1, written + 1)
    )
    return StoryContext(spec, pages)


async def write(ctx: StoryContext, child_input: str) -> str:
    return (await OfflineContextGenerator().create(ctx, child_input)).text


# -- context generator ---------------------------------------------------------------------------


async def test_first_page_opens_with_the_setting_and_the_characters() -> None:
    text = await write(context(setting="a magical forest"), "mina finds a dragon egg")

    assert "in a magical forest" in text
    assert "Mina and Tori" in text
    assert text.endswith("Mina finds a dragon egg.")


async def test_first_page_without_a_setting_still_introduces_the_characters() -> None:
    text = await write(context(("Mina", "Tori", "Bo")), "the sun was shining")

    assert "Mina, Tori and Bo" in text
    assert text.endswith("The sun was shining.")


async def test_messy_input_is_tidied_into_a_sentence() -> None:
    text = await write(context(written=2), "  \tthe   dragon\x00 egg\n\ncracks open!!!  \x07")

    assert "the dragon egg cracks open!" in text
    assert "  " not in text
    assert not any(ord(char) < 32 for char in text)
    assert text[0].isupper()


async def test_input_without_punctuation_gets_a_full_stop() -> None:
    text = await write(context(written=2), "Tori sings a song")

    assert "Tori sings a song." in text


async def test_names_typed_in_lowercase_are_spelled_as_given() -> None:
    text = await write(context(written=1), "then tori and i hug mina")

    assert "Tori and I hug Mina." in text


async def test_middle_page_begins_with_a_connective_and_varies_it() -> None:
    ctx = context(written=1)
    first = await write(ctx, "the egg wobbles")
    following = context(written=2, texts=("Opening.", first))
    second = await write(following, "the egg wobbles")

    used = [c for c in ENGLISH.connectives if first.startswith(c + ", ")]
    assert used, first
    assert not second.startswith(used[0] + ","), "the same connective twice in a row"
    assert any(second.startswith(c + ", ") for c in ENGLISH.connectives)


async def test_middle_page_brings_in_a_character_when_the_idea_names_none() -> None:
    text = await write(context(written=2), "a storm rolls over the hills")

    assert "Mina" in text or "Tori" in text


async def test_last_page_closes_the_story() -> None:
    text = await write(context(written=5), "they fly home")

    assert text.endswith("The End.")
    assert "they fly home." in text
    closing = text.removesuffix(" The End.")
    assert any(closing.endswith(fill(c, {"names": "Mina and Tori"})) for c in ENGLISH.closings)


async def test_one_page_book_opens_and_closes_on_the_same_page() -> None:
    text = await write(context(page_count=1, setting="Seoul"), "mina wakes up")

    assert "in Seoul" in text
    assert "Mina wakes up." in text
    assert text.endswith("The End.")


async def test_korean_book_is_framed_in_korean() -> None:
    ctx = context(("하늘", "지아"), language=Language.KO, setting="마법의 숲")
    text = await write(ctx, "하늘이 용 알을 찾았어요")

    assert "마법의 숲" in text
    assert "하늘과 지아" in text, "과 follows 하늘, whose last syllable ends in a consonant"
    assert text.endswith("하늘이 용 알을 찾았어요.")
    assert not re.search(r"Once|story|The End", text)


async def test_korean_last_page_closes_the_story_in_korean() -> None:
    ctx = context(("민수", "지아"), written=5, language=Language.KO)
    text = await write(ctx, "모두 집으로 돌아갔어요")

    assert text.endswith("끝.")
    assert "모두 집으로 돌아갔어요." in text
    assert any(text.startswith(f + " ") for f in KOREAN.finales)
    assert "The End" not in text


async def test_input_with_nothing_printable_still_gives_a_page() -> None:
    text = await write(context(("Mina",), written=2), "\x00\x01\u200b")

    assert text.strip()
    assert "Mina" in text


async def test_longest_inputs_stay_under_a_thousand_characters() -> None:
    names = tuple(f"{letter * 39}x" for letter in "ABCDE")
    ctx = context(names, page_count=1, setting="s" * 200)
    text = await write(ctx, "word " * 100)

    assert 0 < len(text) <= 1000
    assert Page(1, "idea", text, "key").text == text


async def test_writer_errors_become_generation_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise ValueError("boom")

    monkeypatch.setattr(writer_module, "tidy", broken)

    with pytest.raises(GenerationFailed):
        await write(context(), "anything")


# -- question generator ------------------------------------------------------------------------


def possible_questions(language: Language, phase: Phase, names: tuple[str, ...]) -> set[str]:
    bank = BANK[language][phase]
    pairs = [(n, f) for n, f in itertools.product(names, names) if n != f]
    solo = {fill(t, {"name": n, "friend": n}) for t in bank.solo for n in names}
    return solo | {fill(t, {"name": n, "friend": f}) for t in bank.pair for n, f in pairs}


async def ask(ctx: StoryContext) -> list[str]:
    suggestions = await OfflineQuestionGenerator().create(ctx)
    assert suggestions.usage == Usage()  # offline costs nothing
    return list(suggestions.items)


@pytest.mark.parametrize("language", [Language.EN, Language.KO])
@pytest.mark.parametrize("written", range(6))
async def test_questions_are_one_to_three_distinct_and_name_a_character(
    language: Language, written: int
) -> None:
    names = ("Mina", "Tori") if language is Language.EN else ("민수", "하늘")
    questions = await ask(context(names, written=written, language=language))

    assert 1 <= len(questions) <= 3
    assert len(set(questions)) == len(questions)
    assert all(any(name in q for name in names) for q in questions)
    assert all(0 < len(q) <= 300 for q in questions)


@pytest.mark.parametrize("language", [Language.EN, Language.KO])
async def test_questions_follow_the_part_of_the_story(language: Language) -> None:
    names = ("Mina", "Tori") if language is Language.EN else ("민수", "하늘")
    cases = {0: Phase.BEGINNING, 3: Phase.MIDDLE, 6: Phase.ENDING, 7: Phase.ENDING}
    for written, phase in cases.items():
        questions = await ask(context(names, written=written, page_count=8, language=language))
        assert set(questions) <= possible_questions(language, phase, names), (written, questions)


async def test_near_the_end_means_the_last_two_pages() -> None:
    phases = [questions_module.phase_of(context(written=w, page_count=8)) for w in range(8)]

    assert phases[-2:] == [Phase.ENDING, Phase.ENDING]
    assert phases[0] is Phase.BEGINNING
    assert Phase.ENDING not in phases[:-2]


async def test_questions_differ_between_english_and_korean() -> None:
    english = await ask(context(("Mina",), language=Language.EN))
    korean = await ask(context(("Mina",), language=Language.KO))

    assert not any(HANGUL.search(q) for q in english)
    assert all(HANGUL.search(q) for q in korean)


async def test_questions_feature_more_than_one_character() -> None:
    names = ("Mina", "Tori", "Bo")
    questions = await ask(context(names, written=2))

    featured = {name for name in names for q in questions if name in q}
    assert len(featured) >= 2


async def test_questions_change_as_the_story_moves_on() -> None:
    answers = {tuple(await ask(context(written=w, page_count=20))) for w in range(6)}

    assert len(answers) > 1


async def test_no_questions_once_the_book_is_complete() -> None:
    assert await ask(context(written=6)) == []


def test_bank_holds_at_least_twelve_templates_per_language_and_phase() -> None:
    for language, phase in itertools.product(Language, Phase):
        solo = BANK[language][phase].solo
        assert len(set(solo)) >= 12, (language, phase)


def test_korean_particles_follow_the_final_consonant() -> None:
    assert with_particle("하늘", "은") == "하늘은"
    assert with_particle("지아", "은") == "지아는"
    assert with_particle("민준", "이") == "민준이"
    assert with_particle("민수", "이") == "민수가"
    assert with_particle("곰", "을") == "곰을"
    assert with_particle("토끼", "와") == "토끼와"


async def test_korean_questions_pick_particles_for_hangul_names() -> None:
    for written in range(6):
        for q in await ask(context(("하늘", "민수"), written=written, language=Language.KO)):
            assert "(" not in q
            assert not re.search("하늘[는가를]|민수[은이을]", q), q


async def test_asker_errors_become_generation_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(question_bank.BANK, Language.EN, {})

    with pytest.raises(GenerationFailed):
        await ask(context())


def test_choices_do_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import asyncio, json\n"
        "from tests.integration.test_offline_generators import context, write, ask\n"
        "ctx = context(written=2, setting='a castle')\n"
        "print(json.dumps([asyncio.run(write(ctx, 'a dragon appears')), asyncio.run(ask(ctx))]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True
        )
        outputs.append(json.loads(done.stdout))

    assert outputs[0] == outputs[1]


# -- illustrator ------------------------------------------------------------------------------


def page_request(ctx: StoryContext, number: int, scene: str) -> IllustrationRequest:
    return IllustrationRequest(ctx, IllustrationKind.PAGE, scene, number)


def open_png(data: bytes) -> PILImage.Image:
    picture = PILImage.open(io.BytesIO(data))
    picture.load()
    return picture


async def test_page_is_a_valid_png_of_the_expected_size() -> None:
    image = await PillowIllustrator().draw(page_request(context(), 1, "Mina finds an egg"))

    picture = open_png(image.data)
    assert image.content_type == "image/png"
    assert picture.format == "PNG"
    assert picture.size == (768, 512)


async def test_pages_of_one_book_differ() -> None:
    ctx = context(setting="a magical forest")
    illustrator = PillowIllustrator()

    first = await illustrator.draw(page_request(ctx, 1, "The egg wobbles"))
    second = await illustrator.draw(page_request(ctx, 2, "The egg wobbles"))

    assert first.data != second.data


async def test_same_request_draws_the_same_picture() -> None:
    request = page_request(context(), 3, "A storm at night")
    illustrator = PillowIllustrator()

    assert (await illustrator.draw(request)).data == (await illustrator.draw(request)).data


@pytest.mark.parametrize("setting", ["", "a castle by the sea"])
async def test_cover_is_drawn_with_or_without_a_setting(setting: str) -> None:
    ctx = context(setting=setting)
    image = await PillowIllustrator().draw(
        IllustrationRequest(ctx, IllustrationKind.COVER, scene=setting)
    )

    assert open_png(image.data).size == (768, 512)


@pytest.mark.parametrize("font_candidates", ["system", "none"])
async def test_korean_book_is_drawn_with_or_without_a_cjk_font(font_candidates: str) -> None:
    illustrator = PillowIllustrator() if font_candidates == "system" else PillowIllustrator(())
    ctx = context(("민수", "지아", "Tom"), language=Language.KO, setting="바닷속 왕국")
    long_scene = "민수가 용 알을 찾았어요! " * 30

    page = await illustrator.draw(page_request(ctx, 1, long_scene))
    cover = await illustrator.draw(IllustrationRequest(ctx, IllustrationKind.COVER, "바닷속 왕국"))

    assert open_png(page.data).size == (768, 512)
    assert open_png(cover.data).size == (768, 512)


def test_text_the_built_in_font_cannot_draw_is_left_out() -> None:
    fonts = FontBook(None)

    assert (
        fonts.drawable("민수 and Mina\u2019s café \u2014 ★ naïve") == "and Mina\u2019s cafe - naive"
    )


async def test_drawing_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real_draw = illustrator_module._draw

    def recording_draw(*args: object) -> bytes:
        threads.append(threading.current_thread())
        return real_draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(illustrator_module, "_draw", recording_draw)

    await PillowIllustrator().draw(page_request(context(), 1, "Off the loop"))

    assert threads
    assert threads[0] is not threading.main_thread()
    assert threading.current_thread() is threading.main_thread()


async def test_event_loop_keeps_running_while_pages_are_drawn() -> None:
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    illustrator = PillowIllustrator()
    task = asyncio.create_task(ticker())
    for number in range(1, 6):
        await illustrator.draw(page_request(context(), number, "Ticking along"))
    stop.set()
    await task

    assert ticks >= 5


async def test_illustrator_errors_become_generation_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> bytes:
        raise OSError("disk on fire")

    monkeypatch.setattr(illustrator_module, "render_png", broken)

    with pytest.raises(GenerationFailed):
        await PillowIllustrator().draw(page_request(context(), 1, "Anything"))


@pytest.mark.parametrize(
    "text",
    ["They kill the dragon", "a BLOODY sword", "피투성이 괴물", "마약을 숨겼다", "Shit happens"],
)
async def test_offline_moderation_rejects_unsuitable_words(text: str) -> None:
    with pytest.raises(ContentRejected):
        await OfflineModerator().check(["a nice idea", text], Language.EN)


@pytest.mark.parametrize(
    "text", ["Momo learns a new skill", "the gunnysack of apples", "모모가 죽을 먹었어요", ""]
)
async def test_offline_moderation_lets_ordinary_ideas_through(text: str) -> None:
    await OfflineModerator().check([text], Language.KO)


async def test_offline_moderation_speaks_the_books_language() -> None:
    with pytest.raises(ContentRejected) as korean:
        await OfflineModerator().check(["살인 사건"], Language.KO)
    with pytest.raises(ContentRejected) as english:
        await OfflineModerator().check(["a murder"], Language.EN)
    assert "이야기" in korean.value.child_message and "story" in english.value.child_message


async def test_offline_character_sheet_is_the_childs_own_descriptions() -> None:
    spec = BookSpec((Character("Momo", "a rabbit with a red scarf"), Character("Tori")), 3)
    sheet = await OfflineContextGenerator().character_sheet(spec)
    assert sheet.text == "Momo: a rabbit with a red scarf\nTori"
    assert sheet.usage == Usage()


def _typed(max_size: int, *, multiline: bool, needs_visible: bool) -> st.SearchStrategy[str]:
    """Text as the request rules accept it (what reaches the writer)."""
    return st.text(st.characters(codec="utf-8"), min_size=1, max_size=max_size).filter(
        lambda t: text_problem(t, multiline=multiline, min_visible=int(needs_visible)) is None
    )


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    names=st.lists(_typed(40, multiline=False, needs_visible=True), min_size=1, max_size=5),
    setting=_typed(60, multiline=False, needs_visible=False) | st.just(""),
    idea=_typed(500, multiline=True, needs_visible=True),
    language=st.sampled_from(list(Language)),
    written=st.integers(0, 2),
)
@example(names=["A\\"], setting="", idea="0", language=Language.EN, written=0)
@example(names=["\\g<0>x"], setting="", idea="\\g<0>x", language=Language.EN, written=1)
def test_the_writer_writes_a_page_for_any_text_the_api_accepts(
    names: list[str], setting: str, idea: str, language: Language, written: int
) -> None:
    ctx = context(
        tuple(n.strip() for n in names),
        written=written,
        page_count=written + 2,
        language=language,
        setting=setting.strip(),
    )
    page = Page(written + 1, idea, writer_module.write_page(ctx, idea), None)
    assert page.text
