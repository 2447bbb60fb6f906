"""AuthService against a real (SQLite) database: throttling, stored tokens, rotation."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from domain.auth.models import RefreshToken
from domain.auth.service import INVALID_CREDENTIALS, AuthResult
from domain.auth.tokens import TokenType, token_digest
from domain.container import Container
from domain.db.migrate import migrate
from domain.errors import RateLimited, Unauthenticated
from domain.users.models import User
from tests.conftest import make_settings

ATTEMPTS = 3
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("auth-service")
    url = f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}"
    await migrate(url)
    return data_dir, url


@pytest.fixture
async def container(database: tuple[Path, str]) -> AsyncIterator[Container]:
    # A fresh container per test: a fresh throttle, the same migrated database.
    data_dir, url = database
    built = Container.build(make_settings(data_dir, url, login_attempts_per_window=ATTEMPTS))
    yield built
    await built.close()


def new_email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


async def register(container: Container, email: str, password: str = PASSWORD) -> AuthResult:
    async with container.sessionmaker.begin() as session:
        return await container.auth.register(
            session, email=email, password=password, display_name="Someone"
        )


async def login(container: Container, email: str, password: str) -> AuthResult:
    async with container.sessionmaker.begin() as session:
        return await container.auth.login(session, email=email, password=password)


async def refresh(container: Container, token: str) -> AuthResult | None:
    async with container.sessionmaker.begin() as session:
        return await container.auth.refresh(session, token)


async def family_rows(container: Container, family_id: uuid.UUID) -> list[RefreshToken]:
    async with container.sessionmaker() as session:
        rows = await session.scalars(
            select(RefreshToken)
            .where(RefreshToken.family_id == family_id)
            .order_by(RefreshToken.created_at, RefreshToken.id)
        )
        return list(rows)


async def stored_token(container: Container, token: str) -> RefreshToken:
    async with container.sessionmaker() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
        )
    assert row is not None
    return row


# --- throttling ---------------------------------------------------------------------------


async def test_login_is_rate_limited_after_repeated_failures(container: Container) -> None:
    # given an account that has failed to sign in ATTEMPTS times
    email = new_email()
    await register(container, email)
    for _ in range(ATTEMPTS):
        with pytest.raises(Unauthenticated):
            await login(container, email, "wrong password")

    # when the right password comes next, then it is refused all the same
    with pytest.raises(RateLimited):
        await login(container, email, PASSWORD)


async def test_throttle_key_ignores_case_and_surrounding_space(container: Container) -> None:
    # given failures spread over spellings of one address
    email = new_email()
    await register(container, email)
    for spelling in (email, email.upper(), f"  {email.title()}  "):
        with pytest.raises(Unauthenticated):
            await login(container, email=spelling, password="wrong password")

    # then they all counted against the one account
    with pytest.raises(RateLimited):
        await login(container, email, PASSWORD)


async def test_throttle_key_treats_unicode_spellings_as_one_address(container: Container) -> None:
    # given an account with a non-ASCII address, and its decomposed (NFD) spelling
    email = f"josé-{uuid.uuid4().hex[:8]}@example.com"
    decomposed = unicodedata.normalize("NFD", email)
    assert decomposed != email
    registered = await register(container, email)
    assert (await login(container, decomposed, PASSWORD)).user.id == registered.user.id

    # when failures use both spellings
    for spelling in (email, decomposed, decomposed):
        with pytest.raises(Unauthenticated):
            await login(container, email=spelling, password="wrong password")

    # then they were counted together, not three fresh budgets per spelling
    with pytest.raises(RateLimited):
        await login(container, email, PASSWORD)


async def test_unknown_accounts_are_throttled_like_known_ones(container: Container) -> None:
    # Otherwise the throttle itself would tell which addresses have accounts.
    email = new_email("nobody")
    for _ in range(ATTEMPTS):
        with pytest.raises(Unauthenticated):
            await login(container, email, "any password")
    with pytest.raises(RateLimited):
        await login(container, email, "any password")


async def test_successful_login_resets_the_count(container: Container) -> None:
    # given an account one failure short of the limit
    email = new_email()
    await register(container, email)
    for _ in range(ATTEMPTS - 1):
        with pytest.raises(Unauthenticated):
            await login(container, email, "wrong password")

    # when it signs in successfully
    await login(container, email, PASSWORD)

    # then it has a full budget of failures again
    for _ in range(ATTEMPTS - 1):
        with pytest.raises(Unauthenticated):
            await login(container, email, "wrong password")
    await login(container, email, PASSWORD)


async def test_throttling_one_account_leaves_others_alone(container: Container) -> None:
    victim, bystander = new_email("victim"), new_email("bystander")
    await register(container, victim)
    await register(container, bystander)
    for _ in range(ATTEMPTS):
        with pytest.raises(Unauthenticated):
            await login(container, victim, "wrong password")

    result = await login(container, bystander, PASSWORD)
    assert result.user.email == bystander


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "", "@example.com", "a@b@c"],
    ids=["no at", "empty", "no local", "two ats"],
)
async def test_malformed_email_fails_like_a_wrong_password(
    container: Container, email: str
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await login(container, email, PASSWORD)
    assert (refused.value.message, refused.value.field) == (INVALID_CREDENTIALS, None)


# --- what is stored -----------------------------------------------------------------------


async def test_refresh_token_is_stored_only_as_its_digest(container: Container) -> None:
    # given a new account
    result = await register(container, new_email())

    # then its one refresh token row holds the digest, never the token itself
    row = await stored_token(container, result.refresh_token)
    assert row.user_id == result.user.id
    assert row.token_hash == token_digest(result.refresh_token)
    assert row.token_hash != result.refresh_token
    assert (row.revoked_at, row.rotated_at) == (None, None)


async def test_each_login_starts_a_new_family(container: Container) -> None:
    email = new_email()
    first = await register(container, email)
    second = await login(container, email, PASSWORD)

    first_row = await stored_token(container, first.refresh_token)
    second_row = await stored_token(container, second.refresh_token)
    assert first_row.family_id != second_row.family_id


async def test_login_upgrades_a_hash_made_with_old_parameters(
    container: Container, database: tuple[Path, str]
) -> None:
    # given an account whose hash was made with time cost 1
    email = new_email()
    await register(container, email)

    # when it signs in to a process configured with time cost 2
    data_dir, url = database
    stronger = Container.build(make_settings(data_dir, url, argon2_time_cost=2))
    try:
        await login(stronger, email, PASSWORD)
        async with stronger.sessionmaker() as session:
            user = await session.scalar(select(User).where(User.email == email))
    finally:
        await stronger.close()

    # then the stored hash was upgraded, and still checks out
    assert user is not None
    assert stronger.auth.hasher.needs_rehash(user.password_hash) is False
    assert await stronger.auth.hasher.verify(PASSWORD, user.password_hash) is True


# --- rotation and reuse -------------------------------------------------------------------


async def test_rotation_keeps_the_family_and_marks_the_old_token(container: Container) -> None:
    # given a sign-in and one rotation
    first = await register(container, new_email())
    second = await refresh(container, first.refresh_token)
    assert second is not None

    # then both tokens are in one family; the old one is rotated, the new one live
    old_row = await stored_token(container, first.refresh_token)
    new_row = await stored_token(container, second.refresh_token)
    assert old_row.family_id == new_row.family_id
    assert old_row.rotated_at is not None
    assert old_row.revoked_at is None
    assert (new_row.rotated_at, new_row.revoked_at) == (None, None)


async def test_reuse_revokes_every_token_of_the_family_and_only_that(
    container: Container,
) -> None:
    # given two sign-ins of one account, the first rotated twice
    email = new_email()
    first = await register(container, email)
    other_sign_in = await login(container, email, PASSWORD)
    second = await refresh(container, first.refresh_token)
    assert second is not None
    third = await refresh(container, second.refresh_token)
    assert third is not None

    # when the rotated first token is presented again
    assert await refresh(container, first.refresh_token) is None

    # then every row of its family is revoked in the database, the newest included
    family = await family_rows(
        container, (await stored_token(container, third.refresh_token)).family_id
    )
    assert len(family) == 3
    assert all(row.revoked_at is not None for row in family)
    assert await refresh(container, third.refresh_token) is None
    # and the other sign-in goes on
    assert await refresh(container, other_sign_in.refresh_token) is not None


async def test_expired_stored_token_is_refused(container: Container) -> None:
    # given a refresh token whose row has expired (the JWT itself is still within its exp)
    result = await register(container, new_email())
    async with container.sessionmaker.begin() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_digest(result.refresh_token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    # then it cannot be rotated
    assert await refresh(container, result.refresh_token) is None


async def test_token_signed_by_us_but_never_stored_is_refused(container: Container) -> None:
    # given a validly signed refresh token that no sign-in stored (a leaked key, a wiped row)
    result = await register(container, new_email())
    unstored, _ = container.tokens.issue(result.user.id, TokenType.REFRESH)

    # then it is refused
    assert await refresh(container, unstored) is None
