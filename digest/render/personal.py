"""Placeholders for the parts of an email that differ per reader, and their substitution.

A variant (one category set) is rendered once; each reader's name and signed links are
filled in afterwards by one regex pass, so MJML never runs per subscriber.

A placeholder looks like `dgst<nonce>.<name>.`: letters, digits and dots only, so it
passes MJML, premailer and lxml unchanged in text and in href attributes (lxml
percent-encodes anything else inside href). The nonce is random per Renderer, so article
text, which exists before the Renderer does, cannot contain a live placeholder.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field

from digest.links import Links
from digest.models import Subscriber

# Names the templates use; category links are "cat<N>" (N = the section's index in the
# edition), greetings "greet<hash>" (see PersonalSlots.greeting).
NAME = "name"
PREFERENCES = "prefs"
UNSUBSCRIBE = "unsub"
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Personal:
    """What differs per reader; values are plain text, escaped on insertion."""

    name: str
    preferences_url: str
    unsubscribe_url: str
    category_unsubscribe_urls: dict[str, str] = field(default_factory=dict)


def personal_for(subscriber: Subscriber, links: Links, categories) -> Personal:
    """The reader's name and signed links for the categories of the variant they receive."""
    return Personal(
        name=subscriber.name,
        preferences_url=links.preferences_url(subscriber),
        unsubscribe_url=links.unsubscribe_url(subscriber),
        category_unsubscribe_urls={c: links.category_unsubscribe_url(subscriber, c) for c in categories},
    )


class Placeholders:
    """Makes and finds the placeholders of one Renderer."""

    def __init__(self, nonce: str | None = None):
        self.nonce = nonce or secrets.token_hex(8)
        self.prefix = f"dgst{self.nonce}."
        self.pattern = re.compile(re.escape(self.prefix) + r"([a-z0-9]+)\.")

    def token(self, name: str) -> str:
        return f"{self.prefix}{name}."

    def substitute(self, text: str, values: dict[str, str]) -> str:
        """Replace every placeholder named in `values` in one pass (inserted text is not rescanned)."""
        return self.pattern.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class PersonalSlots:
    """The `personal` object templates see: placeholders instead of a real reader.

    `greeting(with_name, without_name)` lets the template word both cases ("Hello {name},"
    and "Hello,"); the phrasings are remembered in `greetings` for personalise().
    """

    def __init__(self, placeholders: Placeholders, greetings: dict[str, tuple[str, str]]):
        self._placeholders = placeholders
        self.greetings = greetings
        self.name = placeholders.token(NAME)
        self.preferences_url = placeholders.token(PREFERENCES)
        self.unsubscribe_url = placeholders.token(UNSUBSCRIBE)

    def greeting(self, with_name: str, without_name: str) -> str:
        digest = hashlib.sha256(f"{with_name}\x00{without_name}".encode()).hexdigest()[:10]
        name = f"greet{digest}"
        self.greetings[name] = (str(with_name), str(without_name))
        return self._placeholders.token(name)


def clean_name(name: str) -> str:
    """One line, no control characters: a name must not add lines to the text part."""
    return " ".join(CONTROL_CHARS.sub(" ", name or "").split())


def personal_values(personal: Personal, greetings: dict[str, tuple[str, str]],
                    category_tokens: dict[str, str], for_html: bool) -> dict[str, str]:
    """Placeholder name → the text to insert, escaped for HTML when `for_html`."""
    escape = (lambda value: html.escape(value, quote=True)) if for_html else (lambda value: value)
    name = clean_name(personal.name)
    values = {
        NAME: escape(name),
        PREFERENCES: escape(personal.preferences_url),
        UNSUBSCRIBE: escape(personal.unsubscribe_url),
    }
    for token_name, (with_name, without_name) in greetings.items():
        phrase = with_name.replace("{name}", name) if name else without_name
        values[token_name] = escape(phrase)
    for token_name, category in category_tokens.items():
        # A category without its own link falls back to the preference page, which can
        # stop it too: better than a dead link.
        url = personal.category_unsubscribe_urls.get(category, personal.preferences_url)
        values[token_name] = escape(url)
    return values
