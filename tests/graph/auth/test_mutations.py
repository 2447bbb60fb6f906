"""register, login, refreshToken and logout over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain.container import Container
from domain.db.migrate import migrate
from graph.app import create_app
from tests.conftest import Backend, make_settings
from tests.support.client import PASSWORD, GraphQLClient, SignedIn, errors
from tests.support.server import running_server

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresIn user { id email displayName } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    accessToken refreshToken expiresIn user { id email }
  }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken expiresIn user { id } }
}
"""
LOGOUT = "mutation Logout($token: String!) { logout(refreshToken: $token) }"
VIEWER = "query { viewer { id email displayName } }"

THROTTLE_ATTEMPTS = 3


def new_email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def registration(
    email: str | None = None, password: str = PASSWORD, display_name: str = "Ada"
) -> dict[str, Any]:
    address = new_email() if email is None else email
    return {"input": {"email": address, "password": password, "displayName": display_name}}


async def refresh(client: GraphQLClient, token: str) -> dict[str, Any]:
    return await client.execute(REFRESH, {"token": token})


async def refreshed(client: GraphQLClient, token: str) -> dict[str, Any]:
    """The payload of a refresh that must succeed."""
    payload: dict[str, Any] = (await client.data(REFRESH, {"token": token}))["refreshToken"]
    return payload


# --- register -------------------------------------------------------------------------------


async def test_register_returns_tokens_that_sign_in(
    client: GraphQLClient, backend: Backend
) -> None:
    # given a new address
    email = new_email()

    # when it registers
    payload = (await client.data(REGISTER, registration(email, display_name="Ada")))["register"]

    # then it gets the new user, tokens, and the access token's lifetime
    assert payload["user"]["email"] == email
    assert payload["user"]["displayName"] == "Ada"
    assert payload["expiresIn"] == backend.container.settings.access_token_ttl_seconds
    assert payload["accessToken"] != payload["refreshToken"]
    # and the access token is the user's
    viewer = await client.data(VIEWER, token=payload["accessToken"])
    assert viewer == {"viewer": {"id": payload["user"]["id"], "email": email, "displayName": "Ada"}}


async def test_register_normalises_email_and_display_name(client: GraphQLClient) -> None:
    local = f"Mixed.Case-{uuid.uuid4().hex[:8]}"
    payload = (
        await client.data(
            REGISTER, registration(f"  {local}@EXAMPLE.com ", display_name="  Ada \t  Lovelace ")
        )
    )["register"]
    assert payload["user"]["email"] == f"{local.lower()}@example.com"
    assert payload["user"]["displayName"] == "Ada Lovelace"


async def test_register_twice_with_any_capitalisation_is_a_conflict(
    client: GraphQLClient,
) -> None:
    # given an account
    email = new_email()
    await client.data(REGISTER, registration(email))

    # when the same address registers again, shouted
    body = await client.execute(REGISTER, registration(email.upper(), password="another password"))

    # then it is a conflict on email, and nothing is returned
    assert errors(body) == [("CONFLICT", "email")]
    assert body["data"] is None
    # and the first account's password still works
    await client.data(LOGIN, {"email": email, "password": PASSWORD})


@pytest.mark.parametrize(
    "email", ["not-an-email", "", "a@", "@example.com", "a b@example.com", "a@b@example.com"]
)
async def test_register_with_an_invalid_email_is_bad_input(
    client: GraphQLClient, email: str
) -> None:
    body = await client.execute(REGISTER, registration(email))
    assert errors(body) == [("BAD_USER_INPUT", "email")]
    assert body["data"] is None


@pytest.mark.parametrize(
    "password", ["", "seven77", "x" * 257, "x" * 100_000], ids=["empty", "7", "257", "100k"]
)
async def test_register_with_a_password_outside_the_policy_is_bad_input(
    client: GraphQLClient, password: str
) -> None:
    # given an address and a password that is too short or too long
    email = new_email()

    # when it registers, then the password is at fault
    body = await client.execute(REGISTER, registration(email, password=password))
    assert errors(body) == [("BAD_USER_INPUT", "password")]

    # and nothing was created: the address is still free
    await client.data(REGISTER, registration(email))


@pytest.mark.parametrize("length", [8, 256])
async def test_register_accepts_the_password_length_boundaries(
    client: GraphQLClient, length: int
) -> None:
    email = new_email()
    await client.data(REGISTER, registration(email, password="p" * length))
    await client.data(LOGIN, {"email": email, "password": "p" * length})


@pytest.mark.parametrize(
    "display_name", ["", "   ", "\t\n", "x" * 101], ids=["empty", "spaces", "blank", "101"]
)
async def test_register_with_a_bad_display_name_is_bad_input(
    client: GraphQLClient, display_name: str
) -> None:
    body = await client.execute(REGISTER, registration(display_name=display_name))
    assert errors(body) == [("BAD_USER_INPUT", "displayName")]


# --- login ------------------------------------------------------------------------------------


async def test_login_returns_tokens_of_the_account(client: GraphQLClient, backend: Backend) -> None:
    # given an account
    user = await client.register()

    # when it signs in
    payload = (await client.data(LOGIN, {"email": user.email, "password": PASSWORD}))["login"]

    # then the tokens are new, and they are the account's
    assert payload["user"] == {"id": user.user_id, "email": user.email}
    assert payload["expiresIn"] == backend.container.settings.access_token_ttl_seconds
    assert payload["refreshToken"] != user.refresh_token
    viewer = await client.data(VIEWER, token=payload["accessToken"])
    assert viewer["viewer"]["id"] == user.user_id
    await refreshed(client, payload["refreshToken"])


async def test_login_ignores_the_capitalisation_of_the_email(client: GraphQLClient) -> None:
    user = await client.register()
    payload = await client.data(LOGIN, {"email": f" {user.email.upper()} ", "password": PASSWORD})
    assert payload["login"]["user"]["id"] == user.user_id


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    client: GraphQLClient,
) -> None:
    # given an account
    user = await client.register()

    # when one attempt has the wrong password and another an address with no account
    wrong_password = await client.execute(LOGIN, {"email": user.email, "password": "not it!!"})
    unknown_email = await client.execute(
        LOGIN, {"email": new_email("ghost"), "password": "not it!!"}
    )

    # then both are UNAUTHENTICATED, and the two answers are identical to the byte
    assert errors(wrong_password) == [("UNAUTHENTICATED", None)]
    assert unknown_email == wrong_password
    assert wrong_password["data"] is None


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("not-an-email", PASSWORD),
        ("", PASSWORD),
        ("@@", PASSWORD),
        (None, ""),  # the account's address, an empty password
        (None, "x" * 100_000),  # the account's address, an absurd password
    ],
    ids=["malformed email", "empty email", "only ats", "empty password", "absurd password"],
)
async def test_bad_credentials_of_any_shape_answer_like_a_wrong_password(
    client: GraphQLClient, email: str | None, password: str
) -> None:
    # given the answer to a plain wrong password
    user = await client.register()
    reference = await client.execute(LOGIN, {"email": user.email, "password": "not it!!"})

    # when the credentials are malformed instead, then the answer is the same
    body = await client.execute(
        LOGIN, {"email": email if email is not None else user.email, "password": password}
    )
    assert body == reference


@pytest.fixture(scope="module")
async def throttled_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A server of its own whose login throttle trips after THROTTLE_ATTEMPTS failures."""
    data_dir: Path = tmp_path_factory.mktemp("throttled")
    url = f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}"
    await migrate(url)
    container = Container.build(
        make_settings(data_dir, url, login_attempts_per_window=THROTTLE_ATTEMPTS)
    )
    try:
        async with running_server(create_app(container=container)) as address:
            yield address
    finally:
        await container.close()


@pytest.fixture
async def throttled(throttled_server: str) -> AsyncIterator[GraphQLClient]:
    graphql = GraphQLClient(throttled_server)
    yield graphql
    await graphql.close()


async def test_login_is_rate_limited_after_repeated_failures(throttled: GraphQLClient) -> None:
    # given an account that failed to sign in THROTTLE_ATTEMPTS times
    user = await throttled.register()
    for _ in range(THROTTLE_ATTEMPTS):
        body = await throttled.execute(LOGIN, {"email": user.email, "password": "not it!!"})
        assert errors(body) == [("UNAUTHENTICATED", None)]

    # when the right password follows, then it is RATE_LIMITED
    body = await throttled.execute(LOGIN, {"email": user.email, "password": PASSWORD})
    assert errors(body) == [("RATE_LIMITED", None)]
    assert body["data"] is None

    # and another account is not affected
    other = await throttled.register()
    await throttled.data(LOGIN, {"email": other.email, "password": PASSWORD})


async def test_unknown_email_is_rate_limited_too(throttled: GraphQLClient) -> None:
    # The throttle must not become a way to tell which addresses have accounts.
    email = new_email("ghost")
    for _ in range(THROTTLE_ATTEMPTS):
        body = await throttled.execute(LOGIN, {"email": email, "password": "not it!!"})
        assert errors(body) == [("UNAUTHENTICATED", None)]
    body = await throttled.execute(LOGIN, {"email": email, "password": "not it!!"})
    assert errors(body) == [("RATE_LIMITED", None)]


# --- refreshToken -----------------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_token_stops_working(client: GraphQLClient) -> None:
    # given a signed-in user
    user = await client.register()

    # when the refresh token is exchanged
    payload = await refreshed(client, user.refresh_token)

    # then new tokens come back, for the same user, and the new access token works
    assert payload["user"] == {"id": user.user_id}
    assert payload["refreshToken"] != user.refresh_token
    assert payload["accessToken"] != user.access_token
    viewer = await client.data(VIEWER, token=payload["accessToken"])
    assert viewer["viewer"]["id"] == user.user_id

    # and the old refresh token is refused
    body = await refresh(client, user.refresh_token)
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None


async def test_a_chain_of_rotations_keeps_working(client: GraphQLClient) -> None:
    user = await client.register()
    token = user.refresh_token
    for _ in range(3):
        token = (await refreshed(client, token))["refreshToken"]
    await refreshed(client, token)


async def test_reusing_a_rotated_token_revokes_the_whole_family(client: GraphQLClient) -> None:
    # given a sign-in rotated twice: first -> second -> newest
    user = await client.register()
    second = (await refreshed(client, user.refresh_token))["refreshToken"]
    newest = (await refreshed(client, second))["refreshToken"]

    # when a rotated token comes back (someone kept a copy)
    body = await refresh(client, second)
    assert errors(body) == [("UNAUTHENTICATED", None)]

    # then the newest token of that family is dead too, though it was never used
    body = await refresh(client, newest)
    assert errors(body) == [("UNAUTHENTICATED", None)]
    # and signing out with it says it was no longer active
    assert await client.data(LOGOUT, {"token": newest}) == {"logout": False}


async def test_reuse_revokes_only_that_sign_in(client: GraphQLClient) -> None:
    # given two sign-ins of one account (say, laptop and phone)
    laptop = await client.register()
    phone = (await client.data(LOGIN, {"email": laptop.email, "password": PASSWORD}))["login"]
    await refreshed(client, laptop.refresh_token)

    # when the laptop's rotated token is reused
    assert errors(await refresh(client, laptop.refresh_token)) == [("UNAUTHENTICATED", None)]

    # then the phone stays signed in
    await refreshed(client, phone["refreshToken"])


async def test_racing_refreshes_with_one_token_let_at_most_one_through(
    client: GraphQLClient,
) -> None:
    # given one refresh token sent several times at once (tabs, retries, a thief)
    user = await client.register()

    # when the requests race
    bodies = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(5)))

    # then exactly one got new tokens and the others were refused, never a server error
    outcomes = sorted(errors(body) for body in bodies)
    assert outcomes == [[]] + [[("UNAUTHENTICATED", None)]] * 4


async def test_access_token_is_not_a_refresh_token(client: GraphQLClient) -> None:
    user = await client.register()

    body = await refresh(client, user.access_token)

    assert errors(body) == [("UNAUTHENTICATED", None)]
    # and the refused attempt did not harm the real refresh token
    await refreshed(client, user.refresh_token)


@pytest.mark.parametrize(
    "token", ["", "garbage", "a.b.c", "Bearer x"], ids=["empty", "garbage", "segments", "bearer"]
)
async def test_garbage_refresh_token_is_unauthenticated(client: GraphQLClient, token: str) -> None:
    body = await refresh(client, token)
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None


async def test_refresh_errors_all_read_the_same(client: GraphQLClient) -> None:
    # Garbage, a wrong-type token and a rotated one: no hint which check failed.
    user = await client.register()
    await refreshed(client, user.refresh_token)
    bodies = [
        await refresh(client, "garbage"),
        await refresh(client, user.access_token),
        await refresh(client, user.refresh_token),
    ]
    assert bodies[0] == bodies[1] == bodies[2]


# --- logout -----------------------------------------------------------------------------------


async def test_logout_revokes_the_refresh_token(client: GraphQLClient) -> None:
    # given a signed-in user
    user = await client.register()

    # when it signs out
    assert await client.data(LOGOUT, {"token": user.refresh_token}) == {"logout": True}

    # then its refresh token no longer works, and a second sign-out is a no-op
    assert errors(await refresh(client, user.refresh_token)) == [("UNAUTHENTICATED", None)]
    assert await client.data(LOGOUT, {"token": user.refresh_token}) == {"logout": False}


async def test_logout_ends_the_sign_in_not_the_account(client: GraphQLClient) -> None:
    # given two sign-ins, one of them rotated
    user = await client.register()
    rotated = (await refreshed(client, user.refresh_token))["refreshToken"]
    other = (await client.data(LOGIN, {"email": user.email, "password": PASSWORD}))["login"]

    # when the rotated one signs out
    assert await client.data(LOGOUT, {"token": rotated}) == {"logout": True}

    # then that sign-in is over, the other goes on, and the password still signs in
    assert errors(await refresh(client, rotated)) == [("UNAUTHENTICATED", None)]
    await refreshed(client, other["refreshToken"])
    await client.data(LOGIN, {"email": user.email, "password": PASSWORD})


async def test_logout_with_an_inactive_token_is_false(client: GraphQLClient) -> None:
    # given tokens that are not active refresh tokens
    user = await client.register()
    rotated_away = user.refresh_token
    current = (await refreshed(client, rotated_away))["refreshToken"]

    # then signing out with each of them answers false, without an error
    for token in ("", "garbage", user.access_token, rotated_away):
        assert await client.data(LOGOUT, {"token": token}) == {"logout": False}
    # and none of that touched the current token
    await refreshed(client, current)


async def test_signed_in_helper_matches_register(client: GraphQLClient) -> None:
    # The harness's register helper hands out the same kind of tokens the mutation does.
    user: SignedIn = await client.register()
    assert (await client.data(VIEWER, token=user.access_token))["viewer"]["email"] == user.email
