"""Entry → Article: clean text, sanitised HTML, UTC dates, canonical categories and URLs."""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from dateutil import parser as dateparser
from dateutil.tz import tzoffset

from digest.config import OTHER, Config
from digest.ingest.entries import Entry, ItemProblem
from digest.ingest.htmltext import clean_text, collapse, looks_like_html, sanitise_html
from digest.models import Article

# Zone abbreviations old RSS feeds still write (RFC 822 allows them); dateutil needs telling.
_ZONE_ABBREVIATIONS = {
    name: tzoffset(name, hours * 3600)
    for name, hours in {
        "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
        "BST": 1, "CET": 1, "CEST": 2,
    }.items()
}


def canonical_url(url: str | None) -> str | None:
    """The URL without utm_* tracking parameters or fragment; scheme and host in lower case."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return url
    # filter the raw "k=v" pieces rather than re-encoding, so the kept ones stay byte for byte
    kept = [piece for piece in parts.query.split("&")
            if piece and not unquote_plus(piece.split("=", 1)[0]).strip().lower().startswith("utm_")]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "&".join(kept), ""))


def parse_date(text: str, tz, now: datetime) -> datetime:
    """A date as a source wrote it → aware UTC; a date without an offset is read in `tz`.

    Raises ItemProblem naming the text and why it is impossible (e.g. 2026-02-30).
    """
    # Missing parts (a date with no year) come from `now`, never from the machine's clock.
    default = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown zone name: read the time in `tz`
            moment = dateparser.parse(text, default=default, tzinfos=_ZONE_ABBREVIATIONS)
    except (ValueError, OverflowError) as exc:
        reason = str(exc).split(": ")[0] if str(exc) else "not a date"
        raise ItemProblem(f"impossible date {text!r} ({reason})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc)


class Normaliser:
    """Turns one source's entries into Articles, counting the category labels it did not know."""

    def __init__(self, config: Config, source: str, now: datetime, default_category: str | None = None):
        self.config = config
        self.source = source
        self.now = now
        self.default_category = default_category
        self.unknown_labels: Counter[str] = Counter()
        self.uncategorised = 0

    def article(self, entry: Entry) -> Article:
        title = collapse(clean_text(entry.title or ""))
        if not title:
            raise ItemProblem("no title")
        published, dated = self._published(entry.published)
        # The body's HTML; with no body at all, a description written as HTML paragraphs is the
        # closest thing to one the source has.
        html_source = entry.body if entry.body.strip() else entry.summary
        body_html = sanitise_html(html_source) if looks_like_html(html_source) else ""
        return Article(
            title=title,
            url=canonical_url(entry.url),
            category=self._category(entry.labels),
            published=published,
            source=self.source,
            summary=clean_text(entry.summary),
            body=clean_text(entry.body),
            body_html=body_html,
            guid=collapse(entry.guid or "") or None,
            dated=dated,
            teaser=entry.teaser,
        )

    def warnings(self) -> list[str]:
        notes = [
            f"unknown category {label!r} ({count} article{'s' if count > 1 else ''}) filed under {OTHER}"
            for label, count in sorted(self.unknown_labels.items())
        ]
        if self.uncategorised:
            notes.append(f"{self.uncategorised} article(s) without a category filed under {OTHER}")
        return notes

    def _published(self, value: str | datetime | None) -> tuple[datetime, bool]:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=self.config.tz)
            return moment.astimezone(timezone.utc), True
        if value is None or not str(value).strip():
            return self.now.astimezone(timezone.utc), False
        return parse_date(str(value).strip(), self.config.tz, self.now), True

    def _category(self, labels: tuple[str, ...]) -> str:
        labels = tuple(collapse(label) for label in labels if label and collapse(label))
        for label in labels:
            name = self.config.category_or_other(label)
            if name:
                return name
        if labels:
            self.unknown_labels[labels[0]] += 1
            return OTHER
        if self.default_category:
            return self.default_category
        self.uncategorised += 1
        return OTHER
