"""Verified tokens are remembered until their own `exp`, never longer, and never when refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from app.infrastructure import tokens
from app.infrastructure.settings import Settings
from app.infrastructure.tokens import LEEWAY_SECONDS, InvalidToken, TokenCodec

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Timer:
    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token PyJWT is asked to check."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        seen.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    return seen


def _codec(tmp_path: Path, timer: Timer) -> TokenCodec:
    settings = Settings(data_dir=tmp_path, jwt_secret=SecretStr("s" * 40))
    return TokenCodec(settings, timer=timer)


def test_a_token_is_checked_once_then_remembered(tmp_path: Path, decodes: list[str]) -> None:
    timer = Timer(START)
    codec = _codec(tmp_path, timer)
    token = codec.issue("alice", START, timedelta(hours=1))

    first, second = codec.verify(token), codec.verify(token)

    assert first == second and first.user_id == "alice"
    assert decodes == [token]


def test_a_remembered_token_is_refused_once_its_exp_and_the_leeway_pass(
    tmp_path: Path, decodes: list[str]
) -> None:
    timer = Timer(START)
    codec = _codec(tmp_path, timer)
    token = codec.issue("alice", START, timedelta(minutes=10))
    codec.verify(token)

    timer.now = (START + timedelta(minutes=10, seconds=LEEWAY_SECONDS - 1)).timestamp()
    assert codec.verify(token).user_id == "alice"  # within the leeway, as PyJWT allows
    timer.now = (START + timedelta(minutes=10, seconds=LEEWAY_SECONDS)).timestamp()
    with pytest.raises(InvalidToken, match="expired"):
        codec.verify(token)
    assert decodes == [token, token]  # forgotten once unusable, and checked again


def test_a_token_that_expired_before_it_was_first_seen_is_refused(tmp_path: Path) -> None:
    timer = Timer(START)
    codec = _codec(tmp_path, timer)
    token = codec.issue("alice", START - timedelta(hours=2), timedelta(hours=1))

    with pytest.raises(InvalidToken, match="expired"):
        codec.verify(token)


def test_a_refused_token_is_not_remembered(tmp_path: Path, decodes: list[str]) -> None:
    timer = Timer(START)
    codec = _codec(tmp_path, timer)
    genuine = codec.issue("alice", START, timedelta(hours=1))
    codec.verify(genuine)
    header, payload, signature = genuine.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}AA"

    for _ in range(2):
        with pytest.raises(InvalidToken):
            codec.verify(forged)

    assert decodes == [genuine, forged, forged]
