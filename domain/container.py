"""The composition root: builds every long-lived part from settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.auth.passwords import PasswordHasher
from domain.auth.service import AuthService
from domain.auth.throttle import LoginThrottle
from domain.auth.tokens import TokenIssuer
from domain.db.engine import create_engine, create_sessionmaker
from domain.documents.worker import IngestionLimits, IngestionWorker
from domain.embeddings.factory import build_embedder
from domain.embeddings.port import Embedder
from domain.events.memory import InProcessEventBus
from domain.events.port import EventBus
from domain.files.local import LocalFileStore
from domain.files.port import FileStore
from domain.ingestion.isolation import close_parser_pools
from domain.settings import Settings
from domain.vectors.factory import build_vector_store
from domain.vectors.port import VectorStore


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    auth: AuthService
    bus: EventBus
    files: FileStore
    embedder: Embedder
    vectors: VectorStore
    ingestion: IngestionWorker

    @classmethod
    def build(cls, settings: Settings) -> Container:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
        tokens = TokenIssuer(
            settings.signing_secret(),
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        hasher = PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
        )
        throttle = LoginThrottle(
            attempts=settings.login_attempts_per_window,
            window_seconds=settings.login_window_seconds,
        )
        sessionmaker = create_sessionmaker(engine)
        bus = InProcessEventBus()
        files = LocalFileStore(settings.data_dir / "files")
        embedder = build_embedder(settings)
        vectors = build_vector_store(settings, embedder.dimension, embedder.name)
        ingestion = IngestionWorker(
            sessionmaker, files, embedder, vectors, bus, _ingestion_limits(settings)
        )
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            tokens=tokens,
            auth=AuthService(hasher, tokens, throttle),
            bus=bus,
            files=files,
            embedder=embedder,
            vectors=vectors,
            ingestion=ingestion,
        )

    def start_background(self) -> None:
        """Starts in-process workers; the app's lifespan calls it, tests may not."""
        self.ingestion.start(self.settings.ingestion_workers)

    def wake_ingestion(self) -> None:
        self.ingestion.wake()

    async def database_ready(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def vectors_ready(self) -> bool:
        try:
            return await self.vectors.ping()
        except Exception:
            return False

    async def close(self) -> None:
        await self.ingestion.stop()
        await close_parser_pools()
        await self.vectors.close()
        await self.engine.dispose()


def _ingestion_limits(settings: Settings) -> IngestionLimits:
    return IngestionLimits(
        lease=timedelta(seconds=settings.ingestion_lease_seconds),
        poll_seconds=settings.ingestion_poll_seconds,
        max_attempts=settings.ingestion_max_attempts,
        parse_timeout_seconds=settings.parse_timeout_seconds,
        parse_memory_limit_bytes=settings.parse_memory_limit_bytes,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        embed_batch_size=settings.embed_batch_size,
    )
