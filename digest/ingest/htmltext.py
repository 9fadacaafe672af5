"""HTML and plain text from sources → clean text, plus the sanitised HTML we keep.

Clean text keeps paragraphs apart with one blank line and collapses every other run of
whitespace, so ledes and the plain-text email never inherit a feed's markup.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

# Elements whose text is never article prose: code, styling, and captions under pictures.
SKIPPED = frozenset({"script", "style", "noscript", "template", "figcaption", "iframe", "svg", "head", "title"})
# Elements that end a paragraph of text.
BLOCKS = frozenset({
    "p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "aside", "figure",
    "main", "nav", "address",
})
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_HTML_NAMES = BLOCKS | SKIPPED | {"a", "b", "i", "em", "strong", "span", "img", "small", "sup", "sub", "u", "code"}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def looks_like_html(text: str) -> bool:
    """True when `text` holds at least one real HTML tag (not just a stray '<')."""
    return any(match.group(1).lower() in _HTML_NAMES for match in _TAG.finditer(text or ""))


def collapse(text: str) -> str:
    """One line: every run of whitespace (including no-break spaces) becomes one space."""
    return " ".join((text or "").translate(_INVISIBLE).split())


def clean_text(text: str) -> str:
    """Plain or HTML text → paragraphs of clean text separated by blank lines."""
    if looks_like_html(text):
        return html_to_text(text)
    return plain_paragraphs(text)


def plain_paragraphs(text: str) -> str:
    """Plain text: entities decoded, paragraphs (split at blank lines) each collapsed."""
    decoded = html.unescape(text or "")
    paragraphs = (collapse(block) for block in re.split(r"\n\s*\n", decoded.replace("\r\n", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


def html_to_text(markup: str) -> str:
    """HTML → clean text: skipped elements dropped, entities decoded, one paragraph per block."""
    parser = _TextParser()
    parser.feed(markup or "")
    parser.close()
    return "\n\n".join(parser.paragraphs)


def sanitise_html(markup: str) -> str:
    """HTML safe to show inside our own pages: no scripts, styles, handlers or odd URLs."""
    if not markup or not markup.strip():
        return ""
    return nh3.clean(markup.strip()).strip()


class _TextParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._words: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED:
            self._skipping.append(tag)
        elif tag in BLOCKS:
            self._end_paragraph()

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCKS:
            self._end_paragraph()

    def handle_endtag(self, tag):
        if tag in SKIPPED:
            # close the innermost matching skipped element, tolerating sloppy nesting
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag in BLOCKS:
            self._end_paragraph()

    def handle_data(self, data):
        if not self._skipping:
            self._words.append(data)

    def close(self):
        super().close()
        self._end_paragraph()

    def _end_paragraph(self):
        paragraph = collapse("".join(self._words))
        if paragraph:
            self.paragraphs.append(paragraph)
        self._words = []
