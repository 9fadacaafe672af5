"""Locks: named rows that say who holds a database-wide job (e.g. "send") and that they are alive.

Taking a lock reads and writes in one BEGIN IMMEDIATE transaction, so two processes can never
both believe they hold it. Whether a holder is stale (dead process, silent heartbeat) is the
caller's judgement, passed in as `is_stale`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from digest.timeutil import from_iso, iso


@dataclass(frozen=True)
class LockRow:
    name: str
    owner: str  # host:pid
    acquired_at: datetime
    heartbeat_at: datetime


class Locks:
    def __init__(self, store):
        self.store = store

    def get(self, name: str) -> LockRow | None:
        row = self.store.execute(
            "SELECT name, owner, acquired_at, heartbeat_at FROM locks WHERE name = ?", (name,)
        ).fetchone()
        return LockRow(row[0], row[1], from_iso(row[2]), from_iso(row[3])) if row else None

    def acquire(self, name: str, owner: str, now: datetime,
                is_stale: Callable[[LockRow], bool]) -> tuple[bool, LockRow | None]:
        """Take the lock. Returns (taken, holder): holder is whoever held it before (a stale
        holder we took over, or the live holder when taken is False)."""
        with self.store.transaction():
            holder = self.get(name)
            if holder is not None and holder.owner != owner and not is_stale(holder):
                return False, holder
            self.store.execute(
                """INSERT INTO locks (name, owner, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,
                       acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at""",
                (name, owner, iso(now), iso(now)),
            )
            return True, holder if holder is not None and holder.owner != owner else None

    def heartbeat(self, name: str, owner: str, now: datetime) -> bool:
        """Say we are alive; False when the lock is no longer ours (someone took it over)."""
        with self.store.transaction():
            cursor = self.store.execute(
                "UPDATE locks SET heartbeat_at = ? WHERE name = ? AND owner = ?", (iso(now), name, owner)
            )
            return cursor.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        with self.store.transaction():
            self.store.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
