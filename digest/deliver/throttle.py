"""How fast and how often: the rate limit (with slow-down on throttling replies) and the
retry schedule.

`RateLimiter` is one budget for all connections. When a server answers 421/451/452/454,
`throttle()` pauses every connection for a moment and halves the rate; after a quiet spell
the rate climbs back (by half again each spell) to the configured limit, or to unlimited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


class Clock:
    """Real time, with an offset (a run "later" in tests)."""

    def __init__(self, offset_seconds: float = 0.0):
        self.offset = offset_seconds

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    first_delay: float = 10.0  # seconds before the first retry; doubles each time
    max_delay: float = 900.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return min(self.max_delay, self.first_delay * 2 ** max(0, attempts - 1))

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


class RateLimiter:
    """Messages per second across all connections (None: as fast as the server takes them).
    Used by the send loop's one thread: no locking."""

    def __init__(self, rate: float | None, clock: Clock | None = None, pause: float = 1.0,
                 max_pause: float = 30.0, recover_after: float = 5.0):
        self.target = rate if rate and rate > 0 else None
        self.rate = self.target  # now: lower than the target while a server asks us to slow down
        self.clock = clock or Clock()
        self.first_pause = pause
        self.max_pause = max_pause
        self.recover_after = recover_after
        self.throttles = 0  # replies asking us to slow down
        self._pause = pause  # the next pause; doubles while throttling replies keep coming
        self._paused_until = 0.0
        self._next_slot = 0.0
        self._last_change = 0.0
        self._last_start: float | None = None
        self._gap = 0.0  # smoothed seconds between messages: the pace to go back to
        self._peak = 0.0

    def try_acquire(self) -> float:
        """0.0 when a message may start now (its slot is taken), else the seconds to wait
        before asking again (nothing taken): the send loop never sleeps while it has I/O."""
        now = self.clock.monotonic()
        self._recover(now)
        slot = max(now, self._paused_until, self._next_slot if self.rate else now)
        if slot > now:
            return slot - now
        if self._last_start is not None:
            gap = now - self._last_start
            self._gap = gap if not self._gap else 0.9 * self._gap + 0.1 * gap
        self._last_start = now
        if self.rate:
            self._next_slot = now + 1.0 / self.rate
        return 0.0

    def throttle(self) -> None:
        """A server asked us to slow down: pause everyone, halve the rate."""
        now = self.clock.monotonic()
        self.throttles += 1
        if now < self._paused_until:
            return  # the other connections' replies to the same moment: one slow-down is enough
        if not self.rate:
            self._peak = max(1.0 / self._gap if self._gap > 0 else 0.0, 2.0)
        self.rate = max(0.5, (self.rate or self._peak) / 2)
        self._paused_until = self._last_change = now + self._pause
        self._pause = min(self.max_pause, self._pause * 2)

    def _recover(self, now: float) -> None:
        if self.rate == self.target or now - self._last_change < self.recover_after:
            return
        self._last_change = now
        self._pause = self.first_pause
        raised = self.rate * 1.5
        if self.target is not None and raised >= self.target:
            self.rate = self.target
        elif self.target is None and raised >= self._peak:
            self.rate = None  # back to the pace we had before the server complained
        else:
            self.rate = raised
