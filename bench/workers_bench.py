"""Pages per second and overhead over the critical path with 1, 2 and 4 worker processes.

Runs `async_bench.py`'s measurement (imported, one fresh server per configuration) for each
number of `--workers` processes: the server accepts the pages (LW_RUN_JOBS=false) and N
`slow_ai_worker.py` processes (`littlewriter worker` with the fake AI's latency) write them.
Two ways to size the workers, both by default:
  total   the burst's slots held equal (`--total-concurrency`, default one per user, split
          evenly): what more processes change for the same work, on the same cores;
  each    a fixed number of slots per process (`--concurrency-each`, default 100, the
          product's LW_WORKER_CONCURRENCY): what adding processes to a deployment does.
`--with-serve` adds the reference: `littlewriter serve` running the jobs itself with one slot
per user. Pictures are cached (an AI illustrator spends no CPU here), so a page is I/O-bound:
2 x latency waiting for the model, the rest is the service's CPU.

For every configuration: pages per second (pages done / time from the first request sent to the
last `page_done`), p50 / p99 overhead (request to `page_done`, less 2 x latency), the 202 p99,
and the CPU seconds of the server and of the workers during the run. Every user's events are
checked (each once, in order) and every user's book is read at the end (exactly one page
stored, its picture ready); any problem makes the exit status 1. The jobs the workers ran and
the jobs their sweeps put back are counted from their logs (more runs than pages is SAQ
redelivering, which the page's attempt fence absorbs: reported, not a failure).

Usage: .venv/bin/python bench/workers_bench.py [--workers 1 2 4] [--modes total each]
    [--users 500] [--latency 2.0] [--total-concurrency N] [--concurrency-each 100]
    [--with-serve] [--rounds 1] [--redis-url redis://127.0.0.1:6379/7]
    [--job-queue workers-bench] [--json PATH]
The Redis database is FLUSHED before each configuration: give the bench one of its own.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from async_bench import build_parser, run


@dataclass(frozen=True)
class Configuration:
    mode: str  # "serve", "total" or "each"
    processes: int  # worker processes (0: the server runs the jobs)
    concurrency_each: int

    @property
    def name(self) -> str:
        if self.processes == 0:
            return f"serve runs its jobs ({self.concurrency_each} slots)"
        return f"{self.processes} x {self.concurrency_each} slots ({self.mode})"


def configurations(args: argparse.Namespace) -> list[Configuration]:
    total = args.total_concurrency or args.users
    chosen = [Configuration("serve", 0, total)] if args.with_serve else []
    for mode in args.modes:
        for processes in args.workers:
            each = math.ceil(total / processes) if mode == "total" else args.concurrency_each
            chosen.append(Configuration(mode, processes, each))
    return chosen


def measure(args: argparse.Namespace, config: Configuration, json_path: Path) -> dict[str, Any]:
    argv = ["--users", str(args.users), "--latency", str(args.latency), "--pictures", "cached"]
    argv += ["--redis-url", args.redis_url, "--job-queue", args.job_queue]
    argv += ["--json", str(json_path)]
    if config.processes:
        argv += ["--workers", str(config.processes)]
        argv += ["--worker-concurrency", str(config.concurrency_each)]
    else:
        argv += ["--server-env", f"LW_WORKER_CONCURRENCY={config.concurrency_each}"]
    if args.keep_logs is not None:
        argv += ["--keep-logs", str(args.keep_logs / json_path.stem)]
    report = run(build_parser().parse_args(argv))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    return report


def row(config: Configuration, report: dict[str, Any]) -> dict[str, Any]:
    events = report["events"]
    cpu = report["server_and_workers_cpu_during_run_s"]
    return {
        **asdict(config),
        "configuration": config.name,
        "pages_per_s": report["pages_per_s"],
        "overhead_p50_ms": report["overhead"].get("p50_ms"),
        "overhead_p99_ms": report["overhead"].get("p99_ms"),
        "accepted_202_p99_ms": report["accepted_202"].get("p99_ms"),
        "server_cpu_s": report["server_cpu_during_run_s"],
        "workers_cpu_s": report["workers"]["cpu_during_run_s"],
        "total_cpu_s": cpu,
        "cpu_ms_per_page": round(1000 * cpu / max(1, events["page_done"]), 2),
        "page_done": events["page_done"],
        "users": report["users"],
        "ok": events["all_delivered_in_order"],
        "problems": {**events["problems"], **report["stored"]["problems"]},
        "tracebacks": report["tracebacks_in_logs"],
        "jobs_run": report["workers"].get("jobs_run"),
        "jobs_swept": report["workers"].get("jobs_swept"),
        "run_s": report["run_s"],
        "wall_s": report["wall_time_s"],
    }


def print_rows(rows: list[dict[str, Any]]) -> None:
    print()
    print(
        "| configuration | pages/s | overhead p50 / p99 ms | 202 p99 ms | CPU server + workers "
        "(s) | CPU per page (ms) | jobs run / swept | pages done, each once |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        verdict = f"{r['page_done']}/{r['users']}" + ("" if r["ok"] else f" {r['problems']}")
        print(
            f"| {r['configuration']} | {r['pages_per_s']} | {r['overhead_p50_ms']} / "
            f"{r['overhead_p99_ms']} | {r['accepted_202_p99_ms']} | {r['server_cpu_s']} + "
            f"{r['workers_cpu_s']} = {r['total_cpu_s']} | {r['cpu_ms_per_page']} | "
            f"{r['jobs_run'] or '-'} / {r['jobs_swept'] or 0} | {verdict} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--modes", nargs="+", choices=["total", "each"], default=["total", "each"])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per AI call")
    parser.add_argument(
        "--total-concurrency",
        type=int,
        default=None,
        help="slots across the workers in mode total (default: one per user)",
    )
    parser.add_argument(
        "--concurrency-each", type=int, default=100, help="slots per worker in mode each"
    )
    parser.add_argument(
        "--with-serve",
        action="store_true",
        help="also measure littlewriter serve running the jobs itself (the reference)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every configuration this often")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--job-queue", default="workers-bench", help="LW_JOB_QUEUE for the run")
    parser.add_argument("--json", type=Path, default=Path("bench/results/workers_bench.json"))
    parser.add_argument("--keep-logs", type=Path, default=None, help="keep every run's logs here")
    args = parser.parse_args()

    rows: list[dict[str, Any]] = []
    runs_dir = args.json.with_suffix("")
    for round_ in range(1, args.rounds + 1):
        for config in configurations(args):
            print(f"\n== round {round_}: {config.name}", flush=True)
            path = runs_dir / f"r{round_}-{config.mode}-{config.processes}.json"
            report = measure(args, config, path)
            rows.append({"round": round_, **row(config, report)})
            print_rows(rows[-1:])
    print(
        f"\n{args.users} users, AI latency {args.latency} s a call (critical path "
        f"{2 * args.latency} s), pictures cached, pages sent at once, {args.redis_url}"
    )
    print_rows(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    summary = {"at": datetime.now(UTC).isoformat(), "args": vars(args), "rows": rows}
    args.json.write_text(json.dumps(summary, indent=2, default=str))
    print(f"figures written to {args.json} (each run's report under {runs_dir})")
    if not all(r["ok"] and not r["tracebacks"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
