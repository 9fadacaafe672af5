"""Article text → a short lede for the email. Pure functions, no I/O.

The article's own summary wins when it is real prose. Otherwise the lede is the body's
first sentence (plus the next one when the first is short), after the clutter that
precedes stories in feeds (datelines, bylines, photo credits, "Advertisement") is gone.
"""

from __future__ import annotations

import re
import threading
from functools import cache

from digest.models import Article

ELLIPSIS = "…"
# A first sentence shorter than this reads as a fragment on its own, so the next one joins it.
SHORT_SENTENCE = 60
# pysbd slows down sharply on long text and a lede needs only the opening; read this many
# characters beyond the lede's length (so boundaries near the cut see their context) ...
SEGMENT_MARGIN_CHARS = 300
# ... but never more than this many words.
SEGMENT_MAX_WORDS = 300
# A cut-off summary with no whole sentence is used only when it has at least this many words.
SALVAGE_MIN_WORDS = 6

# "Lt.-Gen." and "Maj.-Gen." fool pysbd: the periods are hidden behind this private-use
# character while segmenting and put back afterwards.
_HIDDEN_PERIOD = "\ue000"
_HYPHENATED_ABBREVIATION = re.compile(r"\b(?:[A-Z][a-z]{0,4}\.-)+[A-Z][a-z]{0,4}\.")

_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]»]*$")
_FEED_ELLIPSIS = re.compile(r"(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)$")
_READ_MORE = re.compile(
    r"""(?:^|(?<=[.!?…\]”"’)])\s+)[\[(]?\s*(?:read\s+more|continue\s+reading|keep\s+reading|read\s+the\s+(?:full|rest\s+of\s+the)\s+\w+)
        \b[^.!?\n]{0,120}[.!?…»→\])]*\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_POST_APPEARED_FIRST = re.compile(r"\s*The post\s.{1,300}?\sappeared first on\s.{1,120}$", re.IGNORECASE)

_CREDIT_START = (
    r"(?:(?:photo(?:graph)?|picture|image|pic)s?\s+credits?\b"
    r"|credits?\s*:"
    r"|(?:photo(?:graph)?|picture|image|pic)s?\s*(?::|by\b))"
)
_CREDIT_LINE = re.compile(r"^[\[(]?\s*" + _CREDIT_START, re.IGNORECASE)
_CREDIT_INLINE = re.compile(r"\s*[\[(]\s*" + _CREDIT_START + r"[^)\]]{0,200}[)\]]", re.IGNORECASE)
_ADVERTISEMENT_LINE = re.compile(
    r"^\s*advertisement\s*(?:[-–—:]?\s*(?:scroll|continue)\b.*)?$", re.IGNORECASE
)
# Between sentences (text flattened from a page), or in capitals anywhere.
_ADVERTISEMENT_INLINE = re.compile(r"(^|[.!?”\"’)]\s+)Advertisement(?:\s+(?=[A-Z“\"‘])|\s*$)")
_ADVERTISEMENT_CAPITALS = re.compile(r"\s*\bADVERTISEMENT\b\s*")

_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|del|der|van|von|da|di|la|le|al|bin|ibn))*"
_NAMES = _NAME + r"(?:(?:\s*,\s*|\s+and\s+|\s*&\s*)" + _NAME + r")*"
_BYLINE_LINE = re.compile(r"^(?:By|BY)\s+.{1,100}$")
_BYLINE_PIPE = re.compile(r"^By\s+" + _NAMES + r"\s*[|•·]\s*(?:[^|!?\n]{1,40}[|•·]\s*)*")
_BYLINE_ROLE = re.compile(
    r"^By\s+" + _NAME + r"(?:\s+and\s+" + _NAME + r")?\s*,\s*(?:[\w'’&-]+\s+){0,4}?"
    r"(?i:editor|correspondent|reporter|writer|columnist|contributor|critic|analyst|journalist"
    r"|producer|chief|staff|intern|fellow)s?\b\s*[|•·:—–-]?\s*"
)
# A hyphen needs spaces around it ("LONDON (Reuters) - "), so "COVID-19" is not a dateline.
_DASH = r"(?:\s+(?:--|-)\s+|\s*[—–]\s*)"
_DATELINE_CAPITALS = re.compile(
    r"^[A-Z][A-Z'’.-]+(?:\s+[A-Z][A-Z'’.-]+)*"  # LONDON, NEW YORK, ST. LOUIS
    r"(?:\s*,\s*[A-Za-z0-9.'’ ]{1,30}?)?"  # , Calif. / , Nov 24
    r"(?:\s*\([^)]{1,30}\))?"  # (Reuters)
    + _DASH + r"(?=[\"“‘'A-Z0-9])"
)
_AGENCIES = r"Reuters|AP|AFP|AAP|Bloomberg|PA|UPI|dpa|ANI|PTI|IANS|Xinhua|TASS|EFE|ANSA|Kyodo|Yonhap|CNN|BBC"
_DATELINE_AGENCY = re.compile(
    r"^(?:[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}(?:\s*,\s*[A-Za-z0-9.'’ ]{1,30}?)?\s*)?"
    r"\((?:" + _AGENCIES + r")\)" + _DASH
)
_LEADING_CLUTTER = (_BYLINE_PIPE, _BYLINE_ROLE, _DATELINE_AGENCY, _DATELINE_CAPITALS)

_segment_lock = threading.Lock()


def make_lede(article: Article, max_chars: int = 300) -> str:
    """The lede for `article`, at most `max_chars` long; "" for titles-only items."""
    if article.teaser:
        return ""
    summary = _tidy_summary(article.summary, article.title)
    if summary and not _is_feed_truncated(summary):
        return shorten(summary, max_chars)
    from_body = lede_from_text(article.body, max_chars)
    if from_body:
        return from_body
    # No usable body: the whole sentences of a truncated summary are still better than nothing.
    if summary:
        return _salvage(summary, max_chars)
    return ""


def lede_from_text(text: str, max_chars: int = 300) -> str:
    """The first sentence of `text`, plus the second when the first is short, cut to max_chars."""
    cleaned = strip_clutter(text)
    if not cleaned:
        return ""
    sentences = split_sentences(cleaned, max_chars)
    lede = sentences[0]
    if len(lede) < SHORT_SENTENCE and len(sentences) > 1:
        lede = f"{lede} {sentences[1]}"
    return shorten(lede, max_chars)


def strip_clutter(text: str) -> str:
    """`text` as one line, without datelines, bylines, photo credits and advertisements."""
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    # Bylines on a line of their own precede the story; elsewhere "By ..." may be prose.
    while lines and (_is_byline_line(lines[0]) or _is_junk_line(lines[0])):
        lines.pop(0)
    lines = [line for line in lines if not _is_junk_line(line)]
    flat = " ".join(lines)
    flat = _CREDIT_INLINE.sub("", flat)
    flat = _ADVERTISEMENT_CAPITALS.sub(" ", flat)
    flat = _ADVERTISEMENT_INLINE.sub(lambda m: m.group(1), flat)
    flat = " ".join(flat.split())
    # "By Jane Doe | LONDON (Reuters) - ..." has several layers; peel until none is left.
    changed = True
    while changed and flat:
        changed = False
        for pattern in _LEADING_CLUTTER:
            stripped = pattern.sub("", flat, count=1)
            if stripped != flat and stripped.strip():
                flat, changed = stripped.lstrip(), True
    return flat


def split_sentences(text: str, max_chars: int = 300) -> list[str]:
    """The opening sentences of one-line `text` (enough of them to make a lede)."""
    head = _opening(text, max_chars)
    hidden = _HYPHENATED_ABBREVIATION.sub(lambda m: m.group(0).replace(".", _HIDDEN_PERIOD), head)
    with _segment_lock:  # pysbd keeps per-call state on the segmenter
        parts = _segmenter().segment(hidden)
    sentences = [p.replace(_HIDDEN_PERIOD, ".").strip() for p in parts]
    sentences = [s for s in sentences if s]
    # pysbd silently drops text it cannot map back onto the input; never lose the opening.
    if not sentences or not head.startswith(sentences[0]):
        return [head]
    return sentences


def shorten(text: str, max_chars: int) -> str:
    """`text` if it fits, else cut at a word boundary and ended with "…" (within max_chars)."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    room = max_chars - len(ELLIPSIS)
    if room < 1:
        return ""
    kept = text[:room]
    if not text[room].isspace():
        kept = kept[: kept.rfind(" ")] if " " in kept else ""  # drop the partial word
    kept = kept.rstrip(" ,;:.-–—“‘([")
    return f"{kept}{ELLIPSIS}" if kept else ""


@cache
def _segmenter():
    import pysbd  # imported here: commands that never make a lede need not load it

    return pysbd.Segmenter(language="en", clean=False)


def _opening(text: str, max_chars: int) -> str:
    words = text.split(" ")
    wanted = max_chars + SEGMENT_MARGIN_CHARS
    length = 0
    for count, word in enumerate(words[:SEGMENT_MAX_WORDS], 1):
        length += len(word) + 1
        if length >= wanted:
            return " ".join(words[:count])
    return " ".join(words[:SEGMENT_MAX_WORDS])


def _is_byline_line(line: str) -> bool:
    return bool(_BYLINE_LINE.match(line)) and not _SENTENCE_END.search(line)


def _is_junk_line(line: str) -> bool:
    return bool(_ADVERTISEMENT_LINE.match(line) or (_CREDIT_LINE.match(line) and len(line) <= 200))


def _tidy_summary(summary: str, title: str) -> str:
    """The summary without clutter and link labels; "" when nothing but a title copy is left."""
    text = strip_clutter(summary)
    text = _POST_APPEARED_FIRST.sub("", text)
    text = _READ_MORE.sub("", text).strip()
    if not text:
        return ""
    plain_text, plain_title = _plain(text), _plain(title)
    if not plain_text or plain_title.startswith(plain_text):
        return ""  # the title again, or a cut-off copy of it
    if plain_title and text.casefold().startswith(title.strip().casefold()):
        rest = text[len(title.strip()):].lstrip(" .:;|-–—")
        return rest if _plain(rest) else ""
    return text


def _is_feed_truncated(text: str) -> bool:
    """Cut off by the feed: ends in an ellipsis or "[…]", or without sentence punctuation."""
    return bool(_FEED_ELLIPSIS.search(text)) or not _SENTENCE_END.search(text)


def _salvage(summary: str, max_chars: int) -> str:
    """The whole sentences of a cut-off summary; failing that, its whole words and "…"."""
    text = _FEED_ELLIPSIS.sub("", summary).rstrip()
    sentences = split_sentences(text, max_chars)
    complete = [s for s in sentences if _SENTENCE_END.search(s) and not _FEED_ELLIPSIS.search(s)]
    if complete:
        return shorten(" ".join(complete), max_chars)
    words = text.split(" ")[:-1]  # the last word may be the partial one
    if len(words) < SALVAGE_MIN_WORDS:
        return ""  # a few words ("BBC News") say nothing
    kept = " ".join(words).rstrip(" ,;:.-–—")
    return f"{kept}{ELLIPSIS}" if len(kept) < max_chars else shorten(kept, max_chars)


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
