"""`littlewriter serve --workers N`: N API processes on one shared Redis, one metrics scrape for
all of them; refused on the embedded store, which lives inside one process."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.services import service_url
from tests.processes import CLI, running_server


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LW_", "PROMETHEUS_"))}
    env.update(LW_DATA_DIR=str(data_dir), LW_JWT_SECRET=secrets.token_hex(32), **settings)
    return env


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _metrics_pids(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("*.db")}


def test_two_workers_serve_one_redis_and_one_scrape_counts_them_all(tmp_path: Path) -> None:
    env = _env(tmp_path, LW_REDIS_URL=service_url("LW_TEST_REDIS_URL"))
    user = f"workers-{uuid.uuid4().hex[:12]}"
    token = subprocess.run(
        [*CLI, "token", user], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    with running_server(env, "--workers", "2") as (client, process):
        workers = [pid for pid in _children(process.pid) if Path(f"/proc/{pid}/cmdline").exists()]
        assert len(workers) >= 2  # uvicorn's supervisor may also hold a resource tracker
        book = {"characters": [{"name": "Momo"}], "page_count": 1}
        assert client.post("/v1/books", json=book, headers=auth).status_code == 201
        reads = 30
        for _ in range(reads):  # a new connection each: the kernel hands them to both workers
            with httpx.Client(base_url=str(client.base_url), timeout=10) as once:
                assert once.get("/v1/books/current", headers=auth).status_code == 200
        page = client.post("/v1/books/current/pages", json={"input": "a map"}, headers=auth)
        assert page.status_code == 200, page.text
        assert page.json()["state"] == "done"

        scrape = client.get("/metrics")
        assert scrape.status_code == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(scrape.text)
            for s in family.samples
        }
        current = (
            "http_requests_total",
            (("method", "GET"), ("route", "/v1/books/current"), ("status", "200")),
        )
        assert samples[current] == reads
        assert len(_metrics_pids(tmp_path / "metrics")) >= 2  # every worker wrote its values


def test_more_than_one_worker_is_refused_on_the_embedded_store(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*CLI, "serve", "--workers", "2"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "--workers needs a Redis shared by the processes (LW_REDIS_URL)" in refused.stderr
