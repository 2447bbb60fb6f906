"""Settings: the signing secret's rules, and the short database URL forms."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from domain.settings import MIN_SECRET_LENGTH, Environment, InsecureSettingsError, Settings
from graph.app import create_app

STRONG_SECRET = "s3cr3t-" + "k" * 48
CONTRACT_NAMES = ("ENV", "DATA_DIR", "DATABASE_URL", "JWT_SECRET")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Whatever the machine running the tests exports must not decide these outcomes.
    for name in CONTRACT_NAMES:
        monkeypatch.delenv(name, raising=False)
    yield


def settings(data_dir: Path, **values: object) -> Settings:
    # _env_file=None: a developer's local .env never leaks in.
    return Settings(_env_file=None, data_dir=data_dir, **values)  # type: ignore[arg-type]


# --- production refuses weak secrets -------------------------------------------------------


WEAK_SECRETS = {
    "missing": None,
    "empty": "",
    "short": "x" * (MIN_SECRET_LENGTH - 1),
    "placeholder": "changeme",
    "placeholder, shouted": "CHANGEME",
    "placeholder with spaces around": "  secret  ",
    "only spaces, long enough": " " * (MIN_SECRET_LENGTH + 8),
}


@pytest.mark.parametrize("secret", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_production_refuses_a_weak_secret(tmp_path: Path, secret: str | None) -> None:
    # given production settings with a weak JWT_SECRET
    production = settings(tmp_path, env="production", jwt_secret=secret)

    # then asking for the signing key refuses, and says what to do
    with pytest.raises(InsecureSettingsError, match="JWT_SECRET must be set"):
        production.signing_secret()
    # and no development secret was written as a fallback
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize("secret", [None, "changeme", "x" * (MIN_SECRET_LENGTH - 1)])
def test_create_app_refuses_to_start_in_production_with_a_weak_secret(
    tmp_path: Path, secret: str | None
) -> None:
    with pytest.raises(InsecureSettingsError):
        create_app(settings(tmp_path, env="production", jwt_secret=secret))


def test_production_uses_a_strong_secret_as_given(tmp_path: Path) -> None:
    production = settings(tmp_path, env="production", jwt_secret=STRONG_SECRET)
    assert production.signing_secret() == STRONG_SECRET
    assert production.is_production


def test_production_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given ENV=production and a placeholder JWT_SECRET exported the usual way
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "changeme")

    # then the settings pick them up and refuse
    from_env = settings(tmp_path)
    assert from_env.env is Environment.PRODUCTION
    with pytest.raises(InsecureSettingsError):
        from_env.signing_secret()


# --- development persists a generated secret -----------------------------------------------


def test_development_without_a_secret_generates_one_under_data_dir(tmp_path: Path) -> None:
    # given development settings with no JWT_SECRET and a data dir that does not exist yet
    data_dir = tmp_path / "nested" / "data"

    # when the signing key is asked for
    secret = settings(data_dir).signing_secret()

    # then a long random one was written under DATA_DIR, readable by the owner only
    path = data_dir / "jwt_secret"
    assert path.read_text().strip() == secret
    assert len(secret) >= MIN_SECRET_LENGTH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["jwt_secret"]  # no temporary left behind


def test_development_secret_survives_a_restart(tmp_path: Path) -> None:
    # given the secret of a first process
    first = settings(tmp_path).signing_secret()

    # when a second process starts on the same data dir, then it signs with the same key
    assert settings(tmp_path).signing_secret() == first
    # and the same process asking twice gets the same key too
    assert settings(tmp_path).signing_secret() == settings(tmp_path).signing_secret()


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    # given several starts racing to create the secret of one fresh data dir
    starts = 8
    barrier = threading.Barrier(starts)

    def start() -> str:
        configured = settings(tmp_path)
        barrier.wait()
        return configured.signing_secret()

    # when they all ask for it at once
    with ThreadPoolExecutor(starts) as pool:
        secrets = list(pool.map(lambda _: start(), range(starts)))

    # then none failed, all sign with the one key on disk, and no temporary is left
    assert set(secrets) == {(tmp_path / "jwt_secret").read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]
    assert stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode) == 0o600


def test_development_secrets_differ_between_data_dirs(tmp_path: Path) -> None:
    one = settings(tmp_path / "one").signing_secret()
    other = settings(tmp_path / "other").signing_secret()
    assert one != other


def test_development_uses_a_given_secret_and_writes_nothing(tmp_path: Path) -> None:
    assert settings(tmp_path, jwt_secret="short is fine here").signing_secret() == (
        "short is fine here"
    )
    assert not (tmp_path / "jwt_secret").exists()


# --- DATABASE_URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("postgres://u:p@db:5432/ragql", "postgresql+asyncpg://u:p@db:5432/ragql"),
        ("postgresql://u:p@db:5432/ragql", "postgresql+asyncpg://u:p@db:5432/ragql"),
        ("sqlite:////var/lib/ragql/db.sqlite3", "sqlite+aiosqlite:////var/lib/ragql/db.sqlite3"),
        ("sqlite:///relative.sqlite3", "sqlite+aiosqlite:///relative.sqlite3"),
        ("postgresql+asyncpg://u@db/ragql", "postgresql+asyncpg://u@db/ragql"),
        ("sqlite+aiosqlite:///x.sqlite3", "sqlite+aiosqlite:///x.sqlite3"),
    ],
)
def test_database_url_short_forms_get_an_async_driver(
    tmp_path: Path, given: str, resolved: str
) -> None:
    configured = settings(tmp_path, database_url=given)
    assert configured.database_url == resolved
    assert configured.resolved_database_url == resolved


def test_database_url_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/ragql")
    assert settings(tmp_path).resolved_database_url == "postgresql+asyncpg://u@db/ragql"


def test_without_database_url_sqlite_lives_under_data_dir(tmp_path: Path) -> None:
    url = settings(tmp_path).resolved_database_url
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'ragql.sqlite3').resolve()}"
