"""`littlewriter token` and `login-link` as processes: one data directory for every command, a
secret never invented by a command that only signs, and the link that signs a user in."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.processes import CLI, running_server

HERE = Path(__file__).resolve().parents[2]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env | settings


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )


def test_a_token_made_in_another_folder_is_not_signed_with_a_new_secret(tmp_path: Path) -> None:
    """The newcomer's trap: the server runs in one folder with the default LW_DATA_DIR (./var);
    `token` run from another folder must not make a second secret there and print a token the
    server refuses: it says where it looked and what makes the secret."""
    served, elsewhere = tmp_path / "served", tmp_path / "elsewhere"
    served.mkdir(), elsewhere.mkdir()
    with running_server(_env(), cwd=served) as (api, _):
        result = _run(["token", "alice"], _env(), elsewhere)

        assert result.returncode != 0 and result.stdout == ""
        assert not (elsewhere / "var" / "jwt_secret").exists()
        assert str(elsewhere / "var" / "jwt_secret") in result.stderr
        assert "littlewriter serve" in result.stderr and "LW_DATA_DIR" in result.stderr

        made_here = _run(["token", "alice"], _env(), served)
        assert made_here.returncode == 0, made_here.stderr
        token = made_here.stdout.strip()
        assert str(served / "var" / "jwt_secret") in made_here.stderr  # where it came from
        response = api.get("/v1/books", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
