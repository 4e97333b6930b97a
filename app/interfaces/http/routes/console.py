"""The admin console: `GET /admin`, one page whose scripts call the admin API with the token
the browser keeps. The page carries no data, so it needs no token itself: a user token gets
403 from the API, and the page then shows "admins only" (the API's check is the real guard)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.web_page import render_signed_in_page

router = APIRouter(include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
async def admin_console(request: Request, services: ServicesDep) -> Response:
    return render_signed_in_page(request, "web/admin.html", "admin", services.settings)
