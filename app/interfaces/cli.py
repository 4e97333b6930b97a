"""`littlewriter serve | token | migrate`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from app.infrastructure.settings import Settings
from app.infrastructure.tokens import ConfigurationError, TokenCodec


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
    configure_logging(settings)
    uvicorn.run(
        "app.interfaces.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    codec = TokenCodec(_settings())
    try:
        token = codec.issue(
            args.user_id, datetime.now(UTC), timedelta(seconds=args.ttl), admin=args.admin
        )
    except ValueError as error:
        raise SystemExit(f"littlewriter token: {error}") from None
    print(token)
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
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="print a bearer token for USER_ID")
    token.add_argument("user_id", metavar="USER_ID")
    token.add_argument("--admin", action="store_true", help="grant the admin role")
    token.add_argument("--ttl", type=_positive, default=86_400, help="lifetime in seconds")
    token.set_defaults(run=_token)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(run=_migrate)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as error:
        print(f"littlewriter: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
