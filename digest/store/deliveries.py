"""Deliveries: the send ledger, one row per (edition, subscriber).

status: queued (waiting for a retry at next_attempt_at), sent, failed (permanent, or out of
attempts), skipped (nothing for them in this edition, or no longer active). A subscriber
without a row has not been tried yet. `next_attempt_at` is written to the millisecond in one
fixed format so that string comparison orders it correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from digest.timeutil import from_iso, iso

STATUSES = ("queued", "sent", "failed", "skipped")
COLUMNS = "edition_key, subscriber_id, status, attempts, last_reply, message_id, next_attempt_at, updated_at"


@dataclass
class Delivery:
    edition_key: str
    subscriber_id: int
    status: str
    attempts: int
    last_reply: str | None
    message_id: str | None
    next_attempt_at: datetime | None
    updated_at: datetime | None


def precise(moment: datetime) -> str:
    """UTC to the millisecond, always the same width (sortable as text)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row(row) -> Delivery:
    key, sid, status, attempts, reply, mid, next_at, updated = row
    return Delivery(key, sid, status, attempts, reply, mid, from_iso(next_at), from_iso(updated))


class Deliveries:
    def __init__(self, store):
        self.store = store
        self._stamp: tuple[datetime | None, str | None] = (None, None)  # last `now` and its text

    def _text(self, now: datetime) -> str:
        # A send writes many rows with the same `now`: format it once.
        if self._stamp[0] is not now:
            self._stamp = (now, iso(now))
        return self._stamp[1]

    def get(self, edition_key: str, subscriber_id: int) -> Delivery | None:
        row = self.store.execute(
            f"SELECT {COLUMNS} FROM deliveries WHERE edition_key = ? AND subscriber_id = ?",
            (edition_key, subscriber_id),
        ).fetchone()
        return _row(row) if row else None

    def states(self, edition_key: str, first_id: int, last_id: int) -> dict[int, str]:
        """Status per subscriber id for ids first_id..last_id (one query per batch of subscribers)."""
        rows = self.store.execute(
            "SELECT subscriber_id, status FROM deliveries"
            " WHERE edition_key = ? AND subscriber_id BETWEEN ? AND ?",
            (edition_key, first_id, last_id),
        ).fetchall()
        return dict(rows)

    def record(self, edition_key: str, subscriber_id: int, status: str, now: datetime, *,
               attempts: int = 0, reply: str | None = None, message_id: str | None = None,
               next_attempt_at: datetime | None = None) -> None:
        """Write the row's new state (insert or replace); the caller owns the transaction.

        A subscriber deleted in the meantime gets no row (their rows went with them), rather
        than a foreign-key error that would undo the other outcomes of the transaction."""
        if status not in STATUSES:
            raise ValueError(f"unknown delivery status {status!r}")
        self.store.execute(
            """INSERT INTO deliveries (edition_key, subscriber_id, status, attempts, last_reply, message_id,
                                       next_attempt_at, updated_at)
               SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM subscribers WHERE id = ?)
               ON CONFLICT (edition_key, subscriber_id) DO UPDATE SET
                   status = excluded.status, attempts = excluded.attempts,
                   last_reply = excluded.last_reply,
                   message_id = COALESCE(excluded.message_id, deliveries.message_id),
                   next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at""",
            (edition_key, subscriber_id, status, attempts, reply, message_id,
             precise(next_attempt_at) if next_attempt_at else None, self._text(now), subscriber_id),
        )

    def due(self, edition_key: str, now: datetime, after_id: int = 0, batch: int = 500) -> list[Delivery]:
        """Queued rows whose retry time has come, in subscriber order, `batch` at a time."""
        rows = self.store.execute(
            f"""SELECT {COLUMNS} FROM deliveries
                WHERE edition_key = ? AND status = 'queued' AND subscriber_id > ?
                  AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                ORDER BY subscriber_id LIMIT ?""",
            (edition_key, after_id, precise(now), batch),
        ).fetchall()
        return [_row(r) for r in rows]

    def next_retry_at(self, edition_key: str) -> datetime | None:
        """When the earliest queued retry comes due (None when nothing is queued)."""
        row = self.store.execute(
            "SELECT count(*), min(COALESCE(next_attempt_at, '')) FROM deliveries"
            " WHERE edition_key = ? AND status = 'queued'",
            (edition_key,),
        ).fetchone()
        if not row[0]:
            return None
        return from_iso(row[1]) or datetime.min.replace(tzinfo=timezone.utc)

    def unsent_active(self, edition_key: str) -> int:
        """Active subscribers with no row yet for this edition (work left for a main pass)."""
        row = self.store.execute(
            """SELECT count(*) FROM subscribers s
               WHERE s.status = 'active' AND NOT EXISTS
                   (SELECT 1 FROM deliveries d WHERE d.edition_key = ? AND d.subscriber_id = s.id)""",
            (edition_key,),
        ).fetchone()
        return row[0]

    def counts(self, edition_key: str | None = None) -> dict[str, dict[str, int]]:
        """{edition key: {status: count}} with every status present (0 when none)."""
        clause, params = ("WHERE edition_key = ?", (edition_key,)) if edition_key else ("", ())
        rows = self.store.execute(
            f"SELECT edition_key, status, count(*) FROM deliveries {clause} GROUP BY edition_key, status",
            params,
        ).fetchall()
        result: dict[str, dict[str, int]] = {}
        for key, status, count in rows:
            result.setdefault(key, dict.fromkeys(STATUSES, 0))[status] = count
        return result
