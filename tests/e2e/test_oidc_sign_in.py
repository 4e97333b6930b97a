"""The page's sign-in module (`static/oidc.js`) in a real browser (Debian's Chromium driven by
Playwright) against a fake authorization server the test starts: the browser goes to its
authorize endpoint, comes back with a code, and the module exchanges it with the PKCE verifier
(which the fake checks against the challenge) for a token signed by the provider's key, which
the service's own token check accepts. The page is another origin than the provider, as in
production; its address is left without the code."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from app.infrastructure.settings import Settings
from app.infrastructure.tokens import TokenCodec
from tests.e2e.browsing import watched
from tests.jwks_server import AUDIENCE, ISSUER, SigningKey, jwks_server
from tests.processes import running_server

MODULE = Path(__file__).parents[2] / "app/interfaces/http/static/oidc.js"
CLIENT_ID = "littlewriter-web"
KEY = SigningKey("provider-key")
ADMIN = {"roles": ["lw-admin"]}  # where Keycloak puts a user's roles, and this service's admin one
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sign-in</title>
<link rel="icon" href="data:,"></head>
<body><button id="sign-in">Sign in</button><output id="result"></output>
<script type="module">
import { signIn, completeSignIn } from "/static/oidc.js";
const config = %s;
const result = document.getElementById("result");
document.getElementById("sign-in").onclick = () => signIn(config);
completeSignIn(config).then(
  (token) => { result.dataset.state = token === null ? "signed-out" : "signed-in";
               result.textContent = token ?? ""; },
  (error) => { result.dataset.state = "refused"; result.textContent = error.message; });
</script></body></html>"""


@dataclass
class Provider:
    """The fake authorization server's memory: codes it gave, and token requests it answered."""

    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _provider_handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # the authorize endpoint: the user "signs in" at once
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            assert url.path == "/authorize", url.path
            assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
            assert query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            provider.codes[code] = query
            self.send_response(302)
            back = {"code": code, "state": query["state"]}
            self.send_header("Location", f"{query['redirect_uri']}?{urlencode(back)}")
            self.end_headers()

        def do_POST(self) -> None:  # the token endpoint: checks the verifier like a provider
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            provider.exchanges.append(form)
            asked = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if (
                asked is None
                or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != asked["redirect_uri"]
                or challenge.decode() != asked["code_challenge"]
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            self._json(
                200,
                {
                    "token_type": "Bearer",
                    "access_token": KEY.token("alice", realm_access=ADMIN),
                    "id_token": KEY.token(
                        "alice", aud=CLIENT_ID, nonce=asked["nonce"], realm_access=ADMIN
                    ),
                },
            )

    return Handler


def _page_handler(config: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/static/oidc.js":
                body, kind = MODULE.read_bytes(), "text/javascript"
            elif path == "/":
                body, kind = (PAGE % json.dumps(config)).encode(), "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@dataclass
class SignIn:
    page: Page
    url: str
    provider: Provider
    errors: list[str]


@pytest.fixture(params=["access_token", "id_token"])
def sign_in(browser: Browser, request: pytest.FixtureRequest) -> Iterator[SignIn]:
    provider = Provider()
    authorization, provider_url = _serve(_provider_handler(provider))
    config = {
        "authorize_url": f"{provider_url}/authorize",
        "token_url": f"{provider_url}/token",
        "client_id": CLIENT_ID,
        "scope": "openid profile",
        "token": request.param,
        "audience": AUDIENCE,
    }
    pages, page_url = _serve(_page_handler(config))
    page = browser.new_page()
    try:
        yield SignIn(page, page_url + "/", provider, watched(page))
    finally:
        page.close()
        for server in (authorization, pages):
            server.shutdown()
            server.server_close()


def _result(page: Page) -> tuple[str, str]:
    result = page.locator("#result")
    page.wait_for_function("document.getElementById('result').dataset.state !== undefined")
    return str(result.get_attribute("data-state")), result.text_content() or ""


def test_the_page_gets_a_token_the_service_accepts(sign_in: SignIn, tmp_path: Path) -> None:
    page = sign_in.page
    page.goto(sign_in.url)
    assert _result(page) == ("signed-out", "")

    page.click("#sign-in")
    page.wait_for_url(f"{sign_in.url}?code=*")
    page.wait_for_url(sign_in.url)  # the module took the code out of the address
    state, token = _result(page)

    assert state == "signed-in", token
    asked = sign_in.provider.exchanges[0]
    assert set(asked) == {"grant_type", "code", "redirect_uri", "client_id", "code_verifier"}
    assert page.evaluate("sessionStorage.getItem('lw.oidc')") is None
    audience = CLIENT_ID if "nonce" in _claims(token) else AUDIENCE  # an ID token's is ours
    codec = TokenCodec(
        Settings(
            data_dir=tmp_path,
            jwt_algorithm="RS256",
            jwt_public_key=KEY.public_pem.decode(),
            jwt_issuer=ISSUER,
            jwt_audience=audience,
        )
    )
    assert codec.verify(token).user_id == "alice"
    assert sign_in.errors == []


def test_an_answer_the_page_did_not_ask_for_is_refused(sign_in: SignIn) -> None:
    page = sign_in.page
    page.goto(sign_in.url)
    page.click("#sign-in")
    page.wait_for_url(f"{sign_in.url}?code=*")
    _result(page)
    # A forged answer (someone else's code, or a link sent to the child) with a made-up state:
    page.goto(f"{sign_in.url}?code=stolen&state=made-up")
    state, message = _result(page)

    assert state == "refused" and "not the one this page asked for" in message
    assert len(sign_in.provider.exchanges) == 1  # the forged code was never exchanged
    assert page.url == sign_in.url


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def test_the_creator_page_signs_in_at_the_provider_and_writes_with_its_token(
    browser: Browser, tmp_path: Path
) -> None:
    provider = Provider()
    authorization, provider_url = _serve(_provider_handler(provider))
    with jwks_server(KEY) as keys:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LW_", "PROMETHEUS_"))}
        env.update(
            LW_DATA_DIR=str(tmp_path),
            LW_JWT_ALGORITHM="RS256",
            LW_JWT_JWKS_URL=keys.url,
            LW_JWT_ISSUER=ISSUER,
            LW_JWT_AUDIENCE=AUDIENCE,
            LW_OIDC_AUTHORIZE_URL=f"{provider_url}/authorize",
            LW_OIDC_TOKEN_URL=f"{provider_url}/token",
            LW_OIDC_CLIENT_ID=CLIENT_ID,
            LW_OIDC_AUDIENCE=AUDIENCE,
            LW_JWT_ROLES_CLAIM="realm_access.roles",
            LW_JWT_ADMIN_ROLE="lw-admin",
        )
        with running_server(env) as (api, _):
            base = str(api.base_url).rstrip("/")
            page = browser.new_page()
            errors = watched(page, lambda m: "404" in m.text)  # no book in progress yet
            try:
                page.goto(f"{base}/")
                page.get_by_role("button", name="Sign in").click()
                # Back from the provider: the start form (GET /v1/books/current said 404).
                page.locator("#start").wait_for(state="visible")
                assert page.url == f"{base}/"
                assert "alice" in (page.locator("header").text_content() or "")
                # An admin by the provider's roles, as the server reads them (GET /auth/config).
                page.get_by_role("link", name="Admin console").wait_for(state="visible")
                assert page.evaluate("localStorage.getItem('lw.token')").count(".") == 2
                assert len(provider.exchanges) == 1 and errors == []
            finally:
                page.close()
    authorization.shutdown()
    authorization.server_close()
