"""`littlewriter worker` whose AI answers slowly: the generators of `slow_ai_server.py`.

The worker is the product's own (`app.interfaces.cli.worker_settings` and `run_worker`: the same
settings, services, SAQ worker and graceful stop), with the context generator, the question
generator and the illustrator of `slow_ai_server.py` (the offline ones, each call preceded by
`await asyncio.sleep(latency)`; `--pictures cached` hands back one picture drawn at start-up).
Everything else comes from the LW_* environment, as for `littlewriter worker`: LW_REDIS_URL is
required, and LW_JOB_QUEUE must name the queue the API enqueues on.

Usage: python bench/slow_ai_worker.py [--latency 2.0] [--pictures drawn|cached] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio

from slow_ai_server import Latency, cached_picture, slow_overrides

from app.interfaces.cli import run_worker, worker_settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per generator call")
    parser.add_argument("--pictures", choices=["drawn", "cached"], default="drawn")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once (default LW_WORKER_CONCURRENCY)"
    )
    args = parser.parse_args()
    cached = cached_picture() if args.pictures == "cached" else None
    settings = worker_settings(args.concurrency)
    asyncio.run(run_worker(settings, slow_overrides(Latency(args.latency), cached)))


if __name__ == "__main__":
    main()
