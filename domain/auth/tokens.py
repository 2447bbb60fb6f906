"""Signed access and refresh tokens (python-jose, HS256, required claims)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from jose import JWTError, jwt

from domain.errors import Unauthenticated

ALGORITHM = "HS256"
_REQUIRED = {"require_exp": True, "require_iat": True, "require_sub": True, "require_jti": True}


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    token_type: TokenType
    jti: str
    expires_at: datetime


class TokenIssuer:
    """Issues and checks tokens; a token of the wrong type is as bad as a forged one."""

    def __init__(self, secret: str, *, access_ttl: timedelta, refresh_ttl: timedelta):
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue(self, user_id: uuid.UUID, token_type: TokenType) -> tuple[str, datetime]:
        now = datetime.now(UTC)
        ttl = self.access_ttl if token_type is TokenType.ACCESS else self.refresh_ttl
        expires_at = now + ttl
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "type": token_type.value,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires_at

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options=_REQUIRED)
        except (JWTError, TypeError, ValueError, OverflowError) as error:
            # Malformed claims (an `exp` that is a list, a year past 9999) are just invalid.
            raise Unauthenticated("Invalid or expired token.") from error
        if claims.get("type") != expected.value:
            raise Unauthenticated("Invalid or expired token.")
        try:
            return TokenClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                token_type=expected,
                jti=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (TypeError, ValueError, OverflowError, OSError) as error:
            raise Unauthenticated("Invalid or expired token.") from error


def token_digest(token: str) -> str:
    """What the database stores instead of the refresh token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
