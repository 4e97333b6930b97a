"""How the web page signs in (no auth): the identity provider's public settings, for the
page's `oidc.js` (authorization code with PKCE)."""

from __future__ import annotations

from fastapi import APIRouter

from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.schemas import AuthConfigOut, OidcConfigOut

router = APIRouter(tags=["sign-in"])


@router.get("/auth/config", summary="The identity provider the page signs in with")
async def auth_config(services: ServicesDep) -> AuthConfigOut:
    settings = services.settings
    if not (settings.oidc_authorize_url and settings.oidc_token_url and settings.oidc_client_id):
        return AuthConfigOut(oidc=None)
    return AuthConfigOut(
        oidc=OidcConfigOut(
            authorize_url=settings.oidc_authorize_url,
            token_url=settings.oidc_token_url,
            client_id=settings.oidc_client_id,
            scope=settings.oidc_scope,
            token=settings.oidc_token,
            audience=settings.oidc_audience,
        )
    )
