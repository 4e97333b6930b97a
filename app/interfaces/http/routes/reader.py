"""The web reader: `GET /read/{token}`, the page a share link's `url` names, rendered on the
server (templates/reader.html) with a small script and stylesheet served by the app. Its words
follow the book's language. `GET /books/{book_id}/read` is the owner's reader: a page with no
book in it (templates/web/owner_reader.html), whose script fetches the book with the owner's
token and shows it with the same look and controls, without making a share link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from app.application.errors import BookNotFound
from app.interfaces.http.dependencies import Links, ServicesDep, public_base
from app.interfaces.http.routes.sharing import TokenPath, counted, read_shared
from app.interfaces.http.views import shared_view
from app.interfaces.http.web_page import render_signed_in_page

router = APIRouter(include_in_schema=False)
STATIC = "/static"

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "made_with": "A picture book written with LittleWriter.",
        "page": "Page",
        "of": "of",
        "cover_of": "The cover of",
        "the_end": "The End",
        "keep_it": "Keep this book:",
        "pdf": "Download PDF",
        "epub": "Download EPUB",
        "turn_pages": "Turn the pages",
        "previous": "Previous page",
        "next": "Next page",
        "read_aloud": "Read aloud",
    },
    "ko": {
        "made_with": "LittleWriter로 함께 만든 그림책이에요.",
        "page": "페이지",
        "of": "/",
        "cover_of": "표지:",
        "the_end": "끝",
        "keep_it": "이 책을 간직하세요:",
        "pdf": "PDF 내려받기",
        "epub": "EPUB 내려받기",
        "turn_pages": "책장 넘기기",
        "previous": "이전 페이지",
        "next": "다음 페이지",
        "read_aloud": "소리 내어 읽기",
    },
}


def templates(request: Request) -> Jinja2Templates:
    found: Jinja2Templates = request.app.state.templates
    return found


@router.get("/read/{token}", response_class=HTMLResponse)
async def read_book(
    token: TokenPath, request: Request, services: ServicesDep, link: Links
) -> Response:
    await counted(request, services)
    try:
        book = await read_shared(services, token)
    except BookNotFound:
        return templates(request).TemplateResponse(
            request, "not_found.html", {"static": STATIC}, status_code=404
        )
    view = shared_view(book, link)
    base = public_base(request, services)
    context: dict[str, Any] = {
        "book": view,
        "text": _WORDS.get(view.language, _WORDS["en"]),
        "static": STATIC,
        "page_url": f"{base}/read/{token}",
        "exports": {
            kind: f"{base}/v1/shared/{token}/export?format={kind}" for kind in ("pdf", "epub")
        },
    }
    return templates(request).TemplateResponse(
        request, "reader.html", context, headers={"Cache-Control": "no-store"}
    )


@router.get("/books/{book_id}/read", response_class=HTMLResponse)
async def read_own_book(book_id: str, request: Request, services: ServicesDep) -> Response:
    """The same page for every book id: which book, and whether it is the reader's, is the
    API's answer to the script (a 404 or 401 it shows as a message)."""
    return render_signed_in_page(
        request, "web/owner_reader.html", "creator", services.settings, also=["reader"]
    )
