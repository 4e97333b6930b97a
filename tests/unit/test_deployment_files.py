"""The docker compose stack as a security review reads it: no credentials in the file, nothing
published beyond this machine, and the API on its own bucket-scoped S3 user. (Docker is not
available where the tests run: the file is checked as written, not started.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def environment_values() -> list[tuple[str, str, str]]:
    return [
        (name, key, str(value))
        for name, service in compose()["services"].items()
        for key, value in (service.get("environment") or {}).items()
    ]


def test_every_published_port_is_on_localhost_only() -> None:
    ports = [p for service in compose()["services"].values() for p in service.get("ports", [])]
    assert ports
    assert all(str(p).startswith("127.0.0.1:") for p in ports), ports


def test_no_credential_is_written_in_the_file() -> None:
    secret_like = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER")
    for service, key, value in environment_values():
        if secret_like.search(key) and key != "MYSQL_RANDOM_ROOT_PASSWORD":  # a yes/no switch
            assert VARIABLE.fullmatch(value), f"{service}.{key} is written in the file"
    assert "littlewriter-secret" not in COMPOSE.read_text()
    database_url = dict((k, v) for _, k, v in environment_values())["LW_DATABASE_URL"]
    assert "${LW_MYSQL_PASSWORD" in database_url


def test_the_api_queues_the_jobs_and_a_worker_runs_them_with_the_same_settings() -> None:
    services = compose()["services"]
    api, worker = services["api"], services["worker"]
    assert api["environment"].pop("LW_RUN_JOBS") == "false"
    assert worker["command"] == ["littlewriter", "worker"]
    assert worker["environment"] == api["environment"]
    assert "LW_REDIS_URL" in worker["environment"]


def test_every_variable_the_stack_needs_is_in_the_example_env_file() -> None:
    needed = set(VARIABLE.findall(COMPOSE.read_text()))
    example = (ROOT / ".env.example").read_text()
    listed = {line.split("=", 1)[0] for line in example.splitlines() if re.match(r"[A-Z]", line)}
    assert needed <= listed, needed - listed


def test_the_api_uses_its_own_user_limited_to_its_bucket() -> None:
    api = compose()["services"]["api"]["environment"]
    minio = compose()["services"]["minio"]["environment"]
    assert api["AWS_ACCESS_KEY_ID"] != minio["MINIO_ROOT_USER"]
    policy = json.loads((ROOT / "deploy/minio/api-policy.json").read_text())
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {"arn:aws:s3:::littlewriter", "arn:aws:s3:::littlewriter/*"}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any("*" in a or a.startswith("admin:") for a in actions)
    setup = " ".join(compose()["services"]["minio-setup"]["entrypoint"])
    assert "mc admin policy attach lw littlewriter-api" in setup


def _pinned(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {
        m[1].lower().replace("_", "-"): m[2]
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.MULTILINE)
    }


def _declared(extra: str | None = None) -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {re.split(r"[\[~=<>!; ]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_the_locks_pin_every_declared_dependency_with_hashes() -> None:
    main, dev = _pinned("main.txt"), _pinned("dev.txt")
    assert _declared() <= main.keys(), _declared() - main.keys()
    assert _declared() | _declared("dev") <= dev.keys()
    for lock in ("main.txt", "dev.txt", "build.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        pins = text.count("==")
        assert pins and text.count("--hash=sha256:") >= pins, lock
        assert "--index-url" not in text and "--find-links" not in text, lock


def test_every_install_uses_the_locks_with_hashes() -> None:
    venv = (ROOT / "scripts" / "_venv.sh").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    for text in (venv, docker):
        assert "--require-hashes" in text
        assert "--no-deps" in text
    assert "pip install --quiet -e" not in venv
