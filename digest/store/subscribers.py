"""Subscribers: who gets the digest, which categories, and the version that signs their links."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator

from digest.models import Subscriber
from digest.timeutil import from_iso, iso

COLUMNS = "id, email, name, categories, status, token_version, created_at, updated_at"
STATUSES = ("active", "unsubscribed", "bounced", "pending")


def join_categories(categories: Iterable[str]) -> str:
    """The stored form: ';'-joined canonical names, '' meaning all."""
    return ";".join(categories)


def split_categories(text: str | None) -> tuple[str, ...]:
    return tuple(c for c in (text or "").split(";") if c)


def row_to_subscriber(row) -> Subscriber:
    id_, email, name, categories, status, version, created, updated = row
    return Subscriber(
        id=id_, email=email, name=name,
        categories=split_categories(categories),
        status=status, token_version=version,
        created_at=from_iso(created), updated_at=from_iso(updated),
    )


def _check_status(status: str) -> None:
    # The service validates what users type; this guards the table against programming slips.
    if status not in STATUSES:
        raise ValueError(f"unknown subscriber status {status!r}")


class Subscribers:
    def __init__(self, store):
        self.store = store

    def get(self, subscriber_id: int) -> Subscriber | None:
        row = self.store.execute(f"SELECT {COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        return row_to_subscriber(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        """`email` must already be normalised (see digest.addresses)."""
        row = self.store.execute(f"SELECT {COLUMNS} FROM subscribers WHERE email = ?", (email,)).fetchone()
        return row_to_subscriber(row) if row else None

    def add(self, subscriber: Subscriber, now: datetime) -> Subscriber:
        _check_status(subscriber.status)
        cursor = self.store.execute(
            """INSERT INTO subscribers (email, name, categories, status, token_version, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (subscriber.email, subscriber.name, join_categories(subscriber.categories), subscriber.status,
             subscriber.token_version, iso(now), iso(now)),
        )
        subscriber.id = cursor.lastrowid
        subscriber.created_at = subscriber.updated_at = now
        return subscriber

    def update(self, subscriber_id: int, now: datetime, **changes) -> None:
        """Change name, categories (a tuple of names), status or token_version."""
        allowed = {"name", "categories", "status", "token_version"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update {unknown}")
        if "status" in changes:
            _check_status(changes["status"])
        if "categories" in changes:
            changes["categories"] = join_categories(changes["categories"])
        changes["updated_at"] = iso(now)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        self.store.execute(f"UPDATE subscribers SET {assignments} WHERE id = ?", (*changes.values(), subscriber_id))

    def bump_version(self, subscriber_id: int, now: datetime) -> None:
        """Invalidate every link signed for this subscriber so far."""
        self.store.execute(
            "UPDATE subscribers SET token_version = token_version + 1, updated_at = ? WHERE id = ?",
            (iso(now), subscriber_id),
        )

    def delete(self, subscriber_id: int) -> None:
        """Forget the subscriber and, through cascades, their deliveries and events."""
        self.store.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,))

    def iter(self, status: str | None = None, batch: int = 1000) -> Iterator[Subscriber]:
        """Stream subscribers in id order, `batch` rows at a time (never all in memory)."""
        if status is not None:
            _check_status(status)
        last_id = 0
        clause, params = ("AND status = ?", [status]) if status else ("", [])
        while True:
            rows = self.store.execute(
                f"SELECT {COLUMNS} FROM subscribers WHERE id > ? {clause} ORDER BY id LIMIT ?",
                (last_id, *params, batch),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield row_to_subscriber(row)
            last_id = rows[-1][0]

    def status_of(self, subscriber_id: int) -> str | None:
        row = self.store.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        return row[0] if row else None

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.store.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        _check_status(status)
        return self.store.execute("SELECT count(*) FROM subscribers WHERE status = ?", (status,)).fetchone()[0]

    # A sign-up from an address that unsubscribed or bounced waits beside the row until the
    # mailbox owner confirms; until then their old choices stay as they were.
    def set_request(self, subscriber_id: int, name: str, categories: Iterable[str], now: datetime) -> None:
        self.store.execute(
            "UPDATE subscribers SET requested_name = ?, requested_categories = ?, updated_at = ? WHERE id = ?",
            (name, join_categories(categories), iso(now), subscriber_id),
        )

    def request(self, subscriber_id: int) -> tuple[str, tuple[str, ...]] | None:
        """(name, categories) of a sign-up waiting for confirmation, else None."""
        row = self.store.execute(
            "SELECT requested_name, requested_categories FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return row[0], split_categories(row[1])

    def clear_request(self, subscriber_id: int) -> None:
        self.store.execute(
            "UPDATE subscribers SET requested_name = NULL, requested_categories = NULL WHERE id = ?",
            (subscriber_id,),
        )

    def delete_pending_before(self, cutoff: datetime) -> int:
        """Delete pending (never confirmed) subscribers last asked for before `cutoff`."""
        cursor = self.store.execute(
            "DELETE FROM subscribers WHERE status = 'pending' AND updated_at < ?", (iso(cutoff),)
        )
        return cursor.rowcount
