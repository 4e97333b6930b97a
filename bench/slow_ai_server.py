"""`littlewriter serve` whose AI answers slowly: the offline generators behind a fixed latency.

The context generator, the question generator and the illustrator are the real offline ones (the
Pillow illustrator draws every picture), each call preceded by `await asyncio.sleep(latency)`: an AI
provider's round trip, during which the process only waits. The moderator is the offline one
(instant). Everything else is the real service on the configured backends (LW_* environment).

Bench-only routes, added to the app this script builds (not to the product):
  GET /bench/stats[?reset=true][&objects=true]
                                 the event-loop lag probe (a task sleeping 50 ms and recording
                                 how late it wakes) and the GC pauses since the last reset, the
                                 process RSS and CPU time, the open event streams and the running
                                 background jobs (and the objects the GC tracks, when asked)
  PUT /bench/latency?seconds=S   change the fake AI latency (the bench starts books with 0)

Usage: python bench/slow_ai_server.py PORT [--latency 2.0] [--pictures drawn|cached] [--gc-freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

from app.application.ports import (
    CharacterSheet,
    ContextGenerator,
    IllustrationRequest,
    Illustrator,
    Image,
    PageText,
    QuestionGenerator,
    Suggestions,
)
from app.application.ports.generation import IllustrationKind
from app.domain.values import BookSpec, Character, StoryContext
from app.infrastructure.generation.offline import (
    OfflineContextGenerator,
    OfflineModerator,
    OfflineQuestionGenerator,
    PillowIllustrator,
)
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app
from app.interfaces.http.protocol import bounded_protocol

PROBE_INTERVAL = 0.05


@dataclass
class Latency:
    """The fake AI round trip, shared by the three generators (changed at run time)."""

    seconds: float

    async def wait(self) -> None:
        if self.seconds > 0:
            await asyncio.sleep(self.seconds)


class SlowContextGenerator(ContextGenerator):
    def __init__(self, latency: Latency) -> None:
        self._latency = latency
        self._inner = OfflineContextGenerator()

    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        await self._latency.wait()
        return await self._inner.character_sheet(spec)

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        await self._latency.wait()
        return await self._inner.create(context, child_input)


class SlowQuestionGenerator(QuestionGenerator):
    def __init__(self, latency: Latency) -> None:
        self._latency = latency
        self._inner = OfflineQuestionGenerator()

    async def create(self, context: StoryContext) -> Suggestions:
        await self._latency.wait()
        return await self._inner.create(context)


class SlowIllustrator(Illustrator):
    """The Pillow illustrator after the latency; with `cached`, one picture drawn at start-up is
    handed back instead (an AI illustrator sends bytes and spends no CPU of this process)."""

    def __init__(self, latency: Latency, cached: Image | None = None) -> None:
        self._latency = latency
        self._inner = PillowIllustrator()
        self._cached = cached

    async def draw(self, request: IllustrationRequest) -> Image:
        await self._latency.wait()
        if self._cached is not None:
            return self._cached
        return await self._inner.draw(request)


@dataclass
class LagProbe:
    """How late a task that sleeps `interval` wakes up: the event loop's scheduling lag."""

    interval: float = PROBE_INTERVAL
    samples: list[float] = field(default_factory=list)
    since: float = field(default_factory=time.perf_counter)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def reset(self) -> None:
        self.samples = []
        self.since = time.perf_counter()

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - began - self.interval)

    def stats(self) -> dict[str, Any]:
        lags = sorted(self.samples)
        if not lags:
            return {"samples": 0}

        def ms(pct: float) -> float:
            index = min(len(lags) - 1, max(0, round(pct / 100 * len(lags)) - 1))
            return round(lags[index] * 1000, 2)

        return {
            "samples": len(lags),
            "window_s": round(time.perf_counter() - self.since, 2),
            "p50_ms": ms(50),
            "p99_ms": ms(99),
            "max_ms": round(lags[-1] * 1000, 2),
            "mean_ms": round(statistics.fmean(lags) * 1000, 2),
        }


@dataclass
class GcWatch:
    """How long the cyclic garbage collector stops the process, per generation."""

    pauses: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    _began: float = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.pauses = {0: [], 1: [], 2: []}

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._began)

    def stats(self) -> dict[str, Any]:
        return {
            f"gen{generation}": {
                "collections": len(pauses),
                "total_ms": round(sum(pauses) * 1000, 1),
                "max_ms": round(max(pauses, default=0.0) * 1000, 1),
            }
            for generation, pauses in self.pauses.items()
        }


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


def slow_overrides(latency: Latency, cached: Image | None) -> Overrides:
    """The generators of this bench (also run by `slow_ai_worker.py`'s worker processes)."""
    return Overrides(
        context_generator=SlowContextGenerator(latency),
        question_generator=SlowQuestionGenerator(latency),
        illustrator=SlowIllustrator(latency, cached),
        moderator=OfflineModerator(),
    )


def cached_picture() -> Image:
    """The one picture `--pictures cached` hands back, drawn once at start-up."""
    context = StoryContext(BookSpec((Character("Momo"),), 3, setting="a snowy forest"))
    request = IllustrationRequest(context, IllustrationKind.PAGE, "a map", 1)
    return asyncio.run(PillowIllustrator().draw(request))


def build_app(
    settings: Settings, latency: Latency, cached: Image | None, gc_freeze: bool = False
) -> FastAPI:
    app = create_app(settings, slow_overrides(latency, cached))
    probe = LagProbe()
    collector = GcWatch()
    collector.install()
    product_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        probe.start()
        try:
            async with product_lifespan(app) as state:
                if gc_freeze:  # an experiment: what start-up leaves is no more for the GC to scan
                    gc.collect()
                    gc.freeze()
                yield state
        finally:
            await probe.stop()

    app.router.lifespan_context = lifespan

    async def stats(request: Request, reset: bool = False, objects: bool = False) -> dict[str, Any]:
        services = request.app.state.services
        figures = {
            "lag": probe.stats(),
            "gc": collector.stats(),
            "gc_objects": len(gc.get_objects()) if objects else None,  # slow on a big heap
            "gc_frozen": gc.get_freeze_count(),
            "rss_kb": _status_kb("VmRSS"),
            "peak_rss_kb": _status_kb("VmHWM"),
            "cpu_s": round(time.process_time(), 3),
            "open_streams": request.app.state.stream_slots.open_streams,
            "listening_streams": services.events.listening_streams,
            "running_jobs": services.jobs.count,
            "latency_s": latency.seconds,
        }
        if reset:
            probe.reset()
            collector.reset()
        return figures

    async def set_latency(seconds: float) -> dict[str, float]:
        latency.seconds = seconds
        return {"latency_s": seconds}

    app.add_api_route("/bench/stats", stats, methods=["GET"], include_in_schema=False)
    app.add_api_route("/bench/latency", set_latency, methods=["PUT"], include_in_schema=False)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("port", type=int)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per generator call")
    parser.add_argument(
        "--pictures",
        choices=["drawn", "cached"],
        default="drawn",
        help="drawn: Pillow draws every picture (default); cached: one picture drawn at start-up",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() once started, so collections skip start-up's objects",
    )
    args = parser.parse_args()
    cached = cached_picture() if args.pictures == "cached" else None
    settings = Settings()
    app = build_app(settings, Latency(args.latency), cached, args.gc_freeze)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        http=bounded_protocol(  # as `littlewriter serve` runs it
            max_head_bytes=settings.max_header_bytes,
            head_timeout=settings.header_timeout_seconds,
        ),
    )


if __name__ == "__main__":
    main()
