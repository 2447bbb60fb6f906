"""Auth inputs and payloads."""

from __future__ import annotations

import strawberry

from domain.auth.service import AuthResult
from graph.users.types import User


@strawberry.input(description="What a new account needs.")
class RegisterInput:
    email: str = strawberry.field(description="Email address used to sign in.")
    password: str = strawberry.field(description="At least 8 characters.")
    display_name: str = strawberry.field(description="Name shown to other members.")


@strawberry.input(description="Credentials to sign in with.")
class LoginInput:
    email: str = strawberry.field(description="Email address of the account.")
    password: str = strawberry.field(description="Its password.")


@strawberry.type(description="Tokens for a signed-in user.")
class AuthPayload:
    access_token: str = strawberry.field(
        description="Short-lived bearer token for `Authorization: Bearer ...`."
    )
    refresh_token: str = strawberry.field(
        description="Long-lived token for `refreshToken`; single use, rotated on every refresh."
    )
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")
    user: User = strawberry.field(description="The signed-in user.")

    @classmethod
    def from_result(cls, result: AuthResult) -> AuthPayload:
        return cls(
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            expires_in=result.expires_in,
            user=User.from_model(result.user),
        )
