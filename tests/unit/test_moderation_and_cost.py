"""What the child typed is checked before anything is generated; what generating cost is kept;
the character sheet and the running summary travel with the book into every prompt."""

from __future__ import annotations

import pytest

from app.application.errors import ContentRejected, ModerationUnavailable
from app.application.ports.generation import IllustrationKind
from app.domain.book import BookState
from app.domain.values import Character, Title, Usage, UserId
from tests.unit.fakes import ALICE, ScriptedContextGenerator, World, make_spec


async def test_a_start_with_unsuitable_words_is_rejected_before_any_generation(
    world: World,
) -> None:
    spec = make_spec(3, characters=(Character("Momo", "a scary monster with teeth"),))
    with pytest.raises(ContentRejected):
        await world.start_book().execute(ALICE, spec)
    assert world.books.peek(ALICE) is None
    assert world.events == [] and world.context_generator.sheets == []
    assert "a scary monster with teeth" in world.moderator.checked[0]


async def test_a_page_idea_with_unsuitable_words_is_rejected_and_changes_nothing(
    world: World,
) -> None:
    book = await world.started()
    before = world.events[:]
    with pytest.raises(ContentRejected):
        await world.write("the scary monster eats the town")
    stored = world.books.peek(ALICE)
    assert stored is not None
    assert (stored.version, stored.state, stored.pages) == (book.version, BookState.IN_PROGRESS, [])
    assert world.events == before


async def test_moderation_down_fails_closed_and_changes_nothing(world: World) -> None:
    book = await world.started()
    world.moderator.unavailable = True
    with pytest.raises(ModerationUnavailable):
        await world.write("a friendly fox")
    stored = world.books.peek(ALICE)
    assert stored is not None and stored.version == book.version and stored.pages == []
    with pytest.raises(ModerationUnavailable):
        await world.start_book().execute(UserId("bob"), make_spec(3))


async def test_the_character_sheet_is_written_once_and_given_to_every_picture(
    world: World,
) -> None:
    book = await world.started()
    await world.write("a map")
    await world.write("a fox")
    assert len(world.context_generator.sheets) == 1
    assert book.character_sheet == "Momo looks the same on every page"
    kinds = [(r.kind, r.context.character_sheet) for r in world.illustrator.requests]
    assert kinds == [
        (IllustrationKind.COVER, book.character_sheet),
        (IllustrationKind.PAGE, book.character_sheet),
        (IllustrationKind.PAGE, book.character_sheet),
    ]


async def test_the_running_summary_is_kept_and_handed_to_the_next_page(world: World) -> None:
    await world.started(page_count=4)
    await world.write("a map")
    book = await world.write("a fox")
    assert book.summary == "p1 p2"
    await world.write("a boat")
    assert world.context_generator.requests[-1][0].summary == "p1 p2"


async def test_usage_adds_up_over_the_book_and_is_kept_when_finished(world: World) -> None:
    book = await world.started(page_count=2)
    sheet, questions, image = Usage(5, 7), Usage(3, 4), Usage(images=1)
    assert book.usage == sheet + questions + image
    await world.write("a map")  # text + questions + image
    book = await world.write("the end")  # the last page asks no questions
    page = ScriptedContextGenerator.USAGE
    expected = sheet + questions + image + (page + questions + image) + (page + image)
    assert book.usage == expected
    finished = await world.finish_book().execute(ALICE, Title("Kept"))
    assert finished.usage == expected
    assert world.finished.rows()[0].usage == expected
