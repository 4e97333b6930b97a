"""Signed links work without a token: they never reach the logs whole."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.infrastructure.logging import configure_logging, redact
from app.infrastructure.settings import Environment, Settings

SIGNED = "/images/staging/alice/b/1.png?expires=1800000000&signature=c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (SIGNED, "/images/staging/alice/b/1.png?expires=1800000000&signature=[redacted]"),
        (
            "https://s3.example/b/k.png?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1"
            "&X-Amz-Signature=abc123&X-Amz-Expires=60",
            "https://s3.example/b/k.png?X-Amz-Algorithm=AWS4&X-Amz-Credential=[redacted]"
            "&X-Amz-Signature=[redacted]&X-Amz-Expires=60",
        ),
        ("/read?token=abc&page=2", "/read?token=[redacted]&page=2"),
        ("/v1/books?limit=5&cursor=abc", "/v1/books?limit=5&cursor=abc"),
        ("no query here", "no query here"),
    ],
)
def test_signature_like_query_values_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_access_log_line_of_a_signed_link_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # A uvicorn server started by an earlier test (the fake OpenAI's, without an access log)
    # leaves this logger muted; `littlewriter serve` leaves it as it is at first.
    access = logging.getLogger("uvicorn.access")
    access_state = access.propagate, access.level, access.disabled
    access.propagate, access.level, access.disabled = True, logging.NOTSET, False
    configure_logging(Settings(data_dir=tmp_path, env=Environment.PRODUCTION))
    try:
        # What uvicorn's access logger emits for a request, with its own arguments.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", SIGNED, "1.1", 200
        )
        logging.getLogger("littlewriter").warning("could not read %s", SIGNED)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        access.propagate, access.level, access.disabled = access_state
    logged = capsys.readouterr().err
    assert "c2VjcmV0LXNpZ25hdHVyZQ" not in logged
    assert logged.count("signature=[redacted]") == 2
