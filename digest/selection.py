"""Which articles an edition carries: period, window, caps and order. Pure functions, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from digest.config import OTHER
from digest.models import Article, Section


def period_key(now: datetime, tz: tzinfo) -> str:
    """The ISO week containing `now` in the configured timezone, e.g. "2026-W48"."""
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def window_start(now: datetime, previous_end: datetime | None, window_days: int) -> datetime:
    """Where a new edition's window begins: where the previous one ended, else window_days back."""
    if previous_end is not None:
        return previous_end
    return now - timedelta(days=window_days)


def in_window(article: Article, start: datetime, end: datetime) -> bool:
    """Both ends count: an article published exactly at `start` or `end` is in."""
    return start <= article.published <= end


def category_order(configured: Iterable[str], present: Iterable[str]) -> list[str]:
    """The categories in `present`, in configured order; unknown ones next, "Other" last."""
    present = set(present)
    configured = [name for name in configured if name != OTHER]
    ordered = [name for name in configured if name in present]
    ordered += sorted(present - set(configured) - {OTHER})
    if OTHER in present:
        ordered.append(OTHER)
    return ordered


def select_sections(
    candidates: Iterable[Article],
    start: datetime,
    end: datetime,
    categories: Iterable[str],
    per_category: int,
) -> list[Section]:
    """Per category the newest `per_category` articles published in [start, end].

    Sections come in the configured category order; empty categories are left out.
    """
    by_category: dict[str, list[Article]] = defaultdict(list)
    for article in candidates:
        if in_window(article, start, end):
            by_category[article.category].append(article)
    sections = []
    for category in category_order(categories, by_category):
        newest_first = sorted(by_category[category], key=lambda a: (a.published, a.id or 0), reverse=True)
        sections.append(Section(category, newest_first[:per_category]))
    return sections
