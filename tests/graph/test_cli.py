"""The `ragql` console script, run as an operator would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema.graphql"


def ragql(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graph.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env.get("PWD", str(ROOT)),
    )


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JWT_", "ENV"))}
    env.update(DATA_DIR=str(tmp_path / "data"), ARGON2_MEMORY_KIB="1024", ARGON2_TIME_COST="1")
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_export_schema_prints_the_checked_in_schema(tmp_path: Path) -> None:
    result = ragql("export-schema", env=environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == SCHEMA_FILE.read_text()


def test_migrate_then_create_user(tmp_path: Path) -> None:
    env = environment(tmp_path)
    migrated = ragql("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "ragql.sqlite3").exists()

    created = ragql(
        "create-user",
        "--email",
        "Ops@Example.com",
        "--display-name",
        "Ops",
        "--password-stdin",
        env=env,
        stdin="long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("ragql: created user ")

    again = ragql(
        "create-user",
        "--email",
        "ops@example.com",
        "--display-name",
        "Ops",
        "--password-stdin",
        env=env,
        stdin="long enough password\n",
    )
    assert again.returncode == 1
    assert again.stderr == "ragql: An account with this email already exists.\n"


def test_serve_refuses_a_placeholder_secret_in_production(tmp_path: Path) -> None:
    result = ragql("serve", env=environment(tmp_path, ENV="production", JWT_SECRET="changeme"))
    assert result.returncode == 2
    assert "refusing to start: JWT_SECRET must be set" in result.stderr


def test_serve_migrates_and_answers(tmp_path: Path) -> None:
    # given a fresh DATA_DIR
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "graph.cli", "serve", "--port", str(port)],
        env=environment(tmp_path),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # when it starts, it migrates the database and then serves
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        register = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": 'mutation { register(input: {email: "a@b.io", password: "password1", '
                'displayName: "A"}) { user { email } } }'
            },
        )
        assert register.json() == {"data": {"register": {"user": {"email": "a@b.io"}}}}
        # and the development secret was kept for the next start
        assert (tmp_path / "data" / "jwt_secret").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
