"""Offline context generator: the page text is the child's own idea, tidied and framed as a story.

The default when no AI key is configured. It invents no plot. It tidies the child's words
(whitespace, control characters, capital letter, closing punctuation) and frames them by the page's
place in the book, in the book's language: page 1 opens the story with the characters (and the
setting), middle pages begin with a connective and bring a character in when the idea names none,
and the last page closes the story ("... And that is how ... The End."). Every choice among phrases
comes from a SHA-256 of the inputs, so the same page always reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from app.application.errors import GenerationFailed
from app.application.ports.generation import CharacterSheet, ContextGenerator, PageText
from app.domain.values import BookSpec, Language, StoryContext
from app.infrastructure.generation.offline.cleanup import tidy
from app.infrastructure.generation.offline.framings import FRAMINGS, Framings
from app.infrastructure.generation.offline.language import (
    and_friends,
    digest,
    fill,
    join_names,
    pick,
)

MAX_PAGE_TEXT = 1000
_MAX_IDEA = 600
_FIRST_WORD = re.compile(r"^([\"'\u201c\u2018(]*)(\S+)")
_WORD_EDGES = "\"'\u201c\u201d\u2018\u2019()[]{}.,!?;:…"
_PREPOSITIONS = frozenset(
    (
        *("in", "on", "at", "under", "inside", "near", "by", "beside", "behind", "above"),
        *("below", "beyond", "across", "over", "among", "between", "outside", "within"),
        *("around", "along", "past", "through", "into", "onto", "upon", "deep", "far", "high"),
    )
)
_DETERMINERS = frozenset(
    ("a", "an", "the", "my", "our", "your", "their", "his", "her", "its", "some", "this", "that")
)


class OfflineContextGenerator(ContextGenerator):
    """Writes the page from the child's own words; needs no network and no key."""

    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        # The child's own descriptions are the sheet: the offline illustrator draws from them.
        lines = [f"{c.name}: {c.description}" if c.description else c.name for c in spec.characters]
        return CharacterSheet("\n".join(lines))

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        try:
            return PageText(write_page(context, child_input))
        except Exception as error:
            raise GenerationFailed(f"the offline context generator failed: {error}") from error


def write_page(context: StoryContext, child_input: str) -> str:
    names = [character.name for character in context.spec.characters]
    text = _compose(context, child_input, names, setting=context.spec.setting)
    if len(text) > MAX_PAGE_TEXT:
        # Five long names and a long setting around a long idea: name one character, skip the place.
        short = [and_friends(names[0], context.spec.language)] if len(names) > 1 else names
        text = _compose(context, child_input, short, setting="")
    return text[:MAX_PAGE_TEXT]


def _compose(context: StoryContext, child_input: str, names: Sequence[str], setting: str) -> str:
    spec = context.spec
    language = spec.language
    framings = FRAMINGS[language]
    page = context.next_page_number
    first, last = page == 1, page >= spec.page_count
    seed = digest(language, page, spec.page_count, spec.setting, child_input, *names)
    english = language is Language.EN
    idea = tidy(child_input, english=english, max_len=_MAX_IDEA)
    if english:
        idea = _spell_names_as_given(idea, names)
    everyone = {"names": join_names(names, language)}

    sentences: list[str] = []
    if first:
        sentences.append(_opening(framings, language, setting, everyone, idea, seed))
    if not idea:
        sentences.append(fill(framings.blank_idea, {"name": pick(names, seed, 2)}))
    elif first or _already_linked(idea, framings):
        sentences.append(idea)
    else:
        options = framings.finales if last else framings.connectives
        previous = context.pages[-1].text if context.pages else ""
        connective = _fresh(options, seed, previous)
        protected = [*names, *_capitalised_words(spec.setting)]
        sentences.append(_link(connective, idea, english, protected))
        if not last and not _names_anyone(idea, names):
            aside = pick(framings.asides, seed, 3)
            sentences.append(fill(aside, {"name": pick(names, seed, 4)}))
    if last:
        sentences.append(fill(pick(framings.closings, seed, 5), everyone))
        sentences.append(framings.the_end)
    return " ".join(sentences)


def _opening(
    framings: Framings,
    language: Language,
    setting: str,
    everyone: dict[str, str],
    idea: str,
    seed: bytes,
) -> str:
    place = setting.strip().rstrip(".!?,;:。 ")
    templates = framings.openings_with_setting if place else framings.openings
    # "Once upon a time, ..." twice in a row reads badly when the child wrote it already.
    idea_start = _bare(idea.split(" ", 1)[0]) if idea else ""
    fresh = [t for t in templates if _bare(t.split(" ", 1)[0]) != idea_start] or list(templates)
    values = dict(everyone)
    if place:
        values.update(_place_phrases(place, language))
    return fill(pick(fresh, seed, 0), values)


def _place_phrases(place: str, language: Language) -> dict[str, str]:
    if language is Language.KO:
        if place.endswith("에서"):
            return {"place": place[:-1], "where": place}
        if place.endswith("에"):
            return {"place": place, "where": place + "서"}
        return {"place": place + "에", "where": place + "에서"}
    first, _, rest = place.partition(" ")
    if first.lower() in _PREPOSITIONS:
        phrase = f"{first.lower()} {rest}".strip()
    elif first.lower() in _DETERMINERS:
        phrase = f"in {first.lower()} {rest}".strip()
    else:
        phrase = f"in {place}"
    return {"place": phrase, "where": phrase}


def _fresh(options: Sequence[str], seed: bytes, previous: str) -> str:
    """A connective chosen by the seed, but not the one the previous page began with."""
    index = options.index(pick(options, seed, 6))
    if previous.startswith(options[index]):
        index = (index + 1) % len(options)
    return options[index]


def _link(connective: str, idea: str, english: bool, protected: Sequence[str]) -> str:
    if not english:
        return f"{connective} {idea}"
    return f"{connective}, {_lower_first_word(idea, protected)}"


def _lower_first_word(idea: str, protected: Sequence[str]) -> str:
    """Lower-case the first word after a connective unless it looks like a name."""
    match = _FIRST_WORD.match(idea)
    if match is None:
        return idea
    word = match.group(2)
    bare = _bare(word)
    keep = {p.casefold() for p in protected} | {p.split(" ")[0].casefold() for p in protected}
    if (
        bare.casefold() in keep
        or bare.replace("\u2019", "'") in {"I", "I'm", "I'll", "I've", "I'd"}
        or (len(bare) > 1 and bare.isupper())
        or any(char.isupper() for char in bare[1:])
    ):
        return idea
    start = match.start(2)
    return idea[:start] + idea[start].lower() + idea[start + 1 :]


def _spell_names_as_given(idea: str, names: Sequence[str]) -> str:
    """A child who types "mina" means the character "Mina"."""
    for name in names:
        if name.lower() != name.upper():
            pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
            idea = pattern.sub(_literal(name), idea)
    return idea


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement that is `text` as is (a string would be read as a template: `\\1`)."""
    return lambda _: text


def _already_linked(idea: str, framings: Framings) -> bool:
    lowered = idea.casefold()
    for start in framings.linking_starts:
        if lowered.startswith(start):
            rest = lowered[len(start) :]
            # Korean glues endings on (그때부터); English needs the whole word ("so", not "sober").
            if not start.isascii() or not rest or not rest[0].isalnum():
                return True
    return False


def _names_anyone(idea: str, names: Sequence[str]) -> bool:
    lowered = idea.casefold()
    return any(name.casefold() in lowered for name in names)


def _capitalised_words(text: str) -> list[str]:
    return [_bare(word) for word in text.split() if word[:1].isupper()]


def _bare(word: str) -> str:
    return word.strip(_WORD_EDGES).removesuffix("'s").removesuffix("\u2019s")
