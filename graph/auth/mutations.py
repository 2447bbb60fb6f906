"""Sign-up, sign-in, refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.auth.service import INVALID_REFRESH
from domain.errors import Unauthenticated
from graph.auth.types import AuthPayload, LoginInput, RegisterInput
from graph.context import Info

RefreshTokenArg = Annotated[
    str, strawberry.argument(description="A refresh token from an AuthPayload.")
]


@strawberry.type
class AuthMutations:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(
        self,
        info: Info,
        input: Annotated[RegisterInput, strawberry.argument(description="The new account.")],
    ) -> AuthPayload:
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            result = await container.auth.register(
                session, email=input.email, password=input.password, display_name=input.display_name
            )
        return AuthPayload.from_result(result)

    @strawberry.mutation(description="Sign in with email and password.")
    async def login(
        self,
        info: Info,
        input: Annotated[LoginInput, strawberry.argument(description="The credentials.")],
    ) -> AuthPayload:
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            result = await container.auth.login(session, email=input.email, password=input.password)
        return AuthPayload.from_result(result)

    @strawberry.mutation(
        description="Exchange a refresh token for new tokens. The old refresh token stops "
        "working; presenting it again signs out every token descended from it."
    )
    async def refresh_token(self, info: Info, refresh_token: RefreshTokenArg) -> AuthPayload:
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            result = await container.auth.refresh(session, refresh_token)
        # Raised after commit so that a detected reuse stays revoked.
        if result is None:
            raise Unauthenticated(INVALID_REFRESH)
        return AuthPayload.from_result(result)

    @strawberry.mutation(
        description="Sign out: revoke the refresh token and every token rotated from the same "
        "sign-in. False when the token was not active."
    )
    async def logout(self, info: Info, refresh_token: RefreshTokenArg) -> bool:
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            return await container.auth.logout(session, refresh_token)
