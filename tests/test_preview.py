"""`digest preview` and the --serve app, on a real database holding the sample edition."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest

from conftest import NOW
from digest.config import DEFAULT_TEMPLATES_DIR, load_config
from digest.links import Links
from digest.store import Store

NASTY_NAME = '<b>Ann & "Bo"</b>'


def build_sample(config_path: Path, now=NOW, subscribers=True):
    """Ingest the bundled sample articles and build this week's edition; add two subscribers."""
    from digest import editions, subscribers as service
    from digest.ingest import ingest_sample

    config = load_config(str(config_path), environ={})
    store = Store(config.db_path)
    try:
        ingest_sample(store, config, now)
        editions.build(store, config, now)
        if subscribers:
            service.add(store, config, "Ann@Example.com", NASTY_NAME, "Health", now)
            service.add(store, config, "bo@example.com", "Bo", "", now)
        return config, editions.get(store, None, config=config)
    finally:
        store.close()


def titles(doc) -> list[str]:
    return [h.text_content() for h in doc.cssselect("h3.title")]


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def sample(write_config):
    return build_sample(write_config())


# -- the command ---------------------------------------------------------------------------

def test_preview_writes_the_all_categories_email_beside_the_database_and_prints_the_paths(cli, tmp_path, sample):
    config, edition = sample
    result = cli("--config", config.config_path, "preview")
    assert result.exit_code == 0, result.output
    html_path = tmp_path / "preview" / f"digest-{edition.key}.html"
    text_path = tmp_path / "preview" / f"digest-{edition.key}.txt"
    assert f"Wrote {html_path} (" in result.output and f"Wrote {text_path}" in result.output
    doc = lxml.html.fromstring(html_path.read_text())
    assert titles(doc) == [a.title for s in edition.sections for a in s.articles]
    text = text_path.read_text()
    assert all(a.url in text.splitlines() for s in edition.sections for a in s.articles)


def test_preview_of_categories_writes_exactly_that_email_with_working_signed_links(cli, tmp_path, sample):
    config, edition = sample
    result = cli("--config", config.config_path, "preview", "--categories", "TRAVEL, tech",
                 "--html", "out/email.html", "--text", "out/email.txt")
    assert result.exit_code == 0, result.output
    doc = lxml.html.fromstring((tmp_path / "out/email.html").read_text())
    wanted = [a.title for s in edition.sections if s.category in ("Technology", "Travel") for a in s.articles]
    assert titles(doc) == wanted
    text = (tmp_path / "out/email.txt").read_text()
    assert all(title in text for title in wanted)
    others = [a.title for s in edition.sections if s.category not in ("Technology", "Travel") for a in s.articles]
    assert not any(t in text or t in lxml.html.tostring(doc, encoding="unicode") for t in others)
    links = Links.from_config(config)
    stops = {a.text_content(): a.get("href") for a in doc.cssselect("p.stop a")}
    assert links.load("category", token_of(stops["Stop sending me Technology"])).category == "Technology"
    assert "subscribed to Technology and Travel at" in doc.cssselect("p.footer")[0].text_content()


def test_preview_for_a_subscriber_uses_their_categories_name_and_own_links(cli, tmp_path, sample):
    config, edition = sample
    result = cli("--config", config.config_path, "preview", "--subscriber", " ANN@example.com ",
                 "--html", "ann.html", "--text", "ann.txt")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "ann.html").read_text()
    doc = lxml.html.fromstring(html)
    assert titles(doc) == [a.title for s in edition.sections if s.category == "Health" for a in s.articles]
    assert doc.cssselect("p.greeting")[0].text_content() == f"Hello {NASTY_NAME},"
    assert "Hello &lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;," in html
    store = Store(config.db_path)
    ann = store.subscribers.by_email("ann@example.com")
    store.close()
    unsubscribe = next(a.get("href") for a in doc.cssselect("p.footer a") if a.text_content() == "Unsubscribe")
    assert Links.from_config(config).load("unsubscribe", token_of(unsubscribe)).subscriber_id == ann.id
    assert f"Hello {NASTY_NAME}," in (tmp_path / "ann.txt").read_text().splitlines()


def test_an_unknown_category_is_a_clear_error_listing_the_valid_ones(cli, sample):
    config, _ = sample
    result = cli("--config", config.config_path, "preview", "--categories", "travel,sport", "--html", "x.html")
    assert result.exit_code == 1
    assert ("Error: unknown category 'sport'; valid categories: News, Politics, Business, Technology, "
            "Health, Travel, Education") in result.output
    assert "Traceback" not in result.output


def test_an_unknown_subscriber_or_edition_is_a_clear_error(cli, sample):
    config, _ = sample
    result = cli("--config", config.config_path, "preview", "--subscriber", "nobody@example.com")
    assert result.exit_code == 1 and "Error: no subscriber with the address 'nobody@example.com'" in result.output
    result = cli("--config", config.config_path, "preview", "2020-W01")
    assert result.exit_code == 1 and "2020-W01" in result.output


def test_categories_and_subscriber_together_are_refused(cli, sample):
    config, _ = sample
    result = cli("--config", config.config_path, "preview", "--categories", "News", "--subscriber", "bo@example.com")
    assert result.exit_code == 2 and "not both" in result.output


def test_a_broken_template_is_reported_with_its_file_and_line(cli, tmp_path, write_config):
    templates = tmp_path / "my-templates"
    templates.mkdir()
    for name in ("digest.mjml.j2", "digest.txt.j2"):
        shutil.copy(DEFAULT_TEMPLATES_DIR / name, templates / name)
    path = templates / "digest.mjml.j2"
    lines = path.read_text().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines, 1) if "{% for article in section.articles %}" in line)
    lines[number - 1] = lines[number - 1].replace("{% for article in section.articles %}", "{% for article in %}")
    path.write_text("".join(lines))
    config, _ = build_sample(write_config('[site]\ntemplates_dir = "my-templates"\n'), subscribers=False)
    result = cli("--config", config.config_path, "preview")
    assert result.exit_code == 1
    assert f"Error: {path}, line {number}: " in result.output
    assert "Traceback" not in result.output


def test_without_a_secret_key_the_preview_signs_with_a_preview_key_and_says_so(cli, tmp_path):
    config_path = tmp_path / "digest.toml"
    config_path.write_text('[site]\nname = "Harbour Post"\n')
    config, edition = build_sample(config_path, subscribers=False)
    result = cli("--config", config_path, "preview", "--categories", "news", "--html", "n.html")
    assert result.exit_code == 0, result.output
    assert "throwaway preview key" in result.output
    html = (tmp_path / "n.html").read_text()
    assert "Harbour Post" in html and "/u/" in html


def test_a_configured_category_without_articles_is_warned_about(cli, tmp_path, write_config):
    categories = "".join(f'[[categories]]\nname = "{name}"\n' for name in
                         ("News", "Politics", "Business", "Technology", "Health", "Travel", "Education", "Sport"))
    config, _ = build_sample(write_config(categories), subscribers=False)
    result = cli("--config", config.config_path, "preview", "--categories", "sport", "--html", "s.html")
    assert result.exit_code == 0, result.output
    assert "Warning: Sport has no articles in this edition" in result.output
    assert "Warning: Sport: no articles in this edition, so nothing would be sent" in result.output


# -- the --serve app ---------------------------------------------------------------------------

@pytest.fixture
def client(sample):
    from digest.web.preview import create_preview_app

    config, _ = sample
    return create_preview_app(config).test_client()


def test_the_page_shows_subject_preheader_size_counts_frames_and_text(client, sample):
    config, edition = sample
    response = client.get("/preview/")
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    assert doc.cssselect("dd.subject")[0].text_content() == "The Weekly Digest — 25 Nov 2026"
    assert doc.cssselect("dd.preheader")[0].text_content().startswith(edition.sections[0].articles[0].title)
    assert doc.cssselect("dd.size")[0].text_content().endswith(" KB")
    counts = {row[0].text_content(): int(row[1].text_content()) for row in doc.cssselect("table.counts tbody tr")}
    assert counts == {s.category: len(s.articles) for s in edition.sections}
    frames = doc.cssselect("iframe")
    assert [f.get("class") for f in frames] == ["desktop", "mobile"]
    assert all(f.get("src") == "/preview/email" and f.get("sandbox") is not None for f in frames)
    assert edition.sections[0].articles[0].url in doc.cssselect("pre.text")[0].text_content()
    policy = response.headers["Content-Security-Policy"]
    nonce = doc.cssselect("script")[0].get("nonce")
    assert f"script-src 'nonce-{nonce}'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_email_frame_is_the_personalised_html_and_only_this_origin_may_frame_it(client, sample):
    config, edition = sample
    response = client.get("/preview/email?categories=Travel")
    assert response.status_code == 200 and response.mimetype == "text/html"
    doc = lxml.html.fromstring(response.get_data(as_text=True))
    assert titles(doc) == [a.title for s in edition.sections if s.category == "Travel" for a in s.articles]
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_picker_switches_between_category_sets_and_subscribers(client, sample):
    config, edition = sample
    page = lxml.html.fromstring(client.get("/preview/?categories=Health&categories=News").get_data(as_text=True))
    assert page.cssselect("dd.label")[0].text_content() == "News, Health"
    assert page.cssselect("iframe")[0].get("src") == "/preview/email?categories=News&categories=Health"
    ticked = [box.get("value") for box in page.cssselect("input[name=categories][checked]")]
    assert ticked == ["News", "Health"]
    page = lxml.html.fromstring(client.get("/preview/?subscriber=ann@example.com").get_data(as_text=True))
    assert page.cssselect("dd.label")[0].text_content() == "ann@example.com"
    assert "ann@example.com" in [o.get("value") for o in page.cssselect("datalist option")]
    email = lxml.html.fromstring(client.get("/preview/email?subscriber=ann@example.com").get_data(as_text=True))
    assert email.cssselect("p.greeting")[0].text_content() == f"Hello {NASTY_NAME},"


def test_the_page_escapes_what_it_echoes_and_explains_bad_choices(client):
    response = client.get("/preview/?categories=<script>alert(1)</script>")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "unknown category '&lt;script&gt;alert(1)&lt;/script&gt;'" in body.replace("&#39;", "'")
    assert "<script>alert(1)" not in body
    response = client.get("/preview/?subscriber=nobody@example.com")
    assert response.status_code == 404 and "no subscriber with the address" in response.get_data(as_text=True)


def test_version_changes_when_a_template_is_saved_or_the_edition_is_rebuilt(sample, tmp_path):
    from digest import editions
    from digest.web.preview import create_preview_app

    config, _ = sample
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, templates, ignore=shutil.ignore_patterns("web"))
    config = config.with_overrides(templates_dir=templates)
    client = create_preview_app(config).test_client()
    first = client.get("/preview/version").get_json()["version"]
    assert client.get("/preview/version").get_json()["version"] == first
    path = templates / "digest.mjml.j2"
    path.write_text(path.read_text().replace("Here are the stories we picked for you this week.",
                                             "Fresh from the newsroom."))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = client.get("/preview/version").get_json()["version"]
    assert second != first
    assert "Fresh from the newsroom." in client.get("/preview/email").get_data(as_text=True)
    store = Store(config.db_path)
    editions.build(store, config, NOW + timedelta(hours=1))
    store.close()
    assert client.get("/preview/version").get_json()["version"] not in (first, second)


def test_a_broken_template_shows_on_the_page_which_keeps_polling(sample, tmp_path):
    from digest.web.preview import create_preview_app

    config, _ = sample
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, templates, ignore=shutil.ignore_patterns("web"))
    path = templates / "digest.txt.j2"
    path.write_text(path.read_text().replace("{% endfor %}", "{% endfour %}", 1))
    client = create_preview_app(config.with_overrides(templates_dir=templates)).test_client()
    response = client.get("/preview/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    doc = lxml.html.fromstring(body)
    assert str(path) in doc.cssselect(".problem")[0].text_content()
    assert "line " in doc.cssselect(".problem")[0].text_content()
    assert "/preview/version" in doc.cssselect("body")[0].get("data-version-url")


def test_the_preview_answers_loopback_clients_only(client):
    assert client.get("/preview/", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404
    assert client.get("/preview/email", headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 404
    assert client.get("/preview/").status_code == 200


def test_each_import_of_the_blueprint_is_fresh_so_several_apps_can_mount_it():
    from flask import Flask

    from digest.web.preview import blueprint as first
    from digest.web.preview import blueprint as second

    assert first is not second
    for blueprint in (first, second):
        app = Flask(__name__)
        blueprint.before_request(lambda: None)  # what the preference-centre app adds
        app.register_blueprint(blueprint)
        assert "preview.page" in app.view_functions


def test_serve_options_are_checked_before_anything_starts(cli, sample):
    config, _ = sample
    result = cli("--config", config.config_path, "preview", "--port", "9000")
    assert result.exit_code == 2 and "--port goes with --serve" in result.output
    result = cli("--config", config.config_path, "preview", "--serve", "--html", "x.html")
    assert result.exit_code == 2 and "its own picker" in result.output
