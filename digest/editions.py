"""Editions: build or refresh this period's draft, read one back, approve it, let editors
drop articles and override ledes. Every change happens in one store transaction.

The choosing is done by digest.selection and the ledes by digest.lede (both pure); this
module fetches, decides what is allowed, and stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

from digest.config import Config
from digest.errors import DigestError, InputError, NotFound
from digest.lede import make_lede
from digest.models import Article, Edition, Section
from digest.selection import category_order, period_key, select_sections, window_start
from digest.timeutil import iso

__all__ = [
    "NothingToBuild", "EditionFrozen", "Built", "Dropped", "Undropped", "period_key", "edition_date",
    "describe_window", "edition_as_dict", "build", "build_edition", "get", "approve", "fill_ledes",
    "drop", "undrop", "set_lede", "lede_of",
]

FROZEN = ("approved", "sending", "sent")
# without_lede() asks with one SQL parameter per id; stay well under SQLite's limit.
LEDE_BATCH = 500


class NothingToBuild(DigestError):
    """The window holds no article that could go in the edition; no edition was made."""


class EditionFrozen(DigestError):
    """The edition is approved, being sent or sent, so it cannot change."""

    def __init__(self, message: str, edition: Edition):
        super().__init__(message)
        self.edition = edition


@dataclass
class Built:
    edition: Edition
    refreshed: bool  # False when the edition was created by this build


@dataclass
class Dropped:
    edition: Edition  # with its re-selected sections
    article: Article


@dataclass
class Undropped:
    edition: Edition
    article: Article
    shown: bool  # False when newer articles fill its category up to the cap


def edition_date(edition: Edition, tz: tzinfo) -> date:
    """The date shown in the subject and header: the window's end in the configured timezone."""
    return edition.window_end.astimezone(tz).date()


def describe_window(start: datetime, end: datetime, tz: tzinfo) -> str:
    """"2026-11-18 12:00 UTC to 2026-11-25 12:00 UTC", in the configured timezone."""
    return f"{_local(start, tz)} to {_local(end, tz)}"


def _local(moment: datetime, tz: tzinfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}"


def build(store, config: Config, now: datetime) -> Edition:
    """Create the edition for the period containing `now`, or refresh it while it is a draft."""
    return build_edition(store, config, now).edition


def build_edition(store, config: Config, now: datetime) -> Built:
    """build(), also saying whether an existing draft was refreshed.

    Raises NothingToBuild when the window is empty (nothing is written) and EditionFrozen
    when the period's edition is approved, being sent or sent (nothing is changed).
    """
    # Stored times are whole seconds; keep the returned edition equal to the stored one.
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    key = period_key(now, config.tz)
    with store.transaction():
        existing = store.editions.get(key)
        if existing is not None:
            _refuse_if_frozen(existing, config, "rebuilt")
        latest = store.editions.newest(other_than=key)
        if latest is not None and (latest.key > key or latest.window_end > now):
            raise InputError(
                f"cannot build {key}: edition {latest.key} already covers the time up to "
                f"{_local(latest.window_end, config.tz)}, and an edition cannot be built for an earlier period"
            )
        if existing is not None:
            start = existing.window_start  # a refresh only moves the window's end
        else:
            start = window_start(now, latest.window_end if latest else None, config.window_days)
        if now < start:
            raise InputError(f"cannot build {key} at {_local(now, config.tz)}: "
                             f"its window starts later, at {_local(start, config.tz)}")
        sections = _select(store, config, key, start, now)
        if not sections:
            raise NothingToBuild(
                f"nothing to build for {key}: no new articles were published in the window "
                f"{describe_window(start, now, config.tz)}"
                + ("; the draft was left as it was" if existing else "; no edition was created")
            )
        edition = Edition(key=key, window_start=start, window_end=now, status="draft", sections=sections,
                          built_at=now)
        store.editions.save(edition)
        store.editions.replace_articles(key, sections)
        fill_ledes(store, config, _articles_of(sections))
    return Built(edition, refreshed=existing is not None)


def get(store, key: str | None = None, config: Config | None = None) -> Edition:
    """The edition `key` (None: the newest) with its sections and ledes.

    Pass `config` to order sections by the configured categories and to make any missing
    lede at the configured length; without it the order is the one stored at build time.
    """
    edition = store.editions.get(key) if key else store.editions.newest()
    if edition is None:
        raise NotFound(f"no edition {key}" if key else "no edition has been built yet (run: digest build)")
    carried = store.editions.articles(edition.key)
    by_category: dict[str, list[Article]] = {}
    for category, article in carried:
        by_category.setdefault(category, []).append(article)
    order = category_order(config.category_names, by_category) if config else list(by_category)
    edition.sections = [Section(category, by_category[category]) for category in order]
    fill_ledes(store, config or Config(), [article for _, article in carried])
    return edition


def approve(store, key: str | None, now: datetime) -> Edition:
    """Mark a draft approved (frozen until sent); approving an approved edition changes nothing."""
    with store.transaction():
        edition = get(store, key)
        if edition.status == "approved":
            return edition
        if edition.status in FROZEN:
            raise EditionFrozen(_frozen_message(edition, None, "approved"), edition)
        if not any(section.articles for section in edition.sections):
            raise InputError(f"edition {edition.key} has no articles left; nothing to approve")
        store.editions.set_status(edition.key, "approved", now)
    edition.status, edition.approved_at = "approved", now
    return edition


def fill_ledes(store, config: Config, articles: list[Article]) -> None:
    """Compute and store the ledes not computed yet, and set article.lede; overrides win."""
    ids = [a.id for a in articles if a.id is not None and not a.lede_overridden]
    missing: list[Article] = []
    for first in range(0, len(ids), LEDE_BATCH):
        missing += store.articles.without_lede(ids[first:first + LEDE_BATCH])
    if not missing:
        return
    computed = {a.id: make_lede(a, config.lede_max_chars) for a in missing}
    with store.transaction():
        for article_id, lede in computed.items():
            store.articles.save_lede(article_id, lede)
    for article in articles:
        if article.id in computed and not article.lede_overridden:
            article.lede = computed[article.id]


def drop(store, config: Config, article_id: int, now: datetime, key: str | None = None) -> Dropped:
    """Take an article out of a draft edition (default: the one carrying it) for good.

    The edition is re-selected within its window, so the next article in line may take the
    free place.
    """
    with store.transaction():
        article = _article(store, article_id)
        carrying = store.editions.carrying(article_id)
        key = key or carrying
        if key is None:
            raise InputError(f"article {article_id} ({article.title!r}) is in no edition; nothing to drop")
        edition = _edition(store, key)
        _refuse_if_frozen(edition, config, "changed")
        if key in store.editions.dropped_from(article_id):
            raise InputError(f"article {article_id} is already dropped from {key}")
        if carrying != key:
            where = f"; it is in {carrying}" if carrying else ""
            raise InputError(f"article {article_id} ({article.title!r}) is not in edition {key}{where}")
        store.editions.drop(key, article_id, now)
        edition.sections = _reselect(store, config, edition)
    return Dropped(edition, article)


def undrop(store, config: Config, article_id: int, key: str | None = None) -> Undropped:
    """Let a dropped article back into its draft edition (re-selected within its window)."""
    with store.transaction():
        article = _article(store, article_id)
        dropped_from = store.editions.dropped_from(article_id)
        if key is None and not dropped_from:
            raise InputError(f"article {article_id} has not been dropped from any edition")
        key = key or dropped_from[0]
        edition = _edition(store, key)
        if key not in dropped_from:
            raise InputError(f"article {article_id} was not dropped from {key}")
        _refuse_if_frozen(edition, config, "changed")
        store.editions.undrop(key, article_id)
        edition.sections = _reselect(store, config, edition)
    shown = [a for a in _articles_of(edition.sections) if a.id == article_id]
    return Undropped(edition, shown[0] if shown else article, shown=bool(shown))


def set_lede(store, config: Config, article_id: int, text: str | None) -> Article:
    """The editor's lede for an article (None: back to the computed one); it wins from now on.

    Refused while the article is in an approved, sending or sent edition.
    """
    if text is not None:
        text = " ".join(text.split())
        if not text:
            raise InputError("the lede is empty; to go back to the computed lede use --reset")
    with store.transaction():
        _article(store, article_id)
        key = store.editions.carrying(article_id)
        if key is not None:
            _refuse_if_frozen(_edition(store, key), config, "changed", what=f"the lede of article {article_id}")
        store.articles.override_lede(article_id, text)
        article = store.articles.get(article_id)
        fill_ledes(store, config, [article])
    return article


def lede_of(store, config: Config, article_id: int) -> Article:
    """The article with its lede (the editor's, else the computed one, computed if need be)."""
    article = _article(store, article_id)
    fill_ledes(store, config, [article])
    return article


def edition_as_dict(edition: Edition) -> dict:
    """The edition as plain data for JSON: key, status, window (ISO 8601) and per category
    the articles' ids and titles."""
    return {
        "key": edition.key,
        "status": edition.status,
        "window_start": iso(edition.window_start),
        "window_end": iso(edition.window_end),
        "sections": [
            {"category": section.category,
             "articles": [{"id": a.id, "title": a.title, "published": iso(a.published)} for a in section.articles]}
            for section in edition.sections
        ],
    }


def _select(store, config: Config, key: str, start: datetime, end: datetime) -> list[Section]:
    # candidates() leaves out its lower bound, but our window includes it. Published times
    # are stored to the second, so asking from one second earlier and letting
    # select_sections apply [start, end] gives exactly the inclusive window.
    pool = store.articles.candidates(start - timedelta(seconds=1), end, key)
    return select_sections(pool, start, end, config.category_names, config.per_category)


def _reselect(store, config: Config, edition: Edition) -> list[Section]:
    """Recompute the edition's articles within its current window (after a drop or undrop)."""
    sections = _select(store, config, edition.key, edition.window_start, edition.window_end)
    store.editions.replace_articles(edition.key, sections)
    fill_ledes(store, config, _articles_of(sections))
    return sections


def _articles_of(sections: list[Section]) -> list[Article]:
    return [article for section in sections for article in section.articles]


def _article(store, article_id: int) -> Article:
    article = store.articles.get(article_id)
    if article is None:
        raise NotFound(f"no article with id {article_id} (digest articles lists them)")
    return article


def _edition(store, key: str) -> Edition:
    edition = store.editions.get(key)
    if edition is None:
        raise NotFound(f"no edition {key}")
    return edition


def _refuse_if_frozen(edition: Edition, config: Config | None, action: str, what: str | None = None) -> None:
    if edition.status in FROZEN:
        raise EditionFrozen(_frozen_message(edition, config, action, what), edition)


def _frozen_message(edition: Edition, config: Config | None, action: str, what: str | None = None) -> str:
    tz = config.tz if config else timezone.utc
    subject = what or "it"
    if edition.status == "approved":
        return (f"edition {edition.key} is approved, so {subject} cannot be {action} "
                f"(an approved edition stays as it is until it is sent)")
    if edition.status == "sending":
        return f"edition {edition.key} is being sent, so {subject} cannot be {action}"
    when = f" on {_local(edition.sent_at, tz)}" if edition.sent_at else ""
    return f"edition {edition.key} was sent{when}, so {subject} cannot be {action}: a sent edition is never changed"
