"""The creator: `GET /`, the web page where a child and a parent start a book, write its pages,
finish it and keep it on their shelf. The page is the same for everyone (the user's token lives
in the browser, templates/web/creator.html); its scripts call the v1 API with the bearer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.web_page import render_signed_in_page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def creator(request: Request, services: ServicesDep) -> Response:
    return render_signed_in_page(request, "web/creator.html", "creator", services.settings)
