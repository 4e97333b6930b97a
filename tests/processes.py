"""Helpers for tests that run real `littlewriter` processes or servers of their own."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(
    process: subprocess.Popen[bytes],
    client: httpx.Client,
    describe: Callable[[], str],
    seconds: float = 30,
) -> None:
    """Poll /health until it answers; fail with `describe()` (the server's log) if it died."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the server did not start:\n{describe()}")
        time.sleep(0.05)
