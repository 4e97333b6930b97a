"""`GET /v1/books/current` against its floor: the real service and a bare FastAPI app, side by side.

Starts a real `littlewriter serve` (one process; embedded defaults in a temporary data dir, or a
real Redis with `--redis-url`, whose database is FLUSHED first), makes a token and a book with 5
pages written, and reads the book once to capture the exact answer (status, headers and bytes).
Then it starts a bare FastAPI app under uvicorn with the settings `littlewriter serve` gives uvicorn
(one worker, the same loop, the same HTTP protocol class, `log_config=None`) whose one route
verifies the same token with PyJWT (same key, algorithm and audience) and answers those bytes.

Both are measured by the same light client (raw HTTP/1.1 keep-alive over asyncio streams, on
uvloop when installed, one process sharing the machine's cores with the server), in alternating
rounds after a warm-up that is not counted:
  * one connection, one request at a time: latency p50 and p99 over every round;
  * `--concurrency` connections, each sending its next request as soon as it has an answer:
    requests per second (median of the rounds), and the server's CPU per request.

Usage: .venv/bin/python bench/read_path_bench.py [--rounds 6] [--requests 2000] [--concurrency 16]
           [--redis-url redis://127.0.0.1:6379/6] [--out bench/results/read_path_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi import FastAPI, Request, Response

BOOK = {
    "characters": [{"name": "Momo", "description": "a brave little rabbit with a red scarf"}],
    "page_count": 20,
    "language": "en",
    "reader_age": 5,
    "setting": "a snowy forest",
}
PATH = "/v1/books/current"
# Per-request headers of the captured answer that the bare app does not copy: it sets its own.
_OWN_HEADERS = {"content-length", "date", "server"}
CODE = str(Path(__file__).resolve().parent.parent)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


# -- the bare app -------------------------------------------------------------------------------


def bare_app(secret: str, audience: str, algorithm: str, capture: dict[str, Any]) -> FastAPI:
    body = capture["body"].encode("latin-1")
    headers = {k: v for k, v in capture["headers"] if k not in _OWN_HEADERS | {"content-type"}}
    media_type = dict(capture["headers"])["content-type"]
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(PATH)
    async def current(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return Response(status_code=401)
        try:
            jwt.decode(token, secret, algorithms=[algorithm], audience=audience)
        except jwt.PyJWTError:
            return Response(status_code=401)
        return Response(body, status_code=capture["status"], headers=headers, media_type=media_type)

    return app


def serve_bare(args: argparse.Namespace) -> None:
    """The bare server's process: uvicorn as `littlewriter serve` configures it."""
    import uvicorn

    capture = json.loads(Path(args.capture).read_text())
    secret = (Path(args.data_dir) / "jwt_secret").read_text().strip()
    uvicorn.run(
        bare_app(secret, "littlewriter", "HS256", capture),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        proxy_headers=False,
        forwarded_allow_ips=None,
        timeout_graceful_shutdown=30,
        workers=1,
        http="app.interfaces.http.protocol:SettingsBoundedProtocol",
    )


# -- the client ---------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending the same GET again and again."""

    def __init__(self, port: int, request: bytes, body_length: int) -> None:
        self._port = port
        self._request = request
        self._body_length = body_length
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)

    async def get(self) -> None:
        assert self._reader is not None and self._writer is not None
        self._writer.write(self._request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"unexpected answer: {head!r}")
        lower = head.lower()
        start = lower.index(b"content-length:") + 15
        length = int(lower[start : lower.index(b"\r\n", start)])
        if length != self._body_length:
            raise SystemExit(f"answer of {length} bytes, {self._body_length} expected")
        await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


class Target:
    def __init__(self, name: str, port: int, pid: int, token: str, body_length: int) -> None:
        self.name = name
        self.pid = pid
        self._port = port
        self._body_length = body_length
        self._request = (
            f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        self.latencies: list[float] = []
        self.throughputs: list[float] = []
        self.cpu_per_request_ms: list[float] = []

    def _connect(self) -> Connection:
        return Connection(self._port, self._request, self._body_length)

    async def one_at_a_time(self, n: int, *, keep: bool) -> None:
        connection = self._connect()
        await connection.open()
        try:
            samples = []
            for _ in range(n):
                began = time.perf_counter()
                await connection.get()
                samples.append(time.perf_counter() - began)
        finally:
            await connection.close()
        if keep:
            self.latencies += samples

    async def concurrently(self, n: int, c: int, *, keep: bool) -> None:
        connections = [self._connect() for _ in range(c)]
        await asyncio.gather(*(conn.open() for conn in connections))

        async def loop(connection: Connection, count: int) -> None:
            for _ in range(count):
                await connection.get()

        try:
            cpu = cpu_seconds(self.pid)
            began = time.perf_counter()
            await asyncio.gather(*(loop(conn, n // c) for conn in connections))
            wall = time.perf_counter() - began
            cpu = cpu_seconds(self.pid) - cpu
        finally:
            await asyncio.gather(*(conn.close() for conn in connections))
        if keep:
            self.throughputs.append((n // c) * c / wall)
            self.cpu_per_request_ms.append(cpu * 1000 / ((n // c) * c))

    def figures(self) -> dict[str, Any]:
        return {
            "requests_one_at_a_time": len(self.latencies),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 3),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 3),
            "requests_per_s": round(statistics.median(self.throughputs), 1),
            "requests_per_s_by_round": [round(t, 1) for t in self.throughputs],
            "server_cpu_ms_per_request": round(statistics.median(self.cpu_per_request_ms), 3),
        }


# -- the run ------------------------------------------------------------------------------------


def issue_token(cli: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(
        [*cli, "token", "bench-reader"], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # The service's log lines (an access log line per request) go to a file, as in production.
    with log.open("wb") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=sink)


async def wait_ready(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("a server exited during start-up")
            try:
                if (await client.get(path)).status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("a server did not become ready in 60 s")


async def prepare(port: int, token: str) -> dict[str, Any]:
    """A book with 5 pages written, and its answer as the service gives it."""
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        await client.delete(PATH, headers=auth)
        created = await client.post("/v1/books", json=BOOK, headers=auth)
        assert created.status_code == 201, created.text
        for n in range(5):
            written = await client.post(f"{PATH}/pages", json={"input": f"p{n}"}, headers=auth)
            assert written.status_code == 200, written.text
        answer = await client.get(PATH, headers=auth)
        assert answer.status_code == 200, answer.text
    return {
        "status": answer.status_code,
        "headers": [(k.lower(), v) for k, v in answer.headers.multi_items()],
        "body": answer.content.decode("latin-1"),
    }


async def measure(args: argparse.Namespace, targets: list[Target]) -> None:
    for target in targets:  # warm-up, not counted
        await target.one_at_a_time(args.warmup, keep=False)
        await target.concurrently(args.warmup * 2, args.concurrency, keep=False)
    for round_number in range(args.rounds):
        # Alternate who goes first, so that a slow spell of the shared machine hits both.
        ordered = targets if round_number % 2 == 0 else targets[::-1]
        for target in ordered:
            await target.one_at_a_time(args.requests, keep=True)
        for target in ordered:
            await target.concurrently(args.requests * 2, args.concurrency, keep=True)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="lw-readpath-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["LW_DATA_DIR"] = str(data_dir)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        env["LW_REDIS_URL"] = args.redis_url
        env["LW_JOB_QUEUE"] = "readpath-bench"  # never the queue that others' servers share
    env.update(dict(item.split("=", 1) for item in args.env))
    service_port, bare_port = free_port(), free_port()
    cli = [sys.executable, "-m", "app.interfaces.cli"]
    processes = [start([*cli, "serve", "--port", str(service_port)], env, data_dir / "service.log")]
    try:
        await wait_ready(service_port, "/ready", processes[0])
        token = await asyncio.to_thread(issue_token, cli, env)
        capture = await prepare(service_port, token)
        capture_file = data_dir / "capture.json"
        capture_file.write_text(json.dumps(capture))
        bare = [sys.executable, __file__, "--serve-bare", "--port", str(bare_port)]
        bare += ["--data-dir", str(data_dir), "--capture", str(capture_file)]
        processes.append(start(bare, env, data_dir / "bare.log"))
        await wait_ready(bare_port, PATH, processes[1])
        body_length = len(capture["body"])
        targets = [
            Target("service", service_port, processes[0].pid, token, body_length),
            Target("bare", bare_port, processes[1].pid, token, body_length),
        ]
        await measure(args, targets)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)
    service, floor = (t.figures() for t in targets)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "code": CODE,
        "store": args.redis_url or "embedded",
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "concurrency": args.concurrency,
        "answer_bytes": body_length,
        "service": service,
        "bare": floor,
        "ratio_p50": round(service["p50_ms"] / floor["p50_ms"], 2),
        "ratio_p99": round(service["p99_ms"] / floor["p99_ms"], 2),
        "ratio_throughput": round(service["requests_per_s"] / floor["requests_per_s"], 2),
        "ratio_cpu": round(
            service["server_cpu_ms_per_request"] / floor["server_cpu_ms_per_request"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=2000, help="per round, one at a time")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--redis-url", default=None, help="a real Redis (its database flushed)")
    parser.add_argument("--env", action="append", default=[], help="extra server setting K=V")
    parser.add_argument("--out", type=Path, default=Path("bench/results/read_path_bench.json"))
    # The bare server's own process (started by the bench itself).
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--capture", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args)
        return
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"store: {result['store']}; {result['answer_bytes']} bytes an answer")
    rate = f"req/s @{args.concurrency}"
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8} {rate:>12} {'CPU ms/req':>11}")
    for name in ("service", "bare"):
        r = result[name]
        cells = (r["p50_ms"], r["p99_ms"], r["requests_per_s"], r["server_cpu_ms_per_request"])
        print(f"{name:10} {cells[0]:>8} {cells[1]:>8} {cells[2]:>12} {cells[3]:>11}")
    ratios = (result[k] for k in ("ratio_p50", "ratio_p99", "ratio_throughput", "ratio_cpu"))
    print("{:10} {:>8} {:>8} {:>12} {:>11}".format("ratio", *ratios))


if __name__ == "__main__":
    main()
