"""The send loop: subscribers in, messages out, every outcome written to the ledger at once.

Shape: one thread does everything. It streams subscribers, re-checks each one's status,
composes a message just in time for whichever connection ("lane", see lanes.py) is idle, and
drives all `concurrency` connections with non-blocking sockets and select(): pipelined
RSET/MAIL/RCPT/DATA, the body, the final reply. While the kernel moves one connection's
bytes, the thread composes the next message for another.

Why one thread: the work per message is Python (composing, committing) and the I/O is tiny
on a fast server, so threads would only take turns holding the GIL; every blocking call in a
worker gives it up and must win it back from a busy main thread. Measured, those hand-offs
cost more than the work itself: 0.47 of Postfix's smtp-source's rate with threads, 0.67-0.82
with this loop (100,000 messages to smtp-sink, 4 connections, a quiet 2-core machine).

Exactly once, even after kill -9: a message counts as sent only when its 'sent' row is
committed, and the outcomes of a select() round are committed before the next select() —
before any message begun since can have been accepted. So at most one accepted, uncommitted
message per connection: a crash can repeat at most `concurrency` messages.

Retries never hold up the run: a temporary failure writes a 'queued' row with a
next_attempt_at and the loop moves on; after the pass over all subscribers, retries whose
time comes within `max_wait` are sent, the rest are left for the next run (exit 75).
"""

from __future__ import annotations

import logging
import selectors
import time
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Iterable, Iterator, Protocol

from digest.config import Config
from digest.deliver.compose import Composed, Composer
from digest.deliver.failures import (
    ConnectFailure, DeliveryFailure, PermanentFailure, TemporaryFailure,
)
from digest.deliver.headers import ascii_address
from digest.deliver.lanes import Outcome
from digest.deliver.lock import HEARTBEAT_EVERY, SendLock
from digest.deliver.throttle import Clock, RateLimiter, RetryPolicy
from digest.deliver.transports import Transport
from digest.models import Edition, Subscriber

log = logging.getLogger("digest.deliver")

EX_TEMPFAIL = 75


@dataclass
class SendOptions:
    concurrency: int = 4
    rate: float | None = None  # messages per second across all connections; None: unlimited
    limit: int | None = None  # send at most this many messages in this run
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_wait: float = 60.0  # seconds a run waits at the end for retries to come due
    throttle_pause: float = 1.0  # first pause of all connections after a 421/451/452/454
    unreachable_after: int = 3  # connection failures in a row that end the run
    batch: int = 500

    @classmethod
    def from_config(cls, config: Config, **overrides) -> "SendOptions":
        values = {"concurrency": config.concurrency, "rate": config.rate,
                  "retry": RetryPolicy(max_attempts=config.max_attempts)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class SendReport:
    edition: str
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    bounced: int = 0
    retried: int = 0  # temporary failures met (each rescheduled, or given up on)
    throttled: int = 0  # replies asking us to slow down (421/451/452/454)
    waiting: int = 0  # retries left for a later run
    unsent: int = 0  # subscribers not reached (the run stopped early)
    complete: bool = False  # the edition is fully sent
    stopped: str | None = None  # why the run ended before the end
    elapsed: float = 0.0  # wall seconds of the send loop
    bytes: int = 0  # message data handed over for the messages sent
    variants: int = 0  # category sets rendered in this run
    render_seconds: float = 0.0  # wall seconds spent rendering them

    @property
    def done(self) -> int:
        return self.sent + self.skipped + self.failed

    @property
    def exit_code(self) -> int:
        """0 all done; 75 temporary failures (or an unreachable server) left work for the next run."""
        if self.waiting or (self.unsent and self.stopped != "limit"):
            return EX_TEMPFAIL
        return 0

    def stats(self) -> dict:
        """The run's figures as `send --stats-json` writes them (every field, even when 0)."""
        return {"edition": self.edition, "sent": self.sent, "failed": self.failed, "skipped": self.skipped,
                "deferred": self.waiting, "variants": self.variants,
                "render_seconds": round(self.render_seconds, 3), "bytes": self.bytes,
                "seconds": round(self.elapsed, 3)}

    def line(self) -> str:
        text = (f"Edition {self.edition}: sent {self.sent}, skipped {self.skipped}, failed {self.failed}"
                f" (bounced {self.bounced}), retried later {self.waiting}")
        if self.unsent:
            text += f", not reached {self.unsent}"
        if self.stopped:
            text += f" (stopped: {self.stopped})"
        elif self.complete:
            text += " (edition fully sent)"
        return text


class Progress(Protocol):
    def start(self, edition: str, total: int) -> None: ...
    def advance(self, report: SendReport) -> None: ...
    def finish(self, report: SendReport) -> None: ...


class NoProgress:
    def start(self, edition, total): pass
    def advance(self, report): pass
    def finish(self, report): pass


@dataclass(slots=True)
class _Job:
    subscriber_id: int
    attempts: int  # attempts before this one
    message: Composed


class SendRun:
    """One pass of an edition through the ledger; `run()` returns the SendReport."""

    def __init__(self, store, config: Config, edition: Edition, transport: Transport, composer: Composer,
                 options: SendOptions, clock: Clock | None = None, lock: SendLock | None = None,
                 progress: Progress | None = None):
        self.store = store
        self.config = config
        self.edition = edition
        self.transport = transport
        self.composer = composer
        self.options = options
        self.clock = clock or Clock()
        self.lock = lock
        self.progress = progress or NoProgress()
        self.report = SendReport(edition.key)
        self.sender = ascii_address(config.from_address)
        self.limiter = RateLimiter(options.rate, self.clock, pause=options.throttle_pause)
        self._lanes = [transport.lane() for _ in range(options.concurrency if transport.parallel else 1)]
        self._carrying: dict = {}  # lane -> the _Job it is sending
        self._next: _Job | None = None  # composed, waiting for the rate limit
        self._outcomes: list[tuple[_Job, BaseException | None, str]] = []  # finished, not yet committed
        self._selector = selectors.DefaultSelector()
        self._watched: dict = {}  # lane -> (socket, events) registered with the selector
        self._submitted = 0
        self._connect_failures = 0
        self._skips: list[tuple[int, str]] = []
        self._fatal: BaseException | None = None
        self._last_beat = time.monotonic()

    # -- the run ----------------------------------------------------------------------

    def run(self) -> SendReport:
        started = time.monotonic()
        total = self.store.deliveries.unsent_active(self.edition.key)
        self.progress.start(self.edition.key, total)
        try:
            passed = self._main_pass()
            if not self.report.stopped:
                self._retry_pass()
        except BaseException:
            self._commit_quietly()  # e.g. Ctrl-C: what the server accepted is not sent again
            raise
        finally:
            self._close()
        if self._fatal is not None:
            raise self._fatal
        counts = self.store.deliveries.counts(self.edition.key).get(self.edition.key, {})
        self.report.waiting = counts.get("queued", 0)
        self.report.unsent = self.store.deliveries.unsent_active(self.edition.key)
        self.report.complete = passed and not self.report.stopped and not self.report.waiting \
            and not self.report.unsent
        self.report.elapsed = time.monotonic() - started
        self.report.throttled = self.limiter.throttles
        self.progress.finish(self.report)
        return self.report

    def _main_pass(self) -> bool:
        """Every active subscriber without a ledger row; False if the run stopped early."""
        self._drive(self._main_jobs())
        return self._fatal is None and not self.report.stopped

    def _main_jobs(self) -> Iterator[_Job]:
        key = self.edition.key
        for batch in chunks(self.store.subscribers.iter(status="active", batch=self.options.batch),
                             self.options.batch):
            states = self.store.deliveries.states(key, batch[0].id, batch[-1].id)
            for subscriber in batch:
                if subscriber.id in states:
                    continue
                if not self._may_continue():
                    return
                if (job := self._job(subscriber, attempts=0)) is not None:
                    yield job

    def _retry_pass(self) -> None:
        """Queued retries whose time has come; wait (bounded) for those due soon."""
        deadline = self.clock.monotonic() + self.options.max_wait
        while self._may_continue():
            self._drive(self._due_jobs())
            next_at = self.store.deliveries.next_retry_at(self.edition.key)
            if next_at is None:
                return
            wait = (next_at - self.clock.now()).total_seconds()
            if self.clock.monotonic() + wait > deadline:
                return
            self._pause(wait)

    def _due_jobs(self) -> Iterator[_Job]:
        after = 0
        while rows := self.store.deliveries.due(self.edition.key, self.clock.now(), after, self.options.batch):
            for row in rows:
                after = row.subscriber_id
                if not self._may_continue():
                    return
                subscriber = self.store.subscribers.get(row.subscriber_id)
                if subscriber is not None and (job := self._job(subscriber, attempts=row.attempts)) is not None:
                    yield job

    def _may_continue(self) -> bool:
        if self._fatal is not None or self.report.stopped:
            return False
        if self.options.limit is not None and self._submitted >= self.options.limit:
            self.report.stopped = "limit"
            return False
        if self._connect_failures >= self.options.unreachable_after:
            self.report.stopped = "the server cannot be reached"
            return False
        return True

    def _job(self, subscriber: Subscriber, attempts: int) -> _Job | None:
        """Re-check and compose one subscriber's message (or record why there is none)."""
        status = self.store.subscribers.status_of(subscriber.id)
        if status != "active":
            if status is not None:  # a deleted subscriber's rows are gone with them
                self._skip(subscriber.id, f"subscriber is {status}")
            return None
        try:
            message = self.composer.compose(subscriber)
        except ValueError as exc:  # an address no header can carry
            self._record_now(subscriber.id, "failed", attempts, f"cannot build message: {exc}")
            return None
        if message is None:
            self._skip(subscriber.id, "nothing new")
            return None
        self._submitted += 1
        return _Job(subscriber.id, attempts, message)

    # -- the event loop ---------------------------------------------------------------

    def _drive(self, jobs: Iterator[_Job]) -> None:
        """Send every job, `concurrency` at a time, from this one thread (see the module
        docstring); returns when the jobs have run out (or the run stopped) and every
        outcome is committed."""
        more = True
        while True:
            rate_wait = 0.0
            if more:
                more, rate_wait = self._fill(jobs)
            # Commit before the next select(): the messages just begun cannot have been
            # accepted yet, so at most one accepted message per lane is ever uncommitted.
            if self._outcomes:
                self._commit()
            self._tick()
            if not self._carrying:
                if not more:
                    break
                if rate_wait > 0:
                    self._pause(rate_wait)
                continue
            self._wait(rate_wait)
        self._flush_skips()

    def _fill(self, jobs: Iterator[_Job]) -> tuple[bool, float]:
        """Begin a message on every idle lane the rate limit allows. Returns (whether jobs
        may remain, seconds until the rate limit lets the next one start)."""
        for lane in self._lanes:
            if lane.busy:
                continue
            if self._next is None and (job := next(jobs, None)) is not None:
                self._next = job  # taken before asking the rate limit: no slot spent on no message
            if self._next is None:
                return False, 0.0
            wait = self.limiter.try_acquire()
            if wait > 0:
                return True, wait
            job, self._next = self._next, None
            self._carrying[lane] = job
            try:
                outcome = lane.start(self.sender, [job.message.recipient], job.message.data)
            except Exception as error:
                outcome = self._internal(lane, error)
            if outcome is not None:
                self._finished(lane, outcome)
        return True, 0.0

    def _wait(self, rate_wait: float) -> None:
        """One select() round over the busy lanes: move bytes, collect finished messages."""
        self._watch()
        busy = list(self._carrying)
        timeout = max(0.0, min(lane.deadline for lane in busy) - time.monotonic())
        if rate_wait > 0:  # an idle lane may start a message then
            timeout = min(timeout, rate_wait)
        for key, events in self._selector.select(timeout):
            lane = key.data
            try:
                outcome = lane.on_ready(events)
            except Exception as error:
                outcome = self._internal(lane, error)
            if outcome is not None:
                self._finished(lane, outcome)
        now = time.monotonic()
        for lane in busy:
            if lane.busy and lane.deadline <= now:
                self._finished(lane, lane.expire())

    def _watch(self) -> None:
        """Register each lane's socket for what it waits for (stale sockets out first: a new
        connection may reuse a closed one's file descriptor)."""
        watched, selector = self._watched, self._selector
        for lane, (sock, _) in list(watched.items()):
            if sock is not lane.sock or not lane.interest:
                selector.unregister(sock)
                del watched[lane]
        for lane in self._carrying:
            if lane.sock is None or not lane.interest:
                continue
            current = watched.get(lane)
            if current is None:
                selector.register(lane.sock, lane.interest, lane)
            elif current[1] != lane.interest:
                selector.modify(lane.sock, lane.interest, lane)
            watched[lane] = (lane.sock, lane.interest)

    def _finished(self, lane, outcome: Outcome) -> None:
        job = self._carrying.pop(lane)
        failure = outcome.failure
        if isinstance(failure, DeliveryFailure) and failure.throttled:
            self.limiter.throttle()
        self._outcomes.append((job, failure, outcome.reply))

    def _internal(self, lane, error: Exception) -> Outcome:
        """An unexpected error: log it, drop the lane's connection, keep the message for a retry."""
        log.exception("sending to subscriber %s failed", self._carrying[lane].subscriber_id)
        lane.abandon()
        return Outcome(TemporaryFailure(f"{type(error).__name__}: {error}", stage="internal"), str(error))

    def _close(self) -> None:
        for lane in self._lanes:
            try:
                lane.close()
            except Exception:  # closing a broken connection must not hide the real problem
                pass
        self._selector.close()

    # -- the ledger -------------------------------------------------------------------

    def _commit(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        now = self.clock.now()
        with self.store.transaction():
            self._write_skips(now)
            for job, failure, reply in outcomes:
                self._record_outcome(job, failure, reply, now)
        for _ in outcomes:
            self.progress.advance(self.report)

    def _commit_quietly(self) -> None:
        try:
            if self._outcomes:
                self._commit()
        except Exception:  # the error on its way out matters more than this one
            pass

    def _record_outcome(self, job: _Job, failure: BaseException | None, reply: str, now) -> None:
        key, sid, deliveries = self.edition.key, job.subscriber_id, self.store.deliveries
        mid = job.message.message_id
        if failure is None:
            self._connect_failures = 0
            deliveries.record(key, sid, "sent", now, attempts=job.attempts + 1, reply=reply, message_id=mid)
            self.report.sent += 1
            self.report.bytes += len(job.message.data)
        elif isinstance(failure, PermanentFailure):
            deliveries.record(key, sid, "failed", now, attempts=job.attempts + 1, reply=reply, message_id=mid)
            self.report.failed += 1
            if failure.bounced:
                _mark_bounced(self.store, sid, reply, now)
                self.report.bounced += 1
        elif isinstance(failure, ConnectFailure):
            # The message never reached a server: no attempt is charged.
            self._connect_failures += 1
            deliveries.record(key, sid, "queued", now, attempts=job.attempts, reply=reply, message_id=mid,
                              next_attempt_at=now + timedelta(seconds=self.options.retry.first_delay))
            self.report.retried += 1
        elif isinstance(failure, TemporaryFailure):
            attempts = job.attempts + 1
            self.report.retried += 1
            if self.options.retry.gives_up(attempts):
                deliveries.record(key, sid, "failed", now, attempts=attempts, message_id=mid,
                                  reply=f"gave up after {attempts} attempts: {reply}")
                self.report.failed += 1
            else:
                deliveries.record(key, sid, "queued", now, attempts=attempts, reply=reply, message_id=mid,
                                  next_attempt_at=now + timedelta(seconds=self.options.retry.delay(attempts)))
        else:  # the transport cannot work at all (bad login, no STARTTLS): stop the run
            self._fatal = self._fatal or failure

    def _skip(self, subscriber_id: int, reason: str) -> None:
        self._skips.append((subscriber_id, reason))
        self.report.skipped += 1
        self.progress.advance(self.report)
        if len(self._skips) >= self.options.batch:
            self._flush_skips()

    def _flush_skips(self) -> None:
        if self._skips:
            with self.store.transaction():
                self._write_skips(self.clock.now())

    def _write_skips(self, now) -> None:
        # Skips are idempotent, so they may wait for the next commit: no message depends on them.
        for subscriber_id, reason in self._skips:
            self.store.deliveries.record(self.edition.key, subscriber_id, "skipped", now, reply=reason)
        self._skips.clear()

    def _record_now(self, subscriber_id: int, status: str, attempts: int, reply: str) -> None:
        with self.store.transaction():
            self.store.deliveries.record(self.edition.key, subscriber_id, status, self.clock.now(),
                                         attempts=attempts, reply=reply)
        self.report.failed += status == "failed"

    def _tick(self) -> None:
        if self.lock is not None and time.monotonic() - self._last_beat >= HEARTBEAT_EVERY:
            self._last_beat = time.monotonic()
            self.lock.beat(self.clock.now())

    def _pause(self, seconds: float) -> None:
        """Wait (for retries to come due, or the rate limit), still beating the lock's heart."""
        end = self.clock.monotonic() + seconds
        while (left := end - self.clock.monotonic()) > 0:
            self.clock.sleep(min(left, HEARTBEAT_EVERY / 2))
            self._tick()


def _mark_bounced(store, subscriber_id: int, reply: str, now) -> None:
    from digest.subscribers import mark_bounced

    if store.subscribers.status_of(subscriber_id) is None:
        return  # deleted while their message was in flight: nothing left to mark
    mark_bounced(store, subscriber_id, reply, now, origin="delivery")


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
