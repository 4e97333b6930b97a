"""The bounds `littlewriter serve` puts on a request's head, tried on a real server process over
raw sockets: too large is 431 without reading it all, too slow is 408, normal requests pass."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import running_server

HEAD_TIMEOUT = 1.0


@dataclass
class Server:
    port: int
    pid: int

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["LW_DATA_DIR"] = str(tmp_path_factory.mktemp("heads"))
    env["LW_HEADER_TIMEOUT_SECONDS"] = str(HEAD_TIMEOUT)
    with running_server(env) as (client, process):
        yield Server(client.base_url.port or 0, process.pid)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(status_line.split()[1]), headers, body


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_request_with_ordinary_headers_is_served(server: Server) -> None:
    with server.connect() as sock:
        for _ in range(3):  # several requests on one kept-alive connection
            sock.sendall(
                b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 8000 + b"\r\n\r\n"
            )
            status, _, _ = read_answer(sock)
            assert status == 200


def test_headers_over_the_bound_are_431_problem_and_the_connection_closes(
    server: Server,
) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert status == 431
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["code"] == "header_too_large"
        assert closed(sock)


def send_until_refused(sock: socket.socket, total: int) -> tuple[int, bool]:
    """Bytes of a header value sent before the server closed the connection, and whether it did."""
    chunk = b"a" * 65536
    sent = 0
    try:
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        return sent, True
    return sent, False


def test_a_huge_header_is_never_read_in_full(server: Server) -> None:
    before = server.rss_kib()
    with server.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Huge: ")
        sent, refused = send_until_refused(sock, 64 * 1024 * 1024)
    assert refused
    assert sent < 8 * 1024 * 1024  # refused after the first KiBs, not after 64 MB
    assert server.rss_kib() - before < 16 * 1024


def test_headers_that_drip_in_are_408_once_the_head_timeout_passes(server: Server) -> None:
    with server.connect() as sock:
        began = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer = None
        for n in range(20):  # one header line every 0.3 s, never the blank line that ends them
            time.sleep(0.3)
            try:
                sock.sendall(f"X-Line-{n}: still here\r\n".encode())
            except OSError:
                break
            sock.settimeout(0.01)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(10)
        assert answer is not None and answer.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - began < HEAD_TIMEOUT + 1.0


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(
    server: Server,
) -> None:
    with server.connect() as sock:
        began = time.monotonic()
        assert closed(sock)
        assert HEAD_TIMEOUT - 0.2 < time.monotonic() - began < HEAD_TIMEOUT + 1.0


def test_a_body_is_not_counted_as_the_next_requests_head(server: Server) -> None:
    # Over the head bound (16 KiB), under the body limit: the connection stays open after the
    # answer, and the body's bytes must not count against the next request's head.
    body = json.dumps({"input": "x" * 40_000}).encode()
    with server.connect() as sock:
        sock.sendall(
            b"POST /v1/books/current/pages HTTP/1.1\r\nHost: x\r\n"
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, headers, _ = read_answer(sock)
        assert status == 401 and headers.get("connection") != "close"
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = read_answer(sock)
        assert status == 200
