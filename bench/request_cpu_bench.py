"""CPU per request of the two hot routes, in-process: no sockets, no client, one request at a time.

The app is the real one (`create_app`, its lifespan, the configured store) with the slow fake AI of
`slow_ai_server.py`; it is called as an ASGI application directly, so the process's CPU time
(`time.process_time`) over a run is the app's own, without the network or a client sharing the
cores. Far less noisy than `async_bench.py` on a shared machine, so it can show a change of a few
per cent. It measures, after starting one book per user (AI latency 0, not timed):
  * GET /v1/books/current, `--reads` times over the users;
  * POST /v1/books/current/pages with `Prefer: respond-async`, once per user, the AI latency set to
    an hour so that the accepted jobs wait and spend nothing: the CPU of accepting a page (the
    202 and the start of its job), which is what `async_bench.py` calls CPU per accepted page.

Usage: .venv/bin/python bench/request_cpu_bench.py [--users 400] [--reads 3000] [--rounds 3]
           [--redis-url redis://127.0.0.1:6379/3]   (flushed first; else the embedded store)
Compare two commits side by side by running it with `PYTHONPATH` at a worktree of each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from slow_ai_server import Latency, SlowContextGenerator, SlowIllustrator, SlowQuestionGenerator

import app as app_package
from app.infrastructure.generation.offline import OfflineModerator
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app

BOOK = json.dumps(
    {
        "characters": [{"name": "Momo", "description": "a brave little rabbit with a red scarf"}],
        "page_count": 3,
        "language": "en",
        "reader_age": 5,
        "setting": "a snowy forest",
    }
).encode()
PAGE = json.dumps({"input": "Momo finds a glowing acorn under the snow"}).encode()


class Asgi:
    """Calls the app as the server would, for one request, and returns the status."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def request(
        self,
        method: str,
        path: str,
        token: str,
        body: bytes = b"",
        extra: dict[str, str] | None = None,
    ) -> int:
        headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            *((name.encode(), value.encode()) for name, value in (extra or {}).items()),
        ]
        if body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self._app(scope, receive, send)
        return status


class Lifespan:
    """The app's start-up and shutdown, as the server runs them."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self._app(scope, self._inbox.get, self._outbox.put))
        await self._inbox.put({"type": "lifespan.startup"})
        started = await self._outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise SystemExit(f"the app did not start: {started}")

    async def stop(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()
        assert self._task is not None
        await self._task


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        fields: dict[str, Any] = {"data_dir": Path(data_dir)}
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
            fields["redis_url"] = args.redis_url
        settings = Settings(**fields)
        latency = Latency(0.0)
        overrides = Overrides(
            context_generator=SlowContextGenerator(latency),
            question_generator=SlowQuestionGenerator(latency),
            illustrator=SlowIllustrator(latency),
            moderator=OfflineModerator(),
        )
        app = create_app(settings, overrides)
        lifespan = Lifespan(app)
        await lifespan.start()
        client = Asgi(app)
        services = app.state.services
        now = datetime.now(UTC)
        tokens = [
            services.tokens.issue(f"user{i}", now, timedelta(hours=1)) for i in range(args.users)
        ]
        for token in tokens:
            status = await client.request("POST", "/v1/books", token, BOOK)
            assert status == 201, status
        await asyncio.sleep(0.5)  # the covers, drawn at once, are stored
        gc.collect()

        began = time.process_time()
        for i in range(args.reads):
            status = await client.request("GET", "/v1/books/current", tokens[i % len(tokens)])
            assert status == 200, status
        read_ms = (time.process_time() - began) * 1000 / args.reads

        latency.seconds = 3600.0
        began = time.process_time()
        for token in tokens:
            status = await client.request(
                "POST", "/v1/books/current/pages", token, PAGE, {"prefer": "respond-async"}
            )
            assert status == 202, status
        await asyncio.sleep(0)  # the last job takes its first step
        accept_ms = (time.process_time() - began) * 1000 / len(tokens)

        # The waiting jobs are cancelled; their give-backs may find the store closed already (a
        # known shutdown gap, for the job-queue issue), which asyncio would log for each job.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        await lifespan.stop()
        return {"read_ms": read_ms, "accept_ms": accept_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    rounds = [asyncio.run(run(args)) for _ in range(args.rounds)]
    figures = {
        "code": str(Path(app_package.__file__).parent.parent),
        "store": args.redis_url or "embedded",
        "read_ms": [round(r["read_ms"], 3) for r in rounds],
        "accept_ms": [round(r["accept_ms"], 3) for r in rounds],
    }
    figures["read_ms_median"] = round(statistics.median(figures["read_ms"]), 3)
    figures["accept_ms_median"] = round(statistics.median(figures["accept_ms"]), 3)
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
