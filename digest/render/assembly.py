"""Cut one compiled edition into pieces and put any category set's email together from them.

Why this exists: Jinja → MJML → premailer costs ~40 ms or more per render, and an edition
with 20 categories can have a thousand distinct category sets among its subscribers
(issue 5 asks for all of them within 5 seconds). So the edition is compiled once with
every section present, with a marker comment before each section and after the last;
a variant is then the head, its chosen sections in order and the tail, joined as strings,
with the few variant-wide bits (preheader, the footer's list of categories) filled in
by substitution. Renderer checks once per edition that this gives exactly what a direct
render gives, and falls back to direct renders when an edited template breaks that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup


class Markers:
    """The marker comments of one Renderer (the nonce keeps article text from faking one)."""

    def __init__(self, nonce: str):
        self.nonce = nonce
        self.any = re.compile(rf"<!--digest:(?:section:{nonce}:\d+|end:{nonce})-->")

    def section(self, index: int) -> Markup:
        return Markup(f"<mj-raw><!--digest:section:{self.nonce}:{index}--></mj-raw>")

    def end(self) -> Markup:
        return Markup(f"<mj-raw><!--digest:end:{self.nonce}--></mj-raw>")

    def strip(self, html: str) -> str:
        return self.any.sub("", html)


@dataclass(frozen=True)
class Assembly:
    head: str
    pieces: dict[int, str]  # section index → its compiled HTML, markers removed
    tail: str

    @classmethod
    def split(cls, html: str, markers: Markers, indices: list[int]) -> "Assembly | None":
        """Cut the full render; None when the template did not keep the markers in order."""
        positions = []
        for index in indices:
            position = html.find(f"<!--digest:section:{markers.nonce}:{index}-->")
            if position < 0:
                return None
            positions.append(position)
        end = html.find(f"<!--digest:end:{markers.nonce}-->")
        if end < 0 or positions != sorted(positions) or (positions and positions[-1] > end):
            return None
        bounds = positions + [end]
        pieces = {index: markers.strip(html[bounds[n]:bounds[n + 1]]) for n, index in enumerate(indices)}
        return cls(head=markers.strip(html[:bounds[0]]), pieces=pieces, tail=markers.strip(html[end:]))

    def assemble(self, indices) -> str:
        return "".join((self.head, *(self.pieces[i] for i in indices), self.tail))


def escape_text(value: str) -> str:
    """How text comes out of MJML + lxml: &, < and > escaped, quotes left as they are.

    Used to fill variant-wide slots so that the fast path matches a direct render.
    """
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
