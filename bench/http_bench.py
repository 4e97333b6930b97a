"""HTTP latency of the hot endpoints, on a real `littlewriter serve` process (one worker).

Starts the server on embedded defaults (in-process Redis, SQLite, local images, offline
generators) in a temporary data dir, then measures with an httpx client on the same machine:
  * GET  /v1/books/current          (the reader's poll; target p99 < 10 ms)
  * POST /v1/books/current/pages    (offline generators: text, questions, a Pillow PNG)
Usage: .venv/bin/python bench/http_bench.py [--requests N] [--concurrency C] [--env KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BOOK = {
    "characters": [{"name": "Momo", "description": "a brave little rabbit with a red scarf"}],
    "page_count": 20,
    "language": "en",
    "reader_age": 5,
    "setting": "a snowy forest",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(name: str, samples: list[float], wall: float) -> dict[str, Any]:
    return {
        "endpoint": name,
        "requests": len(samples),
        "p50_ms": round(percentile(samples, 50) * 1000, 2),
        "p99_ms": round(percentile(samples, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "requests_per_s": round(len(samples) / wall, 1),
    }


def token(env: dict[str, str], user: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "app.interfaces.cli", "token", user],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready in 60 s")


async def bench_get(
    client: httpx.AsyncClient, headers: dict[str, str], n: int, c: int
) -> dict[str, Any]:
    samples: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            began = time.perf_counter()
            response = await client.get("/v1/books/current", headers=headers)
            samples.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text

    for _ in range(50):  # warm-up
        await client.get("/v1/books/current", headers=headers)
    began = time.perf_counter()
    await asyncio.gather(*(worker(n // c) for _ in range(c)))
    return summary(f"GET /v1/books/current (concurrency {c})", samples, time.perf_counter() - began)


async def bench_pages(
    client: httpx.AsyncClient, headers: list[dict[str, str]], n: int
) -> dict[str, Any]:
    samples: list[float] = []

    async def author(auth: dict[str, str], count: int) -> None:
        written = 0
        while written < count:
            began = time.perf_counter()
            response = await client.post(
                "/v1/books/current/pages", json={"input": f"idea {written}"}, headers=auth
            )
            elapsed = time.perf_counter() - began
            if response.status_code == 404:
                await client.post("/v1/books", json=BOOK, headers=auth)
                continue
            if response.status_code == 409:  # the book is done: keep it and start another
                await client.post("/v1/books/current/finish", json={"title": "Bench"}, headers=auth)
                await client.post("/v1/books", json=BOOK, headers=auth)
                continue
            assert response.status_code == 200, response.text
            samples.append(elapsed)
            written += 1

    began = time.perf_counter()
    await asyncio.gather(*(author(h, n // len(headers)) for h in headers))
    name = f"POST /v1/books/current/pages (offline, {len(headers)} authors)"
    return summary(name, samples, time.perf_counter() - began)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    data_dir = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update({"LW_DATA_DIR": str(data_dir)})
    env.update(dict(item.split("=", 1) for item in args.env))
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [sys.executable, "-m", "app.interfaces.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            await wait_ready(client, process)
            reader = {"Authorization": f"Bearer {token(env, 'bench-reader')}"}
            await client.delete("/v1/books/current", headers=reader)
            created = await client.post("/v1/books", json=BOOK, headers=reader)
            assert created.status_code == 201, created.text
            for n in range(5):
                await client.post(
                    "/v1/books/current/pages", json={"input": f"p{n}"}, headers=reader
                )
            results = [
                await bench_get(client, reader, args.requests, 1),
                await bench_get(client, reader, args.requests, args.concurrency),
            ]
            authors = [
                {"Authorization": f"Bearer {token(env, f'bench-author-{i}')}"} for i in range(4)
            ]
            for auth in authors:
                await client.delete("/v1/books/current", headers=auth)
            results.append(await bench_pages(client, authors[:1], args.pages))
            results.append(await bench_pages(client, authors, args.pages))
            return results
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--env", action="append", default=[], help="extra server setting KEY=VALUE")
    parser.add_argument("--out", type=Path, default=Path("bench/results/http_bench.json"))
    args = parser.parse_args()
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"{'endpoint':58} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for r in results:
        cells = (r["requests"], r["p50_ms"], r["p99_ms"], r["requests_per_s"])
        print(f"{r['endpoint']:58} " + " ".join(f"{c:>8}" for c in cells))


if __name__ == "__main__":
    main()
