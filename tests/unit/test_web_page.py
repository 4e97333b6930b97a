"""The web pages' shared ground: the interface language from Accept-Language (or ?lang=), the
same words in every language, and a CSP that allows no inline code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.requests import Request

from app.interfaces.http import web_page

TEXT = Path(web_page.__file__).parent / "web_text"


def request(accept_language: str | None = None, query: str = "") -> Request:
    headers = [] if accept_language is None else [(b"accept-language", accept_language.encode())]
    return Request({"type": "http", "headers": headers, "query_string": query.encode()})


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-GB,en;q=0.9,ko;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,ko;q=0.5", "ko"),
        ("en;q=0.2, ko;q=0.8", "ko"),
        ("ko;q=0, en", "en"),
        ("fr, de", "en"),
        ("*", "en"),
        ("KO", "ko"),
        ("ko;q=abc, en;q=0.1", "en"),
        ("", "en"),
    ],
)
def test_the_interface_language_follows_the_browsers(header: str, chosen: str) -> None:
    assert web_page.interface_language(request(header)) == chosen


def test_a_lang_query_overrides_the_browser_and_an_unknown_one_is_ignored() -> None:
    assert web_page.interface_language(request("en", "lang=ko")) == "ko"
    assert web_page.interface_language(request("ko", "lang=en")) == "en"
    assert web_page.interface_language(request("ko", "lang=fr")) == "ko"
    assert web_page.interface_language(request(None)) == "en"


def test_every_section_says_the_same_things_in_every_language() -> None:
    sections = {path.name for path in (TEXT / "en").glob("*.json")}
    assert "base.json" in sections
    for language in web_page.LANGUAGES:
        assert {path.name for path in (TEXT / language).glob("*.json")} == sections
    for section in sections:
        english, korean = (
            json.loads((TEXT / lang / section).read_text("utf-8")) for lang in ["en", "ko"]
        )
        assert set(english) == set(korean), section


def test_the_policy_allows_no_inline_code_and_no_framing() -> None:
    policy = web_page.content_security_policy()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    added = web_page.content_security_policy(["https://id.example"])
    assert "connect-src 'self' https://id.example" in added
