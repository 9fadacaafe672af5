"""Subscribers: who gets the digest, which categories, and the version that signs their links."""

from __future__ import annotations

from datetime import datetime
from typing import Iterator

from digest.models import Subscriber
from digest.timeutil import from_iso, iso

COLUMNS = "id, email, name, categories, status, token_version, created_at, updated_at"
STATUSES = ("active", "unsubscribed", "bounced", "pending")


def row_to_subscriber(row) -> Subscriber:
    id_, email, name, categories, status, version, created, updated = row
    return Subscriber(
        id=id_, email=email, name=name,
        categories=tuple(c for c in categories.split(";") if c),
        status=status, token_version=version,
        created_at=from_iso(created), updated_at=from_iso(updated),
    )


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
        cursor = self.store.execute(
            """INSERT INTO subscribers (email, name, categories, status, token_version, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (subscriber.email, subscriber.name, ";".join(subscriber.categories), subscriber.status,
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
        if "categories" in changes:
            changes["categories"] = ";".join(changes["categories"])
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
