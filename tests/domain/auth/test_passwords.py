"""PasswordHasher: argon2id hashes, a length policy, and a "no" that costs the same."""

from __future__ import annotations

import pytest

from domain.auth.passwords import PasswordHasher
from domain.errors import BadUserInput

MIN_LENGTH = 8
MAX_LENGTH = 64


def hasher(*, time_cost: int = 1, max_length: int = MAX_LENGTH) -> PasswordHasher:
    # Cheap parameters keep the suite fast; the algorithm is the production one.
    return PasswordHasher(
        memory_kib=1024, time_cost=time_cost, min_length=MIN_LENGTH, max_length=max_length
    )


async def test_hash_is_argon2id_and_salted() -> None:
    # given one password hashed twice
    passwords = hasher()
    first = await passwords.hash("correct horse battery")
    second = await passwords.hash("correct horse battery")

    # then both are argon2id, and a fresh salt makes them differ
    assert first.startswith("$argon2id$")
    assert second.startswith("$argon2id$")
    assert first != second
    assert "correct horse battery" not in first


async def test_verify_accepts_the_password_and_nothing_else() -> None:
    passwords = hasher()
    stored = await passwords.hash("correct horse battery")

    assert await passwords.verify("correct horse battery", stored) is True
    assert await passwords.verify("correct horse batterY", stored) is False
    assert await passwords.verify("correct horse battery ", stored) is False
    assert await passwords.verify("", stored) is False


async def test_verify_without_a_stored_hash_is_false() -> None:
    # The unknown-account path: still a "no", never an exception.
    assert await hasher().verify("correct horse battery", None) is False


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Password must be at least 8 characters."),
        ("seven77", "Password must be at least 8 characters."),
        ("x" * (MAX_LENGTH + 1), f"Password must be at most {MAX_LENGTH} characters."),
        ("x" * 1_000_000, f"Password must be at most {MAX_LENGTH} characters."),
    ],
    ids=["empty", "one short", "one over", "absurd"],
)
async def test_hash_rejects_passwords_outside_the_policy(password: str, message: str) -> None:
    with pytest.raises(BadUserInput) as rejected:
        await hasher().hash(password)
    assert (rejected.value.field, rejected.value.message) == ("password", message)


@pytest.mark.parametrize("length", [MIN_LENGTH, MAX_LENGTH])
async def test_hash_accepts_the_boundaries(length: int) -> None:
    passwords = hasher()
    stored = await passwords.hash("p" * length)
    assert await passwords.verify("p" * length, stored) is True


async def test_verify_refuses_an_over_long_password_before_checking_the_hash() -> None:
    # given a hash of a long password, made where the policy allowed it
    long_password = "p" * (MAX_LENGTH + 1)
    stored = await hasher(max_length=MAX_LENGTH + 1).hash(long_password)

    # when a hasher with a lower maximum verifies the right password against it
    verified = await hasher(max_length=MAX_LENGTH).verify(long_password, stored)

    # then the length check answered first: a match would have said True
    assert verified is False


def test_check_policy_counts_characters_not_bytes() -> None:
    # Eight non-ASCII characters are eight characters, even though they are 16+ bytes.
    hasher().check_policy("é" * MIN_LENGTH)
    with pytest.raises(BadUserInput):
        hasher().check_policy("é" * (MIN_LENGTH - 1))


async def test_needs_rehash_when_the_parameters_change() -> None:
    # given a hash made with time cost 1
    stored = await hasher(time_cost=1).hash("correct horse battery")

    # then a hasher with those parameters keeps it, one with stronger ones asks for a rehash
    assert hasher(time_cost=1).needs_rehash(stored) is False
    assert hasher(time_cost=2).needs_rehash(stored) is True
    # and the old hash still verifies meanwhile
    assert await hasher(time_cost=2).verify("correct horse battery", stored) is True
