"""One source in, stored articles out: read → parse → normalise → store in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from digest.config import Config
from digest.errors import InputError
from digest.ingest.cms import parse_cms_json, parse_csv
from digest.ingest.entries import Entry, ItemProblem, Rejected, SourceUnreadable
from digest.ingest.feed import parse_feed
from digest.ingest.fetch import Fetcher, charset_of, decode_text, is_url, read_file
from digest.ingest.frontpage import parse_front_page
from digest.ingest.identity import article_key, content_hash
from digest.ingest.jsonfeed import parse_jsonfeed
from digest.ingest.normalise import Normaliser
from digest.ingest.report import SourceReport
from digest.ingest.sniff import FORMATS, sniff_format
from digest.models import Article


@dataclass
class Prepared:
    """A normalised article with its identity, ready to store."""

    article: Article
    key: str
    where: str
    # The date came from --now or "3 days ago": on a later ingest the stored date stays, so an
    # undated article neither jumps into a newer edition nor counts as updated.
    keep_stored_date: bool = False


@dataclass
class Batch:
    """Everything one source yielded: articles to store, items rejected, warnings."""

    articles: list[Prepared] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    warnings: list[str] = field(default_factory=list)


def ingest_source(store, config: Config, source: str, now: datetime, fmt: str = "auto",
                  category: str | None = None, fetcher: Fetcher | None = None) -> SourceReport:
    """Ingest one file path or http(s) URL. Bad items are reported and skipped; a source that
    cannot be read at all is reported and stores nothing. Never raises for bad content."""
    category = checked_category(config, category)
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use auto or one of {', '.join(FORMATS)}")
    report = SourceReport(source)
    feed_state = None
    try:
        if is_url(source):
            etag, last_modified = store.articles.feed_state(source)
            fetched = (fetcher or Fetcher()).fetch(source, etag, last_modified)
            feed_state = (fetched.etag, fetched.last_modified)
            if fetched.not_modified:
                report.not_modified = True
                report.unchanged = store.articles.count_from(source)
                with store.transaction():
                    store.articles.save_feed_state(source, *feed_state, now)
                return report
            content, content_type = fetched.content, fetched.content_type
        else:
            content, content_type = read_file(source), None
        batch = read_articles(content, source, config, now, fmt, category, content_type)
    except SourceUnreadable as exc:
        report.fail(str(exc))
        return report
    return store_batch(store, batch, report, now, feed_state)


def ingest_sources(store, config: Config, sources: Iterable[str], now: datetime, fmt: str = "auto",
                   category: str | None = None, fetcher: Fetcher | None = None) -> list[SourceReport]:
    """Ingest each source in turn (the configured feeds when `sources` is empty)."""
    chosen = list(sources) or configured_feeds(config)
    if not chosen:
        raise InputError("nothing to ingest: name a SOURCE, or list feeds under [feeds] urls in digest.toml")
    checked_category(config, category)
    return [ingest_source(store, config, source, now, fmt, category, fetcher) for source in chosen]


def configured_feeds(config: Config) -> list[str]:
    """config.feeds, with relative file paths read from the config file's folder."""
    base = config.config_path.parent if config.config_path else None
    return [feed if is_url(feed) or base is None or Path(feed).is_absolute() else str(base / feed)
            for feed in config.feeds]


def checked_category(config: Config, category: str | None) -> str | None:
    """--category as a configured name (aliases and any case accepted), or None."""
    if category is None:
        return None
    name = config.category_or_other(category)
    if name is None:
        raise InputError(f"unknown category {category!r}; known: {', '.join(config.category_names)}")
    return name


def read_articles(content: bytes, source: str, config: Config, now: datetime, fmt: str = "auto",
                  category: str | None = None, content_type: str | None = None) -> Batch:
    """Parse and normalise a source's bytes without storing anything.

    Raises SourceUnreadable when the source as a whole cannot be used.
    """
    if fmt == "auto":
        fmt = sniff_format(content, source, content_type)
    batch = Batch()
    normaliser = Normaliser(config, source, now, category)
    source_id = source if is_url(source) else str(Path(source).resolve())
    seen: dict[str, str] = {}
    for entry in _entries(fmt, content, source, config, now, batch.warnings, content_type):
        if isinstance(entry, Rejected):
            batch.rejected.append((entry.where, entry.reason))
            continue
        try:
            article = normaliser.article(entry)
        except ItemProblem as exc:
            batch.rejected.append((entry.where, str(exc)))
            continue
        key = article_key(article, source_id, date_given=article.dated and not entry.relative_date)
        if key in seen:
            batch.warnings.append(f"{entry.where}: same article as {seen[key]}; skipped")
            continue
        seen[key] = entry.where
        batch.articles.append(Prepared(article, key, entry.where, entry.relative_date or not article.dated))
    batch.warnings.extend(normaliser.warnings())
    return batch


def store_batch(store, batch: Batch, report: SourceReport, now: datetime,
                feed_state: tuple[str | None, str | None] | None = None) -> SourceReport:
    """Store a batch in one transaction (with the feed's ETag/Last-Modified) and count outcomes."""
    for where, reason in batch.rejected:
        report.reject(where, reason)
    for message in batch.warnings:
        report.warn(message)
    with store.transaction():
        for prepared in batch.articles:
            article = prepared.article
            if prepared.keep_stored_date:
                stored = store.articles.published_for(prepared.key)
                if stored is not None:
                    article.published, article.dated = stored
            outcome = store.articles.upsert(article, prepared.key, content_hash(article), now)
            setattr(report, outcome, getattr(report, outcome) + 1)
        if feed_state is not None:
            store.articles.save_feed_state(report.source, *feed_state, now)
    return report


def _entries(fmt: str, content: bytes, source: str, config: Config, now: datetime, warnings: list[str],
             content_type: str | None) -> Iterator[Entry | Rejected]:
    if fmt == "rss":
        # feedparser reads the XML declaration's encoding itself, so it gets the raw bytes
        return parse_feed(content, base_url=source if is_url(source) else None)
    text = decode_text(content, charset_of(content_type))
    if fmt == "jsonfeed":
        return parse_jsonfeed(text)
    if fmt == "csv":
        return parse_csv(text, warnings)
    if fmt == "json":
        return parse_cms_json(text, warnings)
    return parse_front_page(text, config, now, warnings)
