"""FastAPI dependencies: the services built in the lifespan, and the caller from the token."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.domain.values import UserId
from app.infrastructure.settings import Environment
from app.infrastructure.tokens import InvalidToken, Principal
from app.interfaces.composition import Services
from app.interfaces.http.problems import Forbidden, Unauthorized
from app.interfaces.http.views import LinkMaker

log = logging.getLogger("littlewriter.auth")
_bearer = HTTPBearer(
    auto_error=False, description="A LittleWriter JWT (`littlewriter token USER_ID`)."
)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _principal(
    services: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required.")
    try:
        return await services.tokens.authenticate(credentials.credentials)
    except InvalidToken as error:
        # Why stays in the log: telling a client "expired" from "forged" helps only a forger.
        log.info("refused a bearer token: %s", error)
        raise Unauthorized("The bearer token is not valid.", hint=_hint(services, error)) from None


def _hint(services: Services, error: InvalidToken) -> str | None:
    """On a development server, a token signed with another secret says where this server's
    is: the usual cause is `littlewriter token` run with another LW_DATA_DIR."""
    source = services.tokens.secret_source
    if services.settings.env is not Environment.DEVELOPMENT or not error.bad_signature:
        return None
    if source is None:
        return "This token is not signed by a key of the configured identity provider."
    return (
        f"This server checks tokens with {source}. Was this one made with another "
        "LW_DATA_DIR or LW_JWT_SECRET? Run `littlewriter token` or `littlewriter login-link` "
        "with the server's settings."
    )


# Each is one dependency, not one on top of another: FastAPI solves every level on every request.
async def get_principal(services: ServicesDep, credentials: Credentials) -> Principal:
    return await _principal(services, credentials)


async def get_user(services: ServicesDep, credentials: Credentials) -> UserId:
    return UserId((await _principal(services, credentials)).user_id)


async def get_admin(services: ServicesDep, credentials: Credentials) -> Principal:
    principal = await _principal(services, credentials)
    if not principal.is_admin:
        raise Forbidden("This needs an admin token.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


CurrentUser = Annotated[UserId, Depends(get_user)]
Admin = Annotated[Principal, Depends(get_admin)]


def public_base(request: Request, services: Services) -> str:
    """The service's own base URL: the configured one, else the request's (development)."""
    return (services.settings.public_base_url or str(request.base_url)).rstrip("/")


def _link_maker(request: Request, services: Services) -> LinkMaker:
    base = public_base(request, services)

    def link(key: str) -> str:
        url = services.images.url(key)
        return f"{base}{url}" if url.startswith("/") else url

    return link


async def get_link_maker(request: Request, services: ServicesDep) -> LinkMaker:
    return _link_maker(request, services)


Links = Annotated[LinkMaker, Depends(get_link_maker)]


@dataclass(frozen=True, slots=True)
class Reader:
    """What a read of the caller's own book needs: who, the services, and the link maker."""

    user: UserId
    services: Services
    link: LinkMaker


async def reader_of(request: Request) -> Reader:
    """The caller of a polled read (a `PlainRoute`), found with the dependencies' own steps:
    the bearer scheme's parsing and the same token check."""
    services: Services = request.app.state.services
    user = UserId((await _principal(services, await _bearer(request))).user_id)
    return Reader(user, services, _link_maker(request, services))


# A plain route's security, for its OpenAPI operation (it solves no dependency).
BEARER = Depends(_bearer)
