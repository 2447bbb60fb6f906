"""Reads and writes of users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.users.models import User


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def list_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[User]:
    return (await session.scalars(select(User).where(User.id.in_(ids)))).all()
