"""Chaos, end to end: 24 users write books on two real `littlewriter serve` processes while the
processes are SIGKILLed and restarted (same ports) and their Redis connections reset, a few
users' books are force-finished by an admin racing them; then what every client was told is
audited against what Redis, MariaDB and S3 kept (tests/chaos.py has the scenario and the audit).

Needs LW_TEST_REDIS_URL and LW_TEST_MYSQL_URL (skipped when unset, required with
LW_TEST_REQUIRE_SERVICES=1); the module gets a fresh, migrated database of its own and the test
a new bucket on tests/s3_server.py's moto server. Every user id is new, so the shared Redis never
matters. About 25 s of chaos, 40-60 s in all; bench/chaos_bench.py runs it longer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy_boto3_s3 import S3Client
from sqlalchemy import URL

from tests.chaos import Backends, Config, drop_database, migrated_database, run_chaos
from tests.integration.services import service_url

pytest_plugins = ["tests.s3_server"]
pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def redis_url() -> str:
    return service_url("LW_TEST_REDIS_URL")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """A fresh database for this module, migrated by `littlewriter migrate`; dropped at the end."""
    url = migrated_database(service_url("LW_TEST_MYSQL_URL"), tmp_path_factory.mktemp("migrate"))
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def backends(
    tmp_path: Path,
    redis_url: str,
    database_url: URL,
    s3_client: S3Client,
    s3_bucket: str,
    s3_endpoint_url: str,
) -> Backends:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Backends(data_dir, redis_url, database_url, s3_client, s3_bucket, s3_endpoint_url)


async def test_nothing_acknowledged_is_lost_or_doubled_through_kills_and_resets(
    backends: Backends,
) -> None:
    report = await run_chaos(backends, Config(users=24, seconds=25))
    print(report.line())
    problems = report.problems()
    for name, items in problems.items():
        print(f"{name}: {len(items)}", *items[:10], sep="\n  ")
    if report.server_errors:
        print("server errors:", *report.server_errors[:20], sep="\n  ")

    # The faults really happened, and clients really had to retry through them.
    assert report.kills >= 1, report.line()
    assert report.resets >= 1, report.line()
    assert report.counts["retries"] > 0, report.line()
    assert report.page_acks > 0 and report.finishes > 0, report.line()
    # And nothing a client was told was broken.
    assert problems == {}, report.line()
