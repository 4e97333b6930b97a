"""What every web page of the app shares (the creator at `/`, the admin console): the interface
language, chosen from the browser's `Accept-Language` (or `?lang=en|ko`), its words, read from
one JSON file per page section and language under `web_text/`, and the headers each page
carries: a Content-Security-Policy that allows no inline code, and no referrer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.templating import Jinja2Templates

from app.infrastructure.settings import Settings

LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"
STATIC = "/static"
_TEXT = Path(__file__).parent / "web_text"


@cache
def words(language: str, section: str) -> Mapping[str, str]:
    """The interface text of one section ("base", "creator", ...) in one language."""
    found: dict[str, str] = json.loads((_TEXT / language / f"{section}.json").read_text("utf-8"))
    return found


def words_for(language: str, sections: Iterable[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for section in ("base", *sections):
        merged.update(words(language, section))
    return merged


def _ranked(accept_language: str) -> list[str]:
    """The primary language tags of an Accept-Language header, most wanted first (RFC 9110)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and weight > 0:
            ranked.append((-weight, position, primary))
    return [tag for _, _, tag in sorted(ranked)]


def interface_language(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    for tag in _ranked(request.headers.get("accept-language", "")):
        if tag in LANGUAGES:
            return tag
        if tag == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a configured URL, as a CSP source; None when there is none."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def image_hosts(settings: Settings) -> list[str]:
    """Where a page's pictures may come from besides its own origin: the service's public base
    and S3's endpoint (MinIO in development may be plain http). For `render(images_from=...)`."""
    configured = (
        settings.public_base_url,
        settings.s3_public_endpoint_url or settings.s3_endpoint_url,
    )
    return [origin for url in configured if (origin := origin_of(url))]


def identity_provider(settings: Settings) -> list[str]:
    """The identity provider's token endpoint, which the page's sign-in (static/oidc.js) calls:
    for `render(connect_to=...)`."""
    origin = origin_of(settings.oidc_token_url)
    return [origin] if origin else []


def content_security_policy(connect_to: Iterable[str] = (), images_from: Iterable[str] = ()) -> str:
    """No inline script or style anywhere. Pictures come from this app, S3 (https) or
    `images_from` (the configured image hosts, which may be plain http in development);
    `connect_to` adds origins the page's scripts may call (an identity provider)."""
    connect = " ".join(dict.fromkeys(("'self'", *connect_to)))
    images = " ".join(dict.fromkeys(("'self'", "data:", "blob:", "https:", *images_from)))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; "
        f"connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def page_headers(connect_to: Iterable[str] = (), images_from: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(connect_to, images_from),
        "Referrer-Policy": "no-referrer",
        "Vary": "Accept-Language",
        "Cache-Control": "no-cache",
    }


def render(
    request: Request,
    template: str,
    sections: Iterable[str],
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    connect_to: Iterable[str] = (),
    images_from: Iterable[str] = (),
) -> Response:
    """A page in the interface language: `text` holds its words (base's and `sections`'), and
    is also handed to the page's scripts as JSON (templates/web/base.html)."""
    language = interface_language(request)
    templates: Jinja2Templates = request.app.state.templates
    values: dict[str, Any] = {
        "language": language,
        "text": words_for(language, sections),
        "static": STATIC,
        **(context or {}),
    }
    return templates.TemplateResponse(
        request,
        template,
        values,
        status_code=status_code,
        headers=page_headers(connect_to, images_from),
    )


def render_signed_in_page(
    request: Request,
    template: str,
    section: str,
    settings: Settings,
    *,
    also: Iterable[str] = (),
) -> Response:
    """A page whose scripts sign in and call the API (the creator, the admin console): its
    pictures may come from the configured image hosts, and it may call the identity provider.
    `also` names more sections of words the page uses."""
    return render(
        request,
        template,
        [section, *also],
        images_from=image_hosts(settings),
        connect_to=identity_provider(settings),
    )
