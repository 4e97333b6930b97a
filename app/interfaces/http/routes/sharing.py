"""Share links: the owner opens and takes back a book's public link; anyone holding the link
reads the book (no token), at most `LW_RATE_LIMIT_SHARING` requests per client address. And the
finished book as a file: a PDF or an EPUB, for its owner or by its link."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from app.application.errors import BookNotFound
from app.application.ports.exports import ExportFormat
from app.domain.finished import FinishedBook
from app.interfaces.composition import Services
from app.interfaces.http.dependencies import CurrentUser, Links, ServicesDep, public_base
from app.interfaces.http.idempotency import json_response
from app.interfaces.http.json_route import JsonRoute
from app.interfaces.http.problems import PROBLEM_JSON
from app.interfaces.http.routes.books import BookIdPath, parse_book_id
from app.interfaces.http.schemas import ProblemOut, SharedBookOut, ShareIn, ShareLinkOut
from app.interfaces.http.views import share_link_view, shared_view

_problem: dict[str, Any] = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
router = APIRouter(
    tags=["sharing"],
    route_class=JsonRoute,
    responses={404: _problem, 422: _problem, 429: _problem, 503: _problem},
)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_PLAIN = re.compile(r"[ !#-\[\]-~]")  # printable ASCII but the quote and the backslash
TokenPath = Annotated[
    str,
    Path(description="A share link's token; an unknown, revoked or expired one is 404."),
]


async def counted(request: Request, services: Services) -> None:
    """One more request from this client address to shared books (429 past the rate)."""
    address = request.client.host if request.client is not None else "unknown"
    await services.address_limits.hit(address)


@router.post(
    "/v1/books/{book_id}/share",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareLinkOut,
    responses={
        200: {"model": ShareLinkOut, "description": "The book's active link, kept."},
        400: {**_problem, "description": "`bad_request`: a body that is not JSON."},
        401: _problem,
    },
    summary="Share one of my finished books by a public link",
)
async def share_book(
    book_id: BookIdPath,
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    body: Annotated[
        ShareIn | None,
        Body(
            description="How long the link works; no body: until taken back.",
            examples=[{"expires_in_days": 30}],
        ),
    ] = None,
) -> Response:
    await counted(request, services)
    days = None if body is None else body.expires_in_days
    shared = await services.use_cases.sharing.share(
        user, parse_book_id(book_id), None if days is None else timedelta(days=days)
    )
    view = share_link_view(shared.link, shared.token, public_base(request, services))
    return json_response(view, status.HTTP_201_CREATED if shared.created else status.HTTP_200_OK)


@router.delete(
    "/v1/books/{book_id}/share",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: _problem},
    summary="Take a book's share link back: it answers 404 from now on",
)
async def unshare_book(
    book_id: BookIdPath, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    await counted(request, services)
    await services.use_cases.sharing.unshare(user, parse_book_id(book_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/shared/{token}", summary="A shared book (no token needed)")
async def shared_book(
    token: TokenPath, request: Request, services: ServicesDep, link: Links
) -> SharedBookOut:
    await counted(request, services)
    return shared_view(await read_shared(services, token), link)


async def read_shared(services: Services, token: str) -> FinishedBook:
    """The book a token opens (no store is asked for a token that cannot be one)."""
    if _TOKEN.fullmatch(token) is None:
        raise BookNotFound("no such book")
    return await services.use_cases.sharing.read(token)


FormatQuery = Annotated[
    ExportFormat,
    Query(alias="format", description="`pdf` (a picture book, A5 landscape) or `epub` (EPUB 3)."),
]
_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {}, "application/epub+zip": {}},
        "description": "The book as a file to keep, `Content-Disposition: attachment`.",
    },
}


@router.get(
    "/v1/books/{book_id}/export",
    response_class=Response,
    responses={**_FILE, 401: _problem},
    summary="One of my finished books as a PDF or an EPUB",
)
async def export_book(
    book_id: BookIdPath, export_format: FormatQuery, user: CurrentUser, services: ServicesDep
) -> Response:
    book, data = await services.use_cases.exports.own(user, parse_book_id(book_id), export_format)
    return file_response(book, data, export_format)


@router.get(
    "/v1/shared/{token}/export",
    response_class=Response,
    responses=_FILE,
    summary="A shared book as a PDF or an EPUB (no token needed)",
)
async def export_shared_book(
    token: TokenPath, export_format: FormatQuery, request: Request, services: ServicesDep
) -> Response:
    await counted(request, services)
    if _TOKEN.fullmatch(token) is None:
        raise BookNotFound("no such book")
    book, data = await services.use_cases.exports.shared(token, export_format)
    return file_response(book, data, export_format)


def file_response(book: FinishedBook, data: bytes, export_format: ExportFormat) -> Response:
    name = f"{book.title.value}.{export_format.value}"
    # RFC 6266: an ASCII name for old clients, and the real one in `filename*` (RFC 8187).
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    disposition = f'attachment; filename="{fallback}"'
    if fallback != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        data,
        media_type=export_format.media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, max-age=3600"},
    )
