"""Which stored article an ingested one is (its key), and whether its content changed (its hash)."""

from __future__ import annotations

import hashlib
import json
import unicodedata

from digest.models import Article
from digest.timeutil import iso

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def article_key(article: Article, source_id: str, date_given: bool) -> str:
    """Feed guid, else canonical URL, else normalised title + source (+ the date, when given).

    A guid that is a URL, URN or tag URI is unique on its own; a bare one ("42") is only unique
    within its feed, so it is qualified by the source.
    """
    if article.guid:
        return f"guid:{article.guid}" if ":" in article.guid else f"guid:{source_id}#{article.guid}"
    if article.url:
        return f"url:{article.url}"
    key = f"title:{source_id}|{normalised_title(article.title)}"
    if date_given:
        key += f"|{article.published.date().isoformat()}"
    return key


def normalised_title(title: str) -> str:
    """Case, quote style, accents' composition and spacing ignored."""
    text = unicodedata.normalize("NFKC", title).translate(_QUOTES).casefold()
    return " ".join(text.split())


def content_hash(article: Article) -> str:
    """A digest of every stored field that is the article's content (not where it came from)."""
    fields = [
        article.title, article.url, article.category, iso(article.published), article.dated,
        article.teaser, article.summary, article.body, article.body_html, article.guid,
    ]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
