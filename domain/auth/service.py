"""Sign-up, sign-in and refresh-token rotation. The caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.models import RefreshToken
from domain.auth.passwords import PasswordHasher
from domain.auth.throttle import LoginThrottle
from domain.auth.tokens import TokenIssuer, TokenType, token_digest
from domain.db.base import new_id
from domain.errors import BadUserInput, Conflict, Unauthenticated
from domain.users import repository as users
from domain.users.models import User
from domain.users.validation import clean_display_name, normalise_email

INVALID_CREDENTIALS = "Invalid email or password."
INVALID_REFRESH = "Invalid or expired refresh token."


@dataclass(frozen=True, slots=True)
class AuthResult:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


class AuthService:
    def __init__(self, hasher: PasswordHasher, issuer: TokenIssuer, throttle: LoginThrottle):
        self.hasher = hasher
        self.issuer = issuer
        self.throttle = throttle

    async def register(
        self, session: AsyncSession, *, email: str, password: str, display_name: str
    ) -> AuthResult:
        email = normalise_email(email)
        name = clean_display_name(display_name)
        password_hash = await self.hasher.hash(password)
        user = User(id=new_id(), email=email, display_name=name, password_hash=password_hash)
        # No savepoint: a duplicate aborts the caller's whole transaction, which is right.
        session.add(user)
        try:
            await session.flush()
        except IntegrityError as error:
            raise Conflict("An account with this email already exists.", field="email") from error
        return await self._sign_in(session, user, family_id=new_id())

    async def login(self, session: AsyncSession, *, email: str, password: str) -> AuthResult:
        try:
            email = normalise_email(email)
        except BadUserInput:
            # Still hash below: a malformed address answers like a wrong password.
            email = email.strip().lower()
        # Throttled by the normalised address: every spelling of one account shares a budget.
        key = email
        self.throttle.check(key)
        user = await users.get_by_email(session, email)
        if not await self.hasher.verify(password, user.password_hash if user else None):
            self.throttle.record_failure(key)
            raise Unauthenticated(INVALID_CREDENTIALS)
        assert user is not None
        self.throttle.reset(key)
        if self.hasher.needs_rehash(user.password_hash):
            user.password_hash = await self.hasher.hash(password)
        return await self._sign_in(session, user, family_id=new_id())

    async def refresh(self, session: AsyncSession, refresh_token: str) -> AuthResult | None:
        """Rotates the token. None means rejected; the caller commits, then reports it,
        so that a reuse's revocation of the family is kept rather than rolled back."""
        try:
            claims = self.issuer.decode(refresh_token, TokenType.REFRESH)
        except Unauthenticated:
            return None
        # Locked first: concurrent refreshes of one token queue on this row, so they never
        # take the family's rows in different orders (a deadlock on PostgreSQL).
        stored = await _find(session, refresh_token, for_update=True)
        if stored is None or stored.user_id != claims.user_id:
            return None
        now = datetime.now(UTC)
        # Claim the token atomically: of two racing refreshes with one token, one wins.
        claimed = await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == stored.id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(rotated_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            # Rotated, revoked or expired. A rotated token coming back means someone holds a
            # copy, so the whole family ends; for the other two this changes nothing.
            await revoke_family(session, stored.family_id)
            return None
        user = await users.get_by_id(session, stored.user_id)
        if user is None:
            return None
        return await self._sign_in(session, user, family_id=stored.family_id)

    async def logout(self, session: AsyncSession, refresh_token: str) -> bool:
        """Ends the sign-in the token belongs to; False when the token was not active."""
        try:
            self.issuer.decode(refresh_token, TokenType.REFRESH)
        except Unauthenticated:
            return False
        stored = await _find(session, refresh_token)
        if stored is None or stored.revoked_at is not None or stored.rotated_at is not None:
            return False
        await revoke_family(session, stored.family_id)
        return True

    async def _sign_in(
        self, session: AsyncSession, user: User, *, family_id: uuid.UUID
    ) -> AuthResult:
        access, _ = self.issuer.issue(user.id, TokenType.ACCESS)
        refresh, refresh_expires = self.issuer.issue(user.id, TokenType.REFRESH)
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=token_digest(refresh),
                expires_at=refresh_expires,
            )
        )
        await session.flush()
        return AuthResult(
            user=user,
            access_token=access,
            refresh_token=refresh,
            expires_in=int(self.issuer.access_ttl.total_seconds()),
        )


async def _find(
    session: AsyncSession, refresh_token: str, *, for_update: bool = False
) -> RefreshToken | None:
    query = select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
    return await session.scalar(query.with_for_update() if for_update else query)


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
