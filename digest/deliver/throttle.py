"""How fast and how often: the shared rate limit (with slow-down on throttling replies) and
the retry schedule.

`RateLimiter` is one token bucket for all workers. When a server answers 421/451/452/454,
`throttle()` pauses every worker for a moment and halves the rate; after a quiet spell the
rate climbs back (by half again each spell) to the configured limit, or to unlimited.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


class Clock:
    """Real time, with an offset (a run "later" in tests), and sleeps that can be cut short."""

    def __init__(self, offset_seconds: float = 0.0):
        self.offset = offset_seconds

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> None:
        if seconds > 0:
            (stop or threading.Event()).wait(seconds)


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
    """Messages per second across all workers (None: as fast as the server takes them)."""

    def __init__(self, rate: float | None, clock: Clock | None = None, pause: float = 1.0,
                 max_pause: float = 30.0, recover_after: float = 5.0, stop: threading.Event | None = None):
        self.target = rate if rate and rate > 0 else None
        self.rate = self.target
        self.clock = clock or Clock()
        self.first_pause = pause
        self.max_pause = max_pause
        self.recover_after = recover_after
        self.stop = stop
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._pause = pause
        self._last_change = 0.0
        self._last_acquire: float | None = None
        self._gap = 0.0  # moving average of the time between messages (for throttling an unlimited run)
        self._peak = 0.0  # the unlimited pace before the first throttle
        self.throttles = 0

    def acquire(self) -> None:
        """Block until this worker may send its next message."""
        with self._lock:
            now = self.clock.monotonic()
            self._count(now)
            self._recover(now)
            slot = max(now, self._paused_until, self._next_slot if self.rate else now)
            if self.rate:
                self._next_slot = slot + 1.0 / self.rate
        self.clock.sleep(slot - now, self.stop)

    def throttle(self) -> None:
        """A server asked us to slow down: pause everyone, halve the rate."""
        with self._lock:
            now = self.clock.monotonic()
            self.throttles += 1
            if now < self._paused_until:
                return  # the other workers' replies to the same moment: one slow-down is enough
            if self.rate is None:
                self._peak = max(self._measured(), 2.0)
            self.rate = max(0.5, (self.rate or self._peak) / 2)
            self._paused_until = now + self._pause
            self._pause = min(self.max_pause, self._pause * 2)
            self._last_change = now + self._pause

    def _count(self, now: float) -> None:
        if self._last_acquire is not None:
            gap = now - self._last_acquire
            self._gap = gap if not self._gap else 0.9 * self._gap + 0.1 * gap
        self._last_acquire = now

    def _measured(self) -> float:
        """Messages per second lately (0 before there is anything to go on)."""
        return 1.0 / self._gap if self._gap > 0 else 0.0

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
