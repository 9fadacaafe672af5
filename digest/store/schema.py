"""The schema, as an ordered list of migrations. PRAGMA user_version counts those applied.

Append a migration to change the schema; never edit one that has shipped.
"""

MIGRATIONS: list[str] = [
    # 1: the whole first schema
    """
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,          -- identity: guid, else canonical URL, else title+source(+date)
        title TEXT NOT NULL,
        url TEXT,
        category TEXT NOT NULL,
        published TEXT NOT NULL,           -- ISO 8601 UTC
        dated INTEGER NOT NULL DEFAULT 1,
        teaser INTEGER NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        body_html TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        guid TEXT,
        content_hash TEXT NOT NULL,
        lede TEXT,                         -- computed once; NULL until computed
        lede_override TEXT,                -- the editor's lede; wins when set
        ingested_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX articles_published ON articles (published);
    CREATE INDEX articles_category_published ON articles (category, published);

    CREATE TABLE feeds (
        source TEXT PRIMARY KEY,           -- URL as configured
        etag TEXT,
        last_modified TEXT,
        last_fetched TEXT
    );

    CREATE TABLE editions (
        key TEXT PRIMARY KEY,              -- period, e.g. 2026-W48
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',  -- draft | approved | sending | sent
        built_at TEXT NOT NULL,
        approved_at TEXT,
        sent_at TEXT
    );

    CREATE TABLE edition_articles (
        edition_key TEXT NOT NULL REFERENCES editions(key) ON DELETE CASCADE,
        article_id INTEGER NOT NULL UNIQUE REFERENCES articles(id),  -- never in two editions
        category TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (edition_key, article_id)
    );

    CREATE TABLE dropped_articles (
        edition_key TEXT NOT NULL REFERENCES editions(key) ON DELETE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        dropped_at TEXT NOT NULL,
        PRIMARY KEY (edition_key, article_id)
    );

    CREATE TABLE subscribers (
        -- AUTOINCREMENT: an id is never reused, so a forgotten subscriber's signed links
        -- can never open a later subscriber's preferences.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,        -- normalised
        name TEXT NOT NULL DEFAULT '',
        categories TEXT NOT NULL DEFAULT '',  -- ';'-joined canonical names; '' means all
        status TEXT NOT NULL DEFAULT 'active',  -- active | unsubscribed | bounced | pending
        token_version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX subscribers_status ON subscribers (status, id);

    CREATE TABLE deliveries (
        edition_key TEXT NOT NULL REFERENCES editions(key),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        status TEXT NOT NULL,              -- queued | sent | failed | skipped
        attempts INTEGER NOT NULL DEFAULT 0,
        last_reply TEXT,
        message_id TEXT,
        next_attempt_at TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (edition_key, subscriber_id)
    );
    CREATE INDEX deliveries_status ON deliveries (edition_key, status);

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,                -- subscribed, unsubscribed, categories, bounced, ...
        detail TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL DEFAULT '',   -- which page or command made the change
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_subscriber ON events (subscriber_id, created_at);

    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,               -- host:pid
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
    """,
    # 2: a sign-up by an unsubscribed or bounced address waits here for its confirmation,
    # so the categories they had stay untouched until the owner of the mailbox confirms.
    """
    ALTER TABLE subscribers ADD COLUMN requested_name TEXT;        -- NULL: no sign-up waiting
    ALTER TABLE subscribers ADD COLUMN requested_categories TEXT;  -- ';'-joined; '' means all
    """,
]
