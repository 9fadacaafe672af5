"""Events: every change to a subscriber, with what changed, when and from where."""

from __future__ import annotations

from datetime import datetime

from digest.timeutil import iso


class Events:
    def __init__(self, store):
        self.store = store

    def record(self, subscriber_id: int, kind: str, now: datetime, detail: str = "", origin: str = "") -> None:
        self.store.execute(
            "INSERT INTO events (subscriber_id, kind, detail, origin, created_at) VALUES (?, ?, ?, ?, ?)",
            (subscriber_id, kind, detail, origin, iso(now)),
        )

    def for_subscriber(self, subscriber_id: int) -> list[dict]:
        rows = self.store.execute(
            "SELECT kind, detail, origin, created_at FROM events WHERE subscriber_id = ? ORDER BY id",
            (subscriber_id,),
        ).fetchall()
        return [dict(zip(("kind", "detail", "origin", "created_at"), r)) for r in rows]

    def count_since(self, subscriber_id: int, kind: str, since: datetime) -> int:
        row = self.store.execute(
            "SELECT count(*) FROM events WHERE subscriber_id = ? AND kind = ? AND created_at >= ?",
            (subscriber_id, kind, iso(since)),
        ).fetchone()
        return row[0]
