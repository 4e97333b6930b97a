"""Named domain errors: every broken rule of the aggregate or a value object is one of these."""


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""


class InvalidValue(DomainError):
    """A value object was built from a value that breaks its own rule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidBookState(DomainError):
    """The book is not in a state that allows the requested change."""


class GenerationInProgress(InvalidBookState):
    """Another page is being generated and its lease has not passed."""


class BookComplete(InvalidBookState):
    """Every page is written: no page may be added."""


class StaleGeneration(InvalidBookState):
    """A writer whose attempt is no longer the current one (its lease passed or it was replaced)."""


class BookNotDone(InvalidBookState):
    """Finishing needs every page written."""


class EmptyBook(InvalidBookState):
    """A forced finish needs at least one page."""


class BeingFinished(InvalidBookState):
    """Another finish holds the book: it is being finished, and will be gone once it is."""


class IllustrationsNotReady(InvalidBookState):
    """Finishing needs every page's illustration drawn."""


class IllustrationNotNeeded(InvalidBookState):
    """The page's illustration is drawn, or still being drawn: there is nothing to retry."""


class PageNotFound(DomainError):
    """The book has no page with that number."""
