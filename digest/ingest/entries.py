"""The raw shape every format parser yields, and the two ways reading can fail.

A parser turns a source's bytes into `Entry` objects (fields as the source gave them) or
`Rejected` markers (an item too broken to describe). `normalise` turns entries into Articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.errors import InputError


@dataclass
class Entry:
    """One item as a source gave it, before normalisation."""

    where: str  # how a person finds it in the source: "item 3", "row 4", "line 12"
    title: str | None
    url: str | None = None
    labels: tuple[str, ...] = ()  # category labels as written, best first
    published: str | datetime | None = None  # raw text, or a moment the parser worked out
    summary: str = ""  # HTML or plain text
    body: str = ""  # HTML or plain text
    guid: str | None = None
    teaser: bool = False
    # True when `published` came from "3 days ago": it moves with --now, so it takes no part
    # in identity and the first-seen date is kept on later ingests.
    relative_date: bool = False


@dataclass
class Rejected:
    """An item a parser could not turn into an Entry at all."""

    where: str
    reason: str


class ItemProblem(Exception):
    """One item is unusable (no title, impossible date); the rest of the source goes on."""


class SourceUnreadable(InputError):
    """The whole source cannot be read or parsed; nothing from it is stored."""
