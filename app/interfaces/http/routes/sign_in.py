"""How the web page signs in (no auth): the identity provider's public settings, for the
page's `oidc.js` (authorization code with PKCE), and where a token holds its roles, so the
page tells an admin as the server does (web/session.js)."""

from __future__ import annotations

from fastapi import APIRouter

from app.interfaces.http.dependencies import ServicesDep
from app.interfaces.http.schemas import AuthConfigOut, OidcConfigOut

router = APIRouter(tags=["sign-in"])


@router.get("/auth/config", summary="The identity provider the page signs in with")
async def auth_config(services: ServicesDep) -> AuthConfigOut:
    settings = services.settings
    roles = {"roles_claim": settings.jwt_roles_claim, "admin_role": settings.jwt_admin_role}
    if not (settings.oidc_authorize_url and settings.oidc_token_url and settings.oidc_client_id):
        return AuthConfigOut(oidc=None, **roles)
    return AuthConfigOut(
        **roles,
        oidc=OidcConfigOut(
            authorize_url=settings.oidc_authorize_url,
            token_url=settings.oidc_token_url,
            client_id=settings.oidc_client_id,
            scope=settings.oidc_scope,
            token=settings.oidc_token,
            audience=settings.oidc_audience,
        ),
    )
