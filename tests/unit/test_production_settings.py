"""What production refuses to start with: weak or shared secrets (and embedded backends)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.infrastructure.settings import Environment, Settings
from app.infrastructure.tokens import ConfigurationError
from app.interfaces.composition import check_production

STRONG = secrets.token_hex(32)


def production(tmp_path: Path, **values: object) -> Settings:
    fields: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "data_dir": tmp_path,
        "allow_embedded_in_production": True,
        "jwt_secret": SecretStr(STRONG),
        "image_url_secret": SecretStr(secrets.token_hex(32)),
        "public_base_url": "https://books.example",
    }
    fields.update(values)
    return Settings(**fields)  # type: ignore[arg-type]


def test_strong_separate_secrets_start(tmp_path: Path) -> None:
    check_production(production(tmp_path))


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("jwt_secret", None, "LW_JWT_SECRET must be set"),
        ("jwt_secret", "", "LW_JWT_SECRET must be at least 32 bytes"),
        ("jwt_secret", "a", "LW_JWT_SECRET must be at least 32 bytes"),
        ("jwt_secret", "x" * 31, "LW_JWT_SECRET must be at least 32 bytes"),
        ("jwt_secret", "a" * 64, "LW_JWT_SECRET is an example or repeated value"),
        ("jwt_secret", "changeme-changeme-changeme-changeme", "example"),
        ("image_url_secret", None, "LW_IMAGE_URL_SECRET must be set"),
        ("image_url_secret", "short", "LW_IMAGE_URL_SECRET must be at least 32 bytes"),
        ("image_url_secret", STRONG, "must differ from LW_JWT_SECRET"),
    ],
)
def test_production_refuses_a_weak_or_shared_secret(
    tmp_path: Path, setting: str, value: str | None, reason: str
) -> None:
    settings = production(tmp_path, **{setting: None if value is None else SecretStr(value)})
    with pytest.raises(ConfigurationError, match=reason):
        check_production(settings)


def test_production_needs_the_public_base_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LW_PUBLIC_BASE_URL"):
        check_production(production(tmp_path, public_base_url=None))


def test_development_starts_with_generated_secrets(tmp_path: Path) -> None:
    check_production(Settings(data_dir=tmp_path))


def test_production_takes_provider_keys_only_over_https(tmp_path: Path) -> None:
    provider = {"jwt_algorithm": "RS256", "jwt_secret": None, "jwt_issuer": "https://id.example/"}
    jwks = "id.example/.well-known/jwks.json"

    check_production(production(tmp_path, **provider, jwt_jwks_url=f"https://{jwks}"))
    with pytest.raises(ConfigurationError, match="LW_JWT_JWKS_URL must be https"):
        check_production(production(tmp_path, **provider, jwt_jwks_url=f"http://{jwks}"))
