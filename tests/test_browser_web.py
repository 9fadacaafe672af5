"""End to end in headless Chromium: editions go out through a real SMTP server, and a reader
uses the links in the mail they received against the app served on a loopback port.

- untick a category on the preferences page → the next edition comes without it;
- the List-Unsubscribe one-click POST → the next edition does not come at all;
- sign up → confirmation email → confirm → the first digest arrives, with the chosen sections.
"""

from __future__ import annotations

import csv
import re
import threading
import urllib.request
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from conftest import NOW
from digest import editions
from digest import subscribers as service
from digest.config import SmtpSettings
from digest.deliver.service import send_edition
from digest.deliver.transports import make_transport
from digest.ingest import ingest_source
from digest.web import create_app
from smtp_server import SmtpServer

WEEK = timedelta(days=7)
SECTIONS = ("News", "Business", "Travel")


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def site(config, store, smtp):
    """The preference centre on 127.0.0.1:<free port>; config.base_url points at it, so the
    links in the emails lead here. Its own emails go to the SMTP test server too."""
    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    config = config.with_overrides(
        base_url=f"http://127.0.0.1:{server.server_port}", transport="smtp", require_approval=False,
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, timeout=5),
    )
    holder["app"] = create_app(config)  # mail through make_transport(config): real SMTP
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield config
    server.shutdown()
    thread.join()
    holder["app"].extensions["digest"].mailer.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def publish_week(store, config, tmp_path, smtp, week: int, expected: int):
    """Ingest two new stories per section dated in `week`, build that edition, send it through
    SMTP, and return {recipient: message} for what arrived."""
    now = NOW + week * WEEK
    path = tmp_path / f"week{week}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["title", "url", "category", "published", "summary"])
        for section in SECTIONS:
            for number in (1, 2):
                writer.writerow([title(section, week, number), f"https://news.example.com/{week}/{section}/{number}",
                                 section, (now - timedelta(days=number)).isoformat(),
                                 f"What happened in {section.lower()} this week, story {number}."])
    assert ingest_source(store, config, str(path), now).new == 6
    edition = editions.build(store, config, now)
    before = smtp.count
    transport = make_transport(config)
    try:
        report = send_edition(store, config, edition.key, transport=transport)
    finally:
        transport.close()
    assert report.sent == expected, report.line()
    assert smtp.wait_for(before + expected, timeout=30)
    return {r.rcpt_tos[0]: r.message for r in smtp.messages[before:]}


def title(section: str, week: int, number: int) -> str:
    return f"{section} story {number} of week {week}"


def sections_in(message, week: int) -> set[str]:
    """The sections whose stories of `week` the message's text part carries."""
    text = message.get_body(("plain",)).get_content()
    return {section for section in SECTIONS if all(title(section, week, n) in text for n in (1, 2))}


def test_unticking_a_category_in_the_browser_stops_it_from_the_next_edition(
        store, site, smtp, page, tmp_path):
    reader = service.add(store, site, "reader@example.com", "Rea Der", "", NOW)
    service.add(store, site, "other@example.com", "", "", NOW)
    first = publish_week(store, site, tmp_path, smtp, week=0, expected=2)
    assert sections_in(first["reader@example.com"], 0) == set(SECTIONS)
    html = first["reader@example.com"].get_body(("html",)).get_content()
    preferences = re.search(r'href="(' + re.escape(site.base_url) + r'/p/[^"]+)"', html).group(1)

    page.goto(preferences)
    assert page.get_by_text("r***r@example.com").is_visible()
    business = page.get_by_label("Business", exact=True)
    assert business.is_checked()
    business.focus()
    page.keyboard.press("Space")  # keyboard only: untick, then press Save
    page.get_by_role("button", name="Save my choices").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=saved"))
    assert page.get_by_role("status").inner_text().startswith("Saved.")
    assert not page.get_by_label("Business", exact=True).is_checked()
    assert store.subscribers.get(reader.id).categories == tuple(
        name for name in site.category_names if name != "Business")

    second = publish_week(store, site, tmp_path, smtp, week=1, expected=2)
    assert sections_in(second["reader@example.com"], 1) == {"News", "Travel"}
    assert sections_in(second["other@example.com"], 1) == set(SECTIONS)


def test_the_one_click_unsubscribe_from_the_header_stops_the_next_edition(store, site, smtp, tmp_path):
    reader = service.add(store, site, "reader@example.com", "", "News;Travel", NOW)
    service.add(store, site, "other@example.com", "", "", NOW)
    first = publish_week(store, site, tmp_path, smtp, week=0, expected=2)
    message = first["reader@example.com"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(http://[^>]+/u/[^>]+)>", str(message["List-Unsubscribe"])).group(1)

    # What a mailbox provider does: a bare POST, no cookie, no page, no CSRF token.
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    assert store.subscribers.get(reader.id).status == "unsubscribed"
    assert store.events.for_subscriber(reader.id)[-1]["origin"] == "web:one-click"

    second = publish_week(store, site, tmp_path, smtp, week=1, expected=1)
    assert list(second) == ["other@example.com"]


def test_signing_up_in_the_browser_and_confirming_brings_the_first_digest(store, site, smtp, page, tmp_path):
    page.goto(f"{site.base_url}/subscribe")
    page.get_by_label("Email address").fill("newcomer@example.com")
    page.get_by_label("Your name").fill("New Comer")
    for name in site.category_names:
        if name not in ("News", "Travel"):
            page.get_by_label(name, exact=True).uncheck()
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    assert smtp.wait_for(1, timeout=30)
    confirmation = smtp.messages[0].message
    assert smtp.messages[0].rcpt_tos == ["newcomer@example.com"]
    link = re.search(re.escape(site.base_url) + r"/confirm/\S+", confirmation.get_body(("plain",)).get_content())
    assert store.subscribers.by_email("newcomer@example.com").status == "pending"

    page.goto(link.group(0))
    page.get_by_role("button", name="Yes, subscribe me").click()
    assert page.get_by_role("heading", name="You are subscribed").is_visible()
    assert store.subscribers.by_email("newcomer@example.com").status == "active"

    first = publish_week(store, site, tmp_path, smtp, week=0, expected=1)
    assert sections_in(first["newcomer@example.com"], 0) == {"News", "Travel"}
