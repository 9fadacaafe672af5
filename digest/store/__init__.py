"""The only part of digest that speaks SQL.

`Store` opens one SQLite file, applies migrations, and exposes one small repository per
table group: `store.articles`, `store.editions`, `store.subscribers`, `store.deliveries`,
`store.events`, `store.locks`.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from digest.errors import DigestError
from digest.store.schema import MIGRATIONS


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise DigestError(f"cannot open database {self.path}: {exc}") from None
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self._depth = 0
        self.migrate()
        from digest.store.articles import Articles
        from digest.store.deliveries import Deliveries
        from digest.store.editions import Editions
        from digest.store.events import Events
        from digest.store.locks import Locks
        from digest.store.subscribers import Subscribers

        self.articles = Articles(self)
        self.editions = Editions(self)
        self.subscribers = Subscribers(self)
        self.deliveries = Deliveries(self)
        self.events = Events(self)
        self.locks = Locks(self)

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise DigestError(f"database {self.path} was made by a newer digest (schema {version})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in _statements(script):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self):
        """All or nothing. Nested use joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def _statements(script: str):
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
