"""Headers, CSRF, escaping and privacy across the preference centre."""

from __future__ import annotations

import re

import itsdangerous.timed
import pytest

from digest.config import Category
from digest.errors import ConfigError
from digest.web import colours, create_app
from digest.web.security import CONTENT_SECURITY_POLICY, CSRF_MAX_AGE
from web_support import add_subscriber, app, client, clock, csrf_token, links, submit, transport  # noqa: F401

STRICT_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def every_page(store, config, links):
    alice = add_subscriber(store, config)
    return ["/subscribe", "/lost", f"/p/{links.token('preferences', alice)}",
            f"/u/{links.token('unsubscribe', alice)}", f"/c/{links.token('category', alice, 'News')}",
            "/p/forged.token", "/no-such-page", "/static/site.css"]


def test_every_response_carries_the_strict_security_headers(client, store, config, links):
    assert CONTENT_SECURITY_POLICY == STRICT_CSP
    for path in every_page(store, config, links):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"] == STRICT_CSP, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["X-Frame-Options"] == "DENY", path


def test_personal_pages_are_not_kept_in_shared_caches(client, store, config, links):
    alice = add_subscriber(store, config)
    assert client.get(f"/p/{links.token('preferences', alice)}").headers["Cache-Control"] == "no-store"


def test_pages_load_no_script_font_or_outside_resource(client, store, config, links):
    for path in every_page(store, config, links)[:5]:
        html = client.get(path).get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert re.findall(r'(?:href|src)="(https?:)?//', html) == []
        assert '<link rel="stylesheet" href="/static/site.css">' in html


def test_the_stylesheet_carries_the_configured_accent_and_a_readable_text_colour(tmp_path):
    light = create_app_with(tmp_path, accent_color="#FFD700")
    css = light.test_client().get("/static/site.css")
    assert css.mimetype == "text/css"
    assert "--accent: #ffd700;" in css.get_data(as_text=True)
    assert "--on-accent: #111111;" in css.get_data(as_text=True)  # dark text on gold
    assert colours("#1a5fb4") == {"accent": "#1a5fb4", "on_accent": "#ffffff"}
    assert colours("#000") == {"accent": "#000000", "on_accent": "#ffffff"}


@pytest.mark.parametrize("accent", ["red; } body { display:none", "url(https://evil.example)", "#12345"])
def test_an_accent_colour_that_is_not_a_hex_colour_is_refused(tmp_path, accent):
    with pytest.raises(ConfigError, match="accent_color"):
        create_app_with(tmp_path, accent_color=accent)


def test_the_app_will_not_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        create_app_with(tmp_path, secret_key=None)


def create_app_with(tmp_path, **changes):
    from digest.config import Config

    return create_app(Config(**{"db_path": tmp_path / "digest.db", "secret_key": "k", **changes}))


# ---- CSRF ---------------------------------------------------------------------------

def test_a_form_post_without_a_csrf_token_is_refused_and_changes_nothing(client, store, config, links):
    alice = add_subscriber(store, config)
    path = f"/p/{links.token('preferences', alice)}"
    client.get(path)  # the browser holds the cookie, but the forged form has no token
    response = client.post(path, data={"category": ["Business"]})
    assert response.status_code == 400 and "Please try that again" in response.get_data(as_text=True)
    assert store.subscribers.get(alice.id).categories == ("News", "Travel")
    assert [e["kind"] for e in store.events.for_subscriber(alice.id)] == ["subscribed"]


def test_a_csrf_token_is_refused_from_another_browser(app, store, config, links):
    alice = add_subscriber(store, config)
    path = f"/u/{links.token('unsubscribe', alice)}"
    token = csrf_token(app.test_client(), path)  # the attacker's own visit
    victim = app.test_client()
    victim.get("/subscribe")  # the victim has a cookie of their own
    assert victim.post(path, data={"csrf_token": token}).status_code == 400
    assert app.test_client(use_cookies=False).post(path, data={"csrf_token": token}).status_code == 400
    assert store.subscribers.get(alice.id).status == "active"


def test_a_csrf_token_for_one_form_does_not_work_on_another(client, store, config, links):
    alice = add_subscriber(store, config)
    token = csrf_token(client, "/lost")
    response = client.post(f"/u/{links.token('unsubscribe', alice)}", data={"csrf_token": token})
    assert response.status_code == 400
    assert store.subscribers.get(alice.id).status == "active"


def test_a_forged_or_stale_csrf_token_is_refused(client, store, config, links, monkeypatch):
    alice = add_subscriber(store, config)
    path = f"/u/{links.token('unsubscribe', alice)}"
    real_time = itsdangerous.timed.time.time
    with monkeypatch.context() as patch:  # the page was opened over a day ago
        patch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - CSRF_MAX_AGE - 60)
        stale = csrf_token(client, path)
    assert client.post(path, data={"csrf_token": stale}).status_code == 400
    assert client.post(path, data={"csrf_token": stale[:-2] + "xx"}).status_code == 400
    assert store.subscribers.get(alice.id).status == "active"
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 200


def test_the_csrf_cookie_is_http_only_same_site_and_secure_for_an_https_site(client):
    cookie = client.get("/subscribe").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


# ---- escaping and privacy -----------------------------------------------------------

def test_what_people_type_is_escaped_when_shown_back(client):
    nasty = '"><script>alert(1)</script>'
    html = submit(client, "/subscribe", {"email": nasty, "name": nasty, "category": ["News"]}).get_data(as_text=True)
    assert "<script>" not in html and "&#34;&gt;&lt;script&gt;" in html
    html = submit(client, "/lost", {"email": nasty}).get_data(as_text=True)
    assert "<script>" not in html


def test_configured_category_text_is_escaped(tmp_path):
    from digest.config import Config

    config = Config(db_path=tmp_path / "d.db", secret_key="k",
                    categories=(Category("News", (), "<img src=x onerror=alert(1)>"),))
    html = create_app(config).test_client().get("/subscribe").get_data(as_text=True)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_page_shows_only_its_own_subscriber(client, store, config, links):
    alice = add_subscriber(store, config, "alice@example.com")
    add_subscriber(store, config, "bob@example.net", "Business")
    for path in (f"/p/{links.token('preferences', alice)}", f"/u/{links.token('unsubscribe', alice)}"):
        html = client.get(path).get_data(as_text=True)
        assert "example.net" not in html and "bob" not in html.lower()
        assert "a***e@example.com" in html


def test_personal_links_never_reach_the_error_log(app, client, store, config, links, caplog):
    app.testing = False  # answer with the error page, as in production
    alice = add_subscriber(store, config)
    token = links.token("preferences", alice)
    store.execute("DROP TABLE events")  # the service cannot record: a server-side failure
    submit_response = submit(client, f"/p/{token}", {"category": ["News"]})
    assert submit_response.status_code == 500
    assert "Something went wrong" in submit_response.get_data(as_text=True)
    assert "Exception on preferences.preferences [POST]" in caplog.text
    assert token not in caplog.text


def test_an_oversized_form_is_refused(client):
    response = client.post("/lost", data={"email": "x" * 100_000})
    assert response.status_code == 413
