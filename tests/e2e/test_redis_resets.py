"""A real `littlewriter serve` whose Redis connections are all reset at once (a failover, a proxy
restart): every pooled connection is dead, and the next command on each finds out. redis-py is
told to reconnect and retry on what uvloop raises then, so the requests that follow are answered
(never a 500, never a dropped HTTP connection)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.conftest import BOOK, make_token
from tests.e2e.test_two_processes import Deployment, data_dir  # noqa: F401 - the fixture
from tests.fault_proxy import ThreadedFaultProxy
from tests.integration.services import service_url

pytestmark = pytest.mark.services
ROUNDS = 20


@pytest.fixture
def proxy() -> Iterator[ThreadedFaultProxy]:
    redis = urlsplit(service_url("LW_TEST_REDIS_URL"))
    with ThreadedFaultProxy(redis.hostname or "127.0.0.1", redis.port or 6379) as running:
        yield running


def test_requests_after_every_redis_connection_was_reset_are_answered(
    data_dir: Path,  # noqa: F811 - the module's migrated data dir
    proxy: ThreadedFaultProxy,
) -> None:
    deployment = Deployment(data_dir, proxy.url)
    try:
        [server] = deployment.start(["reset"])
        auth = {"Authorization": f"Bearer {make_token(f'e2e-reset-{uuid.uuid4().hex[:12]}')}"}
        with httpx.Client(base_url=server.url, timeout=30) as api:
            assert api.post("/v1/books", json=BOOK, headers=auth).status_code == 201
            seen: Counter[str] = Counter()
            for _ in range(ROUNDS):
                assert api.get("/v1/books/current", headers=auth).status_code == 200
                proxy.reset_all()
                time.sleep(0.05)
                try:
                    seen[str(api.get("/v1/books/current", headers=auth).status_code)] += 1
                except httpx.TransportError as error:
                    seen[type(error).__name__] += 1
        assert seen == Counter({"200": ROUNDS}), seen
        assert "Traceback" not in server.log_text()
    finally:
        deployment.stop_all()
