"""Shared set-up for the delivery tests: a real edition (the bundled sample, built and
approved), subscribers with a spread of category choices, and checks on what arrived."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.message import EmailMessage

from digest.config import Config, SmtpSettings
from digest.links import Links
from digest.models import Edition, Subscriber

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
# () is "every category"; "Nonexistent" has no articles, so such a reader gets nothing.
CATEGORY_SETS = [(), ("News",), ("Technology", "Health"), ("Travel",), ("Education", "Politics"), ("Nonexistent",)]
NAMES = ["Ann Lee", "", "Zoë Brontë", 'Bob "the builder" <b@x>', "O'Neil & Sons", "Émile\tZola"]


def make_edition(store, config: Config, approve: bool = True) -> Edition:
    from digest import editions
    from digest.ingest import ingest_sample

    ingest_sample(store, config, NOW)
    edition = editions.build(store, config, NOW)
    if approve:
        editions.approve(store, edition.key, NOW)
    return editions.get(store, edition.key, config)


def add_subscribers(store, count: int, sets=CATEGORY_SETS, status: str = "active") -> list[Subscriber]:
    added = []
    with store.transaction():
        for number in range(count):
            subscriber = Subscriber(
                email=f"reader{number:04d}@example.com", name=NAMES[number % len(NAMES)],
                categories=tuple(sets[number % len(sets)]), status=status,
            )
            added.append(store.subscribers.add(subscriber, NOW))
    return added


def smtp_config(config: Config, server, timeout: float = 5.0) -> Config:
    return config.with_overrides(transport="smtp", smtp=SmtpSettings(host=server.host, port=server.port,
                                                                       timeout=timeout))


def wanted(edition: Edition, subscriber: Subscriber) -> tuple[str, ...]:
    present = [s.category for s in edition.sections if s.articles]
    return tuple(c for c in present if not subscriber.categories or c in subscriber.categories)


def bodies(message: EmailMessage) -> tuple[str, str]:
    """(text, html) as the email package decodes them, line endings as in the source text."""
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    return text, html


def check_message(message: EmailMessage, subscriber: Subscriber, edition: Edition, config: Config) -> None:
    """The message is the subscriber's: addressed to them, with exactly their categories'
    articles, and links signed for them."""
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["To"].addresses[0].addr_spec == subscriber.email
    text, html = bodies(message)
    categories = wanted(edition, subscriber)
    for section in edition.sections:
        for article in section.articles:
            mark = f"\n{article.url}\n" if article.url else article.title
            assert (mark in text) == (section.category in categories), (mark, subscriber)
    links = Links.from_config(config)
    found = re.findall(re.escape(config.base_url) + r"/([puc])/([A-Za-z0-9_.\-]+)", text)
    purposes = {"p": "preferences", "u": "unsubscribe", "c": "category"}
    assert {kind for kind, _ in found} >= {"p", "u"}
    for kind, token in found:
        data = links.load(purposes[kind], token)
        assert data.subscriber_id == subscriber.id
        if kind == "c":
            assert data.category in categories
    unsubscribe = message["List-Unsubscribe"]
    token = re.search(r"/u/([A-Za-z0-9_.\-]+)>", unsubscribe).group(1)
    assert links.load("unsubscribe", token).subscriber_id == subscriber.id
