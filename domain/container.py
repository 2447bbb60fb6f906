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
from domain.events.memory import InProcessEventBus
from domain.events.port import EventBus
from domain.settings import Settings


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    auth: AuthService
    bus: EventBus

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
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            tokens=tokens,
            auth=AuthService(hasher, tokens, throttle),
            bus=InProcessEventBus(),
        )

    async def database_ready(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
