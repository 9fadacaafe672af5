"""How fast and how often: the shared rate limit (with slow-down on throttling replies) and
the retry schedule.

`RateLimiter` is one token bucket for all workers. When a server answers 421/451/452/454,
`throttle()` pauses every worker for a moment and halves the rate; after a quiet spell the
rate climbs back (by half again each spell) to the configured limit, or to unlimited.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
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


@contextmanager
def held(lock, timeout: float = 5.0):
    """Hold `lock` for the block, but never wait more than `timeout`: a lock shared between
    processes stays taken forever if its holder is killed. Our shared locks only save work
    (SQLite keeps the ledger right by itself), so carrying on without one is safe."""
    acquired = lock.acquire(timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


# Slots of the limiter's state (floats, so that it can live in memory shared by processes).
_RATE, _NEXT_SLOT, _PAUSED_UNTIL, _PAUSE, _LAST_CHANGE, _LAST_ACQUIRE, _GAP, _PEAK, _THROTTLES = range(9)


class RateLimiter:
    """Messages per second across all workers (None: as fast as the server takes them).

    With shared=True the state sits in shared memory, so worker processes forked after it
    was made keep to one budget and all pause when any of them is told to slow down."""

    def __init__(self, rate: float | None, clock: Clock | None = None, pause: float = 1.0,
                 max_pause: float = 30.0, recover_after: float = 5.0, stop: threading.Event | None = None,
                 shared: bool = False):
        self.target = rate if rate and rate > 0 else None
        self.clock = clock or Clock()
        self.first_pause = pause
        self.max_pause = max_pause
        self.recover_after = recover_after
        self.stop = stop
        if shared:
            import multiprocessing

            context = multiprocessing.get_context("fork")
            self._lock, self._v = context.Lock(), context.RawArray("d", 9)
        else:
            self._lock, self._v = threading.Lock(), [0.0] * 9
        self._v[_RATE] = self.target or 0.0  # 0: unlimited
        self._v[_PAUSE] = pause
        self._v[_LAST_ACQUIRE] = -1.0

    @property
    def rate(self) -> float | None:
        return self._v[_RATE] or None

    @property
    def throttles(self) -> int:
        return int(self._v[_THROTTLES])

    def stop_waiting(self, stop: threading.Event) -> "RateLimiter":
        """The same budget, with sleeps cut short by `stop` (one per process)."""
        self.stop = stop
        return self

    def acquire(self) -> None:
        """Block until this worker may send its next message."""
        while (wait := self.try_acquire()) > 0:
            self.clock.sleep(wait, self.stop)
            if self.stop is not None and self.stop.is_set():
                return

    def try_acquire(self) -> float:
        """0.0 when a message may start now (its slot is taken), else the seconds to wait
        before asking again (nothing taken): the send loop never sleeps while it has I/O."""
        v = self._v
        with held(self._lock):
            now = self.clock.monotonic()
            self._recover(now)
            slot = max(now, v[_PAUSED_UNTIL], v[_NEXT_SLOT] if v[_RATE] else now)
            if slot > now:
                return slot - now
            self._count(now)
            if v[_RATE]:
                v[_NEXT_SLOT] = max(v[_NEXT_SLOT], now) + 1.0 / v[_RATE]
            return 0.0

    def throttle(self) -> None:
        """A server asked us to slow down: pause everyone, halve the rate."""
        v = self._v
        with held(self._lock):
            now = self.clock.monotonic()
            v[_THROTTLES] += 1
            if now < v[_PAUSED_UNTIL]:
                return  # the other workers' replies to the same moment: one slow-down is enough
            if not v[_RATE]:
                v[_PEAK] = max(self._measured(), 2.0)
            v[_RATE] = max(0.5, (v[_RATE] or v[_PEAK]) / 2)
            v[_PAUSED_UNTIL] = now + v[_PAUSE]
            v[_LAST_CHANGE] = now + v[_PAUSE]
            v[_PAUSE] = min(self.max_pause, v[_PAUSE] * 2)

    def _count(self, now: float) -> None:
        v = self._v
        if v[_LAST_ACQUIRE] >= 0:
            gap = now - v[_LAST_ACQUIRE]
            v[_GAP] = gap if not v[_GAP] else 0.9 * v[_GAP] + 0.1 * gap
        v[_LAST_ACQUIRE] = now

    def _measured(self) -> float:
        """Messages per second lately (0 before there is anything to go on)."""
        return 1.0 / self._v[_GAP] if self._v[_GAP] > 0 else 0.0

    def _recover(self, now: float) -> None:
        v = self._v
        if (v[_RATE] or None) == self.target or now - v[_LAST_CHANGE] < self.recover_after:
            return
        v[_LAST_CHANGE] = now
        v[_PAUSE] = self.first_pause
        raised = v[_RATE] * 1.5
        if self.target is not None and raised >= self.target:
            v[_RATE] = self.target
        elif self.target is None and raised >= v[_PEAK]:
            v[_RATE] = 0.0  # back to the pace we had before the server complained
        else:
            v[_RATE] = raised
