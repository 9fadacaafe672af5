"""What the templates see: cleaned, display-ready text built from an Edition and the Config."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from markupsafe import Markup

from digest.errors import ConfigError
from digest.models import Article

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
PREHEADER_TITLES = 3
PREHEADER_MAX = 150
TEXT_WIDTH = 78


@dataclass(frozen=True)
class ArticleView:
    title: str
    url: str | None  # None when the article has no http(s) URL: the title is not linked
    lede: str
    date_label: str


@dataclass(frozen=True)
class SectionView:
    index: int  # position in the edition; names the section's marker and stop link
    category: str
    description: str
    articles: tuple[ArticleView, ...]
    marker: Markup  # where the fast path cuts the compiled HTML (see assembly.py)
    stop_url: str  # placeholder for the reader's "stop sending me <category>" link


def one_line(text: str | None) -> str:
    """Text for a template: no control characters, whitespace collapsed."""
    return " ".join(CONTROL_CHARS.sub(" ", text or "").split())


def safe_url(url: str | None) -> str | None:
    """Only http(s) links go into an email; a javascript: or data: URL from a feed does not."""
    url = (url or "").strip()
    if not url or CONTROL_CHARS.search(url) or any(c.isspace() for c in url):
        return None
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def day_month(moment: datetime, tz) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {MONTHS[local.month - 1]}"


def long_date(day: date) -> str:
    """25 Nov 2026, whatever the locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def subject_line(config, edition_day: date) -> str:
    try:
        subject = config.subject_template.format_map({"site_name": config.site_name, "date": long_date(edition_day)})
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"subject template {config.subject_template!r} cannot be filled in ({exc}); "
            "it may use {site_name} and {date}"
        ) from None
    return one_line(subject)  # one line: it becomes a mail header


def accent_colour(config) -> str:
    if not COLOUR.match(config.accent_color or ""):
        raise ConfigError(f"accent_color {config.accent_color!r} must be a colour like #1a5fb4")
    return config.accent_color


def article_view(article: Article, tz) -> ArticleView:
    return ArticleView(
        title=one_line(article.title) or "(untitled)",
        url=safe_url(article.url),
        lede=one_line(article.lede),
        date_label=day_month(article.published, tz),
    )


def preheader(sections) -> str:
    """The hidden line inbox lists show after the subject: the first few titles."""
    titles = [a.title for s in sections for a in s.articles][:PREHEADER_TITLES]
    text = " · ".join(titles)
    if len(text) > PREHEADER_MAX:
        text = text[: PREHEADER_MAX - 1].rsplit(" ", 1)[0] + "…"
    return text


def subscribed_to(categories: tuple[str, ...] | None) -> str:
    """"all categories", "Travel", "Health and Travel", "Business, Health and Travel"."""
    if categories is None:
        return "all categories"
    names = list(categories)
    if not names:
        return "your chosen categories"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


@lru_cache(maxsize=8192)
def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Fold text at `width` columns without breaking words or URLs (cached: ledes repeat
    across every variant of an edition)."""
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)
