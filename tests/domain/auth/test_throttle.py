"""LoginThrottle: a per-key brake on failed sign-ins."""

from __future__ import annotations

import asyncio

import pytest

from domain.auth.throttle import LoginThrottle
from domain.errors import RateLimited


def test_allows_attempts_until_the_limit_then_refuses() -> None:
    # given a throttle of three failures per window
    throttle = LoginThrottle(attempts=3, window_seconds=900)

    # when a key fails three times, each attempt before that is allowed
    for _ in range(3):
        throttle.check("alice@example.com")
        throttle.record_failure("alice@example.com")

    # then the fourth is refused, with a retry hint in the message
    with pytest.raises(RateLimited) as refused:
        throttle.check("alice@example.com")
    assert refused.value.message.startswith("Too many failed sign-in attempts. Try again in ")


def test_keys_are_counted_separately() -> None:
    throttle = LoginThrottle(attempts=1, window_seconds=900)
    throttle.record_failure("alice@example.com")

    with pytest.raises(RateLimited):
        throttle.check("alice@example.com")
    throttle.check("bob@example.com")  # unaffected


def test_reset_clears_the_failures_of_a_key() -> None:
    # given a key at its limit
    throttle = LoginThrottle(attempts=2, window_seconds=900)
    throttle.record_failure("alice@example.com")
    throttle.record_failure("alice@example.com")

    # when it is reset (a successful sign-in)
    throttle.reset("alice@example.com")

    # then it starts again from zero
    throttle.check("alice@example.com")
    throttle.record_failure("alice@example.com")
    throttle.check("alice@example.com")


async def test_failures_older_than_the_window_no_longer_count() -> None:
    # given a key at its limit in a very short window
    throttle = LoginThrottle(attempts=1, window_seconds=0.05)
    throttle.record_failure("alice@example.com")
    with pytest.raises(RateLimited):
        throttle.check("alice@example.com")

    # when the window has passed
    await asyncio.sleep(0.1)

    # then the key may try again
    throttle.check("alice@example.com")
