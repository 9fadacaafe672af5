"""Rendering an edition: HTML and text parts, escaping, personal links, variants, template errors."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest

from digest.config import DEFAULT_TEMPLATES_DIR, Category, Config
from digest.errors import ConfigError, TemplateProblem
from digest.models import Article, Edition, Section, Subscriber
from digest.links import Links
from digest.render import Personal, Renderer, personal_for
from digest.render import pipeline

WINDOW_END = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
GMAIL_CLIP_BYTES = 102 * 1000  # Gmail clips messages whose HTML is larger than about 102 KB
NASTY_TITLE = 'AT&T says "x < y" & <script>alert(1)</script> isn\'t news'


def make_edition(categories=("News", "Technology", "Travel", "Health"), per_category=3,
                 lede_chars=120, titles: dict | None = None, empty=()) -> Edition:
    """An edition built by hand (no database): `titles` maps a category to its article titles."""
    sections = []
    for category in categories:
        articles = []
        if category not in empty:
            names = (titles or {}).get(category) or [f"{category} story {n}" for n in range(1, per_category + 1)]
            for n, title in enumerate(names):
                slug = f"{category.lower()}-{n}"
                lede = (f"What happened in {category.lower()} this week, story {n}. " * 20)[:lede_chars].strip()
                articles.append(Article(
                    title=title, url=f"https://news.example.com/{slug}?ref=digest&n={n}", category=category,
                    published=WINDOW_END - timedelta(hours=5 * n + 1), source="test", lede=lede, id=None,
                ))
        sections.append(Section(category, articles))
    return Edition("2026-W48", WINDOW_END - timedelta(days=7), WINDOW_END, sections=sections, built_at=WINDOW_END)


def reader(name="Ann", categories=("News", "Technology", "Travel", "Health")) -> Personal:
    return Personal(
        name=name,
        preferences_url="https://news.example.com/p/PREFS-token",
        unsubscribe_url="https://news.example.com/u/UNSUB-token",
        category_unsubscribe_urls={c: f"https://news.example.com/c/{c}-token" for c in categories},
    )


def parse(html: str):
    return lxml.html.document_fromstring(html)


def titles_in(doc) -> list[str]:
    return [h.text_content() for h in doc.cssselect("h3.title")]


def article_links(doc) -> list[str]:
    return [a.get("href") for a in doc.cssselect("h3.title a")]


@pytest.fixture
def renderer(config) -> Renderer:
    return Renderer(config)


# -- what the reader gets --------------------------------------------------------------

def test_html_has_every_selected_title_and_url_and_nothing_from_other_categories(renderer):
    edition = make_edition()
    variant = renderer.render(edition, ["Travel", "News"])
    html, _ = variant.personalise(reader())
    doc = parse(html)
    expected = [a for s in edition.sections if s.category in ("News", "Travel") for a in s.articles]
    assert titles_in(doc) == [a.title for a in expected]  # edition order, not the order asked
    assert article_links(doc) == [a.url for a in expected]
    assert "&amp;n=0" in html and "ref=digest&n=0" not in html  # URLs escaped in the markup
    assert variant.categories == ("News", "Travel")
    for other in ("Technology", "Health"):
        assert f"{other} story" not in html


def test_text_part_has_titles_ledes_and_urls_on_their_own_lines_and_only_selected_categories(renderer):
    edition = make_edition()
    _, text = renderer.render(edition, ["Health"]).personalise(reader())
    lines = text.splitlines()
    for article in edition.sections[3].articles:
        assert article.title in lines
        assert article.url in lines  # unescaped, whole, alone on its line
        assert article.lede.split()[0] in text
    assert "HEALTH" in lines
    assert "News story" not in text and "Travel story" not in text


def test_text_part_is_wrapped_at_78_columns_except_for_unbreakable_urls(renderer):
    edition = make_edition(lede_chars=300, titles={"News": ["A rather long headline " * 6]})
    _, text = renderer.render(edition).personalise(reader())
    too_long = [line for line in text.splitlines() if len(line) > 78 and " " in line]
    assert too_long == []
    assert any(len(line) > 70 for line in text.splitlines() if " " in line)  # it does fill the lines


def test_titles_and_ledes_with_markup_characters_are_text_in_both_parts(renderer):
    edition = make_edition(titles={"News": [NASTY_TITLE]})
    edition.sections[0].articles[0].lede = 'Ledes <b>too</b> & "quotes"'
    html, text = renderer.render(edition).personalise(reader())
    doc = parse(html)
    assert doc.cssselect("script") == [] and doc.cssselect(".lede b") == []
    assert NASTY_TITLE in titles_in(doc)
    assert 'Ledes <b>too</b> & "quotes"' in [p.text_content() for p in doc.cssselect("p.lede")]
    assert NASTY_TITLE in text.splitlines()  # the text part is not HTML-escaped: AT&T stays AT&T
    assert 'Ledes <b>too</b> & "quotes"' in text
    assert "&amp;" not in text and "&lt;" not in text


def test_an_article_url_that_is_not_http_is_not_linked(renderer):
    edition = make_edition(categories=("News",), per_category=2)
    edition.sections[0].articles[0].url = "javascript:alert(1)"
    doc = parse(renderer.render(edition).personalise(reader())[0])
    assert "javascript:" not in lxml.html.tostring(doc, encoding="unicode")
    assert titles_in(doc) == ["News story 1", "News story 2"]
    assert article_links(doc) == [edition.sections[0].articles[1].url]


def test_subject_header_and_preheader(config):
    edition = make_edition()
    variant = Renderer(config).render(edition, ["Technology"])
    assert variant.subject == "The Weekly Digest — 25 Nov 2026"
    assert variant.preheader == "Technology story 1 · Technology story 2 · Technology story 3"
    doc = parse(variant.html)
    assert doc.cssselect("title")[0].text_content().strip() == variant.subject
    assert doc.cssselect("h1.masthead")[0].text_content() == "The Weekly Digest"
    assert doc.cssselect("p.dateline")[0].text_content() == "25 Nov 2026"
    hidden = doc.xpath("//body/div[contains(@style, 'display:none')]")[0]
    assert hidden.text_content().strip().startswith(variant.preheader)


def test_subject_follows_the_configured_template_and_timezone(tmp_path):
    config = Config(db_path=tmp_path / "d.db", subject_template="{date}: news from {site_name}",
                    site_name="Harbour Post", timezone="Pacific/Auckland")
    variant = Renderer(config).render(make_edition())  # 08:00 UTC is 21:00 in Auckland
    assert variant.subject == "25 Nov 2026: news from Harbour Post"
    late = make_edition()
    late.window_end = datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc)  # 02:00 on the 26th there
    assert Renderer(config).render(late).subject == "26 Nov 2026: news from Harbour Post"


def test_a_subject_template_with_an_unknown_field_is_a_config_error(tmp_path):
    config = Config(db_path=tmp_path / "d.db", subject_template="{site} weekly")
    with pytest.raises(ConfigError, match=r"\{site\} weekly"):
        Renderer(config).render(make_edition())


def test_footer_says_why_the_reader_gets_it_and_links_preferences_and_unsubscribe(renderer):
    html, text = renderer.render(make_edition(), ["Travel", "Technology"]).personalise(reader())
    reason = ("You are receiving this because you subscribed to Technology and Travel at The Weekly Digest.")
    doc = parse(html)
    assert reason in [p.text_content() for p in doc.cssselect("p.footer")]
    links = {a.text_content(): a.get("href") for a in doc.cssselect("p.footer a")}
    assert links == {"Change your preferences": "https://news.example.com/p/PREFS-token",
                     "Unsubscribe": "https://news.example.com/u/UNSUB-token"}
    assert " ".join(reason.split()) in " ".join(text.split())
    all_html, _ = renderer.render(make_edition()).personalise(reader())
    assert "subscribed to all categories at The Weekly Digest." in all_html


def test_each_section_has_its_own_stop_link(renderer):
    html, text = renderer.render(make_edition(), ["Travel", "Health"]).personalise(reader())
    doc = parse(html)
    stops = {a.text_content(): a.get("href") for a in doc.cssselect("p.stop a")}
    assert stops == {"Stop sending me Travel": "https://news.example.com/c/Travel-token",
                     "Stop sending me Health": "https://news.example.com/c/Health-token"}
    assert "https://news.example.com/c/Travel-token" in text.splitlines()


def test_categories_without_articles_are_left_out_and_a_variant_of_only_those_is_empty(renderer):
    edition = make_edition(empty=("Travel",))
    assert renderer.render(edition).categories == ("News", "Technology", "Health")
    assert renderer.render(edition, ["Travel"]).empty
    assert not renderer.render(edition, ["Travel", "News"]).empty


def test_accent_colour_comes_from_config_and_must_be_a_colour(tmp_path):
    config = Config(db_path=tmp_path / "d.db", accent_color="#c0392b")
    html = Renderer(config).render(make_edition()).html
    assert "#c0392b" in parse(html).cssselect("h2.category")[0].get("style")
    with pytest.raises(ConfigError, match="accent_color"):
        Renderer(Config(db_path=tmp_path / "d.db", accent_color="red;}</style><script>"))


# -- the email as an email ---------------------------------------------------------------

def test_css_classes_are_inlined_while_style_blocks_and_media_queries_stay(renderer):
    doc = parse(renderer.render(make_edition()).html)
    title_style = doc.cssselect("h3.title")[0].get("style")
    assert "font-size:19px" in title_style.replace(" ", "")
    styles = "\n".join(s.text or "" for s in doc.cssselect("style"))
    assert "@media only screen and (max-width: 479px)" in styles
    assert "prefers-color-scheme: dark" in styles and "!important" in styles
    assert "mj-column-per-100" in styles  # MJML's own breakpoint rules


def test_responsive_meta_tags_width_and_wrapping(renderer):
    html = renderer.render(make_edition()).html
    doc = parse(html)
    metas = {m.get("name"): m.get("content") for m in doc.cssselect("meta[name]")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert metas["viewport"] == "width=device-width, initial-scale=1"
    assert "max-width:600px" in html.replace(" ", "")
    assert "overflow-wrap: anywhere" in html
    assert all(img.get("alt") is not None for img in doc.cssselect("img"))


def test_a_full_seven_category_digest_stays_under_gmail_clipping_size(config):
    edition = make_edition(categories=config.category_names, per_category=5, lede_chars=300,
                           titles={c: [f"{c}: a headline of a realistic length, about eighty characters, number {n}"
                                       for n in range(5)] for c in config.category_names})
    links = Links.from_config(config)
    subscriber = Subscriber(email="ann@example.com", name="Ann Example", id=123456)
    variant = Renderer(config).render(edition)
    html, _ = variant.personalise(personal_for(subscriber, links, variant.categories))
    assert len(variant.categories) == 7 and len(titles_in(parse(html))) == 35
    assert len(html.encode("utf-8")) < GMAIL_CLIP_BYTES


# -- personal parts ----------------------------------------------------------------------

def test_personal_values_are_escaped_when_substituted(renderer):
    odd = reader(name='<b>Ann & "Bo"</b>')
    odd = Personal(odd.name, 'https://news.example.com/p/a"b&c<d', odd.unsubscribe_url,
                   odd.category_unsubscribe_urls)
    html, text = renderer.render(make_edition(), ["News"]).personalise(odd)
    assert "Hello &lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;," in html
    doc = parse(html)
    assert doc.cssselect("p.greeting")[0].text_content() == 'Hello <b>Ann & "Bo"</b>,'
    assert doc.cssselect("p.greeting b") == []
    assert doc.cssselect("p.footer a")[0].get("href") == 'https://news.example.com/p/a"b&c<d'
    assert 'Hello <b>Ann & "Bo"</b>,' in text.splitlines()


def test_a_reader_without_a_name_gets_the_plain_greeting_and_names_cannot_add_lines(renderer):
    variant = renderer.render(make_edition(), ["News"])
    html, text = variant.personalise(reader(name=""))
    assert parse(html).cssselect("p.greeting")[0].text_content() == "Hello,"
    assert "Hello," in text.splitlines()
    _, text = variant.personalise(reader(name="Ann\n\nClick http://evil.example"))
    assert "Hello Ann Click http://evil.example," in text.splitlines()


def test_placeholders_survive_mjml_and_premailer_and_none_is_left_after_personalising(renderer):
    variant = renderer.render(make_edition(), ["News", "Travel"])
    token = renderer.placeholders.token
    assert f'href="{token("prefs")}"' in variant.html
    assert f'href="{token("unsub")}"' in variant.html
    assert f'href="{token("cat0")}"' in variant.html and f'href="{token("cat2")}"' in variant.html
    assert any(name.startswith("greet") for name in variant.greetings)
    html, text = variant.personalise(reader())
    assert renderer.placeholders.prefix not in html and renderer.placeholders.prefix not in text


def test_article_text_cannot_fake_a_placeholder(config):
    earlier = Renderer(config)  # e.g. a title pasted from an old preview
    fake = earlier.placeholders.token("unsub")
    edition = make_edition(titles={"News": [f"Click {fake} now", "dgst0123456789abcdef.unsub. too"]})
    html, text = Renderer(config).render(edition, ["News"]).personalise(reader())
    assert f"Click {fake} now" in titles_in(parse(html))
    assert "UNSUB-token now" not in html and "UNSUB-token now" not in text


def test_personal_for_signs_links_for_the_variant_categories(config):
    links = Links.from_config(config)
    subscriber = Subscriber(email="bo@example.com", name="Bo", id=7)
    personal = personal_for(subscriber, links, ("Travel", "Health"))
    assert personal.name == "Bo"
    assert links.load("preferences", personal.preferences_url.rsplit("/", 1)[1]).subscriber_id == 7
    assert links.load("unsubscribe", personal.unsubscribe_url.rsplit("/", 1)[1]).subscriber_id == 7
    assert set(personal.category_unsubscribe_urls) == {"Travel", "Health"}
    token = personal.category_unsubscribe_urls["Travel"].rsplit("/", 1)[1]
    assert links.load("category", token).category == "Travel"


# -- one compile per edition ----------------------------------------------------------------

CATEGORY_SETS = [None, ["News"], ["Health"], ["Technology", "Health"], ["News", "Travel"],
                 ["News", "Technology", "Travel"], ["Travel", "Health", "News", "Technology"], ["Travel"], []]


def test_assembled_variants_equal_a_direct_render_byte_for_byte(config):
    edition = make_edition(titles={"News": [NASTY_TITLE, "Second & last"], "Travel": ['"Quoted" <trip>']})
    renderer = Renderer(config)
    for categories in CATEGORY_SETS:
        fast = renderer.render(edition, categories)
        direct = renderer.render_direct(edition, categories)
        assert fast.html == direct.html, categories
        assert fast.text == direct.text
        assert fast.categories == direct.categories and fast.preheader == direct.preheader
    assert renderer.warning(edition) is None


def test_assembly_matches_direct_renders_with_markup_characters_in_category_names(tmp_path):
    names = ("Arts & <Culture>", 'Food "and" Drink', "Sport")
    config = Config(db_path=tmp_path / "d.db", categories=tuple(Category(n) for n in names))
    edition = make_edition(categories=names)
    renderer = Renderer(config)
    for categories in (None, [names[0]], [names[1], names[2]], [names[0], names[2]]):
        assert renderer.render(edition, categories).html == renderer.render_direct(edition, categories).html
    footer = parse(renderer.render(edition, names[:2]).html).cssselect("p.footer")[0].text_content()
    assert 'subscribed to Arts & <Culture> and Food "and" Drink at' in footer


def test_mjml_runs_once_per_edition_and_never_per_variant_or_reader(config, monkeypatch):
    calls = []
    real = pipeline.compile_mjml
    monkeypatch.setattr(pipeline, "compile_mjml", lambda *a, **k: calls.append(1) or real(*a, **k))
    renderer = Renderer(config)
    edition = make_edition()
    variants = [renderer.render(edition, c) for c in CATEGORY_SETS * 3]
    compiles_for_edition = len(calls)
    for variant in variants:
        variant.personalise(reader())
    assert compiles_for_edition == 2  # the full edition, and once the check of the cut
    assert len(calls) == 2
    renderer.render(make_edition(per_category=2))  # another edition is compiled afresh
    assert len(calls) == 4


def test_a_template_whose_sections_depend_on_position_falls_back_to_exact_direct_renders(config, tmp_path):
    templates = copy_templates(tmp_path)
    path = templates / "digest.mjml.j2"
    path.write_text(path.read_text().replace(
        '<h2 class="category">{{ section.category }}</h2>',
        '<h2 class="category">{% if loop.first %}First: {% endif %}{{ section.category }}</h2>'))
    renderer = Renderer(config.with_overrides(templates_dir=templates))
    edition = make_edition()
    variant = renderer.render(edition, ["Technology", "Travel"])
    assert "neighbours" in renderer.warning(edition)
    assert variant.html == renderer.render_direct(edition, ["Technology", "Travel"]).html
    assert [h.text_content() for h in parse(variant.html).cssselect("h2.category")] == ["First: Technology", "Travel"]


# -- broken templates -------------------------------------------------------------------------

def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    target.mkdir()
    for name in ("digest.mjml.j2", "digest.txt.j2"):
        shutil.copy(DEFAULT_TEMPLATES_DIR / name, target / name)
    return target


def break_line(path: Path, old: str, new: str) -> int:
    """Replace `old` on its (single) line; returns that 1-based line number."""
    lines = path.read_text().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines, 1) if old in line)
    lines[number - 1] = lines[number - 1].replace(old, new)
    path.write_text("".join(lines))
    return number


@pytest.mark.parametrize("name, old, new, reason", [
    ("digest.mjml.j2", "{% for article in section.articles %}", "{% for article in %}", "Expected an expression"),
    ("digest.txt.j2", "{% if article.lede %}", "{% if article.lede %}{% endfor %}", "endfor"),
    ("digest.mjml.j2", '<p class="dateline">', '<p class="dateline">{{ site_name | nosuchfilter }}', "nosuchfilter"),
])
def test_a_jinja_syntax_error_names_the_template_file_and_line(config, tmp_path, name, old, new, reason):
    templates = copy_templates(tmp_path)
    line = break_line(templates / name, old, new)
    with pytest.raises(TemplateProblem) as caught:
        Renderer(config.with_overrides(templates_dir=templates))
    message = str(caught.value)
    assert str(templates / name) in message and f"line {line}" in message and reason in message


def test_an_unknown_variable_names_the_template_line_when_rendering(config, tmp_path):
    templates = copy_templates(tmp_path)
    line = break_line(templates / "digest.mjml.j2", "{{ article.title }}</a>", "{{ artcle.title }}</a>")
    renderer = Renderer(config.with_overrides(templates_dir=templates))
    with pytest.raises(TemplateProblem, match=rf"digest\.mjml\.j2, line {line}: UndefinedError: 'artcle'"):
        renderer.render(make_edition())


@pytest.mark.parametrize("old, new, culprit, reason", [
    ('<mj-text>\n          <h2 class="category">', '<mj-txt>\n          <h2 class="category">', "<mj-txt>",
     "<mj-txt> is not an MJML element"),
    ("</mj-column>\n    </mj-section>\n{% endfor %}", "\n    </mj-section>\n{% endfor %}", "</mj-section>",
     "</mj-section> found where <mj-column>"),
])
def test_an_mjml_error_names_the_template_file_and_line(config, tmp_path, old, new, culprit, reason):
    templates = copy_templates(tmp_path)
    path = templates / "digest.mjml.j2"
    source = path.read_text()
    assert source.count(old) == 1
    broken = source.replace(old, new)
    path.write_text(broken)
    line = broken[: broken.index(new) + new.index(culprit)].count("\n") + 1
    with pytest.raises(TemplateProblem) as caught:
        Renderer(config.with_overrides(templates_dir=templates))
    message = str(caught.value)
    assert str(path) in message and reason in message
    assert f"line {line}:" in message
