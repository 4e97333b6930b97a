"""The creator: `GET /`, the web page where a child and a parent start a book, write its pages,
finish it and keep it on their shelf. The page is the same for everyone (the user's token lives
in the browser, templates/web/creator.html); its scripts call the v1 API with the bearer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.infrastructure.settings import Settings
from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.web_page import origin_of, render

router = APIRouter(include_in_schema=False)


def image_hosts(settings: Settings) -> list[str]:
    """Where the book's pictures may come from besides this page's own origin: the service's
    public base and S3's endpoint (MinIO in development may be plain http)."""
    configured = (
        settings.public_base_url,
        settings.s3_public_endpoint_url or settings.s3_endpoint_url,
    )
    return [origin for url in configured if (origin := origin_of(url))]


@router.get("/", response_class=HTMLResponse)
async def creator(request: Request, services: ServicesDep) -> Response:
    return render(
        request, "web/creator.html", ["creator"], images_from=image_hosts(services.settings)
    )
