"""Errors of the use cases and of the ports. The HTTP layer maps each to a status in one place."""


class ApplicationError(Exception):
    """Base of every error a use case or a port raises on purpose."""


class BookAlreadyInProgress(ApplicationError):
    """The user already has a book in progress; only one at a time."""


class NoBookInProgress(ApplicationError):
    """The user has no book in progress."""


class BookNotFound(ApplicationError):
    """No finished book with that id belongs to the caller."""


class InvalidCursor(ApplicationError):
    """A pagination cursor that this service did not hand out."""


class VersionConflict(ApplicationError):
    """A compare-and-set update found the stored book changed (or gone) since it was read."""


class GenerationFailed(ApplicationError):
    """A generator could not produce a page, questions or an illustration; nothing was stored."""


class ContentRejected(ApplicationError):
    """Moderation refused the child's input; `child_message` is safe to show a child."""

    def __init__(self, child_message: str) -> None:
        super().__init__(child_message)
        self.child_message = child_message


class DependencyUnavailable(ApplicationError):
    """A backend the service needs did not answer in time; the request may be retried."""


class StoreUnavailable(DependencyUnavailable):
    """The book-in-progress store (Redis) is unreachable."""


class DatabaseUnavailable(DependencyUnavailable):
    """The finished-book database is unreachable."""


class ImageStorageUnavailable(DependencyUnavailable):
    """The image storage is unreachable."""


class ModerationUnavailable(DependencyUnavailable):
    """The moderation check could not be made; nothing is generated unchecked."""


class ImageNotFound(ApplicationError):
    """No image is stored under that key."""


class ImageLinkRejected(ApplicationError):
    """A signed image link whose signature is wrong or whose time has passed."""


class RateLimited(ApplicationError):
    """A rate limit or a daily quota is used up; `retry_after_seconds` says when to come back."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)


class IdempotencyKeyInUse(ApplicationError):
    """A request with the same idempotency key is still being handled (by default, in another
    process, whose work the client waits for by asking again in a few seconds)."""

    def __init__(self, detail: str, retry_after_seconds: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)


class IdempotencyKeyReused(ApplicationError):
    """The idempotency key was already used for a different request."""


class JobNotFound(ApplicationError):
    """No such generation job is queued, running or recently ended."""


class ExportUnavailable(ApplicationError):
    """A book cannot be exported on this server (a font its script needs is not installed)."""
