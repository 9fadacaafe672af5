"""A big SMTP send spread over several processes (`digest send --processes N`).

Why: building each message (signing its links, filling the template) is Python work, and
one process can use only one core. With N processes the parent, which holds the send lock,
forks N-1 children; process k sends to the subscribers whose id % N == k with its share of
the connections and commits its own ledger rows, one transaction at a time (a lock shared
by the processes). The rate limit lives in shared memory, so a throttling reply slows every
process. When all shares are done, the parent runs the usual pass for anything left, and
the retries. Each process holds its own copy of the variants (about 70 MB each for a
seven-category list), which is why this is not the default.

Exactly once still holds: each process may have at most its connections' worth of
accepted, uncommitted messages, and the shares add up to --concurrency. A child whose
parent is gone (kill -9) stops before its next message.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import replace

from digest.deliver.engine import Progress, SendOptions, SendReport, SendRun
from digest.deliver.lock import HEARTBEAT_EVERY, SendLock
from digest.deliver.throttle import Clock, RateLimiter
from digest.deliver.transports import Transport
from digest.errors import DigestError

MAX_PROCESSES = 16


def process_count(options: SendOptions, transport: Transport) -> int:
    """How many sending processes this send uses (1: just this one)."""
    if not transport.parallel or options.limit is not None or not hasattr(os, "fork"):
        return 1
    return max(1, min(options.processes or 1, options.concurrency, MAX_PROCESSES))


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def _child(config, transport, composer, options, clock, limiter, write_lock, shard, parent_pid, channel) -> None:
    """One child process: its share of the main pass, outcome back through `channel`."""
    from digest.store import Store

    try:
        store = Store(config.db_path)  # never the parent's connection: SQLite must not cross a fork
        run = SendRun(store, config, composer.edition, transport, composer, options, clock,
                      limiter=limiter, shard=shard, retries=False, parent_pid=parent_pid, write_lock=write_lock)
        channel.send(("report", run.run()))
    except DigestError as error:
        channel.send(("error", str(error)))
    except KeyboardInterrupt:
        pass


class _Continued:
    """The parent's own pass, shown as the continuation of the children's progress."""

    def __init__(self, progress: Progress, before: SendReport):
        self.progress, self.before = progress, before

    def start(self, edition, total):
        pass

    def advance(self, report):
        self.progress.advance(_merged(self.before, report))

    def finish(self, report):
        self.progress.finish(_merged(self.before, report))


def _merged(children: SendReport, parent: SendReport) -> SendReport:
    merged = replace(parent)
    for name in ("sent", "skipped", "failed", "bounced", "retried"):
        setattr(merged, name, getattr(children, name) + getattr(parent, name))
    return merged


def send_in_processes(store, config, composer, transport: Transport, options: SendOptions, processes: int,
                      clock: Clock, lock: SendLock | None, progress: Progress) -> SendReport:
    """Shares 1..N-1 in children, share 0 here, then the parent's pass; one merged report."""
    context = multiprocessing.get_context("fork")
    key = composer.edition.key
    limiter = RateLimiter(options.rate, clock, pause=options.throttle_pause, shared=True)
    write_lock = context.Lock()  # one ledger transaction at a time, waited for without sleeping
    started = time.monotonic()
    before = store.deliveries.counts(key).get(key, {})
    shares = _shares(options.concurrency, processes)
    children = []
    for index in range(1, processes):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_child, name=f"digest-send-{index}", daemon=True,
            args=(config, transport, composer, replace(options, concurrency=shares[index]), clock, limiter,
                  write_lock, (index, processes), os.getpid(), send),
        )
        child.start()
        send.close()
        children.append((child, receive))
    try:
        own = SendRun(store, config, composer.edition, transport, composer,
                      replace(options, concurrency=shares[0]), clock, lock, _FromLedger(progress, store, key, before),
                      limiter=limiter, shard=(0, processes), retries=False, write_lock=write_lock).run()
    except BaseException:
        _stop(children)
        raise
    results = _watch(store, key, children, before, clock, lock, progress)
    errors = [value for kind, value in results if kind == "error"]
    if errors:
        raise DigestError(errors[0])
    done = own
    for _, report in results:
        done = _merged(done, report)
    final = SendRun(store, config, composer.edition, transport, composer, options, clock, lock,
                    _Continued(progress, done), limiter=limiter).run()
    merged = _merged(done, final)
    merged.elapsed = time.monotonic() - started
    return merged


class _FromLedger:
    """Progress of all the processes, read from the ledger at most twice a second."""

    def __init__(self, progress: Progress, store, key: str, before: dict):
        self.progress, self.store, self.key, self.before = progress, store, key, before
        self._last = 0.0

    def start(self, edition, total):
        self.progress.start(edition, total)

    def advance(self, report):
        if time.monotonic() - self._last >= 0.5:
            self._last = time.monotonic()
            self.progress.advance(_so_far(self.store, self.key, self.before))

    def finish(self, report):
        pass  # the parent's own pass finishes the display


def _watch(store, key, children, before, clock, lock, progress) -> list:
    """Wait for the children, beating the lock and showing progress; their results."""
    results, last_beat = [], time.monotonic()
    pending = list(children)
    try:
        while pending:
            for child, receive in list(pending):
                if receive.poll(0.2):
                    try:
                        results.append(receive.recv())
                    except EOFError:  # died without a word (killed): the parent's pass covers it
                        pass
                    child.join()
                    pending.remove((child, receive))
                elif not child.is_alive():
                    child.join()
                    pending.remove((child, receive))
            if lock is not None and time.monotonic() - last_beat >= HEARTBEAT_EVERY:
                last_beat = time.monotonic()
                lock.beat(clock.now())
            progress.advance(_so_far(store, key, before))
    except BaseException:
        _stop(pending)
        raise
    return results


def _stop(children) -> None:
    """Stop children early (we are failing): as Ctrl-C would, so that they commit what is
    in flight; never leave one sending."""
    for child, _ in children:
        if child.is_alive():
            os.kill(child.pid, signal.SIGINT)
    for child, _ in children:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
            child.join()


def _so_far(store, key, before) -> SendReport:
    now = store.deliveries.counts(key).get(key, {})
    report = SendReport(key)
    for name in ("sent", "skipped", "failed"):
        setattr(report, name, now.get(name, 0) - before.get(name, 0))
    return report
