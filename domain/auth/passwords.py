"""Password hashing with argon2 through passlib, kept off the event loop."""

from __future__ import annotations

import asyncio

from passlib.context import CryptContext

from domain.errors import BadUserInput


class PasswordHasher:
    """Hashes and checks passwords; the same work is done whether or not the user exists."""

    def __init__(self, *, memory_kib: int, time_cost: int, min_length: int, max_length: int):
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__memory_cost=memory_kib,
            argon2__rounds=time_cost,
            argon2__parallelism=1,
        )
        self.min_length = min_length
        self.max_length = max_length
        # Checked against when the account does not exist, so timing does not tell.
        self._absent_user_hash = self._context.hash("no such user: equalise the timing")

    def check_policy(self, password: str) -> None:
        if len(password) < self.min_length:
            raise BadUserInput(
                f"Password must be at least {self.min_length} characters.", field="password"
            )
        if len(password) > self.max_length:
            raise BadUserInput(
                f"Password must be at most {self.max_length} characters.", field="password"
            )

    async def hash(self, password: str) -> str:
        self.check_policy(password)
        return await asyncio.to_thread(self._context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        # Absurd inputs are rejected before any hashing work; the answer is the same "no".
        if not password or len(password) > self.max_length:
            return False
        if password_hash is None:
            await asyncio.to_thread(self._context.verify, password, self._absent_user_hash)
            return False
        return await asyncio.to_thread(self._context.verify, password, password_hash)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._context.needs_update(password_hash)
