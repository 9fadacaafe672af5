"""Articles and the per-feed fetch state."""

from __future__ import annotations

from datetime import datetime

from digest.models import Article
from digest.timeutil import from_iso, iso

COLUMNS = (
    "id, title, url, category, published, dated, teaser, summary, body, body_html, source, guid, "
    "lede, lede_override"
)


def row_to_article(row) -> Article:
    (id_, title, url, category, published, dated, teaser, summary, body, body_html, source, guid,
     lede, override) = row
    return Article(
        id=id_, title=title, url=url, category=category, published=from_iso(published),
        dated=bool(dated), teaser=bool(teaser), summary=summary, body=body, body_html=body_html,
        source=source, guid=guid,
        lede=override if override is not None else (lede or ""),
        lede_overridden=override is not None,
    )


class Articles:
    def __init__(self, store):
        self.store = store

    def upsert(self, article: Article, key: str, content_hash: str, now: datetime) -> str:
        """Insert or update by identity key; returns 'new', 'updated' or 'unchanged'.

        An update clears the computed lede (the content changed) but keeps an editor's override.
        """
        row = self.store.execute("SELECT id, content_hash FROM articles WHERE key = ?", (key,)).fetchone()
        values = {
            "title": article.title, "url": article.url, "category": article.category,
            "published": iso(article.published), "dated": int(article.dated), "teaser": int(article.teaser),
            "summary": article.summary, "body": article.body, "body_html": article.body_html,
            "source": article.source, "guid": article.guid, "content_hash": content_hash,
            "updated_at": iso(now),
        }
        if row is None:
            values.update(key=key, ingested_at=iso(now), lede=None)
            names = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cursor = self.store.execute(f"INSERT INTO articles ({names}) VALUES ({marks})", tuple(values.values()))
            article.id = cursor.lastrowid
            return "new"
        article.id = row[0]
        if row[1] == content_hash:
            return "unchanged"
        values["lede"] = None
        assignments = ", ".join(f"{name} = ?" for name in values)
        self.store.execute(f"UPDATE articles SET {assignments} WHERE id = ?", (*values.values(), row[0]))
        return "updated"

    def published_for(self, key: str) -> tuple[datetime, bool] | None:
        """The stored publication date and `dated` flag of the article with this key, if any."""
        row = self.store.execute("SELECT published, dated FROM articles WHERE key = ?", (key,)).fetchone()
        return (from_iso(row[0]), bool(row[1])) if row else None

    def count_from(self, source: str) -> int:
        """How many stored articles came from `source` (a 304 means they are all unchanged)."""
        return self.store.execute("SELECT COUNT(*) FROM articles WHERE source = ?", (source,)).fetchone()[0]

    def get(self, article_id: int) -> Article | None:
        row = self.store.execute(f"SELECT {COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return row_to_article(row) if row else None

    def list(self, since: datetime | None = None, category: str | None = None) -> list[Article]:
        """Stored articles, newest first."""
        clauses, params = [], []
        if since is not None:
            clauses.append("published >= ?")
            params.append(iso(since))
        if category is not None:
            clauses.append("category = ?")
            params.append(category)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.execute(
            f"SELECT {COLUMNS} FROM articles {where} ORDER BY published DESC, id DESC", params
        ).fetchall()
        return [row_to_article(r) for r in rows]

    def candidates(self, start: datetime, end: datetime, edition_key: str) -> list[Article]:
        """Articles published in (start, end] that no other edition carries and the editor has
        not dropped from `edition_key`, newest first."""
        rows = self.store.execute(
            f"""SELECT {COLUMNS} FROM articles
                WHERE published > ? AND published <= ?
                  AND id NOT IN (SELECT article_id FROM edition_articles WHERE edition_key != ?)
                  AND id NOT IN (SELECT article_id FROM dropped_articles WHERE edition_key = ?)
                ORDER BY published DESC, id DESC""",
            (iso(start), iso(end), edition_key, edition_key),
        ).fetchall()
        return [row_to_article(r) for r in rows]

    def without_lede(self, ids) -> list[Article]:
        ids = list(ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.store.execute(
            f"SELECT {COLUMNS} FROM articles WHERE lede IS NULL AND id IN ({marks})", ids
        ).fetchall()
        return [row_to_article(r) for r in rows]

    def save_lede(self, article_id: int, lede: str) -> None:
        self.store.execute("UPDATE articles SET lede = ? WHERE id = ?", (lede, article_id))

    def override_lede(self, article_id: int, text: str | None) -> None:
        """Set the editor's lede, or clear it with None."""
        self.store.execute("UPDATE articles SET lede_override = ? WHERE id = ?", (text, article_id))

    def feed_state(self, source: str) -> tuple[str | None, str | None]:
        row = self.store.execute("SELECT etag, last_modified FROM feeds WHERE source = ?", (source,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_feed_state(self, source: str, etag: str | None, last_modified: str | None, now: datetime) -> None:
        self.store.execute(
            """INSERT INTO feeds (source, etag, last_modified, last_fetched) VALUES (?, ?, ?, ?)
               ON CONFLICT(source) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, last_fetched = excluded.last_fetched""",
            (source, etag, last_modified, iso(now)),
        )
