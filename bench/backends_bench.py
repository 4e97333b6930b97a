"""Latency and backend round trips on the production backends: Redis, MariaDB, S3 (moto server).

Starts a moto S3 server in this process (wrapped to count its requests), makes a fresh MariaDB
database, migrates it, and starts a real `littlewriter serve` on Redis + MariaDB + S3 with the
offline generators. Then measures, one request at a time:
  * GET  /v1/books/current
  * POST /v1/books/current/pages   (offline generators)
  * POST /v1/books/current/finish  (a 20-page book: 21 images copied to permanent keys)
and the round trips each makes to every backend (Redis commands from INFO commandstats, MariaDB
statements from the Questions counter, S3 requests counted at the server). It also times
promoting 21 images concurrently against 21 sequential CopyObjects.

Usage: .venv/bin/python bench/backends_bench.py [--gets 1000] [--pages 100] [--books 8]
  --redis-url redis://127.0.0.1:6379/0 --mysql-url mysql+pymysql://root@127.0.0.1:3306/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from app.application.ports import Image
from app.infrastructure.images.s3 import S3ImageStorage, build_s3_client

BOOK = {
    "characters": [{"name": "Momo", "description": "a brave little rabbit"}],
    "page_count": 20,
    "language": "en",
    "setting": "a snowy forest",
}
CLI = [sys.executable, "-m", "app.interfaces.cli"]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _serve_s3(port: int, requests: Any, latency_ms: Any) -> None:
    app = DomainDispatcherApplication(create_backend_app)

    def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with requests.get_lock():
            requests.value += 1
        if latency_ms.value:
            time.sleep(latency_ms.value / 1000)
        return app(environ, start_response)

    make_server("127.0.0.1", port, counted, threaded=True, request_handler=_Quiet).serve_forever()


class CountingS3:
    """moto's server in its own process (so it does not share a GIL with the client), counting
    every request it answers, each delayed by `latency` seconds when set: a network round trip
    to a real S3, where moto on loopback answers in well under a millisecond."""

    def __init__(self) -> None:
        self._requests = multiprocessing.Value("l", 0)
        self._latency_ms = multiprocessing.Value("l", 0)
        port = free_port()
        self._process = multiprocessing.Process(
            target=_serve_s3, args=(port, self._requests, self._latency_ms), daemon=True
        )
        self._process.start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise SystemExit("the moto server did not start")

    @property
    def requests(self) -> int:
        return int(self._requests.value)

    @property
    def latency(self) -> float:
        return float(self._latency_ms.value) / 1000

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency_ms.value = round(seconds * 1000)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(timeout=10)


class Counters:
    def __init__(self, redis_url: str, mysql: sa.Engine, s3: CountingS3) -> None:
        self.redis = redis.Redis.from_url(redis_url)
        self.mysql = mysql
        self.s3 = s3

    def snapshot(self) -> dict[str, int]:
        stats = self.redis.info("commandstats")
        redis_calls = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
        with self.mysql.connect() as connection:
            questions = connection.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Questions'")).one()
        return {"redis": redis_calls, "mysql": int(questions[1]), "s3": self.s3.requests}

    @staticmethod
    def per_op(before: dict[str, int], after: dict[str, int], ops: int) -> dict[str, float]:
        # Each snapshot costs MariaDB its SHOW and the pooled connection's reset (a ROLLBACK).
        extra = {"redis": 0, "mysql": 2, "s3": 0}
        return {k: round((after[k] - before[k] - extra[k]) / ops, 2) for k in before}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(
        ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000, 2
    )


def row(name: str, samples: list[float], trips: dict[str, float]) -> dict[str, Any]:
    return {
        "operation": name,
        "n": len(samples),
        "p50_ms": pct(samples, 50),
        "p99_ms": pct(samples, 99),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "round_trips": trips,
    }


async def timed(call: Callable[[], Any]) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    response = await call()
    return time.perf_counter() - began, response


async def measure(
    api: str, env: dict[str, str], counters: Counters, args: argparse.Namespace
) -> list[dict[str, Any]]:
    def token(user: str) -> dict[str, str]:
        out = subprocess.run(
            [*CLI, "token", user], env=env, capture_output=True, text=True, check=True
        )
        return {"Authorization": f"Bearer {out.stdout.strip()}"}

    results = []
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        reader = token(f"bench-reader-{uuid.uuid4().hex[:6]}")
        assert (await client.post("/v1/books", json=BOOK, headers=reader)).status_code == 201
        for n in range(5):
            await client.post("/v1/books/current/pages", json={"input": f"p{n}"}, headers=reader)
        for _ in range(50):
            await client.get("/v1/books/current", headers=reader)
        samples = []
        before = counters.snapshot()
        for _ in range(args.gets):
            elapsed, response = await timed(lambda: client.get("/v1/books/current", headers=reader))
            assert response.status_code == 200
            samples.append(elapsed)
        results.append(
            row(
                "GET /v1/books/current",
                samples,
                counters.per_op(before, counters.snapshot(), args.gets),
            )
        )

        author = token(f"bench-author-{uuid.uuid4().hex[:6]}")
        page_samples: list[float] = []
        finish_samples: list[float] = []
        page_trips: list[dict[str, float]] = []
        finish_trips: list[dict[str, float]] = []
        books = 0
        while len(page_samples) < args.pages or books < args.books:
            assert (await client.post("/v1/books", json=BOOK, headers=author)).status_code == 201
            for n in range(20):
                before = counters.snapshot()
                elapsed, response = await timed(
                    lambda n=n: client.post(
                        "/v1/books/current/pages", json={"input": f"idea {n}"}, headers=author
                    )
                )
                assert response.status_code == 200, response.text
                page_trips.append(counters.per_op(before, counters.snapshot(), 1))
                page_samples.append(elapsed)
            before = counters.snapshot()
            elapsed, response = await timed(
                lambda: client.post(
                    "/v1/books/current/finish", json={"title": "Bench"}, headers=author
                )
            )
            assert response.status_code == 201, response.text
            finish_trips.append(counters.per_op(before, counters.snapshot(), 1))
            finish_samples.append(elapsed)
            books += 1
        results.append(row("POST /v1/books/current/pages", page_samples, _mean(page_trips)))
        results.append(
            row("POST /v1/books/current/finish (20 pages)", finish_samples, _mean(finish_trips))
        )
    return results


def _mean(trips: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.fmean(t[k] for t in trips), 2) for k in trips[0]}


async def copy_ratio(s3: CountingS3, latency: float) -> dict[str, Any]:
    s3_url = s3.url
    client = build_s3_client(
        s3_url, "us-east-1", connect_timeout=2, read_timeout=10, max_attempts=3
    )
    bucket = f"ratio-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    storage = S3ImageStorage(client, bucket, timedelta(minutes=5))
    user, book = "bench", uuid.uuid4()
    picture = Image(os.urandom(300_000))
    staged = [f"staging/{user}/{book}/{uuid.uuid4()}.png" for _ in range(21)]
    await asyncio.gather(*(storage.put(key, picture) for key in staged))
    targets = [f"books/{book}/cover.png"] + [f"books/{book}/pages/{n}.png" for n in range(1, 21)]
    s3.latency = latency
    began = time.perf_counter()
    await storage.promote(dict(zip(staged, targets, strict=True)))
    concurrent = time.perf_counter() - began
    await storage.delete(targets)
    began = time.perf_counter()
    for src, dst in zip(staged, targets, strict=True):
        await asyncio.to_thread(
            client.copy_object, Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src}
        )
    sequential = time.perf_counter() - began
    s3.latency = 0.0
    return {
        "s3_latency_ms": round(latency * 1000),
        "copies": 21,
        "sequential_ms": round(sequential * 1000, 1),
        "concurrent_promote_ms": round(concurrent * 1000, 1),
        "ratio": round(concurrent / sequential, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--books", type=int, default=8)
    parser.add_argument(
        "--redis-url", default=os.environ.get("LW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("LW_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    )
    parser.add_argument(
        "--images",
        choices=["s3", "local"],
        default="s3",
        help="S3 through the moto server (default), or the local disk, to see moto's own share",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/backends_bench.json"))
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    s3 = CountingS3()
    server_url = sa.make_url(args.mysql_url)
    database = f"lw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {database} CHARACTER SET utf8mb4"))
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    build_s3_client(
        s3.url, "us-east-1", connect_timeout=2, read_timeout=5, max_attempts=3
    ).create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(
        LW_DATA_DIR=tempfile.mkdtemp(prefix="lw-bench-"),
        LW_REDIS_URL=args.redis_url,
        LW_DATABASE_URL=server_url.set(database=database).render_as_string(hide_password=False),
    )
    if args.images == "s3":
        env.update(LW_S3_BUCKET=bucket, LW_S3_ENDPOINT_URL=s3.url, LW_S3_REGION="us-east-1")
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    counters = Counters(args.redis_url, admin, s3)
    servers = {
        "offline generators": [*CLI, "serve", "--port"],
        "instant generators (the service's own overhead)": [
            sys.executable,
            str(Path(__file__).with_name("instant_server.py")),
        ],
    }
    report: dict[str, Any] = {}
    try:
        for label, command in servers.items():
            with serving(command, env) as api:
                report[label] = asyncio.run(measure(api, env, counters, args))
        report["copy_ratio"] = [asyncio.run(copy_ratio(s3, latency)) for latency in (0.0, 0.02)]
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
        s3.stop()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for label in servers:
        print(f"\n{label}")
        print(f"{'operation':44} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}  round trips per operation")
        for r in report[label]:
            trips = ", ".join(f"{k} {v:g}" for k, v in r["round_trips"].items())
            print(f"{r['operation']:44} {r['n']:>5} {r['p50_ms']:>8} {r['p99_ms']:>8}  {trips}")
    print()
    for ratio in report["copy_ratio"]:
        print(
            f"promote 21 images with {ratio['s3_latency_ms']} ms per S3 request: "
            f"{ratio['concurrent_promote_ms']} ms concurrent vs {ratio['sequential_ms']} ms "
            f"as 21 sequential CopyObjects (ratio {ratio['ratio']})"
        )


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen([*command, str(port)], env=env, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not become ready: {command}")
            time.sleep(0.2)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
