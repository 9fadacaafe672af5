"""Which variant each subscriber gets, and their message bytes.

A variant is rendered (and its MessageTemplate built) the first time a subscriber needs its
set of categories. Templates are kept in a bounded LRU cache: with many categories the number
of distinct sets can grow with the list, and memory must not.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime

from digest.config import Config
from digest.deliver.message import MessageTemplate
from digest.deliver.message import MessageIds
from digest.deliver.signing import signer_for
from digest.links import Links
from digest.models import Edition, Subscriber


TEMPLATES_KEPT = 256  # each holds one variant's message (tens of kB)


@dataclass(frozen=True)
class Composed:
    recipient: str
    data: bytes
    message_id: str
    variant: tuple[str, ...]


class Composer:
    def __init__(self, config: Config, edition: Edition, now: datetime, renderer=None,
                 subject_prefix: str = ""):
        from digest.render import Renderer, personal_for

        self.config = config
        self.edition = edition
        self.now = now
        self.links = Links.from_config(config)  # ConfigError without a secret key
        self.signer = signer_for(config)
        self.message_ids = MessageIds(config, edition.key)
        self.renderer = renderer or Renderer(config)
        self._personal_for = personal_for  # imported here, with the renderer, once per send
        self.subject_prefix = subject_prefix
        self._present = tuple(s.category for s in edition.sections if s.articles)
        self._templates: OrderedDict[tuple[str, ...], MessageTemplate | None] = OrderedDict()
        self.counts: Counter = Counter()  # messages composed per variant
        self.subjects: dict[tuple[str, ...], str] = {}  # per variant, for reports
        self.renders = 0  # Renderer.render calls (a set evicted from the cache and met again counts twice)
        self.render_seconds = 0.0

    def categories_for(self, subscriber: Subscriber) -> tuple[str, ...]:
        """The edition's categories with articles that this subscriber reads (empty: nothing new)."""
        if not subscriber.categories:
            return self._present
        wanted = set(subscriber.categories)
        return tuple(c for c in self._present if c in wanted)

    def template(self, categories: tuple[str, ...]) -> MessageTemplate | None:
        if categories in self._templates:
            self._templates.move_to_end(categories)
            return self._templates[categories]
        started = time.perf_counter()
        variant = self.renderer.render(self.edition, categories)
        self.render_seconds += time.perf_counter() - started
        self.renders += 1
        subject = f"{self.subject_prefix} {variant.subject}" if self.subject_prefix else None
        template = None if variant.empty else MessageTemplate(self.config, variant, self.now, subject)
        self._templates[categories] = template
        if template is not None:
            self.subjects[template.categories] = template.variant.subject
        while len(self._templates) > TEMPLATES_KEPT:
            self._templates.popitem(last=False)
        return template

    def compose(self, subscriber: Subscriber, to_email: str | None = None,
                message_id: str | None = None) -> Composed | None:
        """The subscriber's message (sent to `to_email` with `message_id` if given, e.g. a test
        copy), or None when no category they read has articles in this edition."""
        categories = self.categories_for(subscriber)
        template = self.template(categories) if categories else None
        if template is None:
            return None
        personal = self._personal_for(subscriber, self.links, template.categories)
        mid = message_id or self.message_ids(subscriber.id or 0)
        recipient = to_email or subscriber.email
        data = template.fill(subscriber.name, recipient, personal, mid)
        if self.signer is not None:
            data = self.signer.sign(data)
        self.counts[template.categories] += 1
        return Composed(recipient, data, mid, template.categories)

    @property
    def variants(self) -> dict[tuple[str, ...], MessageTemplate]:
        """The templates still cached (all of them, unless there were more than TEMPLATES_KEPT)."""
        return {k: v for k, v in self._templates.items() if v is not None}
