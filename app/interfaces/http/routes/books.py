"""The user's own books: the one in progress, and the finished ones on their shelf."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.application.errors import BookNotFound
from app.application.ports.stores import CURSOR_PATTERN
from app.domain.book import Book
from app.domain.values import MAX_PAGES, BookSpec, Character, ChildInput, Language, Title
from app.interfaces.composition import Services
from app.interfaces.http.dependencies import (
    BEARER,
    CurrentUser,
    Links,
    ServicesDep,
    reader_of,
)
from app.interfaces.http.idempotency import (
    ClientRequestId,
    IdempotentRoute,
    idempotency_responses,
    json_response,
)
from app.interfaces.http.json_route import JsonRoute
from app.interfaces.http.plain_route import PlainRoute
from app.interfaces.http.prefer import ASYNC_APPLIED, ASYNC_RESPONSE, PreferHeader, wants_async
from app.interfaces.http.problems import PROBLEM_JSON
from app.interfaces.http.schemas import (
    BookOut,
    FinishedBookOut,
    FinishIn,
    ProblemOut,
    ShelfOut,
    StartBookIn,
    WritePageIn,
)
from app.interfaces.http.views import LinkMaker, book_view, finished_view, summary_view

_problem: dict[str, Any] = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
_common: dict[int | str, dict[str, Any]] = {401: _problem, 422: _problem, 503: _problem}
router = APIRouter(prefix="/v1/books", tags=["books"], route_class=JsonRoute, responses=_common)
# The read clients poll, matched before every other route.
polled = APIRouter(prefix="/v1/books", tags=["books"], responses=_common)
# The POST routes that change a book, each safe to repeat with an Idempotency-Key.
changes = APIRouter(
    prefix="/v1/books", tags=["books"], route_class=IdempotentRoute, responses=_common
)


BookIdPath = Annotated[
    str,
    Path(
        description="A finished book's `id` (a UUID); any other id is 404.",
        examples=["0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10"],
    ),
]


def parse_book_id(book_id: str) -> UUID:
    """A book id that is not a UUID names no book: 404, like any unknown id."""
    try:
        return UUID(book_id)
    except ValueError:
        raise BookNotFound("no such book") from None


@changes.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookOut,
    responses={
        **idempotency_responses(
            status.HTTP_201_CREATED, "`book_already_in_progress`: the user already has one"
        ),
        429: {**_problem, "description": "`rate_limited`, with `Retry-After`."},
        502: _problem,
    },
    summary="Start a book",
)
async def start_book(
    body: StartBookIn,
    user: CurrentUser,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
) -> Response:
    spec = BookSpec(
        characters=tuple(Character(c.name, c.description) for c in body.characters),
        page_count=body.page_count,
        language=Language(body.language),
        reader_age=body.reader_age,
        setting=body.setting,
    )
    book = await services.use_cases.start_book.execute(user, spec, request_id=request_id)
    view = book_view(book, services.clock.now(), link)
    return json_response(view, status.HTTP_201_CREATED, {"Location": "/v1/books/current"})


async def current_book(request: Request) -> Response:
    reader = await reader_of(request)
    book = await reader.services.use_cases.queries.current(reader.user)
    return json_response(book_view(book, reader.services.clock.now(), reader.link))


polled.add_api_route(
    "/current",
    current_book,
    methods=["GET"],
    response_model=BookOut,
    responses={404: _problem},
    summary="The book in progress",
    dependencies=[BEARER],
    route_class_override=PlainRoute,  # what clients poll: no dependency solving
)


@router.delete(
    "/current",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _problem},
    summary="Discard the book in progress",
)
async def discard_book(user: CurrentUser, services: ServicesDep) -> Response:
    await services.use_cases.discard_book.execute(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@changes.post(
    "/current/pages",
    response_model=BookOut,
    responses={
        **idempotency_responses(
            status.HTTP_200_OK, "`invalid_book_state`: the book is `generating` or `done`"
        ),
        202: {**ASYNC_RESPONSE, "model": BookOut},
        404: _problem,
        429: {**_problem, "description": "`rate_limited`, with `Retry-After`."},
        502: _problem,
    },
    summary="Write the next page",
    description="With `Prefer: respond-async` the answer is 202 at once with the book "
    "`generating`; the page is written in the background, its text stored and announced "
    "(`page_text`, `questions`) before its picture (`image_ready`, `page_done`) on "
    "GET /v1/books/current/events. Polling GET /v1/books/current shows the same.",
)
async def write_page(
    body: WritePageIn,
    user: CurrentUser,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
    prefer: PreferHeader = None,
) -> Response:
    wait = not wants_async(prefer)
    book = await services.use_cases.write_page.execute(
        user, ChildInput(body.input), wait=wait, request_id=request_id
    )
    return _answer(book, wait, services, link)


def _answer(book: Book, waited: bool, services: Services, link: LinkMaker) -> Response:
    """200 with the work done, or 202 for `Prefer: respond-async`: the work goes on after."""
    view = book_view(book, services.clock.now(), link)
    return json_response(view) if waited else json_response(view, 202, ASYNC_APPLIED)


@changes.post(
    "/current/pages/{number}/illustration",
    response_model=BookOut,
    responses={
        **idempotency_responses(
            status.HTTP_200_OK,
            "`invalid_book_state`: the picture is drawn already, or being drawn",
        ),
        202: {**ASYNC_RESPONSE, "model": BookOut},
        404: {
            **_problem,
            "description": "`no_book_in_progress`, or `page_not_found`: the book has no such page",
        },
        429: {**_problem, "description": "`rate_limited`, with `Retry-After`."},
        502: _problem,
    },
    summary="Draw a page's failed picture again",
    description="Draws the picture of page `number` again without rewriting its text. Allowed "
    "when the page's `image_status` is `failed`. With `Prefer: respond-async` the answer is 202 "
    "at once (the picture `pending`) and `image_ready` or `generation_failed` follows on the "
    "event stream.",
)
async def redraw_picture(
    number: Annotated[
        int, Path(ge=1, le=MAX_PAGES, description="The page's number, from 1.", examples=[1])
    ],
    user: CurrentUser,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
    prefer: PreferHeader = None,
) -> Response:
    wait = not wants_async(prefer)
    book = await services.use_cases.redraw_picture.execute(
        user, number, wait=wait, request_id=request_id
    )
    return _answer(book, wait, services, link)


@changes.post(
    "/current/finish",
    status_code=status.HTTP_201_CREATED,
    response_model=FinishedBookOut,
    responses={
        **idempotency_responses(status.HTTP_201_CREATED, "`invalid_book_state`: not `done`"),
        404: _problem,
    },
    summary="Finish and keep the book",
)
async def finish_book(
    body: FinishIn,
    user: CurrentUser,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
) -> Response:
    finished = await services.use_cases.finish_book.execute(
        user, Title(body.title), request_id=request_id
    )
    return json_response(
        finished_view(finished, link),
        status.HTTP_201_CREATED,
        {"Location": f"/v1/books/{finished.id}"},
    )


@router.get("", summary="My finished books, newest first")
async def list_books(
    user: CurrentUser,
    services: ServicesDep,
    link: Links,
    limit: Annotated[int, Query(ge=1, le=100, description="How many books, 1-100.")] = 20,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="The `next_cursor` of the previous page, as given (it is opaque: a "
            "cursor the service did not hand out is refused with 422).",
        ),
    ] = None,
) -> ShelfOut:
    shelf = await services.use_cases.queries.shelf(user, limit, cursor)
    return ShelfOut(
        items=[summary_view(s, link) for s in shelf.items], next_cursor=shelf.next_cursor
    )


@router.get("/{book_id}", responses={404: _problem}, summary="One of my finished books")
async def get_book(
    book_id: BookIdPath, user: CurrentUser, services: ServicesDep, link: Links
) -> FinishedBookOut:
    book = await services.use_cases.queries.finished(parse_book_id(book_id), owner=user)
    return finished_view(book, link)


@router.delete(
    "/{book_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _problem},
    summary="Delete one of my finished books",
)
async def delete_book(book_id: BookIdPath, user: CurrentUser, services: ServicesDep) -> Response:
    await services.use_cases.delete_book.execute(user, parse_book_id(book_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
