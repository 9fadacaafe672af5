"""The send loop: subscribers in, messages out, every outcome written to the ledger at once.

Shape: this (main) thread streams subscribers, re-checks each one's status, composes the
message and hands it to a small queue; `concurrency` worker threads each own a transport
connection and send; their outcomes come back here and are committed (one short transaction
for whatever has arrived). All database work stays on this thread: one writer.

Exactly once, even after kill -9: a message counts as sent only when its 'sent' row is
committed, and a worker may not start a message while `concurrency` accepted messages are
still uncommitted (`_uncommitted`). So a crash can repeat at most `concurrency` messages.

Retries never hold up the run: a temporary failure writes a 'queued' row with a
next_attempt_at and the loop moves on; after the pass over all subscribers, retries whose
time comes within `max_wait` are sent, the rest are left for the next run (exit 75).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
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
from digest.deliver.lock import HEARTBEAT_EVERY, SendLock
from digest.deliver.throttle import Clock, RateLimiter, RetryPolicy, held
from digest.deliver.transports import Transport
from digest.errors import DigestError
from digest.models import Edition, Subscriber

log = logging.getLogger("digest.deliver")

EX_TEMPFAIL = 75


@dataclass
class SendOptions:
    concurrency: int = 4
    rate: float | None = None  # messages per second across all workers; None: unlimited
    limit: int | None = None  # send at most this many messages in this run
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_wait: float = 60.0  # seconds a run waits at the end for retries to come due
    throttle_pause: float = 1.0  # first pause of all workers after a 421/451/452/454
    unreachable_after: int = 3  # connection failures in a row that end the run
    batch: int = 500
    processes: int = 1  # sending processes for an SMTP send (see shards.py)

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


_STOP = None  # sentinel on the job queue
_NOT_SENT = object()  # outcome of a message a worker gave up before sending (no ledger change)


class SendRun:
    """One pass of an edition through the ledger; `run()` returns the SendReport."""

    def __init__(self, store, config: Config, edition: Edition, transport: Transport, composer: Composer,
                 options: SendOptions, clock: Clock | None = None, lock: SendLock | None = None,
                 progress: Progress | None = None, *, limiter: RateLimiter | None = None,
                 shard: tuple[int, int] | None = None, retries: bool = True, parent_pid: int | None = None,
                 write_lock=None):
        """shard=(k, n): only subscribers whose id % n == k (one of n sending processes, see
        shards.py), which also gives retries=False (the parent retries), parent_pid (stop
        at once if the parent is gone, e.g. killed: it no longer holds the lock for us) and
        write_lock, taken around each ledger transaction so that the processes queue for
        SQLite's write lock instead of sleeping in its busy handler."""
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
        workers = options.concurrency if transport.parallel else 1
        self._stop = threading.Event()
        self.limiter = (limiter or RateLimiter(options.rate, self.clock, pause=options.throttle_pause)) \
            .stop_waiting(self._stop)
        self.shard = shard
        self.retries = retries
        self.parent_pid = parent_pid
        self._write_lock = write_lock
        self._jobs: queue.Queue = queue.Queue(maxsize=4 * workers)
        self._results: queue.Queue = queue.Queue()
        self._uncommitted = threading.Semaphore(workers)
        self._batch_outcomes = workers
        self._threads = [threading.Thread(target=self._work, name=f"digest-send-{n}", daemon=True)
                         for n in range(workers)]
        self._in_flight = 0
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
        for thread in self._threads:
            thread.start()
        try:
            passed = self._main_pass()
            if not self.report.stopped and self.retries:
                self._retry_pass()
        finally:
            self._shut_down()
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
        key = self.edition.key
        for batch in chunks(self.store.subscribers.iter(status="active", batch=self.options.batch),
                             self.options.batch):
            states = self.store.deliveries.states(key, batch[0].id, batch[-1].id)
            for subscriber in batch:
                if subscriber.id in states or (self.shard and subscriber.id % self.shard[1] != self.shard[0]):
                    continue
                if not self._may_continue():
                    return False
                self._offer(subscriber, attempts=0)
        self._wait_idle()
        return not self.report.stopped

    def _retry_pass(self) -> None:
        """Queued retries whose time has come; wait (bounded) for those due soon."""
        key = self.edition.key
        deadline = time.monotonic() + self.options.max_wait
        while self._may_continue():
            after = 0
            while rows := self.store.deliveries.due(key, self.clock.now(), after, self.options.batch):
                for row in rows:
                    after = row.subscriber_id
                    if not self._may_continue():
                        return
                    subscriber = self.store.subscribers.get(row.subscriber_id)
                    if subscriber is not None:
                        self._offer(subscriber, attempts=row.attempts)
            self._wait_idle()
            next_at = self.store.deliveries.next_retry_at(key)
            if next_at is None:
                return
            wait = (next_at - self.clock.now()).total_seconds()
            if time.monotonic() + wait > deadline:
                return
            self._pause(wait)

    def _writing(self):
        """The shared write lock around a ledger transaction, when there are sibling processes."""
        return held(self._write_lock) if self._write_lock is not None else contextlib.nullcontext()

    def _orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def _may_continue(self) -> bool:
        if self._fatal is not None or self.report.stopped:
            return False
        if self._orphaned():
            self.report.stopped = "the parent process is gone"
            return False
        if self.options.limit is not None and self._submitted >= self.options.limit:
            self.report.stopped = "limit"
            return False
        if self._connect_failures >= self.options.unreachable_after:
            self.report.stopped = "the server cannot be reached"
            return False
        return True

    def _offer(self, subscriber: Subscriber, attempts: int) -> None:
        """Re-check, compose and hand over one subscriber's message (or record why not)."""
        status = self.store.subscribers.status_of(subscriber.id)
        if status != "active":
            if status is not None:  # a deleted subscriber's rows are gone with them
                self._skip(subscriber.id, f"subscriber is {status}")
            return
        try:
            message = self.composer.compose(subscriber)
        except ValueError as exc:  # an address no header can carry
            self._record_now(subscriber.id, "failed", attempts, f"cannot build message: {exc}")
            return
        if message is None:
            self._skip(subscriber.id, "nothing new")
            return
        self._submit(_Job(subscriber.id, attempts, message))

    # -- main thread: handing over, collecting, committing ----------------------------

    def _submit(self, job: _Job) -> None:
        self._in_flight += 1
        self._submitted += 1
        while True:
            # Commit when every worker has an outcome waiting (they cannot start another
            # message before it is committed): fewer, larger transactions, same guarantee.
            if self._results.qsize() >= self._batch_outcomes:
                self._collect(block=False)
            try:
                self._jobs.put_nowait(job)
                return
            except queue.Full:
                self._collect(block=True)

    def _wait_idle(self) -> None:
        while self._in_flight:
            self._collect(block=True)
        self._flush_skips()

    def _collect(self, block: bool) -> None:
        """Commit every outcome that has arrived (waiting briefly for one if `block`)."""
        outcomes = []
        try:
            if block:
                outcomes.append(self._results.get(timeout=0.25))
            while True:
                outcomes.append(self._results.get_nowait())
        except queue.Empty:
            pass
        if outcomes:
            self._commit(outcomes)
        self._tick()

    def _commit(self, outcomes: list) -> None:
        now = self.clock.now()
        try:
            with self._writing(), self.store.transaction():
                self._write_skips(now)
                for job, failure, reply in outcomes:
                    if job is not None:
                        self._record_outcome(job, failure, reply, now)
        finally:
            for job, _, _ in outcomes:
                self._in_flight -= 1
                if job is not None:
                    self._uncommitted.release()
        for _ in outcomes:
            self.progress.advance(self.report)

    def _record_outcome(self, job: _Job, failure: BaseException | None, reply: str, now) -> None:
        key, sid, deliveries = self.edition.key, job.subscriber_id, self.store.deliveries
        mid = job.message.message_id
        if failure is _NOT_SENT:
            return
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
            with self._writing(), self.store.transaction():
                self._write_skips(self.clock.now())

    def _write_skips(self, now) -> None:
        # Skips are idempotent, so they may wait for the next commit: no message depends on them.
        for subscriber_id, reason in self._skips:
            self.store.deliveries.record(self.edition.key, subscriber_id, "skipped", now, reply=reason)
        self._skips.clear()

    def _record_now(self, subscriber_id: int, status: str, attempts: int, reply: str) -> None:
        with self._writing(), self.store.transaction():
            self.store.deliveries.record(self.edition.key, subscriber_id, status, self.clock.now(),
                                         attempts=attempts, reply=reply)
        self.report.failed += status == "failed"

    def _tick(self) -> None:
        if self.lock is not None and time.monotonic() - self._last_beat >= HEARTBEAT_EVERY:
            self._last_beat = time.monotonic()
            self.lock.beat(self.clock.now())

    def _pause(self, seconds: float) -> None:
        """Wait for retries to come due, still beating the lock's heart."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.clock.sleep(min(left, HEARTBEAT_EVERY / 2))
            self._tick()

    def _shut_down(self) -> None:
        """Stop the workers once the handed-over messages are done. When the transport cannot
        work (bad setup, unreachable server) messages not yet started are dropped instead:
        they stay unsent, with no row, for the next run."""
        if self._fatal is not None or self._connect_failures >= self.options.unreachable_after \
                or self._orphaned():
            self._stop.set()  # cut short the workers' rate-limit waits
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
                self._in_flight -= 1
        for _ in self._threads:
            self._jobs.put(_STOP)
        try:
            self._wait_idle()
        finally:
            for thread in self._threads:
                thread.join(timeout=self.config.smtp.timeout + 5)

    # -- worker threads ---------------------------------------------------------------

    def _work(self) -> None:
        connection = None
        try:
            while (job := self._jobs.get()) is not _STOP:
                self.limiter.acquire()
                self._uncommitted.acquire()
                if self._orphaned():  # our parent was killed: a restarted send owns the work now
                    self._results.put((job, _NOT_SENT, ""))
                    continue
                try:
                    if connection is None:
                        connection = self.transport.open()
                    reply = connection.send(self.sender, [job.message.recipient], job.message.data)
                    outcome = (job, None, reply)
                except DeliveryFailure as failure:
                    if failure.throttled:
                        self.limiter.throttle()
                    outcome = (job, failure, failure.reply)
                except DigestError as error:  # configuration: no use trying further messages
                    outcome = (job, error, str(error))
                except Exception as error:  # unexpected: log it, keep the message for a retry
                    log.exception("sending to subscriber %s failed", job.subscriber_id)
                    connection = _close_quietly(connection)
                    outcome = (job, TemporaryFailure(f"{type(error).__name__}: {error}", stage="internal"),
                               str(error))
                self._results.put(outcome)
        finally:
            _close_quietly(connection)


def _close_quietly(connection):
    if connection is not None:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide the real problem
            pass
    return None


def _mark_bounced(store, subscriber_id: int, reply: str, now) -> None:
    from digest.subscribers import mark_bounced

    if store.subscribers.status_of(subscriber_id) is None:
        return  # deleted while their message was in flight: nothing left to mark
    mark_bounced(store, subscriber_id, reply, now, origin="delivery")


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
