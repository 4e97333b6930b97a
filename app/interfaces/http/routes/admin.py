"""Admin endpoints: look at and finish any user's book. Needs `roles: ["admin"]` in the token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from app.application.errors import NoBookInProgress
from app.domain.errors import InvalidValue
from app.domain.finished import FinishedBy
from app.domain.values import Title, UserId
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
    ProblemOut,
)
from app.interfaces.http.views import admin_book_view, admin_finished_view

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


def parse_user_id(user_id: str) -> UserId:
    try:
        return UserId(user_id)
    except InvalidValue:
        raise NoBookInProgress("no such user has a book in progress") from None


@router.get("/users/{user_id}/books/current", summary="A user's book in progress")
async def user_current_book(
    user_id: UserIdPath, _: Admin, services: ServicesDep, link: Links
) -> AdminBookOut:
    book = await services.use_cases.queries.current(parse_user_id(user_id))
    return admin_book_view(book, services.clock.now(), link)


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
    _: Admin,
    services: ServicesDep,
    link: Links,
    request_id: ClientRequestId,
) -> Response:
    finished = await services.use_cases.finish_book.execute(
        parse_user_id(user_id),
        Title(body.title),
        finished_by=FinishedBy.ADMIN,
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
    book_id: BookIdPath, _: Admin, services: ServicesDep, link: Links
) -> AdminFinishedBookOut:
    book = await services.use_cases.queries.finished(parse_book_id(book_id), owner=None)
    shared = await services.use_cases.sharing.link_of(book.id) is not None
    return admin_finished_view(book, link, shared=shared)
