"""Schemathesis (`--checks all`) against a real `littlewriter serve`, with a user's token and
with an admin's: every operation answers what its OpenAPI document says, for valid requests
and for invalid ones. Its settings and the one hook, with their reasons, are beside this file."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from tests.processes import CLI, running_server

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCHEMATHESIS = Path(sys.executable).with_name("st")


def token(env: dict[str, str], user: str, *flags: str) -> str:
    return subprocess.run(
        [*CLI, "token", user, *flags], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_service_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(
        LW_DATA_DIR=str(tmp_path),
        LW_JWT_SECRET=secrets.token_hex(32),
        # Generated requests come fast: the limits are not what this test is about.
        LW_RATE_LIMIT_GENERATION="100000/minute",
    )
    tokens = {"user": token(env, "contract-user"), "admin": token(env, "contract-admin", "--admin")}
    with running_server(env) as (client, _):
        document = client.get("/openapi.json").json()
        operations = sum(len(item) for item in document["paths"].values())
        runs = {}
        try:
            for who, bearer in tokens.items():
                (tmp_path / who).mkdir()  # each run keeps its own schemathesis cache
                runs[who] = subprocess.Popen(
                    [
                        str(SCHEMATHESIS),
                        "--config-file",
                        str(HERE / "schemathesis.toml"),
                        "run",
                        str(client.base_url.join("/openapi.json")),
                        "--checks",
                        "all",
                        "--header",
                        f"Authorization: Bearer {bearer}",
                        "--no-color",
                    ],
                    env={
                        **env,
                        "SCHEMATHESIS_HOOKS": "tests.contract.schemathesis_hooks",
                        "PYTHONPATH": str(ROOT),
                    },
                    cwd=tmp_path / who,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            outputs = {who: run.communicate(timeout=600)[0] for who, run in runs.items()}
        finally:
            for run in runs.values():
                if run.poll() is None:
                    run.kill()
    for who, run in runs.items():
        output = outputs[who]
        assert run.returncode == 0, f"with the {who}'s token:\n{output[-6000:]}"
        generated = re.search(r"(\d+) generated", output)
        assert generated is not None and int(generated[1]) > 300, output[-2000:]
        assert f"Tested: {operations}" in output, output[-2000:]
