"""Plain text copied from a news site's front page.

The shape we read:
- a title line (no closing full stop), then the article's body paragraphs (a lone line
  with no body, such as the site's name, is skipped with a warning);
- a line holding only a category label (a configured name or alias, e.g. "News") sets the
  category of the articles that follow, until the next label;
- a lone "-" separates items;
- a teaser is an age line, the category glued to or spaced from a relative age
  ("Travel9 months ago", "Health 2 days ago", "News an hour ago"), then its title line, no body.

Copied pages keep each paragraph on one line. For hand-wrapped text, a line starting in lower
case under an unfinished line, or any line right under an unfinished body line, continues
that paragraph instead of starting a new article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from dateutil.relativedelta import relativedelta

from digest.config import Config
from digest.ingest.entries import Entry, Rejected
from digest.ingest.htmltext import collapse

SEPARATORS = frozenset({"-", "–", "—"})
MAX_TITLE_WORDS = 25
_AGE = re.compile(
    r"^(?P<label>[^\W\d][\w&' -]{0,40}?)?\s*(?P<count>\d+|an?|one)\s+"
    r"(?P<unit>minute|min|hour|hr|day|week|month|year)s?\s+ago$",
    re.IGNORECASE,
)
# "Updated 2 hours ago" under an article is its timestamp, not a teaser: such lines are skipped.
_TIMESTAMP_WORDS = frozenset({"updated", "last updated", "published", "posted", "modified", "edited"})
_UNITS = {"minute": "minutes", "min": "minutes", "hour": "hours", "hr": "hours", "day": "days",
          "week": "weeks", "month": "months", "year": "years"}
_CLOSERS = "\"'”’»)]"


@dataclass
class _Draft:
    where: str
    title: str
    labels: tuple[str, ...]
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class _Teaser:
    where: str
    labels: tuple[str, ...]
    published: datetime


def parse_front_page(text: str, config: Config, now: datetime, warnings: list[str]) -> Iterator[Entry | Rejected]:
    section: tuple[str, ...] = ()  # the label announced last, as written
    draft: _Draft | None = None
    teaser: _Teaser | None = None
    previous = "start"  # start | blank | title | open (body line without closing punctuation) | closed

    def finish():
        # A title line with no body is not an article here (teasers come with an age line):
        # it is usually the site's name or a menu entry copied with the page.
        nonlocal draft
        done, draft = draft, None
        if done is None:
            return None
        if not done.paragraphs:
            warnings.append(f"{done.where}: line without a body or teaser age ignored ({_shorten(done.title)})")
            return None
        return Entry(where=done.where, title=done.title, labels=done.labels, body="\n\n".join(done.paragraphs))

    for number, line in _joined_lines(text, config):
        if not line:
            if previous != "start":
                previous = "blank"
            continue
        age = _AGE.match(line)
        if age and (age.group("label") or "").strip().casefold() in _TIMESTAMP_WORDS:
            continue
        if line in SEPARATORS or age or _is_label(line, config):
            if (finished := finish()) is not None:
                yield finished
            if teaser is not None:
                yield Rejected(teaser.where, "teaser line with no title after it")
                teaser = None
            if age:
                label = (age.group("label") or "").strip()
                teaser = _Teaser(f"line {number}", (label,) if label else section, _ago(age, now))
            elif line not in SEPARATORS:
                section = (line,)
            previous = "blank"
            continue
        if teaser is not None:
            yield Entry(where=teaser.where, title=line, labels=teaser.labels, published=teaser.published,
                        teaser=True, relative_date=True)
            teaser = None
            previous = "blank"  # a teaser has no body
            continue
        if previous != "open" and _looks_like_title(line):
            if (finished := finish()) is not None:
                yield finished
            draft = _Draft(f"line {number}", line, section)
            previous = "title"
            continue
        if draft is None:
            warnings.append(f"line {number}: text outside any article ignored ({_shorten(line)})")
            previous = "closed"
            continue
        if previous == "open":
            draft.paragraphs[-1] += " " + line
        else:
            draft.paragraphs.append(line)
        previous = "closed" if _ends_sentence(line) else "open"
    if (finished := finish()) is not None:
        yield finished
    if teaser is not None:
        yield Rejected(teaser.where, "teaser line with no title after it")


def _joined_lines(text: str, config: Config) -> list[tuple[int, str]]:
    """(line number, collapsed text), with hand-wrapped lines joined: a line that starts in
    lower case right under an unfinished line of prose continues it."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = collapse(raw)
        if line[:1].islower() and lines and _is_unfinished_prose(lines[-1][1], config):
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {line}")
        else:
            lines.append((number, line))
    return lines


def _is_unfinished_prose(line: str, config: Config) -> bool:
    return bool(line) and line not in SEPARATORS and not _ends_sentence(line) \
        and not _AGE.match(line) and not _is_label(line, config)


def _is_label(line: str, config: Config) -> bool:
    return config.category_or_other(line) is not None


def _ago(match: re.Match, now: datetime) -> datetime:
    count = match.group("count").lower()
    amount = 1 if count in ("a", "an", "one") else int(count)
    return now - relativedelta(**{_UNITS[match.group("unit").lower()]: amount})


def _looks_like_title(line: str) -> bool:
    return not line.rstrip(_CLOSERS).endswith((".", "…", ":", ";", ",")) and len(line.split()) <= MAX_TITLE_WORDS


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS).endswith((".", "…", "!", "?", ":", ";"))


def _shorten(line: str, limit: int = 40) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
