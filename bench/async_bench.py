"""500 users write a page at once with `Prefer: respond-async`, on one server process whose AI
answers after 2 s per call, each user watching the book's event stream.

Starts `bench/slow_ai_server.py` (one uvicorn process: the offline generators behind a fixed
latency, the real service on a real Redis, or on the embedded store) and, from this one asyncio
process (raw HTTP/1.1 on asyncio streams, lighter than httpx for 1000 sockets on 2 cores):
  1. starts a 3-page book for each user (AI latency 0 meanwhile) and has every user read it
     at once (the server's Redis pool grows as it would serving for a while): not measured,
  2. reads the server's RSS, opens one event stream per user, reads the RSS again,
  3. opens one connection per user and sends every `POST /v1/books/current/pages` with
     `Prefer: respond-async` at once (or evenly over --ramp seconds), recording when each
     request went out, when its 202 came back and when its `page_done` event arrived,
  4. checks that every user got `page_text`, `questions`, `image_ready` and `page_done` once
     each, in that order, with increasing ids, for page 1 of their book.
A page's critical path is max(text + questions, picture) = 2 x latency: the overhead is the
time to `page_done` less that. The server's event-loop lag (a task sleeping 50 ms, recording how
late it wakes) is read from its bench-only route /bench/stats.

With `--workers N` (a real Redis) the server only accepts pages (LW_RUN_JOBS=false) and N
`bench/slow_ai_worker.py` processes (`littlewriter worker` with the same slow generators) run
them; pages per second and the CPU of the server and the workers are reported too, and every
user's book is read at the end: one page stored, its picture ready.

Usage: .venv/bin/python bench/async_bench.py [--users 500] [--latency 2.0]
    [--redis-url redis://127.0.0.1:6379/3 | --embedded] [--pictures drawn|cached] [--ramp S]
    [--workers N [--worker-concurrency C]] [--job-queue NAME]
    [--gc-freeze] [--py-spy FILE [--py-spy-phase run|burst|pages]] [--json PATH]
The Redis database is FLUSHED first: give the bench a database of its own (not 0). The Redis
command counts are the server's (INFO commandstats): keep other clients off that Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
from pydantic import SecretStr

from app.infrastructure.settings import Settings
from app.infrastructure.tokens import TokenCodec

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
EXPECTED = ("page_text", "questions", "image_ready", "page_done")
PAGES = 3  # page 1 of 3: the page has questions (the last page of a book has none)
BOOK = {
    "characters": [{"name": "Momo", "description": "a brave little rabbit with a red scarf"}],
    "page_count": PAGES,
    "language": "en",
    "reader_age": 5,
    "setting": "a snowy forest",
}
SERVER = Path(__file__).with_name("slow_ai_server.py")
WORKER = Path(__file__).with_name("slow_ai_worker.py")
WORKER_READY = "worker running up to"  # what `run_worker` logs once it takes jobs
HOST = "127.0.0.1"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def ms_stats(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    return {
        "min_ms": round(min(samples) * 1000, 1),
        "p50_ms": round(percentile(samples, 50) * 1000, 1),
        "p99_ms": round(percentile(samples, 99) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "mean_ms": round(statistics.fmean(samples) * 1000, 1),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def raise_open_files(users: int) -> int:
    """Each user holds two sockets here and two in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * users + 512
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < 2 * users + 256:
        raise SystemExit(f"open files limit {soft} is too low for {users} users (hard {hard})")
    return soft


# -- the raw HTTP/1.1 client ---------------------------------------------------------------


@dataclass
class Event:
    at: float
    id: str | None
    name: str
    data: dict[str, Any]


@dataclass
class User:
    index: int
    name: str
    token: str
    book_id: str = ""
    events: list[Event] = field(default_factory=list)
    comments: int = 0
    stream_error: str | None = None
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: int = 0
    applied: str | None = None
    state: str | None = None
    answer_error: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, name: str) -> float | None:
        return next((e.at for e in self.events if e.name == name), None)

    @property
    def page_done_at(self) -> float | None:
        return self.arrived("page_done")


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


def request_bytes(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class EventStream:
    """One user's `GET /v1/books/current/events`, parsed as it arrives (chunked SSE)."""

    def __init__(self, user: User, port: int) -> None:
        self.user = user
        self.port = port
        self.writer: asyncio.StreamWriter | None = None
        self._buffer = ""

    async def run(self) -> None:
        user = self.user
        try:
            reader, self.writer = await asyncio.open_connection(HOST, self.port)
            headers = {"Authorization": f"Bearer {user.token}", "Accept": "text/event-stream"}
            self.writer.write(
                request_bytes("GET", "/v1/books/current/events", self.port, headers, b"")
            )
            status, response_headers = await read_head(reader)
            if status != 200:
                raise RuntimeError(f"events answered {status}")
            if response_headers.get("transfer-encoding") != "chunked":
                raise RuntimeError(f"events not chunked: {response_headers}")
            while True:
                size = int((await reader.readline()).split(b";", 1)[0], 16)
                if size == 0:
                    raise RuntimeError("the server ended the stream")
                chunk = await reader.readexactly(size + 2)
                self._feed(chunk[:-2].decode())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - recorded per user, reported as a loss
            user.stream_error = f"{type(error).__name__}: {error}"
            user.ready.set()
            user.done.set()

    def _feed(self, text: str) -> None:
        now = time.perf_counter()
        self._buffer += text
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            self._block(block, now)

    def _block(self, block: str, now: float) -> None:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.user.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        if "retry" in fields and "event" not in fields:
            self.user.ready.set()  # sent once the stream listens for the user's events
        if "event" in fields:
            event = Event(
                now, fields.get("id"), fields["event"], json.loads(fields.get("data", "{}"))
            )
            self.user.events.append(event)
            if event.name in ("page_done", "generation_failed"):
                self.user.done.set()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def write_page_async(
    user: User,
    port: int,
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    at: float | None = None,
) -> None:
    """Send the request (at `at` on the perf_counter clock, else now), record when it went out,
    and read its answer."""
    reader, writer = connection
    if at is not None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
    body = json.dumps({"input": f"Momo finds a map under the snow ({user.index})"}).encode()
    headers = {
        "Authorization": f"Bearer {user.token}",
        "Content-Type": "application/json",
        "Prefer": "respond-async",
    }
    data = request_bytes("POST", "/v1/books/current/pages", port, headers, body)
    user.sent_at = time.perf_counter()
    writer.write(data)
    try:
        user.status, response_headers = await read_head(reader)
        answer = await reader.readexactly(int(response_headers.get("content-length", "0")))
        user.answered_at = time.perf_counter()
        user.applied = response_headers.get("preference-applied")
        if user.status == 202:
            user.state = json.loads(answer).get("state")
        else:
            user.answer_error = answer.decode(errors="replace")[:300]
            user.done.set()
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        user.answer_error = f"{type(error).__name__}: {error}"
        user.done.set()
    finally:
        writer.close()


async def client_lag(samples: list[float], interval: float = 0.05) -> None:
    while True:
        began = time.perf_counter()
        await asyncio.sleep(interval)
        samples.append(time.perf_counter() - began - interval)


# -- the server ------------------------------------------------------------------------------


def choose_store(args: argparse.Namespace) -> tuple[str | None, str]:
    """The Redis URL (flushed) or None for the embedded store, and how to describe it."""
    if args.embedded:
        return None, "embedded (in-process fakeredis)"
    url = args.redis_url or os.environ.get("LW_REDIS_URL")
    explicit = url is not None
    url = url or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        info = client.info("server")
    except redis.RedisError as error:
        if explicit:
            raise SystemExit(f"cannot reach Redis at {url}: {error}") from None
        print(f"no Redis at {url} ({error}): using the embedded store")
        return None, "embedded (in-process fakeredis)"
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    if db == 0:
        raise SystemExit(
            f"{url}: the bench flushes its Redis database; give it one of its own (/3)"
        )
    me = str(client.client_id())
    others = [c for c in client.client_list() if c.get("db") == str(db) and c["id"] != me]
    if others:  # e.g. a worker left over from an earlier run would take this run's jobs
        raise SystemExit(
            f"{url}: {len(others)} other clients use this database (first: {others[0]['addr']}, "
            f"last command {others[0].get('cmd')}); the bench needs it to itself"
        )
    client.flushdb()
    client.close()
    return url, f"Redis {info['redis_version']} ({url}, flushed)"


def redis_commands(url: str | None) -> Counter[str]:
    """Commands the Redis server has run so far, by name (all clients: keep the Redis quiet)."""
    if url is None:
        return Counter()
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


def per_page(before: Counter[str], after: Counter[str], pages: int) -> dict[str, float]:
    delta = after - before
    delta["info"] -= 1  # the bench's own INFO
    total = sum(n for n in delta.values() if n > 0)
    figures = {name: round(n / pages, 2) for name, n in delta.most_common() if n > 0}
    return {"total": round(total / pages, 2), **figures} if total else {}


@contextlib.contextmanager
def running_server(
    env: dict[str, str], port: int, args: argparse.Namespace, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        command = [sys.executable, str(SERVER), str(port), "--latency", "0"]
        command += ["--pictures", args.pictures] + (["--gc-freeze"] if args.gc_freeze else [])
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


@contextlib.contextmanager
def running_workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker processes `start_workers` adds to the list, stopped on the way out."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()  # a graceful stop: nothing is running by then
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


async def start_workers(
    workers: list[subprocess.Popen[bytes]],
    env: dict[str, str],
    args: argparse.Namespace,
    log_dir: Path,
) -> None:
    """`--workers` worker processes with the server's slow generators, one after the other
    (each migrates the data dir's SQLite database at start-up, as the server did before)."""
    command = [sys.executable, str(WORKER), "--latency", str(args.latency)]
    command += ["--pictures", args.pictures]
    if args.worker_concurrency is not None:
        command += ["--concurrency", str(args.worker_concurrency)]
    for index in range(args.workers):
        log = log_dir / f"worker-{index}.log"
        process = spawn(command, env, log)
        workers.append(process)
        async with asyncio.timeout(60):
            while WORKER_READY not in log.read_text(errors="replace"):
                if process.poll() is not None:
                    raise SystemExit(f"worker {index} exited during start-up (log {log})")
                await asyncio.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def keep_logs(log_dir: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for log in log_dir.glob("*.log"):
        shutil.copy(log, into / log.name)


def jobs_run(log_dir: Path) -> int:
    """Jobs the worker processes started (SAQ logs each one it takes)."""
    return sum(
        log.read_text(errors="replace").count("Processing Job")
        for log in log_dir.glob("worker-*.log")
    )


def jobs_swept(log_dir: Path) -> int:
    """Jobs a worker's sweep put back (at least once: a run may have been under way)."""
    return sum(
        log.read_text(errors="replace").count("Sweeping job")
        for log in log_dir.glob("worker-*.log")
    )


def tracebacks(log_dir: Path) -> int:
    return sum(log.read_text(errors="replace").count("Traceback") for log in log_dir.glob("*.log"))


async def check_stored(api: httpx.AsyncClient, users: list[User], concurrency: int) -> Counter[str]:
    """Every user's book as stored: exactly one page (page 1, this user's input), its picture
    ready, the book no longer generating."""
    gate = asyncio.Semaphore(concurrency)
    problems: Counter[str] = Counter()

    async def read(user: User) -> None:
        async with gate:
            response = await api.get(
                "/v1/books/current", headers={"Authorization": f"Bearer {user.token}"}
            )
        if response.status_code != 200:
            problems[f"read_{response.status_code}"] += 1
            return
        book = response.json()
        pages = book["pages"]
        if len(pages) == 0:
            problems["no_page_stored"] += 1
        elif len(pages) > 1:
            problems["pages_stored_twice"] += 1
        elif pages[0]["number"] != 1 or f"({user.index})" not in pages[0]["input"]:
            problems["wrong_page_stored"] += 1
        elif pages[0]["image_status"] != "ready":
            problems[f"picture_{pages[0]['image_status']}"] += 1
        if book["id"] != user.book_id:
            problems["wrong_book"] += 1
        if book["state"] == "generating":
            problems["still_generating"] += 1

    await asyncio.gather(*(read(user) for user in users))
    return problems


async def wait_ready(api: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(60):
        while True:
            if process.poll() is not None:
                raise SystemExit("the server exited during start-up")
            with contextlib.suppress(httpx.TransportError):
                if (await api.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)


async def stats(
    api: httpx.AsyncClient, reset: bool = False, objects: bool = False
) -> dict[str, Any]:
    params = {"reset": str(reset).lower(), "objects": str(objects).lower()}
    response = await api.get("/bench/stats", params=params)
    response.raise_for_status()
    figures: dict[str, Any] = response.json()
    return figures


def start_py_spy(args: argparse.Namespace, pid: int) -> subprocess.Popen[bytes] | None:
    """Sample the server's stacks (collapsed stacks, into --py-spy), when asked to."""
    if args.py_spy is None:
        return None
    binary = shutil.which("py-spy") or args.py_spy_bin
    if binary is None or not Path(binary).exists():
        raise SystemExit("--py-spy needs py-spy (pip install py-spy; or --py-spy-bin PATH)")
    args.py_spy.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "record", "--pid", str(pid), "--rate", str(args.py_spy_rate)]
    command += ["--format", "raw"]
    command += ["--threads", "--output", str(args.py_spy)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)


# -- the run ---------------------------------------------------------------------------------


async def start_books(api: httpx.AsyncClient, users: list[User], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def start(user: User) -> None:
        async with gate:
            headers = {"Authorization": f"Bearer {user.token}"}
            response = await api.post("/v1/books", json=BOOK, headers=headers)
            if response.status_code != 201:
                raise SystemExit(
                    f"starting a book answered {response.status_code}: {response.text}"
                )
            user.book_id = response.json()["id"]

    await asyncio.gather(*(start(user) for user in users))


async def warm_up(port: int, users: list[User]) -> None:
    """Every user reads the book at once, twice: the server's Redis pool holds as many
    connections as a burst needs, as it does after serving a while (not measured)."""

    async def read(user: User) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        headers = {"Authorization": f"Bearer {user.token}"}
        try:
            for _ in range(2):
                writer.write(request_bytes("GET", "/v1/books/current", port, headers, b""))
                status, response_headers = await read_head(reader)
                await reader.readexactly(int(response_headers.get("content-length", "0")))
                if status != 200:
                    raise SystemExit(f"reading the book answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(read(user) for user in users))


async def connect_all(port: int, n: int, concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with gate:
            return await asyncio.open_connection(HOST, port)

    return list(await asyncio.gather(*(connect() for _ in range(n))))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    open_files = raise_open_files(args.users)
    redis_url, store = choose_store(args)
    data_dir = Path(tempfile.mkdtemp(prefix="lw-async-bench-"))
    secret = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(
        LW_DATA_DIR=str(data_dir),
        LW_JWT_SECRET=secret,
        LW_RATE_LIMIT_GENERATION="100000/minute",
        LW_QUOTA_USER_PAGES_PER_DAY="1000000",
        LW_QUOTA_USER_IMAGES_PER_DAY="1000000",
        LW_QUOTA_SERVICE_PAGES_PER_DAY="100000000",
        LW_QUOTA_SERVICE_IMAGES_PER_DAY="100000000",
        LW_EVENTS_MAX_STREAMS=str(max(600, args.users + 100)),
        LW_EVENTS_MAX_STREAMS_PER_USER="5",
        LW_JOB_QUEUE=args.job_queue,
    )
    if args.workers:
        if redis_url is None:
            raise SystemExit("--workers needs a real Redis (--redis-url)")
        env["LW_RUN_JOBS"] = "false"  # the server only accepts; the workers write the pages
    if redis_url is not None:
        env["LW_REDIS_URL"] = redis_url
    env.update(setting.split("=", 1) for setting in args.server_env)  # type: ignore[misc]
    codec = TokenCodec(Settings(jwt_secret=SecretStr(secret), data_dir=data_dir))
    run_id = secrets.token_hex(3)
    now = datetime.now(UTC)
    users = [
        User(i, f"bench-{run_id}-{i}", codec.issue(f"bench-{run_id}-{i}", now, timedelta(hours=2)))
        for i in range(args.users)
    ]
    port = free_port()
    log_path = data_dir / "server.log"
    critical = 2 * args.latency
    streams: list[EventStream] = []
    stream_tasks: list[asyncio.Task[None]] = []
    lag_samples: list[float] = []
    lag_task = asyncio.create_task(client_lag(lag_samples))
    report: dict[str, Any] = {}
    try:
        with (
            running_server(env, port, args, log_path) as process,
            running_workers() as workers,
        ):
            limits = httpx.Limits(max_connections=args.start_concurrency + 8)
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{port}", limits=limits, timeout=120
            ) as api:
                await wait_ready(api, process)
                await start_workers(workers, env, args, data_dir)
                t = time.perf_counter()
                await start_books(api, users, args.start_concurrency)
                print(f"started {len(users)} books in {time.perf_counter() - t:.1f} s")
                async with asyncio.timeout(120):
                    await warm_up(port, users)
                await asyncio.sleep(1.0)
                before_streams = await stats(api)

                streams = [EventStream(user, port) for user in users]
                t = time.perf_counter()
                stream_tasks = [asyncio.create_task(s.run()) for s in streams]
                async with asyncio.timeout(120):
                    await asyncio.gather(*(user.ready.wait() for user in users))
                broken = [u for u in users if u.stream_error]
                if broken:
                    raise SystemExit(
                        f"{len(broken)} event streams failed: {broken[0].stream_error}"
                    )
                opened_in = time.perf_counter() - t
                await asyncio.sleep(1.0)
                with_streams = await stats(api)
                assert with_streams["open_streams"] == len(users), with_streams
                print(f"opened {len(users)} event streams in {opened_in:.1f} s")

                await api.put("/bench/latency", params={"seconds": args.latency})
                async with asyncio.timeout(60):
                    connections = await connect_all(port, len(users), 100)
                await asyncio.sleep(0.5)
                spy = None
                if args.py_spy_phase in ("run", "burst"):
                    spy = start_py_spy(args, process.pid)
                    await asyncio.sleep(0.5)  # attached
                commands_before = redis_commands(redis_url)
                at_burst = await stats(api, reset=True, objects=True)
                workers_cpu = sum(cpu_seconds(w.pid) for w in workers)
                lag_samples.clear()
                client_cpu = time.process_time()
                burst = time.perf_counter()
                # All at once (the same loop turn), or spread evenly over --ramp seconds.
                step = args.ramp / len(users)
                answers = [
                    asyncio.create_task(
                        write_page_async(user, port, connection, burst + i * step if step else None)
                    )
                    for i, (user, connection) in enumerate(zip(users, connections, strict=True))
                ]
                try:
                    async with asyncio.timeout(args.timeout):
                        await asyncio.gather(*answers)
                except TimeoutError:
                    for task in answers:
                        task.cancel()
                    raise SystemExit(
                        f"{sum(1 for u in users if not u.answered_at)} requests had no answer "
                        f"in {args.timeout} s"
                    ) from None
                answered = time.perf_counter()
                after_burst = await stats(api)
                if args.py_spy_phase == "burst":
                    stop_py_spy(spy)
                    spy = None
                elif args.py_spy_phase == "pages":  # profile with a long --latency
                    spy = start_py_spy(args, process.pid)
                timed_out = False
                try:
                    async with asyncio.timeout(args.timeout):
                        await asyncio.gather(*(user.done.wait() for user in users))
                except TimeoutError:
                    timed_out = True
                finished = time.perf_counter()
                workers_cpu = sum(cpu_seconds(w.pid) for w in workers) - workers_cpu
                commands_after = redis_commands(redis_url)
                after_run = await stats(api, reset=True)
                stop_py_spy(spy)
                client_lags = list(lag_samples)
                client_cpu = time.process_time() - client_cpu
                await asyncio.sleep(1.0)  # late duplicates would arrive now
                settled = await stats(api)
                stored = await check_stored(api, users, args.start_concurrency)
                for stream in streams:  # before the server stops: it need not cancel them
                    stream.close()
                report = analyse(
                    args,
                    users,
                    critical,
                    before_streams,
                    with_streams,
                    at_burst,
                    after_burst,
                    after_run,
                    settled,
                    client_lags,
                    burst,
                    answered,
                    finished,
                    timed_out,
                )
                report["client_cpu_during_run_s"] = round(client_cpu, 2)
                report["workers"] = {
                    "processes": args.workers,
                    "concurrency_each": args.worker_concurrency,
                    "cpu_during_run_s": round(workers_cpu, 2),
                }
                report["server_and_workers_cpu_during_run_s"] = round(
                    report["server_cpu_during_run_s"] + workers_cpu, 2
                )
                report["stored"] = {"problems": dict(stored), "ok": not stored}
                if stored:
                    report["events"]["all_delivered_in_order"] = False
                report["redis_commands_per_page"] = per_page(
                    commands_before, commands_after, len(users)
                )
                report["setup"] = {
                    "store": store,
                    "open_files_limit": open_files,
                    "streams_opened_s": round(opened_in, 2),
                }
    except BaseException:
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        print(f"server log ({log_path}):\n{tail}", file=sys.stderr)
        raise
    finally:
        lag_task.cancel()
        for stream in streams:
            stream.close()
        for task in stream_tasks:
            task.cancel()
        await asyncio.gather(*stream_tasks, lag_task, return_exceptions=True)
    report["tracebacks_in_logs"] = tracebacks(data_dir)
    if args.workers:  # every page run by these workers (nothing else took a job), and how often
        report["workers"]["jobs_run"] = jobs_run(data_dir)
        report["workers"]["jobs_swept"] = jobs_swept(data_dir)
        if report["workers"]["jobs_run"] < len(users):
            report["stored"]["problems"]["jobs_run_by_the_workers"] = report["workers"]["jobs_run"]
            report["stored"]["ok"] = False
            report["events"]["all_delivered_in_order"] = False
    if args.keep_log is not None and log_path.exists():
        shutil.copy(log_path, args.keep_log)
    if args.keep_logs is not None:  # the server's and the workers'
        keep_logs(data_dir, args.keep_logs)
    shutil.rmtree(data_dir, ignore_errors=True)
    report["wall_time_s"] = round(time.perf_counter() - began, 1)
    return report


def check_events(user: User) -> Counter[str]:
    """What is wrong with one user's events (empty when all is right)."""
    problems: Counter[str] = Counter()
    if user.stream_error:
        problems["stream_errors"] += 1
    names = [e.name for e in user.events]
    for expected in EXPECTED:
        count = names.count(expected)
        if count == 0:
            problems["lost"] += 1
        elif count > 1:
            problems["duplicated"] += count - 1
    problems["generation_failed"] += names.count("generation_failed")
    problems["unexpected"] += sum(1 for n in names if n not in (*EXPECTED, "generation_failed"))
    if all(names.count(e) == 1 for e in EXPECTED) and names != list(EXPECTED):
        problems["out_of_order"] += 1
    ids = []
    for event in user.events:
        try:
            assert event.id is not None
            ms, seq = event.id.split("-")
            ids.append((int(ms), int(seq)))
        except (AssertionError, ValueError):
            problems["bad_ids"] += 1
    if any(a >= b for a, b in itertools.pairwise(ids)):
        problems["ids_not_increasing"] += 1
    for event in user.events:
        data = event.data
        if data.get("page") != 1 or data.get("book_id") != user.book_id or "version" not in data:
            problems["bad_data"] += 1
    return +problems


def analyse(
    args: argparse.Namespace,
    users: list[User],
    critical: float,
    before_streams: dict[str, Any],
    with_streams: dict[str, Any],
    at_burst: dict[str, Any],
    after_burst: dict[str, Any],
    after_run: dict[str, Any],
    settled: dict[str, Any],
    client_lags: list[float],
    burst: float,
    answered: float,
    finished: float,
    timed_out: bool,
) -> dict[str, Any]:
    to_done = [u.page_done_at - u.sent_at for u in users if u.page_done_at is not None]
    done_at = [u.page_done_at for u in users if u.page_done_at is not None]
    first_sent = min(u.sent_at for u in users)
    texts = [(u, u.arrived("page_text")) for u in users]
    to_text = [at - u.sent_at for u, at in texts if at is not None]
    overhead = [t - critical for t in to_done]
    accepted = [u for u in users if u.status == 202]
    answer_times = [u.answered_at - u.sent_at for u in accepted]
    problems: Counter[str] = Counter()
    for user in users:
        problems += check_events(user)
    refused = Counter(str(u.status) for u in users if u.status != 202)
    not_applied = sum(1 for u in accepted if u.applied != "respond-async")
    not_generating = sum(1 for u in accepted if u.state != "generating")
    sample_errors = [u.answer_error for u in users if u.answer_error][:3]
    stream_kb = (with_streams["rss_kb"] - before_streams["rss_kb"]) / len(users)
    ok = not problems and not refused and not timed_out and not not_applied and not not_generating
    return {
        "users": len(users),
        "latency_s": args.latency,
        "critical_path_s": critical,
        "pictures": args.pictures,
        "request_to_page_done": ms_stats(to_done),
        "overhead": ms_stats(overhead),
        "request_to_page_text": ms_stats(to_text),
        "accepted_202": ms_stats(answer_times),
        "server_loop_lag": after_run["lag"],
        "server_gc_during_run": after_run["gc"],
        "client_loop_lag": ms_stats(client_lags),
        "memory": {
            "rss_before_streams_mib": round(before_streams["rss_kb"] / 1024, 1),
            "rss_with_streams_mib": round(with_streams["rss_kb"] / 1024, 1),
            "per_open_stream_kib": round(stream_kb, 1),
            "rss_after_run_mib": round(after_run["rss_kb"] / 1024, 1),
            "peak_rss_mib": round(after_run["peak_rss_kb"] / 1024, 1),
        },
        "server_cpu_during_run_s": round(after_run["cpu_s"] - at_burst["cpu_s"], 2),
        "server_cpu_until_all_202_s": round(after_burst["cpu_s"] - at_burst["cpu_s"], 2),
        "server_gc_until_all_202": after_burst["gc"],
        "server_gc_objects": {"at_burst": at_burst["gc_objects"], "frozen": at_burst["gc_frozen"]},
        "gc_freeze": args.gc_freeze,
        "ramp_s": args.ramp,
        "events": {
            "all_delivered_in_order": ok,
            "lost": problems["lost"],
            "problems": dict(problems),
            "refused": dict(refused),
            "not_applied": not_applied,
            "not_generating": not_generating,
            "sample_errors": sample_errors,
            "timed_out": timed_out,
            "page_done": len(to_done),
        },
        "server_after": {"running_jobs": settled["running_jobs"], "open": settled["open_streams"]},
        "burst_all_answered_s": round(answered - burst, 3),
        "run_s": round(finished - burst, 3),
        # pages done / (first request sent -> last page_done)
        "pages_per_s": round(len(done_at) / (max(done_at) - first_sent), 1) if done_at else 0.0,
    }


def print_table(report: dict[str, Any]) -> None:
    print()
    print(
        f"{report['users']} users, AI latency {report['latency_s']} s per call "
        f"(critical path {report['critical_path_s']} s), pictures {report['pictures']}, "
        f"store: {report['setup']['store']}"
        f"{', gc.freeze()' if report['gc_freeze'] else ''}, "
        + (f"pages sent over {report['ramp_s']} s" if report["ramp_s"] else "pages sent at once")
    )
    print(f"{'':34} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    rows = [
        ("request -> page_done", report["request_to_page_done"]),
        ("overhead (less the critical path)", report["overhead"]),
        ("request -> page_text", report["request_to_page_text"]),
        ("202 response", report["accepted_202"]),
        ("server event-loop lag", report["server_loop_lag"]),
        ("client event-loop lag", report["client_loop_lag"]),
    ]
    for name, figures in rows:
        cells = [figures.get(k, "-") for k in ("p50_ms", "p99_ms", "max_ms")]
        print(f"{name:34} " + " ".join(f"{c:>9}" for c in cells))
    memory = report["memory"]
    print(
        f"memory per open stream: {memory['per_open_stream_kib']} KiB "
        f"(RSS {memory['rss_before_streams_mib']} -> {memory['rss_with_streams_mib']} MiB), "
        f"peak RSS {memory['peak_rss_mib']} MiB"
    )
    events = report["events"]
    verdict = "events lost: 0" if events["all_delivered_in_order"] else "EVENTS NOT ALL RIGHT"
    print(
        f"{verdict} (page_done {events['page_done']}/{report['users']}, problems "
        f"{events['problems'] or 'none'}, refused {events['refused'] or 'none'}"
        f"{', TIMED OUT' if events['timed_out'] else ''})"
    )
    if report.get("redis_commands_per_page"):
        commands = ", ".join(f"{k} {v:g}" for k, v in report["redis_commands_per_page"].items())
        print(f"Redis commands per page (during the run): {commands}")
    gc_pauses = ", ".join(
        f"{gen} {g['collections']}x total {g['total_ms']} ms max {g['max_ms']} ms"
        for gen, g in report["server_gc_during_run"].items()
    )
    print(f"server GC during the run: {gc_pauses}")
    if events["sample_errors"]:
        print(f"sample errors: {events['sample_errors']}")
    print(
        f"server CPU until every 202 {report['server_cpu_until_all_202_s']} s, "
        f"during the run {report['server_cpu_during_run_s']} s (client "
        f"{report['client_cpu_during_run_s']} s); all 202s in "
        f"{report['burst_all_answered_s']} s; run {report['run_s']} s; "
        f"wall time {report['wall_time_s']} s"
    )
    workers = report["workers"]
    if workers["processes"]:
        print(
            f"{workers['processes']} worker processes, {workers['concurrency_each'] or 'default'} "
            f"jobs at once each, {workers['jobs_run']} jobs run, {workers['jobs_swept']} swept: "
            f"worker CPU during the run "
            f"{workers['cpu_during_run_s']} s, "
            f"server + workers {report['server_and_workers_cpu_during_run_s']} s"
        )
    stored = report["stored"]
    print(
        f"pages per second {report['pages_per_s']}; stored books: "
        f"{'one page each, picture ready' if stored['ok'] else stored['problems']}; "
        f"tracebacks in the logs: {report['tracebacks_in_logs']}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per AI call")
    parser.add_argument(
        "--redis-url",
        default=None,
        help=f"a Redis database of the bench's own, flushed first (default: LW_REDIS_URL, else "
        f"{DEFAULT_REDIS_URL} when reachable, else the embedded store)",
    )
    parser.add_argument("--embedded", action="store_true", help="the embedded store, no Redis")
    parser.add_argument(
        "--pictures",
        choices=["drawn", "cached"],
        default="drawn",
        help="drawn: Pillow draws each picture after the latency (default); cached: the "
        "illustrator hands back one pre-drawn picture (an AI illustrator spends no local CPU)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="send the pages evenly over this many seconds instead of all at once (with a ramp "
        "up to the critical path, all the pages are still in progress together at its end)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: the server calls gc.freeze() once started (not what the product does)",
    )
    parser.add_argument("--start-concurrency", type=int, default=50)
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait for every page_done"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="record the server's stacks during the run here"
    )
    parser.add_argument(
        "--py-spy-phase",
        choices=["run", "burst", "pages"],
        default="run",
        help="sample the whole run (default), only until every 202 is back, or only after "
        "(use a --latency long enough for the pages to be written after the burst)",
    )
    parser.add_argument("--py-spy-bin", default=None, help="py-spy when it is not on the PATH")
    parser.add_argument("--py-spy-rate", type=int, default=200, help="samples a second")
    parser.add_argument("--json", type=Path, default=Path("bench/results/async_bench.json"))
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LW_NAME=VALUE",
        help="a setting for the server (e.g. LW_WORKER_CONCURRENCY=500); may be repeated",
    )
    parser.add_argument("--keep-log", type=Path, default=None, help="copy the server log here")
    parser.add_argument(
        "--keep-logs", type=Path, default=None, help="copy the server's and workers' logs here"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes running the pages (bench/slow_ai_worker.py); the server then "
        "runs none (LW_RUN_JOBS=false). 0 (default): the server runs them itself",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=None,
        help="jobs each worker process runs at once (default LW_WORKER_CONCURRENCY)",
    )
    parser.add_argument(
        "--job-queue",
        default="async-bench",
        help="LW_JOB_QUEUE of the server and the workers (a queue of the bench's own)",
    )
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run (on uvloop when installed), its report."""
    if args.timeout is None:
        args.timeout = 4 * args.latency + 60
    try:
        import uvloop
    except ImportError:
        report = asyncio.run(measure(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            report = runner.run(measure(args))
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    return report


def main() -> None:
    args = build_parser().parse_args()
    report = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"figures written to {args.json}")
    if not report["events"]["all_delivered_in_order"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
