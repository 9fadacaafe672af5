"""The bundled sample feed, dated so that it always fills the week before `now`."""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.config import PACKAGE_DIR, Config
from digest.ingest.pipeline import Prepared, read_articles, store_batch
from digest.ingest.report import SourceReport

SAMPLE_FEED = PACKAGE_DIR / "data" / "sample.rss"
SAMPLE_SOURCE = "sample.rss"
NEWEST_AGE = timedelta(hours=1)  # the newest sample article, this long before now
SPAN = timedelta(days=6) - timedelta(hours=2)  # oldest to newest at most, so all fit in 6 days


def ingest_sample(store, config: Config, now: datetime) -> SourceReport:
    """Store the bundled sample articles, shifted to lie within the 6 days before `now`."""
    batch = read_articles(SAMPLE_FEED.read_bytes(), SAMPLE_SOURCE, config, now, fmt="rss")
    shift_dates(batch.articles, now)
    return store_batch(store, batch, SourceReport(SAMPLE_SOURCE), now)


def shift_dates(articles: list[Prepared], now: datetime) -> None:
    """Move the newest to NEWEST_AGE before `now`, keeping relative spacing, squeezed into SPAN."""
    if not articles:
        return
    newest = max(p.article.published for p in articles)
    span = newest - min(p.article.published for p in articles)
    squeeze = min(1.0, SPAN / span) if span else 1.0
    for prepared in articles:
        age = (newest - prepared.article.published) * squeeze
        prepared.article.published = (now - NEWEST_AGE - age).replace(microsecond=0)
