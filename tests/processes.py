"""Helpers for tests that run real `littlewriter` processes or servers of their own."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


CLI = [sys.executable, "-m", "app.interfaces.cli"]


@contextmanager
def running_server(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """A real `littlewriter serve` on a free port with this environment, healthy; a client for
    it; stopped (SIGTERM) at the end. Its log goes to a file (a pipe nobody reads would fill
    and stop the server), read back if it fails to start."""
    port = free_port()
    with tempfile.NamedTemporaryFile() as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), *args], env=env, stdout=log, stderr=log, cwd=cwd
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

        def describe() -> str:
            with open(log.name, "rb") as written:  # its own offset, not the server's
                return written.read().decode(errors="replace")[-20_000:]

        try:
            wait_until_healthy(process, client, describe)
            yield client, process
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=30)
