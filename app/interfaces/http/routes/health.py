"""Liveness and readiness (no auth)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.application.errors import DependencyUnavailable
from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/health", summary="Liveness")
async def health() -> HealthOut:
    return HealthOut(status="ok")


async def _check(ping: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(ping(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except DependencyUnavailable as error:
        return f"unavailable: {type(error).__name__}"
    except Exception as error:  # noqa: BLE001 - readiness reports, it does not raise
        return f"error: {type(error).__name__}"
    return "ok"


@router.get(
    "/ready",
    summary="Readiness of every backend",
    response_model=ReadyOut,
    responses={
        503: {"model": ReadyOut, "description": "A backend is not ready: `checks` say which."}
    },
)
async def ready(services: ServicesDep) -> JSONResponse:
    names = ("store", "database", "images")
    results = await asyncio.gather(
        _check(services.store.ping), _check(services.finished.ping), _check(services.images.ping)
    )
    checks = dict(zip(names, results, strict=True))
    healthy = all(value == "ok" for value in results)
    body = ReadyOut(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
