"""`littlewriter serve | worker | token | login-link | migrate | reconcile`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.infrastructure.settings import Settings
from app.infrastructure.tokens import ConfigurationError, TokenCodec

if TYPE_CHECKING:
    from app.interfaces.composition import Overrides

log = logging.getLogger("littlewriter.cli")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"LW_{'_'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
            for e in error.errors()
        )
        raise SystemExit(f"littlewriter: invalid settings: {problems}") from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.infrastructure.logging import configure_logging
    from app.interfaces.composition import check_production

    settings = _settings()
    check_production(settings)
    if args.workers > 1:
        if settings.redis_url is None:
            raise SystemExit(
                "littlewriter serve: --workers needs a Redis shared by the processes "
                "(LW_REDIS_URL); the embedded store lives inside one process"
            )
        _share_metrics_between_processes(settings)
    configure_logging(settings)
    uvicorn.run(
        "app.interfaces.http.app:create_served_app",
        factory=True,
        host=args.host,
        port=settings.port if args.port is None else args.port,
        log_config=None,
        # Forwarded headers are believed only from the configured proxies (none by default).
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        timeout_graceful_shutdown=30,
        access_log=False,  # the app logs every answer itself (LW_ACCESS_LOG)
        workers=args.workers,
        http="app.interfaces.http.protocol:SettingsBoundedProtocol",
    )
    return 0


def _share_metrics_between_processes(settings: Settings) -> None:
    """prometheus-client's multiprocess mode: each worker writes its values to files of one
    directory, emptied at start, and any worker's GET /metrics adds them all up."""
    from app.infrastructure.metrics import MULTIPROCESS_DIR

    if os.environ.get(MULTIPROCESS_DIR):
        return  # the operator chose the directory
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR] = str(directory)


def _worker(args: argparse.Namespace) -> int:
    """Run generation jobs from the queue on Redis until SIGTERM or SIGINT; then finish the
    running ones within LW_SHUTDOWN_GRACE_SECONDS and put the rest back."""
    import asyncio

    settings = worker_settings(args.concurrency)
    asyncio.run(
        run_worker(settings, metrics_port=args.metrics_port, metrics_host=args.metrics_host)
    )
    return 0


def worker_settings(concurrency: int | None = None) -> Settings:
    """The settings of a `littlewriter worker` (from the environment, checked, logging set up):
    it runs jobs, `concurrency` of them at once (default LW_WORKER_CONCURRENCY)."""
    from app.infrastructure.logging import configure_logging
    from app.interfaces.composition import check_production

    settings = _settings()
    if settings.redis_url is None:
        raise SystemExit(
            "littlewriter worker: needs the Redis the servers use (LW_REDIS_URL); on the "
            "embedded store, `littlewriter serve` runs its own jobs"
        )
    concurrency = concurrency or settings.worker_concurrency
    settings = settings.model_copy(update={"run_jobs": True, "worker_concurrency": concurrency})
    check_production(settings)
    configure_logging(settings)
    return settings


async def run_worker(
    settings: Settings,
    overrides: Overrides | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """A worker's life: its services (with `overrides`, for a test or a bench) running jobs
    until SIGTERM or SIGINT, then stopped as `build_services` stops them."""
    import asyncio
    import signal

    from prometheus_client import start_http_server

    from app.interfaces.composition import build_services

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with build_services(settings, overrides) as services:
        scrape = None
        if metrics_port is not None:
            # Its model calls, tokens and redeliveries are counted here, not in the API.
            scrape, _ = start_http_server(
                metrics_port, addr=metrics_host, registry=services.metrics.registry
            )
        log.info("worker running up to %d jobs at once", settings.worker_concurrency)
        await stopping.wait()
        log.info("worker stopping: finishing its jobs")
        if scrape is not None:
            scrape.shutdown()


def _issued(command: str, settings: Settings, args: argparse.Namespace) -> str:
    """A token for the command's user, signed with the server's secret: never a new one (made
    here, it would sign tokens that a server run elsewhere refuses). Where the secret came from
    goes to stderr, so that stdout holds only what the command prints."""
    codec = TokenCodec(settings, make_secret=False)
    try:
        token = codec.issue(
            args.user_id, datetime.now(UTC), timedelta(seconds=args.ttl), admin=args.admin
        )
    except ValueError as error:
        raise SystemExit(f"littlewriter {command}: {error}") from None
    if codec.secret_path is not None:
        print(
            f"littlewriter {command}: signed with the secret in {codec.secret_path}",
            file=sys.stderr,
        )
    return token


def _token(args: argparse.Namespace) -> int:
    print(_issued("token", _settings(), args))
    return 0


def _login_link(args: argparse.Namespace) -> int:
    """The page's address with a token in its fragment: a browser never sends a fragment, so
    the token reaches no server log; the page keeps it and clears the address."""
    settings = _settings()
    token = _issued("login-link", settings, args)
    base = (settings.public_base_url or settings.local_base_url).rstrip("/")
    print(f"{base}/#token={token}")
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from app.infrastructure.database.engine import build_engine
    from app.infrastructure.database.migrations import upgrade_to_head

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = build_engine(settings.effective_database_url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    print("database is at the latest schema", file=sys.stderr)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    import asyncio

    from app.application.errors import DependencyUnavailable
    from app.application.ports import IndexRepair
    from app.application.use_cases.reconcile import ReconcileImages, ReconcileReport
    from app.infrastructure.system import SystemClock
    from app.infrastructure.tracing import Tracing
    from app.interfaces.composition import build_book_store, build_storage

    settings = _settings()
    clock = SystemClock()

    async def run() -> tuple[ReconcileReport, IndexRepair | None]:
        # The durable backends, and with --apply the indexes of a real Redis's books in
        # progress (the embedded store is the server's own: it repairs them at start).
        # A maintenance run: its SQL and S3 calls are not traced.
        async with build_storage(settings, clock, Tracing(provider=None)) as storage:
            reconcile = ReconcileImages(
                storage.images, storage.finished, clock, timedelta(seconds=args.grace_seconds)
            )
            report = await reconcile.execute(apply=args.apply)
        if not args.apply:
            return report, None
        async with build_book_store(settings) as books:
            return report, None if books is None else await books.rebuild_indexes()

    try:
        report, repair = asyncio.run(run())
    except DependencyUnavailable as error:
        raise SystemExit(f"littlewriter reconcile: {error}") from None
    for key in report.orphans:
        print(key)
    print(report.summary(), file=sys.stderr)
    if repair is not None:
        print(
            f"indexed {repair.books} book(s) in progress again; removed the entries of "
            f"{repair.stale_removed} book(s) gone",
            file=sys.stderr,
        )
    return 0


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return number


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="littlewriter", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default LW_PORT (8000)")
    serve.add_argument(
        "--workers",
        type=_at_least_one,
        default=1,
        help="API processes on this machine (more than one needs LW_REDIS_URL)",
    )
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run generation jobs (needs LW_REDIS_URL)")
    worker.add_argument(
        "--concurrency",
        type=_at_least_one,
        default=None,
        help="jobs run at once (default LW_WORKER_CONCURRENCY)",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve this worker's metrics (Prometheus text, no token: a private network only)",
    )
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.set_defaults(run=_worker)

    token = commands.add_parser("token", help="print a bearer token for USER_ID")
    login_link = commands.add_parser(
        "login-link",
        help="print the address that signs USER_ID in to the web page "
        "(<LW_PUBLIC_BASE_URL or http://127.0.0.1:LW_PORT>/#token=...)",
    )
    for signing, run in ((token, _token), (login_link, _login_link)):
        signing.add_argument("user_id", metavar="USER_ID")
        signing.add_argument("--admin", action="store_true", help="grant the admin role")
        signing.add_argument("--ttl", type=_positive, default=86_400, help="lifetime in seconds")
        signing.set_defaults(run=run)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(run=_migrate)

    reconcile = commands.add_parser(
        "reconcile",
        help="list permanent images that no finished book claims (--apply deletes them, and "
        "rebuilds the indexes of the books in progress on LW_REDIS_URL)",
    )
    reconcile.add_argument(
        "--apply",
        action="store_true",
        help="delete them and rebuild the indexes (default: dry run)",
    )
    reconcile.add_argument(
        "--grace-seconds",
        type=_positive,
        default=3_600,
        help="leave images younger than this alone (a finish may be in flight)",
    )
    reconcile.set_defaults(run=_reconcile)
    return root


# Everything the service writes (the SQLite database and its WAL, the snapshot, the secrets,
# local images) is the service's alone: files 0600, folders 0700.
PRIVATE_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(PRIVATE_UMASK)
    try:
        code: int = args.run(args)
    except ConfigurationError as error:
        print(f"littlewriter: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
