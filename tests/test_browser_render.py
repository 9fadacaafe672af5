"""The rendered email and the preview page in real headless Chromium."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from digest.config import DEFAULT_TEMPLATES_DIR
from digest.render import Personal, Renderer
from test_preview import build_sample
from test_render import make_edition

LONG_WORD = "Supercalifragilisticexpialidocious" * 3
LONG_URL = "https://news.example.com/" + "very-long-path-segment-" * 8 + "?utm_source=digest&utm_medium=email"


def phone_email(config, tmp_path) -> tuple:
    """An email with titles and ledes built to overflow a narrow screen if wrapping failed."""
    edition = make_edition(categories=config.category_names, per_category=2, lede_chars=300)
    edition.sections[0].articles[0].title = f"A headline with {LONG_WORD} in it"
    edition.sections[1].articles[0].lede = f"The report is at {LONG_URL} for anyone who asks."
    variant = Renderer(config).render(edition)
    html, _ = variant.personalise(Personal(
        "Alexandria Featherstonehaugh-Cholmondeley", LONG_URL, LONG_URL,
        {c: LONG_URL for c in variant.categories}))
    path = tmp_path / "email.html"
    path.write_text(html, encoding="utf-8")
    return path, [a.title for s in edition.sections for a in s.articles]


@pytest.mark.parametrize("width", [375, 320])
def test_the_email_fits_a_phone_screen_without_sideways_scrolling_and_shows_every_title(browser, config, tmp_path,
                                                                                     width):
    path, titles = phone_email(config, tmp_path)
    page = browser.new_page(viewport={"width": width, "height": 740})
    try:
        page.goto(path.as_uri())
        scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll_width <= inner_width
        headings = page.locator("h3.title")
        assert headings.all_inner_texts() == titles
        for index in range(headings.count()):
            heading = headings.nth(index)
            assert heading.is_visible()
            box = heading.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        if width == 320:
            page.screenshot(path="/tmp/digest-email-320.png", full_page=False)
    finally:
        page.close()


def test_on_a_desktop_the_email_is_one_600px_column(browser, config, tmp_path):
    path, _ = phone_email(config, tmp_path)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(path.as_uri())
        widths = page.eval_on_selector_all("h3.title", "els => els.map(e => e.closest('table').getBoundingClientRect().width)")
        assert widths and all(w <= 600 for w in widths)
        lefts = set(page.eval_on_selector_all("h3.title", "els => els.map(e => Math.round(e.getBoundingClientRect().left))"))
        assert len(lefts) == 1  # one column: every title starts at the same place
        page.screenshot(path="/tmp/digest-email-desktop.png")
    finally:
        page.close()


@pytest.fixture
def preview_server(write_config, tmp_path):
    """The --serve app on a free loopback port in a thread, with its own copy of the templates."""
    from digest.web.preview import create_preview_app

    config, edition = build_sample(write_config())
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, templates, ignore=shutil.ignore_patterns("web"))
    config = config.with_overrides(templates_dir=templates)
    server = make_server("127.0.0.1", 0, create_preview_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", config, edition
    finally:
        server.shutdown()
        thread.join()


def test_the_preview_page_shows_subject_frames_counts_and_reloads_when_a_template_is_saved(browser, preview_server):
    url, config, edition = preview_server
    page = browser.new_page(viewport={"width": 1700, "height": 1000})
    try:
        page.goto(f"{url}/preview/")
        assert page.locator("dd.subject").inner_text() == "The Weekly Digest — 25 Nov 2026"
        counts = page.locator("table.counts tbody tr").all_inner_texts()
        assert [" ".join(row.split()) for row in counts] == [f"{s.category} {len(s.articles)}" for s in edition.sections]
        desktop = page.frame_locator("iframe.desktop")
        phone = page.frame_locator("iframe.mobile")
        first_title = edition.sections[0].articles[0].title
        assert desktop.locator("h3.title").first.inner_text() == first_title
        assert phone.locator("h3.title").first.inner_text() == first_title
        assert page.locator("iframe.desktop").bounding_box()["width"] >= 600
        assert round(page.locator("iframe.mobile").bounding_box()["width"]) == 375
        assert edition.sections[0].articles[0].url in page.locator("pre.text").inner_text()
        page.screenshot(path="/tmp/digest-preview-page.png")

        template = config.templates_dir / "digest.mjml.j2"
        template.write_text(template.read_text().replace("Here are the stories we picked for you this week.",
                                                         "Fresh from the newsroom."))
        stat = template.stat()
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        # The page polls /preview/version and reloads itself; wait for the new sentence.
        page.frame_locator("iframe.desktop").locator("p.intro", has_text="Fresh from the newsroom.").wait_for(
            timeout=15000)
    finally:
        page.close()
