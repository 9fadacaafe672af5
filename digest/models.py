"""Plain data that flows through the pipeline. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """One article as ingested and normalised. `id` is None until stored."""

    title: str
    url: str | None
    category: str
    published: datetime  # timezone-aware, UTC
    source: str  # the file path or URL it came from
    summary: str = ""  # the editor's summary/description, clean text
    body: str = ""  # the article text, clean text, paragraphs separated by blank lines
    body_html: str = ""  # sanitised HTML body, when the source had one
    guid: str | None = None
    dated: bool = True  # False when the source gave no date and `now` was used
    teaser: bool = False  # a titles-only item: no lede
    id: int | None = None
    lede: str = ""  # computed lede, or the editor's override
    lede_overridden: bool = False


@dataclass
class Section:
    """One category's articles in an edition, newest first."""

    category: str
    articles: list[Article]


@dataclass
class Edition:
    """One issue of the digest, keyed by its period (e.g. 2026-W48)."""

    key: str
    window_start: datetime
    window_end: datetime
    status: str = "draft"  # draft | approved | sending | sent
    sections: list[Section] = field(default_factory=list)
    built_at: datetime | None = None
    approved_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(s.category for s in self.sections)

    def sections_for(self, categories) -> list[Section]:
        """The sections a reader of `categories` gets (empty/None means all), in edition order."""
        if not categories:
            return list(self.sections)
        wanted = set(categories)
        return [s for s in self.sections if s.category in wanted]


@dataclass
class Subscriber:
    email: str
    name: str = ""
    categories: tuple[str, ...] = ()  # empty means all
    status: str = "active"  # active | unsubscribed | bounced | pending
    token_version: int = 1
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
