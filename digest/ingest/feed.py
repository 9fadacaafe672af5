"""RSS 0.9x/1.0/2.0 and Atom feeds, read by feedparser."""

from __future__ import annotations

import io
from collections.abc import Iterator

import feedparser

from digest.ingest.entries import Entry, Rejected, SourceUnreadable


def parse_feed(content: bytes, base_url: str | None = None) -> Iterator[Entry | Rejected]:
    """One Entry per item, numbered from 1 in document order.

    A feed with XML errors but readable items is read (feedparser's "bozo" flag is common on
    real feeds); a feed with errors and no items is rejected whole.
    """
    headers = {"content-location": base_url} if base_url else None
    # a file object, so feedparser never mistakes the content for a path or URL to open
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    if parsed.bozo and not parsed.entries:
        raise SourceUnreadable(f"not a feed that can be read ({_reason(parsed.bozo_exception)})")
    if not parsed.entries and not parsed.version:
        raise SourceUnreadable("not an RSS or Atom feed")
    for number, item in enumerate(parsed.entries, 1):
        yield _entry(item, f"item {number}")


def _entry(item, where: str) -> Entry:
    content = item.get("content") or []
    body = "\n".join(part.get("value", "") for part in content if part.get("value"))
    summary = item.get("summary", "")
    if body and summary.strip() == body.strip():
        summary = ""  # Atom feeds often repeat the content as the summary
    return Entry(
        where=where,
        title=item.get("title"),
        url=item.get("link"),
        labels=tuple(tag.get("term") or tag.get("label") or "" for tag in item.get("tags") or ()),
        published=item.get("published") or item.get("updated"),
        summary=summary,
        body=body,
        guid=item.get("id"),
    )


def _reason(exc) -> str:
    text = str(exc) if exc else ""
    line = getattr(exc, "getLineNumber", None)
    if callable(line):
        return f"line {line()}: {exc.getMessage()}"
    return text or type(exc).__name__
