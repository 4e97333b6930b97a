"""`littlewriter token` and `login-link` as processes: one data directory for every command, a
secret never invented by a command that only signs, and the link that signs a user in."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from pathlib import Path

import jwt

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


def test_a_dev_server_hints_at_the_data_dir_when_a_token_has_another_secret(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    env_a, env_b = _env(LW_DATA_DIR=str(tmp_path / "a")), _env(LW_DATA_DIR=str(tmp_path / "b"))
    with running_server(env_b, cwd=tmp_path):
        pass  # server b made its secret in b
    with running_server(env_a, cwd=tmp_path) as (api, _):
        token = _run(["token", "alice"], env_b, tmp_path).stdout.strip()
        response = api.get("/v1/books", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 401
        problem = response.json()
        assert problem["detail"] == "The bearer token is not valid."  # the contract's words
        assert str(tmp_path / "a" / "jwt_secret") in problem["hint"]
        assert "LW_DATA_DIR" in problem["hint"]

    production = _env(
        LW_ENV="production",
        LW_JWT_SECRET=secrets.token_hex(32),
        LW_IMAGE_URL_SECRET=secrets.token_hex(32),
        LW_ALLOW_EMBEDDED_IN_PRODUCTION="true",
        LW_PUBLIC_BASE_URL="http://127.0.0.1",
        LW_DATA_DIR=str(tmp_path / "p"),
    )
    with running_server(production, cwd=tmp_path) as (api, _):
        response = api.get("/v1/books", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "hint" not in response.json()


def test_login_link_prints_the_local_address_with_a_token_in_the_fragment(
    tmp_path: Path,
) -> None:
    env = _env(LW_DATA_DIR=str(tmp_path))
    with running_server(env, cwd=tmp_path) as (api, _):
        env["LW_PORT"] = str(api.base_url.port)  # where `serve` listens (its --port here)
        result = _run(["login-link", "alice"], env, tmp_path)
        admin = _run(["login-link", "root", "--admin", "--ttl", "600"], env, tmp_path)

        assert result.returncode == 0, result.stderr
        link = result.stdout.strip()
        assert result.stdout.count("\n") == 1  # the link and nothing else
        assert link.startswith(f"http://127.0.0.1:{env['LW_PORT']}/#token=")
        assert str(api.base_url).rstrip("/") == link.partition("/#")[0]
        user = {"Authorization": f"Bearer {link.partition('#token=')[2]}"}
        root = {"Authorization": f"Bearer {admin.stdout.strip().partition('#token=')[2]}"}
        assert api.get("/v1/books", headers=user).status_code == 200
        assert api.get("/v1/admin/books/" + str(uuid.uuid4()), headers=user).status_code == 403
        assert api.get("/v1/admin/books/" + str(uuid.uuid4()), headers=root).status_code == 404
        claims = jwt.decode(
            admin.stdout.strip().partition("#token=")[2], options={"verify_signature": False}
        )
        assert claims["exp"] - claims["iat"] == 600


def test_login_link_uses_the_public_base_url(tmp_path: Path) -> None:
    env = _env(LW_JWT_SECRET=secrets.token_hex(32), LW_PUBLIC_BASE_URL="https://lw.example/")
    result = _run(["login-link", "alice"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("https://lw.example/#token=") and result.stderr == ""
    assert not (tmp_path / "var").exists()  # the secret was given: nothing made


def test_login_link_refuses_what_token_refuses(tmp_path: Path) -> None:
    bad_user = _run(["login-link", "not ok!"], _env(LW_JWT_SECRET="x" * 40), tmp_path)
    no_secret = _run(["login-link", "alice"], _env(), tmp_path)

    assert bad_user.returncode != 0 and "USER_ID" in bad_user.stderr
    assert no_secret.returncode != 0 and "littlewriter serve" in no_secret.stderr
    assert bad_user.stdout == no_secret.stdout == ""
