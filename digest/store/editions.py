"""Editions, the articles each carries (in order), and the articles editors dropped."""

from __future__ import annotations

from datetime import datetime

from digest.errors import NotFound
from digest.models import Article, Edition
from digest.store.articles import COLUMNS, row_to_article
from digest.timeutil import from_iso, iso

STATUSES = ("draft", "approved", "sending", "sent")
EDITION_COLUMNS = "key, window_start, window_end, status, built_at, approved_at, sent_at"
# The article columns, qualified: edition_articles has a `category` column too.
ARTICLE_COLUMNS = ", ".join(f"a.{name.strip()}" for name in COLUMNS.split(","))


def row_to_edition(row) -> Edition:
    key, start, end, status, built_at, approved_at, sent_at = row
    return Edition(
        key=key, window_start=from_iso(start), window_end=from_iso(end), status=status,
        built_at=from_iso(built_at), approved_at=from_iso(approved_at), sent_at=from_iso(sent_at),
    )


class Editions:
    def __init__(self, store):
        self.store = store

    def get(self, key: str) -> Edition | None:
        """The edition (without sections), or None."""
        row = self.store.execute(f"SELECT {EDITION_COLUMNS} FROM editions WHERE key = ?", (key,)).fetchone()
        return row_to_edition(row) if row else None

    def list(self) -> list[Edition]:
        """Every edition (without sections), newest window first."""
        rows = self.store.execute(
            f"SELECT {EDITION_COLUMNS} FROM editions ORDER BY window_end DESC, key DESC"
        ).fetchall()
        return [row_to_edition(r) for r in rows]

    def newest(self, other_than: str | None = None) -> Edition | None:
        """The edition whose window ends last (leaving out `other_than`), or None."""
        row = self.store.execute(
            f"""SELECT {EDITION_COLUMNS} FROM editions WHERE key != ?
                ORDER BY window_end DESC, key DESC LIMIT 1""",
            (other_than or "",),
        ).fetchone()
        return row_to_edition(row) if row else None

    def save(self, edition: Edition) -> None:
        """Create the edition, or move an existing one's window (its status is kept)."""
        self.store.execute(
            """INSERT INTO editions (key, window_start, window_end, status, built_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET window_start = excluded.window_start,
                   window_end = excluded.window_end, built_at = excluded.built_at""",
            (edition.key, iso(edition.window_start), iso(edition.window_end), edition.status,
             iso(edition.built_at)),
        )

    def set_status(self, key: str, status: str, now: datetime) -> None:
        """draft | approved | sending | sent; records when it was approved and sent."""
        if status not in STATUSES:
            raise ValueError(f"unknown edition status {status!r}")
        stamps = {
            "draft": ", approved_at = NULL",
            "approved": ", approved_at = :now",
            "sending": "",
            "sent": ", sent_at = :now",
        }[status]
        cursor = self.store.execute(
            f"UPDATE editions SET status = :status{stamps} WHERE key = :key",
            {"status": status, "now": iso(now), "key": key},
        )
        if cursor.rowcount == 0:
            raise NotFound(f"no edition {key}")

    def replace_articles(self, key: str, sections) -> None:
        """Make the edition carry exactly these sections' articles, in this order."""
        self.store.execute("DELETE FROM edition_articles WHERE edition_key = ?", (key,))
        carried = [(section.category, article) for section in sections for article in section.articles]
        rows = [(key, article.id, category, position) for position, (category, article) in enumerate(carried)]
        self.store.conn.executemany(
            "INSERT INTO edition_articles (edition_key, article_id, category, position) VALUES (?, ?, ?, ?)",
            rows,
        )

    def articles(self, key: str) -> list[tuple[str, Article]]:
        """(category, article) for each article the edition carries, in edition order."""
        rows = self.store.execute(
            f"""SELECT ea.category, {ARTICLE_COLUMNS} FROM edition_articles ea
                JOIN articles a ON a.id = ea.article_id
                WHERE ea.edition_key = ? ORDER BY ea.position""",
            (key,),
        ).fetchall()
        return [(row[0], row_to_article(row[1:])) for row in rows]

    def carrying(self, article_id: int) -> str | None:
        """The key of the edition that carries the article, if any."""
        row = self.store.execute(
            "SELECT edition_key FROM edition_articles WHERE article_id = ?", (article_id,)
        ).fetchone()
        return row[0] if row else None

    def drop(self, key: str, article_id: int, now: datetime) -> None:
        """Keep the article out of the edition, now and whenever it is refreshed."""
        self.store.execute(
            "INSERT OR IGNORE INTO dropped_articles (edition_key, article_id, dropped_at) VALUES (?, ?, ?)",
            (key, article_id, iso(now)),
        )
        self.store.execute(
            "DELETE FROM edition_articles WHERE edition_key = ? AND article_id = ?", (key, article_id)
        )

    def undrop(self, key: str, article_id: int) -> None:
        self.store.execute(
            "DELETE FROM dropped_articles WHERE edition_key = ? AND article_id = ?", (key, article_id)
        )

    def dropped_from(self, article_id: int) -> list[str]:
        """Keys of the editions the article was dropped from, newest window first."""
        rows = self.store.execute(
            """SELECT d.edition_key FROM dropped_articles d JOIN editions e ON e.key = d.edition_key
               WHERE d.article_id = ? ORDER BY e.window_end DESC, e.key DESC""",
            (article_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def dropped(self, key: str) -> list[int]:
        """Ids of the articles dropped from the edition, in the order they were dropped."""
        rows = self.store.execute(
            "SELECT article_id FROM dropped_articles WHERE edition_key = ? ORDER BY dropped_at, article_id",
            (key,),
        ).fetchall()
        return [r[0] for r in rows]
