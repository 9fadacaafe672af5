"""Synthetic data for the benchmarks: articles, subscribers, a digest.toml, an in-memory edition.

Everything is drawn from a seeded random.Random, so two runs with the same seed build the
same newsroom and the same list. The words are our own filler vocabulary: the benchmark
needs text of a realistic shape (sentences, paragraphs, some articles without a summary so
that ledes come from the body), not meaning.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from digest.config import Category, Config
from digest.models import Article, Edition, Section, Subscriber

SECRET_KEY = "benchmark-secret-key-not-for-production"
BASE_URL = "https://news.example.test"

WORDS = (
    "council harbour bridge budget river school market tram clinic garden library station "
    "festival museum nurses teachers farmers engineers volunteers residents planners reporters "
    "announced approved delayed opened closed repaired measured reviewed promised questioned "
    "quietly sharply slowly finally again early late nearly almost openly "
    "new old small large local regional northern coastal rural busy "
    "plan report survey vote season project contract deadline proposal network"
).split()
FIRST_NAMES = "Ada Bruno Chiara Dmitri Elif Farah Gustav Hana Ivo Jun Kemal Lena Mira Nils Oona Pia".split()
LAST_NAMES = "Abara Berg Costa Dahl Eze Fischer Garcia Holm Iversen Jansen Kovac Lund Moreau Novak".split()


@dataclass(frozen=True)
class Dataset:
    """What make_dataset wrote, for the report."""

    articles: int
    subscribers: int
    distinct_category_sets: int
    seconds: float


def sentence(rng: random.Random, low: int = 8, high: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 5)))


def make_article(rng: random.Random, number: int, category: str, now: datetime, window_days: int) -> Article:
    """One article published inside the window that ends at `now`."""
    title = f"{sentence(rng, 4, 8)[:-1]} ({number})"
    slug = f"{number}-" + "-".join(title.lower().split()[:4])
    url = f"{BASE_URL}/{category.lower()}/{slug}"
    # Stay an hour clear of both window edges, so a build a few seconds later still holds them all.
    age = timedelta(seconds=rng.uniform(3600, window_days * 86400 - 3600))
    return Article(
        title=title,
        url=url,
        category=category,
        published=now - age,
        source="benchmark",
        # Half the articles have no summary, so their ledes come from the body (sentence splitting).
        summary=sentence(rng) if number % 2 else "",
        body="\n\n".join(paragraph(rng) for _ in range(rng.randint(4, 6))),
        guid=url,
    )


def make_articles(rng: random.Random, count: int, categories: tuple[str, ...], now: datetime,
                  window_days: int) -> list[Article]:
    """`count` articles spread evenly (round robin) over `categories`."""
    return [make_article(rng, n, categories[n % len(categories)], now, window_days) for n in range(count)]


def category_set(rng: random.Random, categories: tuple[str, ...]) -> tuple[str, ...]:
    """A reader's choice: a fifth take everything (empty), the rest a random non-empty subset."""
    if rng.random() < 0.2:
        return ()
    chosen = set(rng.sample(categories, rng.randint(1, len(categories) - 1)))
    return tuple(c for c in categories if c in chosen)


def make_subscribers(rng: random.Random, count: int, categories: tuple[str, ...]):
    """Yield `count` active subscribers with random category sets (a generator: never a list of 100k)."""
    for n in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        yield Subscriber(email=f"reader{n:07d}@example.test", name=name, categories=category_set(rng, categories))


def fill_store(store, config: Config, now: datetime, articles: int, subscribers: int, seed: int) -> tuple[int, int]:
    """Insert the articles and subscribers through the store API, in one transaction.

    Returns (articles inserted, distinct category sets among the subscribers).
    """
    rng = random.Random(seed)
    names = config.category_names
    distinct: set[tuple[str, ...]] = set()
    with store.transaction():
        for article in make_articles(rng, articles, names, now, config.window_days):
            digest_of_content = hashlib.sha256(f"{article.title}\n{article.body}".encode()).hexdigest()
            store.articles.upsert(article, key=article.guid, content_hash=digest_of_content, now=now)
        for subscriber in make_subscribers(rng, subscribers, names):
            distinct.add(subscriber.categories or names)
            store.subscribers.add(subscriber, now)
    return articles, len(distinct)


def write_config(folder: Path, smtp_port: int, concurrency: int, per_category: int = 5) -> Path:
    """A digest.toml for the benchmark: SMTP to the sink on loopback, no approval step."""
    path = folder / "digest.toml"
    path.write_text(
        f"""[site]
name = "The Benchmark Weekly"
base_url = "{BASE_URL}"

[edition]
per_category = {per_category}
require_approval = false

[delivery]
from_name = "The Benchmark Weekly"
from_address = "digest@news.example.test"
list_id = "benchmark.news.example.test"
transport = "smtp"
concurrency = {concurrency}
max_attempts = 1

[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"

[web]
secret_key = "{SECRET_KEY}"
""",
        encoding="utf-8",
    )
    return path


def wide_config(category_count: int, folder: Path) -> Config:
    """A Config with `category_count` categories (Topic 01, Topic 02, ...), for the render case."""
    categories = tuple(Category(f"Topic {n:02d}", (), f"Stories about topic {n}.") for n in range(1, category_count + 1))
    return Config(categories=categories, secret_key=SECRET_KEY, base_url=BASE_URL, db_path=folder / "unused.db")


def wide_edition(config: Config, now: datetime, seed: int) -> Edition:
    """An edition held in memory: per_category articles with ledes in every configured category."""
    rng = random.Random(seed)
    sections = []
    number = 0
    for name in config.category_names:
        articles = []
        for _ in range(config.per_category):
            article = make_article(rng, number, name, now, config.window_days)
            article.id = number + 1
            article.lede = article.summary or sentence(rng, 20, 40)
            articles.append(article)
            number += 1
        sections.append(Section(name, articles))
    return Edition(key="2026-W01", window_start=now - timedelta(days=config.window_days), window_end=now,
                   sections=sections, built_at=now)


def distinct_category_sets(categories: tuple[str, ...], count: int, seed: int) -> list[tuple[str, ...]]:
    """`count` different non-empty subsets of `categories`, each in configured order."""
    if count > 2 ** len(categories) - 1:
        raise ValueError(f"only {2 ** len(categories) - 1} non-empty subsets of {len(categories)} categories")
    rng = random.Random(seed)
    seen: set[frozenset[str]] = set()
    result = []
    while len(result) < count:
        chosen = frozenset(rng.sample(categories, rng.randint(1, len(categories))))
        if chosen not in seen:
            seen.add(chosen)
            result.append(tuple(c for c in categories if c in chosen))
    return result
