"""Check an MJML template's tags line by line, before compiling it.

The mjml package forgives unclosed tags silently and fails on unknown ones with a bare
KeyError, neither naming a line. Editors change the template by hand, so we check the
template source itself (Jinja blanked out, newlines kept), where line numbers are the
editor's own.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mjml.core.registry import components, register_core_components

JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
# Tags that are not components but are valid where MJML expects them.
EXTRA_TAGS = {"mjml", "mj-include", "mj-all", "mj-class", "mj-selector", "mj-html-attribute"}
# Content of these is HTML or CSS, not MJML: only their own closing tag matters.
OPAQUE = {"mj-text", "mj-raw", "mj-style", "mj-button", "mj-table", "mj-title", "mj-preview",
          "mj-navbar-link", "mj-accordion-text", "mj-accordion-title", "mj-social-element"}


def known_tags() -> set[str]:
    register_core_components()
    return set(components) | EXTRA_TAGS


def blank_jinja(source: str) -> str:
    """The source with every Jinja tag, expression and comment replaced by spaces (newlines kept)."""
    return JINJA.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def check_mjml_source(source: str) -> tuple[int, str] | None:
    """The first problem as (line, reason), or None when the MJML tags are sound."""
    checker = _TagChecker(known_tags())
    try:
        checker.feed(blank_jinja(source))
        checker.close()
    except _Problem as problem:
        return problem.line, problem.reason
    if checker.open:
        tag, line = checker.open[-1]
        return line, f"<{tag}> is never closed"
    if not checker.seen_root:
        return 1, "there is no <mjml> element"
    return None


class _Problem(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _TagChecker(HTMLParser):
    def __init__(self, known: set[str]):
        super().__init__(convert_charrefs=True)
        self.known = known
        self.open: list[tuple[str, int]] = []
        self.seen_root = False

    def _inside_opaque(self) -> bool:
        return bool(self.open) and self.open[-1][0] in OPAQUE

    def handle_starttag(self, tag, attrs):
        self._start(tag, self_closing=False)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, self_closing=True)

    def _start(self, tag: str, self_closing: bool) -> None:
        if self._inside_opaque() or not _is_mjml(tag):
            return
        line = self.getpos()[0]
        if tag not in self.known:
            raise _Problem(line, f"<{tag}> is not an MJML element")
        if tag == "mjml":
            self.seen_root = True
        if not self_closing:
            self.open.append((tag, line))

    def handle_endtag(self, tag):
        if not _is_mjml(tag):
            return
        if self._inside_opaque() and tag != self.open[-1][0]:
            return
        line = self.getpos()[0]
        if not self.open:
            raise _Problem(line, f"</{tag}> closes nothing")
        expected, opened_at = self.open[-1]
        if tag != expected:
            raise _Problem(line, f"</{tag}> found where <{expected}> (line {opened_at}) should be closed")
        self.open.pop()


def _is_mjml(tag: str) -> bool:
    return tag == "mjml" or tag.startswith("mj-")
