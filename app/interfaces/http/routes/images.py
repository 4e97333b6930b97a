"""The service's own signed image links (local-storage mode): fetched without the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.application.errors import ImageNotFound
from app.interfaces.http.dependencies import ServicesDep

router = APIRouter(tags=["images"])


@router.get(
    "/images/{key:path}",
    summary="An image behind a signed link",
    response_class=Response,
    responses={
        200: {
            "description": "The image, cached privately for the time left on its link.",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ("image/png", "image/jpeg", "image/webp")
            },
        },
        403: {"description": "`forbidden`: the link's signature or expiry is not valid."},
        404: {"description": "`not_found`: no such image (or images are not served here)."},
    },
)
async def image(
    key: Annotated[str, Path(description="The image, as in a link the service gave.")],
    services: ServicesDep,
    expires: Annotated[
        str | None, Query(max_length=20, description="Part of the signed link, as given.")
    ] = None,
    signature: Annotated[
        str | None, Query(max_length=128, description="Part of the signed link, as given.")
    ] = None,
) -> Response:
    storage = services.local_images
    if storage is None:
        raise ImageNotFound("images are not served here")
    storage.verify(key, expires, signature)
    picture = await storage.read(key)
    assert expires is not None  # verify() refused a link without one
    remaining = max(0, int(expires) - int(services.clock.now().timestamp()))
    return Response(
        picture.data,
        media_type=picture.content_type,
        headers={
            "Cache-Control": f"private, max-age={remaining}",
            "X-Content-Type-Options": "nosniff",
        },
    )
