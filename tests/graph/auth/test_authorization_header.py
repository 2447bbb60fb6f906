"""`Authorization: Bearer <access token>` over HTTP: a bad one is UNAUTHENTICATED, never a 500.

(The header is read in graph/context.py; its tests live here with the rest of sign-in.)
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from domain.auth.tokens import TokenIssuer, TokenType
from tests.conftest import TEST_SECRET
from tests.support.client import GraphQLClient, SignedIn, errors

VIEWER = "query { viewer { id } }"
CREATE_WORKSPACE = 'mutation { createWorkspace(input: {name: "W"}) { id } }'
OTHER_SECRET = "not-the-server-secret-0123456789-0123456789"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user: SignedIn, **changes: Any) -> dict[str, Any]:
    """The claims of a good access token for `user`; a change to None drops that claim."""
    now = int(datetime.now(UTC).timestamp())
    values: dict[str, Any] = {
        "sub": user.user_id,
        "type": "access",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def signed(values: dict[str, Any], secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(values, secret, algorithm=algorithm)


def alg_none(values: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(values).encode())}."


def expired_access_token(user: SignedIn) -> str:
    # Issued by the real issuer with the server's key, already past its exp.
    issuer = TokenIssuer(
        TEST_SECRET, access_ttl=timedelta(seconds=-60), refresh_ttl=timedelta(days=1)
    )
    return issuer.issue(uuid.UUID(user.user_id), TokenType.ACCESS)[0]


BAD_BEARER_TOKENS: dict[str, Callable[[SignedIn], str]] = {
    "forged signature": lambda user: signed(claims(user), secret=OTHER_SECRET),
    "expired": expired_access_token,
    "alg none": lambda user: alg_none(claims(user)),
    "HS512 with the server key": lambda user: signed(claims(user), algorithm="HS512"),
    "missing exp": lambda user: signed(claims(user, exp=None)),
    "missing sub": lambda user: signed(claims(user, sub=None)),
    "missing jti": lambda user: signed(claims(user, jti=None)),
    "missing iat": lambda user: signed(claims(user, iat=None)),
    "missing type": lambda user: signed(claims(user, type=None)),
    "refresh token": lambda user: user.refresh_token,
    "non-UUID sub": lambda user: signed(claims(user, sub="alice")),
    "garbage": lambda user: "garbage",
    "truncated": lambda user: user.access_token[:-5],
}


async def post(client: GraphQLClient, query: str, authorization: str) -> tuple[int, dict[str, Any]]:
    response = await client.http.post(
        "/graphql", json={"query": query}, headers={"authorization": authorization}
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("make_token", BAD_BEARER_TOKENS.values(), ids=BAD_BEARER_TOKENS.keys())
async def test_bad_bearer_token_is_unauthenticated(
    client: GraphQLClient, make_token: Callable[[SignedIn], str]
) -> None:
    # given a real user and a token for them with one defect
    user = await client.register()
    token = make_token(user)

    # when it is sent as the bearer token
    status, body = await post(client, VIEWER, f"Bearer {token}")

    # then the request is answered (200), the field is null, and the error is UNAUTHENTICATED
    assert status == 200
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] == {"viewer": None}
    assert body["errors"][0]["message"] == "Invalid or expired token."


@pytest.mark.parametrize(
    "authorization",
    ["Basic eHl6Onh5eg==", "Basic xyz", "Bearer", "Token abc", "xyz"],
)
async def test_other_authorization_schemes_are_unauthenticated(
    client: GraphQLClient, authorization: str
) -> None:
    status, body = await post(client, VIEWER, authorization)
    assert status == 200
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] == {"viewer": None}


async def test_bad_token_never_falls_back_to_anonymous_for_a_mutation(
    client: GraphQLClient,
) -> None:
    # A forged token is refused outright, not treated as "signed out".
    user = await client.register()
    status, body = await post(
        client, CREATE_WORKSPACE, f"Bearer {signed(claims(user), OTHER_SECRET)}"
    )
    assert status == 200
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None


async def test_every_bad_token_gets_the_same_message(client: GraphQLClient) -> None:
    # No oracle about which check a token failed.
    user = await client.register()
    messages = set()
    for make_token in BAD_BEARER_TOKENS.values():
        _, body = await post(client, VIEWER, f"Bearer {make_token(user)}")
        messages.add(body["errors"][0]["message"])
    assert len(messages) == 1


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_scheme_is_case_insensitive(client: GraphQLClient, scheme: str) -> None:
    user = await client.register()
    status, body = await post(client, VIEWER, f"{scheme} {user.access_token}")
    assert (status, body) == (200, {"data": {"viewer": {"id": user.user_id}}})


async def test_extra_spaces_after_the_scheme_are_tolerated(client: GraphQLClient) -> None:
    user = await client.register()
    status, body = await post(client, VIEWER, f"Bearer   {user.access_token}")
    assert (status, body) == (200, {"data": {"viewer": {"id": user.user_id}}})


async def test_empty_header_is_anonymous(client: GraphQLClient) -> None:
    status, body = await post(client, VIEWER, "")
    assert (status, body) == (200, {"data": {"viewer": None}})


async def test_anonymous_mutation_needs_sign_in(client: GraphQLClient) -> None:
    body = await client.execute(CREATE_WORKSPACE)
    assert errors(body) == [("UNAUTHENTICATED", None)]
