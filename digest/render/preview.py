"""Previews for editors: exactly what a category set or a subscriber would receive, plus
the numbers and warnings an editor checks before approving (used by `digest preview` and
the --serve page)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from digest.addresses import normalise_email
from digest.errors import InputError, NotFound
from digest.links import Links
from digest.models import Edition, Subscriber
from digest.render.personal import personal_for
from digest.render.renderer import Renderer, Variant

GMAIL_CLIP_BYTES = 102 * 1000  # Gmail hides everything after ~102 KB of HTML behind "View entire message"
# Without a configured secret key the preview still shows every link, signed with this
# key: the page is for checking layout, and `digest send` refuses to run without a real key.
PREVIEW_KEY = "preview-only-key--links-signed-with-it-never-work"
PREVIEW_KEY_NOTICE = ("no secret key is configured, so the personal links in this preview are signed with "
                      "a throwaway preview key and will not work (sending needs DIGEST_SECRET_KEY)")
# Who a category-set preview is addressed to; id 0 is never a real subscriber's.
SAMPLE_READER = Subscriber(email="reader@example.invalid", name="Alex Reader", id=0)


@dataclass(frozen=True)
class Preview:
    edition: Edition
    label: str  # "all categories", "Health, Travel" or the subscriber's address
    variant: Variant
    html: str  # personalised: exactly what the reader would receive
    text: str
    counts: tuple[tuple[str, int], ...]  # articles per category, configured order
    warnings: tuple[str, ...]

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


def parse_category_list(config, text: str) -> tuple[str, ...]:
    """"travel, tech" → ("Technology", "Travel"): names or aliases, any case, comma-separated;
    the result is in configured order."""
    labels = [label.strip() for label in re.split(r"[,;]", text or "") if label.strip()]
    if not labels:
        raise InputError(f"--categories is empty; valid categories: {', '.join(config.category_names)}")
    chosen, unknown = [], []
    for label in labels:
        name = config.canonical_category(label)
        if name is None:
            unknown.append(label)
        elif name not in chosen:
            chosen.append(name)
    chosen.sort(key=config.category_names.index)
    if unknown:
        raise InputError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; "
                         f"valid categories: {', '.join(config.category_names)}")
    return tuple(chosen)


def preview_links(config) -> tuple[Links, str | None]:
    """Links signed with the configured key, else with the preview key and a notice saying so."""
    if config.secret_key:
        return Links.from_config(config), None
    return Links(PREVIEW_KEY, config.base_url), PREVIEW_KEY_NOTICE


def find_subscriber(store, email: str) -> Subscriber:
    subscriber = store.subscribers.by_email(normalise_email(email))
    if subscriber is None:
        raise NotFound(f"no subscriber with the address {email.strip()!r}")
    return subscriber


def make_preview(store, config, renderer: Renderer, edition: Edition,
                 categories: tuple[str, ...] | None = None, email: str | None = None) -> Preview:
    """The personalised email for a category set (None: all) or for one subscriber."""
    links, notice = preview_links(config)
    warnings = [notice] if notice else []
    if email:
        reader = find_subscriber(store, email)
        categories = reader.categories or None
        label = reader.email
        if reader.status != "active":
            warnings.append(f"{reader.email} is {reader.status}: they would not be sent this edition")
    else:
        reader = SAMPLE_READER
        label = ", ".join(categories) if categories else "all categories"
    variant = renderer.render(edition, categories)
    html, text = variant.personalise(personal_for(reader, links, variant.categories))
    warnings += edition_warnings(config, edition, renderer) + selection_warnings(label, variant, html)
    return Preview(edition, label, variant, html, text, article_counts(config, edition), tuple(warnings))


def article_counts(config, edition: Edition) -> tuple[tuple[str, int], ...]:
    """Every configured category (0 when empty), then any other category the edition holds."""
    counts = {name: 0 for name in config.category_names}
    for section in edition.sections:
        counts[section.category] = counts.get(section.category, 0) + len(section.articles)
    return tuple(counts.items())


def edition_warnings(config, edition: Edition, renderer: Renderer) -> list[str]:
    warnings = [f"{name} has no articles in this edition"
                for name, count in article_counts(config, edition) if count == 0]
    warnings += [f"{section.category}: “{article.title}” has no lede"
                 for section in edition.sections for article in section.articles if not article.lede]
    slow = renderer.warning(edition)
    if slow:
        warnings.append(slow)
    return warnings


def selection_warnings(label: str, variant: Variant, html: str) -> list[str]:
    warnings = []
    if variant.empty:
        warnings.append(f"{label}: no articles in this edition, so nothing would be sent")
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        warnings.append(f"the HTML is {size / 1000:.1f} KB: Gmail clips messages above 102 KB")
    return warnings


def default_paths(config, preview: Preview) -> tuple[Path, Path]:
    """preview/digest-<key>.html and .txt beside the database (-<selection> when not all)."""
    folder = Path(config.db_path).parent / "preview"
    suffix = "" if preview.label == "all categories" else "-" + _slug(preview.label)
    stem = f"digest-{preview.edition.key}{suffix}"
    return folder / f"{stem}.html", folder / f"{stem}.txt"


def write_preview(preview: Preview, html_path: Path | None, text_path: Path | None) -> list[Path]:
    written = []
    for path, content in ((html_path, preview.html), (text_path, preview.text)):
        if path is None:
            continue
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        written.append(path)
    return written


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "selection"
