"""Process configuration, read from the environment and `.env` (DESIGN section 1)."""

from __future__ import annotations

import contextlib
import os
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets people paste from tutorials; production must never run with one of them.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "please-change-me",
        "jwt-secret",
        "your-secret-key",
        "supersecret",
        "development",
        "dev",
        "test",
        "xxx",
    }
)
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class InsecureSettingsError(RuntimeError):
    """Raised at start-up when production settings would be unsafe."""


class Settings(BaseSettings):
    """Every knob an operator can turn; names are part of the contract."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./data")
    database_url: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256"] = "HS256"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    # OWASP's argon2id minimum; tests lower it to stay fast.
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    password_min_length: int = Field(default=8, ge=1)
    password_max_length: int = Field(default=256, ge=8)
    login_attempts_per_window: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    chat_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_stall_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_attempts: int = Field(default=3, ge=1)
    chat_prompt_budget_tokens: int = Field(default=6000, ge=256)
    chat_save_every_seconds: float = Field(default=2.0, gt=0)
    stream_retention_seconds: float = Field(default=300.0, ge=0)
    embedder: str = "wordllama"
    embedding_model: str | None = None
    # Tries per embedding request (the first included) before the document is handed back.
    embedding_max_attempts: int = Field(default=5, ge=1)
    embedding_dimension: int | None = Field(default=None, ge=1)
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    embedding_timeout_seconds: float = Field(default=30.0, gt=0)
    # 0 re-checks for other processes' writes on every read; negative never re-checks.
    lancedb_read_consistency_seconds: float = 0.0
    lancedb_cleanup_older_than_seconds: float = Field(default=3600.0, ge=0)
    reembed_interval_seconds: float = Field(default=30.0, gt=0)
    vector_store: Literal["lancedb", "chroma"] = "lancedb"
    lancedb_uri: str | None = None
    chroma_url: str | None = None
    redis_url: str | None = None
    # With REDIS_URL set, events, answer streams and cancel requests go through Redis
    # (DESIGN section 1, scaled out). Every key, channel and connection name starts with
    # REDIS_PREFIX, so several deployments (or test runs) can share one server.
    redis_prefix: str = Field(default="ragql", pattern=r"^[A-Za-z0-9_.:-]+$")
    # Deltas kept per answer stream (trimmed approximately); a reader further behind than
    # that falls back to the stored message.
    redis_stream_max_len: int = Field(default=10_000, ge=100)
    # An unfinished stream expires this long after its last write (its writer died and
    # nothing finished it); a finished one STREAM_RETENTION_SECONDS after it finished.
    redis_stream_active_ttl_seconds: int = Field(default=3600, ge=60)
    # How long cancelGeneration waits for the replica writing the answer to confirm.
    redis_cancel_timeout_seconds: float = Field(default=5.0, gt=0)
    enable_background_jobs: bool = True
    # Background jobs (DESIGN section 7): how often each runs, in every replica; each
    # tick is claimed in the database, so it runs once however many replicas there are.
    recovery_interval_seconds: float = Field(default=10.0, ge=1)
    vector_maintenance_interval_seconds: float = Field(default=3600.0, ge=1)
    retention_interval_seconds: float = Field(default=3600.0, ge=1)
    # A generating process renews its message's heartbeat this often; a STREAMING message
    # whose heartbeat is older than MESSAGE_STALE_SECONDS (its process died) becomes FAILED.
    message_heartbeat_seconds: float = Field(default=5.0, gt=0)
    message_stale_seconds: float = Field(default=30.0, gt=0)
    # Refresh tokens are kept this long after they expire or are revoked.
    refresh_token_retention_days: float = Field(default=7.0, ge=0)
    # A stored file no document refers to is removed once it is this old (an upload in
    # progress has its file before its row).
    orphan_file_grace_seconds: float = Field(default=3600.0, ge=0)
    job_run_retention_days: float = Field(default=7.0, ge=0)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Four: while some documents are parsed and chunked (in child processes), others
    # are embedded, so the embedder is rarely idle (bench/ingestion_throughput.py).
    ingestion_workers: int = Field(default=4, ge=0)
    ingestion_lease_seconds: float = Field(default=60.0, gt=0)
    ingestion_poll_seconds: float = Field(default=2.0, gt=0)
    ingestion_max_attempts: int = Field(default=5, ge=1)
    ingestion_retry_base_seconds: float = Field(default=5.0, ge=0)
    parse_timeout_seconds: float = Field(default=120.0, gt=0)
    parse_memory_limit_bytes: int = Field(default=2 * 1024**3, ge=64 * 1024**2)
    # In the default embedder's (WordLlama's) tokens; the chunker's own defaults
    # (domain/ingestion/chunking.py), about 400 and 60 cl100k tokens of English.
    chunk_tokens: int = Field(default=500, ge=16)
    chunk_overlap_tokens: int = Field(default=75, ge=0)
    embed_batch_size: int = Field(default=64, ge=1)
    smtp_url: str | None = None
    email_from: str = "ragql <noreply@localhost>"
    # The email outbox (domain/email): a job drains it every EMAIL_DRAIN_INTERVAL_SECONDS,
    # EMAIL_BATCH_SIZE mails per claim, each claim leased for EMAIL_LEASE_SECONDS (longer
    # than SMTP_TIMEOUT_SECONDS, the most one send may take). A refused mail is retried
    # after 1, 2, 4... times EMAIL_RETRY_BASE_SECONDS (at most EMAIL_RETRY_MAX_SECONDS),
    # and kept unsent with its last error after EMAIL_MAX_ATTEMPTS attempts.
    email_drain_interval_seconds: float = Field(default=30.0, ge=1)
    email_batch_size: int = Field(default=20, ge=1)
    email_lease_seconds: float = Field(default=60.0, gt=0)
    email_max_attempts: int = Field(default=8, ge=1)
    email_retry_base_seconds: float = Field(default=60.0, ge=0)
    email_retry_max_seconds: float = Field(default=3600.0, ge=0)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    cors_origins: list[str] = ["*"]
    graphql_max_depth: int = Field(default=12, ge=2)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=2000, ge=50)
    graphql_max_page_size: int = Field(default=100, ge=1)
    ws_connection_init_timeout_seconds: float = Field(default=5.0, gt=0)
    ws_max_subscriptions: int = Field(default=20, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _explicit_driver(cls, url: str | None) -> str | None:
        # SQLAlchemy 2.1 no longer guesses an async driver; accept the common short forms.
        if url is None:
            return None
        for short, full in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(short):
                return full + url[len(short) :]
        return url

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ragql.sqlite3').resolve()}"

    def signing_secret(self) -> str:
        """The JWT key; refuses weak keys in production, persists one in development."""
        given = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if self.is_production:
            if given.strip().lower() in PLACEHOLDER_SECRETS or len(given) < MIN_SECRET_LENGTH:
                raise InsecureSettingsError(
                    f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} "
                    "characters when ENV=production (try: python -c "
                    "'import secrets; print(secrets.token_urlsafe(48))')."
                )
            return given
        if given:
            return given
        return _development_secret(self.data_dir)


def _development_secret(data_dir: Path) -> str:
    # Kept on disk so a restart does not sign everyone out.
    path = data_dir / "jwt_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Owner-only from the first byte, under a name of its own, then linked into place
        # without replacing: of processes starting together, the first wins and all agree.
        tmp = data_dir / f".jwt_secret.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return path.read_text().strip()
