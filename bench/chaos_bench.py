"""The chaos scenario of tests/e2e/test_chaos.py, as long as asked, and its figures.

Two `littlewriter serve` processes on one real Redis (each through its own fault proxy), a fresh
MariaDB/MySQL database (created, migrated, dropped at the end) and an S3 bucket (moto in this
process unless --s3-endpoint is given, with the usual AWS credentials); offline generators.
Every client writes book after book (each under a new user id) while a server is SIGKILLed and
restarted every few seconds and Redis connections are reset; then the audit of tests/chaos.py.

Usage: .venv/bin/python bench/chaos_bench.py [--users 40] [--seconds 120] [--think 0.5]
Prints one line of figures, then what went wrong (if anything); exits 1 when the audit failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moto.server import ThreadedMotoServer

from tests.chaos import (
    Backends,
    Config,
    Report,
    drop_database,
    migrated_database,
    run_chaos,
)
from tests.s3_server import client_for, create_bucket, remove_bucket

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_endpoint(external: str | None) -> Iterator[str]:
    """The given endpoint, or a moto server of our own (with dummy credentials, which the
    servers inherit from this process's environment)."""
    if external:
        yield external
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per S3 request otherwise
    os.environ.update(DUMMY_CREDENTIALS)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def run(args: argparse.Namespace, data_dir: Path) -> Report:
    database = migrated_database(args.mysql_url, data_dir / "migrate")
    try:
        with s3_endpoint(args.s3_endpoint) as endpoint:
            s3 = client_for(endpoint)
            bucket = f"lw-chaos-{secrets.token_hex(6)}"
            create_bucket(s3, bucket)
            try:
                backends = Backends(data_dir, args.redis_url, database, s3, bucket, endpoint)
                config = Config(
                    users=args.users,
                    seconds=args.seconds,
                    think=args.think,
                    kill_every=args.kill_every,
                    reset_every=args.reset_every,
                    seed=args.seed,
                )
                return asyncio.run(run_chaos(backends, config))
            finally:
                remove_bucket(s3, bucket)
    finally:
        drop_database(database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40, help="clients writing at once")
    parser.add_argument("--seconds", type=float, default=120, help="how long the chaos lasts")
    parser.add_argument("--think", type=float, default=0.5, help="seconds between pages")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--reset-every", type=float, default=1.5, help="between Redis resets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--redis-url", default=os.environ.get("LW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("LW_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/lw_ci"),
        help="a server URL; a new database is made on it for the run and dropped after",
    )
    parser.add_argument("--s3-endpoint", default=None, help="default: a moto server in process")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="lw-chaos-"))
    try:
        report = run(args, data_dir)
    finally:
        if not args.keep_logs:
            for log in data_dir.rglob("*"):
                if log.is_file():
                    log.unlink()
    print(report.line())
    for name, items in report.problems().items():
        print(f"{name}: {len(items)}", *items[:20], sep="\n  ")
    if report.server_errors:
        print("server errors:", *report.server_errors[:20], sep="\n  ")
    if args.keep_logs:
        print(f"server logs: {data_dir}")
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
