"""Renderer: an edition and a category set → a Variant (subject, preheader, HTML, text).

One Variant per distinct category set; each reader's name and links are filled into it
later by Variant.personalise, which never runs Jinja or MJML.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable

from digest.editions import edition_date
from digest.models import Edition
from digest.render import pipeline
from digest.render.assembly import Assembly, Markers, escape_text
from digest.render.personal import Personal, PersonalSlots, Placeholders, personal_values
from digest.render.view import (
    SectionView,
    accent_colour,
    article_view,
    long_date,
    one_line,
    preheader,
    subject_line,
    subscribed_to,
    wrap,
)

log = logging.getLogger(__name__)

PREHEADER_SLOT = "slotpreheader"
SUBSCRIBED_SLOT = "slotsubscribed"
EDITIONS_KEPT = 4


@dataclass(frozen=True)
class Variant:
    """One category set's email, with placeholders where each reader's details go."""

    categories: tuple[str, ...]  # the categories actually in it (sections with articles)
    subject: str
    preheader: str
    html: str
    text: str
    placeholders: Placeholders = field(repr=False)
    greetings: dict[str, tuple[str, str]] = field(repr=False)
    category_tokens: dict[str, str] = field(repr=False)  # placeholder name → category

    @property
    def empty(self) -> bool:
        return not self.categories

    def personalise(self, personal: Personal) -> tuple[str, str]:
        """(html, text) for one reader: a substitution that escapes what it inserts."""
        html_values = personal_values(personal, self.greetings, self.category_tokens, for_html=True)
        text_values = personal_values(personal, self.greetings, self.category_tokens, for_html=False)
        return (self.placeholders.substitute(self.html, html_values),
                self.placeholders.substitute(self.text, text_values))


@dataclass
class _Prepared:
    """One edition made ready: its display data and, when the template allows, its pieces."""

    subject: str
    edition_date: str
    sections: list[SectionView]  # only sections with articles, in edition order
    assembly: Assembly | None = None
    warning: str | None = None  # why the fast path is off for this edition


class Renderer:
    """Loads and compiles the templates once; caches each edition's compiled pieces.

    Safe to share between threads (renders take a lock); Variant.personalise needs none.
    """

    def __init__(self, config):
        self.config = config
        self.accent_color = accent_colour(config)
        self.environment = pipeline.make_environment(config.templates_dir, {"wrap": wrap})
        self.html_template = pipeline.load_template(self.environment, pipeline.HTML_TEMPLATE)
        self.text_template = pipeline.load_template(self.environment, pipeline.TEXT_TEMPLATE)
        self.html_path = config.templates_dir / pipeline.HTML_TEMPLATE
        self.placeholders = Placeholders()
        self.markers = Markers(self.placeholders.nonce)
        self.greetings: dict[str, tuple[str, str]] = {}
        self._prepared: OrderedDict[tuple, _Prepared] = OrderedDict()
        self._lock = threading.RLock()

    # -- public -------------------------------------------------------------------------

    def render(self, edition: Edition, categories: Iterable[str] | None = None) -> Variant:
        """The variant for `categories` (None or empty: all), assembled from cached pieces."""
        with self._lock:
            return self._render(edition, categories)

    def render_direct(self, edition: Edition, categories: Iterable[str] | None = None) -> Variant:
        """The same variant by running Jinja → MJML → premailer for this category set alone."""
        with self._lock:
            prepared = self._prepare(edition)
            wanted = _wanted(categories)
            return self._direct(prepared, _choose(prepared.sections, wanted), wanted)

    def warning(self, edition: Edition) -> str | None:
        """Why this edition is rendered the slow way, if it is (for the preview page)."""
        with self._lock:
            return self._prepare(edition).warning

    # -- internals ----------------------------------------------------------------------

    def _render(self, edition: Edition, categories) -> Variant:
        prepared = self._prepare(edition)
        wanted = _wanted(categories)
        chosen = _choose(prepared.sections, wanted)
        if prepared.assembly is None:
            return self._direct(prepared, chosen, wanted)
        html = prepared.assembly.assemble([s.index for s in chosen])
        html = self.placeholders.substitute(html, {
            PREHEADER_SLOT: escape_text(preheader(chosen)),
            SUBSCRIBED_SLOT: escape_text(subscribed_to(self._listed(wanted))),
        })
        return self._variant(prepared, chosen, wanted, html)

    def _prepare(self, edition: Edition) -> _Prepared:
        key = _fingerprint(edition)
        prepared = self._prepared.get(key)
        if prepared is not None:
            self._prepared.move_to_end(key)
            return prepared
        prepared = self._build(edition)
        self._prepared[key] = prepared
        while len(self._prepared) > EDITIONS_KEPT:
            self._prepared.popitem(last=False)
        return prepared

    def _build(self, edition: Edition) -> _Prepared:
        tz = self.config.tz
        day = edition_date(edition, tz)
        sections = [
            SectionView(
                index=index,
                category=one_line(section.category),
                description=self._description(section.category),
                articles=tuple(article_view(a, tz) for a in section.articles),
                marker=self.markers.section(index),
                stop_url=self.placeholders.token(f"cat{index}"),
            )
            for index, section in enumerate(edition.sections)
            if section.articles
        ]
        prepared = _Prepared(subject=subject_line(self.config, day), edition_date=long_date(day), sections=sections)
        full = self._compile(prepared, sections,
                             self.placeholders.token(PREHEADER_SLOT), self.placeholders.token(SUBSCRIBED_SLOT))
        assembly = Assembly.split(full, self.markers, [s.index for s in sections])
        if assembly is None:
            prepared.warning = ("the email template lost its section markers, so every category set "
                                "is compiled on its own (slow); see the comment at the top of the template")
        elif len(sections) > 1:
            # Proof on real data that the cut is faithful: a subset that drops the first
            # section and changes every neighbour must match a direct render exactly.
            probe = sections[1::2]
            listed = tuple(s.category for s in probe)
            direct = self.markers.strip(self._compile(prepared, probe, preheader(probe), subscribed_to(listed)))
            fast = self.placeholders.substitute(assembly.assemble([s.index for s in probe]), {
                PREHEADER_SLOT: escape_text(preheader(probe)),
                SUBSCRIBED_SLOT: escape_text(subscribed_to(listed)),
            })
            if fast != direct:
                assembly = None
                prepared.warning = ("the email template renders a section differently depending on its "
                                    "neighbours, so every category set is compiled on its own (slow)")
        if prepared.warning:
            log.warning("edition %s: %s", edition.key, prepared.warning)
        prepared.assembly = assembly
        return prepared

    def _compile(self, prepared: _Prepared, sections, preheader_text: str, subscribed: str) -> str:
        context = self._context(prepared, sections, preheader_text, subscribed)
        mjml = pipeline.render_template(self.html_template, context)
        return pipeline.compile_mjml(mjml, self.html_path)

    def _direct(self, prepared: _Prepared, chosen: list[SectionView], wanted) -> Variant:
        listed = subscribed_to(self._listed(wanted))
        html = self.markers.strip(self._compile(prepared, chosen, preheader(chosen), listed))
        return self._variant(prepared, chosen, wanted, html)

    def _variant(self, prepared: _Prepared, chosen: list[SectionView], wanted, html: str) -> Variant:
        context = self._context(prepared, chosen, preheader(chosen), subscribed_to(self._listed(wanted)))
        text = pipeline.render_template(self.text_template, context)
        return Variant(
            categories=tuple(s.category for s in chosen),
            subject=prepared.subject,
            preheader=preheader(chosen),
            html=html,
            text=text,
            placeholders=self.placeholders,
            greetings=dict(self.greetings),
            category_tokens={f"cat{s.index}": s.category for s in chosen},
        )

    def _context(self, prepared: _Prepared, sections, preheader_text: str, subscribed: str) -> dict:
        return {
            "site_name": one_line(self.config.site_name),
            "base_url": self.config.base_url,
            "accent_color": self.accent_color,
            "subject": prepared.subject,
            "edition_date": prepared.edition_date,
            "preheader": preheader_text,
            "subscribed_to": subscribed,
            "sections": sections,
            "sections_end": self.markers.end(),
            "personal": PersonalSlots(self.placeholders, self.greetings),
        }

    def _description(self, category: str) -> str:
        for configured in self.config.categories:
            if configured.name == category:
                return one_line(configured.description)
        return ""

    def _listed(self, wanted: frozenset[str] | None) -> tuple[str, ...] | None:
        """The categories the footer names: the reader's choice, in configured order."""
        if wanted is None:
            return None
        order = list(self.config.category_names)
        known = [c for c in order if c in wanted]
        return tuple(known + sorted(c for c in wanted if c not in order))


def _wanted(categories: Iterable[str] | None) -> frozenset[str] | None:
    chosen = frozenset(categories or ())
    return chosen or None


def _choose(sections: list[SectionView], wanted: frozenset[str] | None) -> list[SectionView]:
    return [s for s in sections if wanted is None or s.category in wanted]


def _fingerprint(edition: Edition) -> tuple:
    """Everything about an edition that shows in its email (cheap next to one render)."""
    return (
        edition.key, edition.window_start, edition.window_end, edition.built_at,
        tuple((s.category, tuple((a.id, a.title, a.url, a.lede, a.published) for a in s.articles))
              for s in edition.sections),
    )
