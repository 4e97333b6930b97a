"""An identity provider's key set for tests: RSA keys made with `cryptography`, published as a
JWKS on loopback (`/.well-known/jwks.json`), rotated, slowed or stopped while a test runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://id.example.test/"
AUDIENCE = "littlewriter"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return public | {"kid": self.kid, "use": "sig", "alg": "RS256"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, sub: str = "alice", **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
        payload = {k: v for k, v in (payload | claims).items() if v is not None}
        return jwt.encode(payload, self.private, "RS256", headers={"kid": self.kid})


class JwksServer:
    """Serves the keys in `published`; `delay` slows every answer, `fetches` counts them."""

    def __init__(self) -> None:
        self.published: list[SigningKey] = []
        self.other_keys: list[dict[str, Any]] = []  # published as they are (other key types)
        self.answer: Any = None  # when set, answered instead of the key set
        self.delay = 0.0
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                server.fetches += 1
                time.sleep(server.delay)
                keys = [key.jwk for key in server.published] + server.other_keys
                answer = {"keys": keys} if server.answer is None else server.answer
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Gone: its port refuses connections from now on."""
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def jwks_server(*keys: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer()
    server.published = list(keys)
    try:
        yield server
    finally:
        server.stop()
