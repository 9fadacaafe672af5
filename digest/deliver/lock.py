"""One send per database: the "send" row in `locks`, held by host:pid, kept fresh by heartbeats.

A holder is stale when it ran on this host and its process is gone (kill -9, a crash), or
when its heartbeat is older than STALE_AFTER (another host, or a hung process): then we take
the lock over with a warning instead of waiting forever.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable

from digest.errors import AlreadyRunning, DigestError
from digest.store.locks import LockRow
from digest.timeutil import iso

LOCK_NAME = "send"
STALE_AFTER = timedelta(minutes=5)
HEARTBEAT_EVERY = 30.0  # seconds


class LockLost(DigestError):
    """Another process took our send lock over (our heartbeat went silent too long)."""


def owner_name(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def is_stale(holder: LockRow, now: datetime) -> bool:
    host, _, pid = holder.owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid)):
        return True
    return now - holder.heartbeat_at > STALE_AFTER


class SendLock:
    """The held lock; call `beat(now)` from the send loop at least every HEARTBEAT_EVERY seconds."""

    def __init__(self, store, owner: str):
        self.store = store
        self.owner = owner

    def beat(self, now: datetime) -> None:
        if not self.store.locks.heartbeat(LOCK_NAME, self.owner, now):
            raise LockLost("another process took over the send lock; stopping so nothing is sent twice")


@contextmanager
def send_lock(store, now: datetime, warn: Callable[[str], None] = lambda message: None):
    """Hold the database's send lock for the block; AlreadyRunning (exit 73) when it is taken."""
    owner = owner_name()
    taken, holder = store.locks.acquire(LOCK_NAME, owner, now, lambda row: is_stale(row, now))
    if not taken:
        raise AlreadyRunning(
            f"another send is already running on this database ({holder.owner}, started "
            f"{iso(holder.acquired_at)}, last heartbeat {iso(holder.heartbeat_at)}); try again when it has finished"
        )
    if holder is not None:
        warn(f"Warning: took over a stale send lock from {holder.owner} "
             f"(last heartbeat {iso(holder.heartbeat_at)}); it is no longer running")
    try:
        yield SendLock(store, owner)
    finally:
        store.locks.release(LOCK_NAME, owner)
