"""TokenIssuer: what it issues decodes back; anything else is Unauthenticated."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from domain.auth.tokens import ALGORITHM, TokenIssuer, TokenType, token_digest
from domain.errors import Unauthenticated

SECRET = "unit-test-secret-0123456789-0123456789-abcdef"
OTHER_SECRET = "another-secret-0123456789-0123456789-abcdefgh"
USER_ID = uuid.UUID("0190f1c2-7a3b-7c4d-8e5f-0123456789ab")


def issuer(
    secret: str = SECRET,
    access_ttl: timedelta = timedelta(minutes=15),
    refresh_ttl: timedelta = timedelta(days=30),
) -> TokenIssuer:
    return TokenIssuer(secret, access_ttl=access_ttl, refresh_ttl=refresh_ttl)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def valid_claims(**changes: Any) -> dict[str, Any]:
    """Claims like the issuer's own; a value of None removes that claim."""
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "sub": str(USER_ID),
        "type": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "a-unique-id",
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = ALGORITHM) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    """`alg: none`: a header, the payload and an empty signature, as an attacker writes it."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


# --- what the issuer makes, it accepts ---------------------------------------------------


@pytest.mark.parametrize("token_type", list(TokenType))
def test_issued_token_decodes_to_its_claims(token_type: TokenType) -> None:
    # given a token of each type
    tokens = issuer()
    token, expires_at = tokens.issue(USER_ID, token_type)

    # when it is decoded as that type
    claims = tokens.decode(token, token_type)

    # then the claims are the issued ones (exp is whole seconds in a JWT)
    assert claims.user_id == USER_ID
    assert claims.token_type is token_type
    assert claims.expires_at == expires_at.replace(microsecond=0)
    assert claims.jti


def test_access_and_refresh_tokens_live_as_configured() -> None:
    # given an issuer with a short access and a long refresh lifetime
    tokens = issuer(access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=30))

    # when one of each is issued
    access = jwt.get_unverified_claims(tokens.issue(USER_ID, TokenType.ACCESS)[0])
    refresh = jwt.get_unverified_claims(tokens.issue(USER_ID, TokenType.REFRESH)[0])

    # then each carries its lifetime relative to its own iat, and the required claims
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    assert set(access) == {"sub", "type", "iat", "exp", "jti"}
    assert (access["type"], refresh["type"]) == ("access", "refresh")


def test_every_token_has_its_own_jti() -> None:
    tokens = issuer()
    jtis = {
        tokens.decode(tokens.issue(USER_ID, TokenType.REFRESH)[0], TokenType.REFRESH).jti
        for _ in range(20)
    }
    assert len(jtis) == 20


def test_header_names_hs256() -> None:
    token, _ = issuer().issue(USER_ID, TokenType.ACCESS)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_hand_made_token_with_every_claim_is_accepted() -> None:
    # The baseline for the rejections below: only the named defect differs.
    assert issuer().decode(signed(valid_claims()), TokenType.ACCESS).user_id == USER_ID


# --- everything else is Unauthenticated ---------------------------------------------------


BAD_TOKENS = {
    "signed with another key": lambda: signed(valid_claims(), secret=OTHER_SECRET),
    "alg none": lambda: unsigned(valid_claims()),
    "alg None, capitalised": lambda: unsigned(valid_claims(), alg="None"),
    "HS512 with the right key (algorithm not allowed)": lambda: signed(
        valid_claims(), algorithm="HS512"
    ),
    "expired": lambda: signed(valid_claims(iat=1_000_000, exp=1_000_600)),
    "missing exp": lambda: signed(valid_claims(exp=None)),
    "missing iat": lambda: signed(valid_claims(iat=None)),
    "missing sub": lambda: signed(valid_claims(sub=None)),
    "missing jti": lambda: signed(valid_claims(jti=None)),
    "missing type": lambda: signed(valid_claims(type=None)),
    "wrong type": lambda: signed(valid_claims(type="refresh")),
    "unknown type": lambda: signed(valid_claims(type="admin")),
    "non-UUID sub": lambda: signed(valid_claims(sub="alice")),
    "numeric sub": lambda: signed(valid_claims(sub=42)),
    "empty": lambda: "",
    "garbage": lambda: "not-a-jwt",
    "three garbage segments": lambda: "a.b.c",
    "truncated signature": lambda: signed(valid_claims())[:-4],
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_token_is_unauthenticated(make_token: Any) -> None:
    # given a token with one defect
    token = make_token()

    # when it is decoded as an access token, then it is refused with the one generic message
    with pytest.raises(Unauthenticated) as refused:
        issuer().decode(token, TokenType.ACCESS)
    assert refused.value.message == "Invalid or expired token."


def test_tampered_payload_is_unauthenticated() -> None:
    # given a real token whose payload is swapped for another user's, signature kept
    token, _ = issuer().issue(USER_ID, TokenType.ACCESS)
    header, _, signature = token.split(".")
    forged_payload = b64url(json.dumps(valid_claims(sub=str(uuid.uuid4()))).encode())

    # then the signature no longer matches
    with pytest.raises(Unauthenticated):
        issuer().decode(f"{header}.{forged_payload}.{signature}", TokenType.ACCESS)


def test_token_issued_with_negative_ttl_is_expired() -> None:
    # given an issuer whose tokens are already past their exp when issued
    expired = issuer(access_ttl=timedelta(seconds=-60))
    token, _ = expired.issue(USER_ID, TokenType.ACCESS)

    # then even that issuer refuses them
    with pytest.raises(Unauthenticated):
        expired.decode(token, TokenType.ACCESS)


@pytest.mark.parametrize(
    ("issued", "expected"),
    [(TokenType.REFRESH, TokenType.ACCESS), (TokenType.ACCESS, TokenType.REFRESH)],
)
def test_token_of_the_other_type_is_refused(issued: TokenType, expected: TokenType) -> None:
    tokens = issuer()
    token, _ = tokens.issue(USER_ID, issued)
    with pytest.raises(Unauthenticated):
        tokens.decode(token, expected)


def test_token_from_an_issuer_with_another_secret_is_refused() -> None:
    token, _ = issuer(OTHER_SECRET).issue(USER_ID, TokenType.ACCESS)
    with pytest.raises(Unauthenticated):
        issuer().decode(token, TokenType.ACCESS)


# --- what the database stores ------------------------------------------------------------


def test_token_digest_is_sha256_hex_and_not_the_token() -> None:
    token, _ = issuer().issue(USER_ID, TokenType.REFRESH)
    digest = token_digest(token)
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")
    assert digest == token_digest(token)
    assert token not in digest
    assert digest != token_digest(token + "x")
