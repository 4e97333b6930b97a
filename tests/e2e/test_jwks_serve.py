"""A real `littlewriter serve` signing users in with an identity provider's keys (a JWKS the
test serves on loopback), across a key rotation, with the provider's way of naming roles."""

from __future__ import annotations

import os
from pathlib import Path

from tests.jwks_server import ISSUER, SigningKey, jwks_server
from tests.processes import running_server


def test_a_served_app_follows_the_providers_key_rotation(tmp_path: Path) -> None:
    old, new = SigningKey("2026-11"), SigningKey("2026-12")
    with jwks_server(old) as provider:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
        env.update(
            LW_DATA_DIR=str(tmp_path),
            LW_JWT_ALGORITHM="RS256",
            LW_JWT_JWKS_URL=provider.url,
            LW_JWT_ISSUER=ISSUER,
            LW_JWT_JWKS_COOLDOWN_SECONDS="0",
            LW_JWT_ROLES_CLAIM="realm_access.roles",
            LW_JWT_ADMIN_ROLE="littlewriter-admin",
        )
        with running_server(env) as (api, _):

            def status(token: str, path: str = "/v1/books") -> int:
                return api.get(path, headers={"Authorization": f"Bearer {token}"}).status_code

            assert status(old.token()) == 200
            provider.published = [old, new]
            assert status(new.token()) == 200
            admin = new.token("root", realm_access={"roles": ["littlewriter-admin"]})
            books_in_progress = "/v1/admin/users/alice/books/current"
            assert status(admin, books_in_progress) == 404  # allowed in: alice has none
            assert status(new.token(), books_in_progress) == 403
            assert status(SigningKey("2026-12").token()) == 401  # the kid, not the key
            assert provider.fetches == 2
