"""Admin endpoints: look at, finish and take down any user's book, list the books in progress
and finished of every user, a day's cost, and the audit log of what admins did. Needs
`roles: ["admin"]` in the token."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from app.application.errors import NoBookInProgress
from app.application.ports.stores import CURSOR_PATTERN
from app.domain.book import BookState
from app.domain.errors import InvalidValue
from app.domain.values import Title, UserId
from app.infrastructure.tokens import Principal
from app.interfaces.http.dependencies import Admin, Links, ServicesDep
from app.interfaces.http.idempotency import (
    ClientRequestId,
    IdempotentRoute,
    idempotency_responses,
    json_response,
)
from app.interfaces.http.json_route import JsonRoute
from app.interfaces.http.problems import PROBLEM_JSON
from app.interfaces.http.routes.books import BookIdPath, parse_book_id
from app.interfaces.http.schemas import (
    AdminBookOut,
    AdminFinishedBookOut,
    AdminFinishIn,
    AdminShelfOut,
    AuditLogOut,
    BooksInProgressOut,
    BookStateName,
    DayUsageOut,
    ProblemOut,
)
from app.interfaces.http.views import (
    admin_book_view,
    admin_finished_view,
    admin_summary_view,
    audit_entry_view,
    day_usage_view,
    in_progress_item_view,
)

_problem: dict[str, Any] = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
_common: dict[int | str, dict[str, Any]] = {
    401: _problem,
    403: _problem,
    404: _problem,
    422: _problem,
    503: _problem,
}
router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=JsonRoute, responses=_common)
# Keys on these routes are the admin's own: they name the admin's requests, whichever user
# they are about.
changes = APIRouter(
    prefix="/v1/admin", tags=["admin"], route_class=IdempotentRoute, responses=_common
)


UserIdPath = Annotated[
    str,
    Path(description="The user's id: the `sub` of their token, exactly.", examples=["paula"]),
]


Limit = Annotated[int, Query(ge=1, le=100, description="How many, 1-100.")]
Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the previous page, as given (it is opaque: a "
        "cursor the service did not hand out is refused with 422).",
    ),
]
UserFilter = Annotated[
    str | None,
    Query(
        description="Only this user's (exactly their `sub`); an id no token can have lists nothing."
    ),
]
DayQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="A UTC day, `YYYY-MM-DD` (default: today).",
        examples=["2026-12-01"],
    ),
]


def parse_user_id(user_id: str) -> UserId:
    try:
        return UserId(user_id)
    except InvalidValue:
        raise NoBookInProgress("no such user has a book in progress") from None


def _user_filter(user_id: str | None) -> UserId | Literal[False] | None:
    """The user asked for; False for an id no user can have (the list is empty)."""
    if user_id is None:
        return None
    try:
        return UserId(user_id)
    except InvalidValue:
        return False


def _admin_id(principal: Principal) -> UserId:
    return UserId(principal.user_id)


# What MySQL's DATETIME holds (1000-9999), less a year on each side for the day's end.
_DAY_YEARS = (1001, 9998)


def _day(day: str | None) -> date | None:
    if day is None:
        return None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise InvalidValue("day", f"{day} is not a day of the calendar (YYYY-MM-DD)") from None
    if not _DAY_YEARS[0] <= parsed.year <= _DAY_YEARS[1]:
        raise InvalidValue("day", f"no book was finished in {parsed.year}")
    return parsed


@router.get("/users/{user_id}/books/current", summary="A user's book in progress")
async def user_current_book(
    user_id: UserIdPath, admin: Admin, services: ServicesDep, link: Links
) -> AdminBookOut:
    book = await services.use_cases.admin.book_in_progress(_admin_id(admin), parse_user_id(user_id))
    return admin_book_view(book, services.clock.now(), link)


@router.get(
    "/books-in-progress",
    summary="Books in progress of every user, newest change first",
    description="Read from an index kept with each change of a book (never a scan of the "
    "store). Not recorded in the audit log.",
)
async def list_books_in_progress(
    _: Admin,
    services: ServicesDep,
    state: Annotated[
        BookStateName | None, Query(description="Only books stored in this state.")
    ] = None,
    user_id: UserFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> BooksInProgressOut:
    user = _user_filter(user_id)
    if user is False:
        return BooksInProgressOut(items=[], next_cursor=None)
    page = await services.use_cases.admin.books_in_progress(
        state=None if state is None else BookState(state),
        user_id=user,
        limit=limit,
        cursor=cursor,
    )
    now = services.clock.now()
    return BooksInProgressOut(
        items=[in_progress_item_view(book, now) for book in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/books",
    summary="Finished books of every user (or one), newest first, with their cost",
    description="Not recorded in the audit log.",
)
async def list_finished_books(
    _: Admin,
    services: ServicesDep,
    link: Links,
    user_id: UserFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> AdminShelfOut:
    user = _user_filter(user_id)
    if user is False:
        return AdminShelfOut(items=[], next_cursor=None)
    page = await services.use_cases.admin.finished_books(user, limit, cursor)
    return AdminShelfOut(
        items=[admin_summary_view(s, link) for s in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/usage",
    summary="Books finished on a UTC day, and what generating them cost",
    description="Not recorded in the audit log.",
)
async def day_usage(_: Admin, services: ServicesDep, day: DayQuery = None) -> DayUsageOut:
    return day_usage_view(await services.use_cases.admin.usage_on(_day(day)))


@router.get(
    "/audit",
    summary="What admins did, newest first",
    description="Each admin action: `finish`, `takedown`, `view_book_in_progress`, "
    "`view_book`. A view is recorded once it succeeded; a finish once the book is claimed and a "
    "takedown once the book is found, before they are carried out. A refused action, a failed "
    "view and lists are not recorded.",
)
async def list_audit_log(
    _: Admin, services: ServicesDep, limit: Limit = 20, cursor: Cursor = None
) -> AuditLogOut:
    page = await services.use_cases.admin.audit_log(limit, cursor)
    return AuditLogOut(
        items=[audit_entry_view(e) for e in page.items], next_cursor=page.next_cursor
    )


@changes.post(
    "/users/{user_id}/books/current/finish",
    status_code=status.HTTP_201_CREATED,
    response_model=AdminFinishedBookOut,
    responses=idempotency_responses(
        status.HTTP_201_CREATED,
        "`invalid_book_state`: not `done` (with `force`: not in progress with a page)",
    ),
    summary="Finish a user's book (force: with the pages it has)",
)
async def finish_user_book(
    user_id: UserIdPath,
    body: AdminFinishIn,
    admin: Admin,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
) -> Response:
    finished = await services.use_cases.admin.finish(
        _admin_id(admin),
        parse_user_id(user_id),
        Title(body.title),
        force=body.force,
        request_id=request_id,
    )
    return json_response(
        admin_finished_view(finished, link, shared=False),  # just finished: never shared
        status.HTTP_201_CREATED,
        {"Location": f"/v1/admin/books/{finished.id}"},
    )


@router.get("/books/{book_id}", summary="Any user's finished book")
async def any_book(
    book_id: BookIdPath, admin: Admin, services: ServicesDep, link: Links
) -> AdminFinishedBookOut:
    seen = await services.use_cases.admin.finished_book(_admin_id(admin), parse_book_id(book_id))
    return admin_finished_view(seen.book, link, shared=seen.share_link is not None)


@router.delete(
    "/books/{book_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Take down any user's finished book",
    description="What the owner's delete does: the row, its pictures, its exports and its "
    "share link. Recorded in the audit log.",
)
async def take_down_book(book_id: BookIdPath, admin: Admin, services: ServicesDep) -> Response:
    await services.use_cases.admin.take_down(_admin_id(admin), parse_book_id(book_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
