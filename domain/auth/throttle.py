"""Failed sign-in attempts per account, in this process (a brake on password guessing)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

from domain.errors import RateLimited

_MAX_TRACKED_KEYS = 100_000


class LoginThrottle:
    def __init__(self, *, attempts: int, window_seconds: float):
        self.attempts = attempts
        self.window_seconds = window_seconds
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str) -> None:
        failures = self._recent(key)
        if len(failures) >= self.attempts:
            retry_in = int(failures[0] + self.window_seconds - time.monotonic()) + 1
            raise RateLimited(f"Too many failed sign-in attempts. Try again in {retry_in} s.")

    def record_failure(self, key: str) -> None:
        self._recent(key).append(time.monotonic())
        self._failures.move_to_end(key)
        while len(self._failures) > _MAX_TRACKED_KEYS:
            self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        horizon = time.monotonic() - self.window_seconds
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures
