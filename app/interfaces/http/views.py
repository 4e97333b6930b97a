"""Domain objects as the views of docs/api.md, with image links made fresh for each response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from app.application.use_cases.admin import DayUsage
from app.domain.audit import AuditEntry
from app.domain.book import Book, BookState
from app.domain.finished import FinishedBook, FinishedBookSummary
from app.domain.sharing import ShareLink
from app.domain.values import BookSpec, Page, Usage
from app.interfaces.http.schemas import (
    AdminBookOut,
    AdminBookSummaryOut,
    AdminFinishedBookOut,
    AuditEntryOut,
    BookInProgressItemOut,
    BookOut,
    BookSummaryOut,
    CharacterOut,
    DayUsageOut,
    FinishedBookOut,
    FinishedPageOut,
    PageOut,
    SharedBookOut,
    SharedPageOut,
    ShareLinkOut,
    UsageOut,
)

LinkMaker = Callable[[str], str]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _characters(spec: BookSpec) -> list[CharacterOut]:
    return [CharacterOut(name=c.name, description=c.description) for c in spec.characters]


def book_view(book: Book, now: datetime, link: LinkMaker) -> BookOut:
    return BookOut(
        id=str(book.id),
        state=book.state_at(now).value,
        language=book.spec.language.value,
        reader_age=book.spec.reader_age,
        setting=book.spec.setting,
        characters=_characters(book.spec),
        page_count=book.spec.page_count,
        pages=[_page(p, now, link) for p in book.pages],
        questions=list(book.questions.items),
        cover_image_url=link(book.cover_key) if book.cover_key else None,
        version=book.version,
        created_at=rfc3339(book.created_at),
        updated_at=rfc3339(book.updated_at),
        expires_at=rfc3339(book.expires_at),
        queued_until=_queued_until(book, now),
    )


def _queued_until(book: Book, now: datetime) -> str | None:
    generation = book.generation
    if generation is None or book.state_at(now) is not BookState.GENERATING:
        return None
    starts_at = generation.waiting_until(now)
    return None if starts_at is None else rfc3339(starts_at)


def _page(page: Page, now: datetime, link: LinkMaker) -> PageOut:
    status = page.image_status_at(now)
    return PageOut(
        number=page.number,
        input=page.input,
        text=page.text,
        image_url=link(page.image_key) if page.image_key is not None else None,
        image_status=status.value,
    )


def finished_view(book: FinishedBook, link: LinkMaker) -> FinishedBookOut:
    return FinishedBookOut(
        id=str(book.id),
        title=book.title.value,
        language=book.spec.language.value,
        reader_age=book.spec.reader_age,
        setting=book.spec.setting,
        characters=_characters(book.spec),
        page_count=book.spec.page_count,
        pages=[
            FinishedPageOut(number=p.number, text=p.text, image_url=link(p.image_key))
            for p in book.pages
        ],
        cover_image_url=link(book.cover_key),
        created_at=rfc3339(book.created_at),
        finished_at=rfc3339(book.finished_at),
        finished_by=book.finished_by.value,
    )


def usage_view(usage: Usage) -> UsageOut:
    return UsageOut(tokens_in=usage.tokens_in, tokens_out=usage.tokens_out, images=usage.images)


def admin_book_view(book: Book, now: datetime, link: LinkMaker) -> AdminBookOut:
    view = book_view(book, now, link)
    return AdminBookOut(**view.model_dump(), usage=usage_view(book.usage))


def admin_finished_view(
    book: FinishedBook, link: LinkMaker, *, shared: bool
) -> AdminFinishedBookOut:
    view = finished_view(book, link)
    return AdminFinishedBookOut(
        **view.model_dump(),
        user_id=book.user_id.value,
        usage=usage_view(book.usage),
        share_link_active=shared,
    )


def shared_view(book: FinishedBook, link: LinkMaker) -> SharedBookOut:
    return SharedBookOut(
        title=book.title.value,
        language=book.spec.language.value,
        reader_age=book.spec.reader_age,
        characters=_characters(book.spec),
        page_count=book.spec.page_count,
        cover_image_url=link(book.cover_key),
        pages=[
            SharedPageOut(number=p.number, text=p.text, image_url=link(p.image_key))
            for p in book.pages
        ],
        finished_at=rfc3339(book.finished_at),
    )


def share_link_view(link: ShareLink, token: str, base_url: str) -> ShareLinkOut:
    return ShareLinkOut(
        url=f"{base_url}/read/{token}",
        token=token,
        created_at=rfc3339(link.created_at),
        expires_at=None if link.expires_at is None else rfc3339(link.expires_at),
    )


def summary_view(summary: FinishedBookSummary, link: LinkMaker) -> BookSummaryOut:
    return BookSummaryOut(
        id=str(summary.id),
        title=summary.title.value,
        cover_image_url=link(summary.cover_key),
        page_count=summary.page_count,
        finished_at=rfc3339(summary.finished_at),
    )


def in_progress_item_view(book: Book, now: datetime) -> BookInProgressItemOut:
    return BookInProgressItemOut(
        user_id=book.user_id.value,
        id=str(book.id),
        state=book.state.value,
        pages_written=len(book.pages),
        page_count=book.spec.page_count,
        updated_at=rfc3339(book.updated_at),
        expires_at=rfc3339(book.expires_at),
        stuck=book.holds_passed_lease(now),
    )


def admin_summary_view(summary: FinishedBookSummary, link: LinkMaker) -> AdminBookSummaryOut:
    return AdminBookSummaryOut(
        id=str(summary.id),
        user_id=summary.user_id.value,
        title=summary.title.value,
        cover_image_url=link(summary.cover_key),
        page_count=summary.page_count,
        language=summary.language.value,
        finished_at=rfc3339(summary.finished_at),
        finished_by=summary.finished_by.value,
        usage=usage_view(summary.usage),
    )


def day_usage_view(day: DayUsage) -> DayUsageOut:
    return DayUsageOut(
        day=day.day.isoformat(), books=day.totals.books, usage=usage_view(day.totals.usage)
    )


def audit_entry_view(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=str(entry.id),
        at=rfc3339(entry.at),
        admin_id=entry.admin_id.value,
        action=entry.action.value,
        user_id=None if entry.user_id is None else entry.user_id.value,
        book_id=None if entry.book_id is None else str(entry.book_id),
        detail=dict(entry.detail),
    )
