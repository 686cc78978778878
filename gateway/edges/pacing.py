"""SMTP first: while the listener is taking a burst of mail, the processor holds back.

On a small machine the listener, the processor, its parser and the delivery share the cores.
Every SMTP client in a burst waits for its 250 while the processor applies mail beside it, so
the processor gives way: each listener commit wakes it (a byte on its stdin, `children`), and
while the last commit is under `quiet` seconds old it waits before its next write transaction.
It waits `limit` seconds at most, so it never stops: under mail that never ends it still runs
one short transaction (about 50 ms) every `limit` seconds, and once the burst is taken it
catches up at full speed. A lone mail is applied `quiet` seconds later than it would be.
"""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET_SECONDS = 0.02
LIMIT_SECONDS = 0.2


class IntakePace:
    """When the listener last committed, and the processor's wait for a quiet moment."""

    def __init__(
        self,
        quiet: float = QUIET_SECONDS,
        limit: float = LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.quiet, self.limit = quiet, limit
        self._clock, self._sleep = clock, sleep
        self._last_commit = float("-inf")  # one float, set and read whole

    def committed(self) -> None:
        """The listener has just committed mail (called from the wake-up pipe's thread)."""
        self._last_commit = self._clock()

    def give_way(self) -> float:
        """Wait until no commit came for `quiet` seconds, or `limit` seconds passed; returns
        the seconds waited."""
        started = self._clock()
        deadline = started + self.limit
        while True:
            now = self._clock()
            quiet_at = self._last_commit + self.quiet
            if now >= quiet_at or now >= deadline:
                return now - started
            self._sleep(min(quiet_at, deadline) - now)
