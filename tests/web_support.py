"""Helpers for the web tests: an app on a real SQLite file, a movable clock, form posts with
the CSRF token a browser would send, and reading the plain-text emails the app sends."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from html import unescape

import pytest

from conftest import NOW
from digest import subscribers as service
from digest.links import Links
from digest.web import create_app


class Clock:
    """The app's notion of now; tests move it instead of sleeping."""

    def __init__(self, moment=NOW):
        self.moment = moment

    def __call__(self):
        return self.moment

    def advance(self, **delta):
        self.moment += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def transport():
    from digest.deliver.transports import MemoryTransport

    return MemoryTransport()


@pytest.fixture
def app(config, store, transport, clock):
    # `store` makes the schema first; the app then opens its own Store per request.
    application = create_app(config, transport=transport, clock=clock)
    application.testing = True
    yield application
    application.extensions["digest"].mailer.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def links(config):
    return Links.from_config(config)


def add_subscriber(store, config, email="alice@example.com", categories="News;Travel", name="Alice"):
    return service.add(store, config, email, name, categories, NOW)


def csrf_token(client, page: str) -> str:
    """GET `page` as a browser would and return the CSRF token of its (first) form."""
    response = client.get(page)
    assert response.status_code == 200, response.get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, f"no form on {page}"
    return unescape(match.group(1))


def form_with(html: str, button_text: str) -> tuple[str, dict]:
    """(action, hidden fields) of the form holding the button labelled `button_text`."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        if button_text in form:
            action = unescape(re.search(r'action="([^"]+)"', form).group(1))
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
            return action, {k: unescape(v) for k, v in hidden.items()}
    raise AssertionError(f"no form with a {button_text!r} button")


def form_action(html: str, button_text: str) -> str:
    return form_with(html, button_text)[0]


def press(client, html: str, button_text: str, data: dict | None = None):
    """Press the button: post its form with the hidden fields the page gave."""
    action, hidden = form_with(html, button_text)
    return client.post(action, data={**hidden, **(data or {})})


def submit(client, page: str, data: dict | None = None, action: str | None = None):
    """Open `page`, then post `data` (plus its CSRF token) to `action` (default: the page)."""
    token = csrf_token(client, page)
    return client.post(action or page.split("?")[0], data={**(data or {}), "csrf_token": token})


def sent_messages(app, transport) -> list[email.message.EmailMessage]:
    app.extensions["digest"].mailer.wait()
    return [email.message_from_bytes(data, policy=email.policy.default) for _, _, data in transport.messages]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def url_in(text: str, path_prefix: str) -> str:
    """The path of the first https://news.example.com/<prefix>... link in `text`."""
    match = re.search(r"https://news\.example\.com(/" + path_prefix + r"[^\s]+)", text)
    assert match, f"no /{path_prefix} link in:\n{text}"
    return match.group(1)


def visible_text(html: str) -> str:
    """The page's words without markup or tokens, for comparing two answers."""
    html = re.sub(r'value="[^"]*"', "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
