"""A chaos scenario: many users writing books on two real `littlewriter serve` processes while
the processes are SIGKILLed and restarted and their Redis connections reset, then an audit of
what every client was told against what the backends kept.

Used by tests/e2e/test_chaos.py (about 30 s of chaos) and bench/chaos_bench.py (as long as asked).

The deployment: two processes on fixed ports, one Redis (each process reaches it through its own
`ThreadedFaultProxy`, so its connections can be reset), a MariaDB database, images on S3 (a moto
server, or any S3 endpoint), offline generators, and short leases so that recovery happens within
seconds. The clients follow docs/mobile-client-guide.md: the same Idempotency-Key on every retry
of an action after a 5xx, 429, timeout or no answer; 409 `idempotency_key_in_use` waits
Retry-After; a request without a key whose outcome is unknown is never blindly repeated (the
client reads the book first). A client whose server does not answer moves to the other one.

What is audited once recovery has settled, per user:
- lost: an input acknowledged as a page (a 200 showing it, or a 202 followed by the page showing
  up) that the final book (the finished row, or else the book still in progress) does not have;
- doubled: an input on two pages of the final book (every page input is unique), or a second
  finished row for one user (each user writes one book);
- missing images: an image key of a finished row that is not in the bucket under books/<id>/;
- stuck: a book in progress still holding a lease (page, picture or finish) past it;
- wrong finishes: a 201 finish whose book id is not exactly one row of that user with the title
  (and finisher) that request sent;
- wrong answers: a 2xx that contradicts itself (a 200 page write without the page, a 201 finish
  with another title) or an answer outside the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis
from mypy_boto3_s3 import S3Client
from sqlalchemy import URL, bindparam, make_url, text

from app.domain.book import Book
from app.infrastructure.database import build_engine
from app.infrastructure.store import codec
from app.infrastructure.store.progress_index import INDEX_KEYS
from app.infrastructure.store.redis_books import (
    KEY_PREFIX,
    LEASES_KEY,
)
from tests.api.conftest import BOOK, SECRET, make_token
from tests.fault_proxy import Action, Fault, ThreadedFaultProxy, command
from tests.processes import free_port, wait_until_healthy

CLI = [sys.executable, "-m", "app.interfaces.cli"]

PAGE_DEADLINE_SECONDS = 3
GENERATION_LEASE_SECONDS = 5
FINISH_LEASE_SECONDS = 5
RECOVERY_INTERVAL_SECONDS = 0.5
IDEMPOTENCY_LOCK_SECONDS = 2
SERVER_SETTINGS = {
    "LW_PAGE_DEADLINE_SECONDS": str(PAGE_DEADLINE_SECONDS),
    "LW_GENERATION_LEASE_SECONDS": str(GENERATION_LEASE_SECONDS),
    "LW_FINISH_LEASE_SECONDS": str(FINISH_LEASE_SECONDS),
    "LW_RECOVERY_INTERVAL_SECONDS": str(RECOVERY_INTERVAL_SECONDS),
    "LW_IDEMPOTENCY_LOCK_SECONDS": str(IDEMPOTENCY_LOCK_SECONDS),
    "LW_RATE_LIMIT_GENERATION": "100000/minute",
}
# A lease counts as stuck once it passed this long ago (recovery looks every 0.5 s).
STUCK_GRACE = timedelta(seconds=3)
ASYNC = {"Prefer": "respond-async"}


# -- the deployment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backends:
    """What the servers share: a data dir (logs), Redis, a migrated database, an S3 bucket."""

    data_dir: Path
    redis_url: str
    database_url: URL
    s3: S3Client
    s3_bucket: str
    s3_endpoint_url: str


def migrated_database(server_url: str, scratch: Path) -> URL:
    """A new database on the server of `server_url`, migrated by `littlewriter migrate`."""
    server = make_url(server_url)
    name = f"lw_chaos_{secrets.token_hex(6)}"
    admin = build_engine(server)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        admin.dispose()
    url = server.set(database=name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["LW_DATA_DIR"] = str(scratch)
    env["LW_DATABASE_URL"] = url.render_as_string(hide_password=False)
    migrated = subprocess.run(
        [*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if migrated.returncode != 0:
        drop_database(url)
        raise RuntimeError(f"littlewriter migrate failed:\n{migrated.stderr}")
    return url


def drop_database(url: URL) -> None:
    admin = build_engine(url.set(database=None))
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
    finally:
        admin.dispose()


def _through(redis_url: str, port: int) -> str:
    """`redis_url` reached at 127.0.0.1:`port` (the proxy) instead, with its credentials and db."""
    parts = urlsplit(redis_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class Slot:
    """One server: its port stays the same across restarts; its Redis goes through its proxy."""

    name: str
    port: int
    proxy: ThreadedFaultProxy
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cluster:
    def __init__(self, backends: Backends, slots: list[Slot]) -> None:
        self.backends = backends
        self.slots = slots

    def env(self, slot: Slot) -> dict[str, str]:
        b = self.backends
        env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
        env.update(
            LW_DATA_DIR=str(b.data_dir),
            LW_JWT_SECRET=SECRET,
            LW_REDIS_URL=_through(b.redis_url, slot.proxy.port),
            LW_DATABASE_URL=b.database_url.render_as_string(hide_password=False),
            LW_S3_BUCKET=b.s3_bucket,
            LW_S3_ENDPOINT_URL=b.s3_endpoint_url,
            **SERVER_SETTINGS,
        )
        return env

    def start(self, slot: Slot) -> None:
        """Start the slot's server on its port; return once it answers /health."""
        log = self.backends.data_dir / f"serve-{slot.name}-{len(slot.logs) + 1}.log"
        slot.logs.append(log)
        with log.open("wb") as output:
            slot.process = subprocess.Popen(
                [*CLI, "serve", "--port", str(slot.port)],
                env=self.env(slot),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = slot.process
        with httpx.Client(base_url=slot.url, timeout=5) as client:
            wait_until_healthy(process, client, lambda: log.read_text(errors="replace"), 60)

    def kill(self, slot: Slot) -> None:
        """SIGKILL: no shutdown, no cleanup, whatever the process was doing."""
        process = slot.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def stop_all(self) -> None:
        for slot in self.slots:
            self.kill(slot)

    def log_problems(self) -> tuple[int, list[str]]:
        """How many tracebacks the servers logged, and their distinct error lines."""
        tracebacks = 0
        errors: dict[str, None] = {}
        for slot in self.slots:
            for log in slot.logs:
                if not log.exists():
                    continue
                for line in log.read_text(errors="replace").splitlines():
                    if line.startswith("Traceback"):
                        tracebacks += 1
                    elif "[error" in line or "[critical" in line:
                        # Without the timestamp, and ids/numbers folded, so repeats merge.
                        message = re.sub(r"[0-9a-f-]{8,}|\d+", "#", line.partition(" ")[2])
                        errors[message.strip()[:200]] = None
        return tracebacks, list(errors)


@contextlib.contextmanager
def running_cluster(backends: Backends, names: tuple[str, ...] = ("a", "b")) -> Iterator[Cluster]:
    """Start one server per name (each with its own Redis proxy); every process is SIGKILLed
    and every proxy closed at the end, whatever happened."""
    parts = urlsplit(backends.redis_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    with contextlib.ExitStack() as stack:
        slots = [
            Slot(name, free_port(), stack.enter_context(ThreadedFaultProxy(host, port)))
            for name in names
        ]
        cluster = Cluster(backends, slots)
        try:
            for slot in slots:
                cluster.start(slot)
            yield cluster
        finally:
            cluster.stop_all()


# -- what the clients were told --------------------------------------------------------------------


@dataclass(frozen=True)
class PageAck:
    user: str
    key: str | None
    mode: Literal["sync", "async"]
    page: int
    input: str


@dataclass(frozen=True)
class FinishAck:
    user: str
    key: str | None
    title: str
    book_id: str
    by: Literal["user", "admin"]


@dataclass(frozen=True)
class Refusal:
    user: str
    op: str
    status: int
    code: str
    detail: str


@dataclass
class Config:
    users: int = 24
    seconds: float = 30.0
    min_pages: int = 6
    max_pages: int = 8
    admin_every: int = 6  # every n-th user also gets an admin force finish
    keyless_every: int = 5  # about one page write in n has no key
    double_tap_every: int = 4  # about one keyed page write in n is sent twice at once
    kill_every: float = 4.0
    reset_every: float = 1.5
    request_budget: float = 60.0  # the longest a client keeps retrying one request
    seed: int = 0
    # None: each user writes one book, its pages spread over `seconds`. A number: each user
    # thinks about that long between pages and starts a new book (as a new user id) after each
    # one until `seconds` have passed (the bench).
    think: float | None = None


@dataclass
class User:
    name: str
    pages: int
    title: str
    keyless_finish: bool
    admin: bool
    think: float
    rng: random.Random
    inputs: dict[int, str] = field(default_factory=dict)


class GaveUp(Exception):
    """A request got no definitive answer within its retry budget."""


Outcome = Literal["present", "absent", "gone"]


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.1, float(response.headers.get("retry-after", default)))
    except ValueError:
        return default


@dataclass
class Report:
    users: int
    books: int
    wall_seconds: float
    kills: int
    resets: int
    delayed_replies: int
    phases: str
    counts: Counter[str]
    statuses: Counter[int]
    conflicts: Counter[str]
    page_acks: int
    finishes: int
    admin_finishes: int
    lost: list[str]
    doubled: list[str]
    missing_images: list[str]
    stuck: list[str]
    wrong_finishes: list[str]
    wrong_answers: list[str]
    unfinished: list[str]
    gave_up: list[str]
    tracebacks: int
    server_errors: list[str]

    def line(self) -> str:
        c = self.counts
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        conflicts = " ".join(f"{k}:{v}" for k, v in sorted(self.conflicts.items()))
        return (
            f"chaos users={self.users} books={self.books} wall={self.wall_seconds:.1f}s "
            f"kills={self.kills} "
            f"resets={self.resets} delayed_redis_replies={self.delayed_replies} "
            f"phases=[{self.phases}] operations={c['operations']} requests={c['requests']} "
            f"retries={c['retries']} transport_errors={c['transport_errors']} "
            f"acks={self.page_acks} (sync={c['ack_sync']} async={c['ack_async']}) "
            f"double_taps={c['double_taps']} keyless={c['keyless']} "
            f"in_use_waits={c['in_use_waits']} "
            f"rewrites_after_failed_generation={c['rewrites']} redraws={c['redraws']} "
            f"finishes={self.finishes} (admin={self.admin_finishes}) "
            f"refusals_409=[{conflicts}] statuses=[{statuses}] "
            f"lost={len(self.lost)} doubled={len(self.doubled)} "
            f"missing_images={len(self.missing_images)} stuck={len(self.stuck)} "
            f"wrong_finishes={len(self.wrong_finishes)} wrong_answers={len(self.wrong_answers)} "
            f"unfinished={len(self.unfinished)} gave_up={len(self.gave_up)} "
            f"server_tracebacks={self.tracebacks}"
        )

    def problems(self) -> dict[str, list[str]]:
        """Everything that must be empty, by name."""
        found = {
            "lost": self.lost,
            "doubled": self.doubled,
            "missing_images": self.missing_images,
            "stuck": self.stuck,
            "wrong_finishes": self.wrong_finishes,
            "wrong_answers": self.wrong_answers,
            "unfinished": self.unfinished,
            "gave_up": self.gave_up,
            # Nothing reaches a 500, whatever the faults: a backend down is a 503.
            "internal_errors": [f"{self.statuses[500]} answers of 500"]
            if self.statuses[500]
            else [],
            "server_errors": self.server_errors,
        }
        return {name: items for name, items in found.items() if items}


# -- the scenario ----------------------------------------------------------------------------------


class Scenario:
    def __init__(self, cluster: Cluster, config: Config) -> None:
        self.cluster = cluster
        self.config = config
        self.rng = random.Random(config.seed)
        self.run_id = secrets.token_hex(3)
        self.admin_name = f"chaos-admin-{self.run_id}"
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.conflicts: Counter[str] = Counter()
        self.page_acks: list[PageAck] = []
        self.finish_acks: list[FinishAck] = []
        self.refusals: list[Refusal] = []
        self.wrong_answers: list[str] = []
        self.gave_up: list[str] = []
        self.kills = 0
        self.resets = 0
        self.slowed: list[Fault] = []
        self.preferred: dict[str, int] = {}
        self.clients: list[httpx.AsyncClient] = []
        self.users: list[User] = []

    # -- HTTP with the guide's retries -------------------------------------------------------

    async def send(
        self,
        who: str,
        method: str,
        path: str,
        *,
        op: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        admin: bool = False,
        prefer_async: bool = False,
        safe: bool = True,
    ) -> httpx.Response | None:
        """Send until a definitive answer (2xx, or 4xx but 409 `idempotency_key_in_use` and 429).

        `safe`: the request may be repeated after an unknown outcome (it has a key, or it is a
        read or a finish). When not, None is returned on a 5xx, timeout or no answer."""
        self.counts["operations"] += 1
        subject = self.admin_name if admin else who
        deadline = time.monotonic() + self.config.request_budget
        attempt = 0
        last = "nothing"
        while True:
            headers = {"Authorization": f"Bearer {make_token(subject, admin=admin)}"}
            if key is not None:
                headers["Idempotency-Key"] = f'"{key}"'
            if prefer_async:
                headers.update(ASYNC)
            index = self.preferred.setdefault(who, hash(who) % len(self.clients))
            self.counts["requests"] += 1
            if attempt:
                self.counts["retries"] += 1
            wait = min(2.0, 0.1 * 2**attempt) * self.rng.uniform(0.5, 1.0)
            try:
                response = await self.clients[index].request(
                    method, path, json=body, headers=headers
                )
            except httpx.TransportError as error:
                self.counts["transport_errors"] += 1
                self.preferred[who] = (index + 1) % len(self.clients)  # that server may be down
                last = f"{type(error).__name__}: {error}"
                if not safe:
                    return None
            else:
                status, code = response.status_code, _code(response)
                self.statuses[status] += 1
                last = f"{status} {code}"
                if status == 409 and code == "idempotency_key_in_use":
                    if response.headers.get("idempotent-replayed") == "true":
                        # "Still running" kept as the key's answer: every retry gets it again.
                        self.wrong_answers.append(f"{who} {op}: {status} {code} replayed")
                        raise GaveUp(f"{op} for {who}: the key's answer is a kept {status} {code}")
                    self.counts["in_use_waits"] += 1
                    wait = _retry_after(response, 1.0)
                elif status == 429:
                    wait = _retry_after(response, 1.0)
                elif status >= 500:
                    if not safe:
                        return None
                else:
                    return response
            attempt += 1
            if time.monotonic() + wait > deadline:
                raise GaveUp(f"{op} for {who}: no answer in {self.config.request_budget}s: {last}")
            await asyncio.sleep(wait)

    def refused(self, who: str, op: str, response: httpx.Response) -> None:
        code = _code(response)
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(response.json().get("detail", ""))
        self.refusals.append(Refusal(who, op, response.status_code, code, detail))
        if response.status_code == 409:
            self.conflicts[f"{op}:{code}"] += 1

    def unexpected(self, who: str, op: str, response: httpx.Response) -> None:
        self.wrong_answers.append(f"{who} {op}: {response.status_code} {response.text[:300]}")

    async def current(self, user: str) -> dict[str, Any] | None:
        """The book in progress (None: there is none)."""
        response = await self.send(user, "GET", "/v1/books/current", op="read")
        assert response is not None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self.unexpected(user, "read", response)
            raise GaveUp(f"read for {user}: {response.status_code}")
        book: dict[str, Any] = response.json()
        return book

    # -- one user's book ---------------------------------------------------------------------

    async def journey(self, user: User) -> None:
        try:
            await self._journey(user)
        except GaveUp as error:
            self.gave_up.append(str(error))

    async def _journey(self, user: User) -> None:
        body = {**BOOK, "page_count": user.pages}
        started = await self.send(
            user.name, "POST", "/v1/books", op="start", body=body, key=str(uuid.uuid4())
        )
        assert started is not None
        if started.status_code == 409:
            # The user id is new: the book in progress is this very start's, whose answer was
            # lost; sent again with its key, it must be answered with the book (the guide).
            self.refused(user.name, "start", started)
            self.unexpected(user.name, "start (its own book, same key)", started)
        elif started.status_code != 201:
            self.unexpected(user.name, "start", started)
            return
        racing: asyncio.Task[None] | None = None
        if user.admin:
            delay = user.think * user.rng.uniform(1, user.pages + 1)
            racing = asyncio.create_task(self.admin_force(user, delay))
        try:
            while True:
                book = await self.current(user.name)
                if book is None or len(book["pages"]) >= book["page_count"]:
                    break
                number = len(book["pages"]) + 1
                idea = user.inputs.setdefault(
                    number, f"{user.name} page {number} idea {secrets.token_hex(3)}"
                )
                if await self.write(user, number, idea) == "gone":
                    break
                await asyncio.sleep(user.think * user.rng.uniform(0.5, 1.5))
            await self.finish(user)
        finally:
            if racing is not None:
                await racing

    async def write(self, user: User, number: int, idea: str) -> Outcome:
        """Write page `number` once (a new action, a new key): present, absent (write it again)
        or gone (no book in progress any more)."""
        mode: Literal["sync", "async"] = "async" if user.rng.random() < 0.5 else "sync"
        path, body = "/v1/books/current/pages", {"input": idea}
        if user.rng.randrange(self.config.keyless_every) == 0:
            self.counts["keyless"] += 1
            response = await self.send(
                user.name,
                "POST",
                path,
                op="page",
                body=body,
                prefer_async=mode == "async",
                safe=False,
            )
            if response is None:  # no answer: read the book before doing anything again
                return await self.settled(user.name, idea)
            return await self.answered(user, mode, None, idea, [response])
        key = str(uuid.uuid4())
        taps = 2 if user.rng.randrange(self.config.double_tap_every) == 0 else 1
        self.counts["double_taps"] += taps - 1
        sent = [
            self.send(
                user.name, "POST", path, op="page", body=body, key=key, prefer_async=mode == "async"
            )
            for _ in range(taps)
        ]
        responses = [r for r in await asyncio.gather(*sent) if r is not None]
        return await self.answered(user, mode, key, idea, responses)

    async def answered(
        self,
        user: User,
        mode: Literal["sync", "async"],
        key: str | None,
        idea: str,
        responses: list[httpx.Response],
    ) -> Outcome:
        """Record what the write's answers said; the outcome of the write."""
        acks = 0
        accepted = 0
        outcome: Outcome | None = None
        for response in responses:
            status = response.status_code
            if status == 200 and mode == "sync":
                pages = [p for p in response.json()["pages"] if p["input"] == idea]
                if len(pages) != 1:
                    self.wrong_answers.append(f"{user.name}: 200 to page {idea!r} without it")
                    continue
                self.page_acks.append(PageAck(user.name, key, mode, pages[0]["number"], idea))
                self.counts["ack_sync"] += 1
                acks += 1
            elif status == 202 and mode == "async":
                accepted += 1
            elif status == 404 and _code(response) == "no_book_in_progress":
                self.refused(user.name, "page", response)
                outcome = "gone"
            elif status == 409 and _code(response) == "invalid_book_state":
                self.refused(user.name, "page", response)
            else:
                self.unexpected(user.name, "page", response)
        if acks:
            return "present"
        if outcome is not None:
            return outcome
        found = await self.settled(user.name, idea)
        if accepted:
            if found == "present":
                # Every 202 to this key was answered for the page that showed up.
                number = self._number_of(user, idea)
                for _ in range(accepted):
                    self.page_acks.append(PageAck(user.name, key, "async", number, idea))
                    self.counts["ack_async"] += 1
            elif found == "absent":
                self.counts["rewrites"] += 1  # the generation failed: nothing was stored
        return found

    def _number_of(self, user: User, idea: str) -> int:
        return next(n for n, i in user.inputs.items() if i == idea)

    async def settled(self, user: str, idea: str) -> Outcome:
        """Read the book until no page is being written: is `idea` a page?"""
        deadline = time.monotonic() + self.config.request_budget
        while time.monotonic() < deadline:
            book = await self.current(user)
            if book is None:
                return "gone"
            if any(p["input"] == idea for p in book["pages"]):
                return "present"
            if book["state"] != "generating":
                return "absent"
            await asyncio.sleep(0.25)
        raise GaveUp(f"{user}: the book stayed generating for {self.config.request_budget}s")

    async def ready_to_finish(self, user: User) -> bool:
        """Wait for pending pictures, draw failed ones again; False when the book is gone."""
        deadline = time.monotonic() + self.config.request_budget
        while time.monotonic() < deadline:
            book = await self.current(user.name)
            if book is None:
                return False
            statuses = {p["number"]: p["image_status"] for p in book["pages"]}
            failed = [n for n, s in statuses.items() if s == "failed"]
            if book["state"] == "done" and all(s == "ready" for s in statuses.values()):
                return True
            for number in failed[:1]:
                self.counts["redraws"] += 1
                response = await self.send(
                    user.name,
                    "POST",
                    f"/v1/books/current/pages/{number}/illustration",
                    op="redraw",
                    body=None,
                    key=str(uuid.uuid4()),
                )
                assert response is not None
                if response.status_code in (404, 409):
                    self.refused(user.name, "redraw", response)
                elif response.status_code != 200:
                    self.unexpected(user.name, "redraw", response)
            await asyncio.sleep(0.25)
        raise GaveUp(f"{user.name}: the book did not become finishable")

    async def finish(self, user: User) -> None:
        deadline = time.monotonic() + self.config.request_budget
        while time.monotonic() < deadline:
            ready = await self.ready_to_finish(user)
            key = None if user.keyless_finish else str(uuid.uuid4())
            response = await self.send(
                user.name,
                "POST",
                "/v1/books/current/finish",
                op="finish",
                body={"title": user.title},
                key=key,
            )
            assert response is not None
            if response.status_code == 201:
                kept = response.json()
                if kept["title"] != user.title:
                    self.wrong_answers.append(f"{user.name}: 201 finish with {kept['title']!r}")
                self.finish_acks.append(FinishAck(user.name, key, user.title, kept["id"], "user"))
                return
            if response.status_code in (404, 409):
                self.refused(user.name, "finish", response)
                if not ready:
                    return  # the book was kept by someone else (the admin)
            else:
                self.unexpected(user.name, "finish", response)
                return
            await asyncio.sleep(0.3)
        raise GaveUp(f"{user.name}: could not finish")

    async def admin_force(self, user: User, delay: float) -> None:
        """An admin force-finishes the user's book, racing the user's writes and finish."""
        try:
            await asyncio.sleep(delay)
            title = f"Kept by the admin for {user.name}"
            path = f"/v1/admin/users/{user.name}/books/current/finish"
            deadline = time.monotonic() + self.config.request_budget
            while time.monotonic() < deadline:
                key = str(uuid.uuid4())
                response = await self.send(
                    user.name,
                    "POST",
                    path,
                    op="admin_finish",
                    body={"title": title, "force": True},
                    key=key,
                    admin=True,
                )
                assert response is not None
                if response.status_code == 201:
                    kept = response.json()
                    if kept["title"] != title:
                        self.wrong_answers.append(f"{user.name}: admin 201 with {kept['title']!r}")
                    self.finish_acks.append(FinishAck(user.name, key, title, kept["id"], "admin"))
                    return
                if response.status_code not in (404, 409):
                    self.unexpected(user.name, "admin_finish", response)
                    return
                self.refused(user.name, "admin_finish", response)
                if response.status_code == 404 or await self.current(user.name) is None:
                    return  # the user's own finish kept it
                await asyncio.sleep(0.5)
        except GaveUp as error:
            self.gave_up.append(str(error))

    # -- faults --------------------------------------------------------------------------------

    async def killer(self, stop: asyncio.Event) -> None:
        """SIGKILL one server (in turn) every few seconds and start it again on its port."""
        slots = self.cluster.slots
        turn = 0
        if await _stopped(stop, min(3.0, self.config.kill_every)):
            return
        while True:
            slot = slots[turn % len(slots)]
            turn += 1
            # Slow its Redis transactions first, so that the kill finds work in flight: pages
            # claimed but not stored, finishes claimed but not completed.
            slow = Fault(command("EXEC"), Action.DELAY_REPLY, seconds=1.0, times=4)
            self.slowed.append(await asyncio.to_thread(slot.proxy.arm, slow))
            await asyncio.sleep(self.rng.uniform(0.3, 1.0))
            await asyncio.to_thread(self.cluster.kill, slot)
            self.kills += 1
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))
            await asyncio.to_thread(self.cluster.start, slot)
            if await _stopped(stop, self.config.kill_every * self.rng.uniform(0.6, 1.4)):
                return

    async def resetter(self, stop: asyncio.Event) -> None:
        """Reset every Redis connection of one server every second or so."""
        while not await _stopped(stop, self.config.reset_every * self.rng.uniform(0.5, 1.5)):
            slot = self.rng.choice(self.cluster.slots)
            await asyncio.to_thread(slot.proxy.reset_all)
            self.resets += 1

    # -- the whole run -------------------------------------------------------------------------

    def new_user(self, n: int, book: int) -> User:
        """The `book`-th book of client `n`, under a user id of its own."""
        c = self.config
        rng = random.Random(f"{c.seed}-{n}-{book}")
        pages = rng.randint(c.min_pages, c.max_pages)
        name = f"chaos-{self.run_id}-{n:03d}-{book}"
        turn = n + book
        user = User(
            name=name,
            pages=pages,
            title=f"The book of {name}",
            keyless_finish=turn % 4 == 3,
            admin=turn % c.admin_every == c.admin_every - 1,
            think=c.think if c.think is not None else c.seconds / (pages + 2),
            rng=rng,
        )
        self.users.append(user)
        return user

    async def client(self, n: int, delay: float, until: float) -> None:
        """One client: one book, or (with `think`) book after book until `until`."""
        await asyncio.sleep(delay)
        book = 0
        while True:
            await self.journey(self.new_user(n, book))
            book += 1
            if self.config.think is None or time.monotonic() > until:
                return

    async def run(self) -> Report:
        began = time.monotonic()
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        timeout = httpx.Timeout(20.0, connect=2.0)
        self.clients = [
            httpx.AsyncClient(base_url=slot.url, timeout=timeout, limits=limits)
            for slot in self.cluster.slots
        ]
        stop = asyncio.Event()
        faults = [asyncio.create_task(self.killer(stop)), asyncio.create_task(self.resetter(stop))]

        stagger = min(3.0, self.config.seconds / 10)
        until = began + self.config.seconds
        waiting = asyncio.gather(
            *(self.client(n, self.rng.uniform(0, stagger), until) for n in range(self.config.users))
        )
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), self.config.seconds)
            stop.set()
            await asyncio.gather(*faults)  # every server is up again after this
            chaos = time.monotonic() - began
            await waiting
            done = time.monotonic() - began
        finally:
            stop.set()
            waiting.cancel()
            for task in faults:
                task.cancel()
            await asyncio.gather(*faults, waiting, return_exceptions=True)
            for client in self.clients:
                await client.aclose()
        users = self.users
        stuck = await asyncio.to_thread(self.settle, users)
        settled = time.monotonic() - began
        phases = f"chaos={chaos:.1f}s users_done={done:.1f}s settled={settled:.1f}s"
        report = await asyncio.to_thread(self.audit, users, stuck, time.monotonic() - began, phases)
        await asyncio.to_thread(self.clean_up, users)
        return report

    # -- after the storm -----------------------------------------------------------------------

    def settle(self, users: list[User]) -> list[str]:
        """Wait until recovery has given back or completed every lease that passed; what is
        still held past its lease after that is stuck."""
        deadline = time.monotonic() + FINISH_LEASE_SECONDS + GENERATION_LEASE_SECONDS + 10
        while True:
            now = datetime.now(UTC)
            held = [
                (user, book)
                for user, book in self.books_in_progress(users)
                if book.finish_claim is not None
                or (book.expiring_attempts_at is not None and book.expiring_attempts_at < now)
            ]
            if not held or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # Anything left: stuck only if its lease passed longer ago than recovery needs.
        stuck = []
        now = datetime.now(UTC)
        for user, book in held:
            due = book.expiring_attempts_at
            if due is not None and now - due > STUCK_GRACE:
                claim = "being finished, " if book.finish_claim is not None else ""
                stuck.append(f"{user.name}: {claim}{book.state.value}, lease passed at {due}")
        return stuck

    def books_in_progress(self, users: list[User]) -> list[tuple[User, Book]]:
        with redis.Redis.from_url(self.cluster.backends.redis_url) as client:
            found = [(user, client.get(f"{KEY_PREFIX}{user.name}")) for user in users]
        return [(user, codec.loads(raw)) for user, raw in found if raw is not None]

    def audit(self, users: list[User], stuck: list[str], wall: float, phases: str) -> Report:
        backends = self.cluster.backends
        names = [u.name for u in users]
        engine = build_engine(backends.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT id, user_id, title, finished_by, cover_key FROM books "
                        "WHERE user_id IN :users"
                    ).bindparams(bindparam("users", expanding=True)),
                    {"users": names},
                ).all()
                ids = [str(r.id) for r in rows]
                page_rows = (
                    connection.execute(
                        text(
                            "SELECT book_id, number, input, image_key FROM book_pages "
                            "WHERE book_id IN :ids ORDER BY book_id, number"
                        ).bindparams(bindparam("ids", expanding=True)),
                        {"ids": ids},
                    ).all()
                    if ids
                    else []
                )
        finally:
            engine.dispose()
        rows_of: dict[str, list[Any]] = {n: [] for n in names}
        for row in rows:
            rows_of[row.user_id].append(row)
        pages_of: dict[str, list[Any]] = {i: [] for i in ids}
        for page in page_rows:
            pages_of[str(page.book_id)].append(page)

        lost: list[str] = []
        doubled: list[str] = []
        missing: list[str] = []
        unfinished: list[str] = []
        acked: dict[str, set[str]] = {n: set() for n in names}
        for ack in self.page_acks:
            acked[ack.user].add(ack.input)
        with redis.Redis.from_url(backends.redis_url) as client:
            for name in names:
                kept = rows_of[name]
                if len(kept) > 1:
                    doubled.append(f"{name}: {len(kept)} finished books")
                if kept:
                    inputs = [p.input for row in kept for p in pages_of[str(row.id)]]
                else:
                    unfinished.append(name)
                    raw = client.get(f"{KEY_PREFIX}{name}")
                    inputs = [] if raw is None else [p.input for p in codec.loads(raw).pages]
                for idea in sorted(acked[name] - set(inputs)):
                    lost.append(f"{name}: acknowledged {idea!r} is not in the book")
                for idea, count in Counter(inputs).items():
                    if count > 1:
                        doubled.append(f"{name}: {idea!r} on {count} pages")
        for row in rows:
            book_id = str(row.id)
            prefix = f"books/{book_id}/"
            listing = backends.s3.get_paginator("list_objects_v2").paginate(
                Bucket=backends.s3_bucket, Prefix=prefix
            )
            present = {item["Key"] for page in listing for item in page.get("Contents", [])}
            keys = [row.cover_key, *(p.image_key for p in pages_of[book_id])]
            missing.extend(
                f"{row.user_id} {book_id}: {k}"
                for k in keys
                if not k.startswith(prefix) or k not in present
            )

        wrong_finishes = []
        by_id = {str(r.id): r for r in rows}
        for told in self.finish_acks:
            kept_row = by_id.get(told.book_id)
            if kept_row is None:
                wrong_finishes.append(f"{told.user}: 201 for {told.book_id}, which has no row")
            elif (kept_row.user_id, kept_row.title, kept_row.finished_by) != (
                told.user,
                told.title,
                told.by,
            ):
                wrong_finishes.append(
                    f"{told.user}: 201 ({told.by}, {told.title!r}) for {told.book_id}, kept as "
                    f"({kept_row.finished_by}, {kept_row.title!r}) of {kept_row.user_id}"
                )
        tracebacks, server_errors = self.cluster.log_problems()
        return Report(
            users=self.config.users,
            books=len(users),
            wall_seconds=wall,
            kills=self.kills,
            resets=self.resets,
            delayed_replies=sum(f.fired for f in self.slowed),
            phases=phases,
            counts=self.counts,
            statuses=self.statuses,
            conflicts=self.conflicts,
            page_acks=len(self.page_acks),
            finishes=len(self.finish_acks),
            admin_finishes=sum(a.by == "admin" for a in self.finish_acks),
            lost=lost,
            doubled=doubled,
            missing_images=missing,
            stuck=stuck,
            wrong_finishes=wrong_finishes,
            wrong_answers=self.wrong_answers,
            unfinished=unfinished,
            gave_up=self.gave_up,
            tracebacks=tracebacks,
            server_errors=server_errors,
        )

    def clean_up(self, users: list[User]) -> None:
        """Remove what this run left in the shared Redis: every key naming one of its user ids
        (books, events, finish records, idempotency keys, rate limit counters)."""
        with redis.Redis.from_url(self.cluster.backends.redis_url) as client:
            for pattern in (f"*chaos-{self.run_id}-*", f"*{self.admin_name}*"):
                batch: list[bytes] = []
                for name in client.scan_iter(pattern, count=1000):
                    batch.append(name)
                    if len(batch) >= 500:
                        client.delete(*batch)
                        batch.clear()
                if batch:
                    client.delete(*batch)
            if users:
                for index in (LEASES_KEY, *INDEX_KEYS):
                    client.zrem(index, *(u.name for u in users))


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def run_chaos(backends: Backends, config: Config) -> Report:
    """Start the two servers, run the scenario, audit; every process is gone on return."""
    with running_cluster(backends) as cluster:
        return await Scenario(cluster, config).run()
