"""Ingest into a real SQLite store: identity, updates, normalisation, bad rows, the sample."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import DATA, NOW

from digest.config import OTHER
from digest.errors import InputError
from digest.ingest import ingest_sample, ingest_source
from digest.ingest.htmltext import html_to_text
from digest.ingest.normalise import canonical_url

FIXTURES = DATA / "ingest"
CSV_HEADER = "title,url,category,published,summary,body\n"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def rss(items: str) -> str:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test</title>{items}</channel></rss>'


def rss_item(n: int, published: datetime, category: str = "News") -> str:
    return (f"<item><title>Story number {n}</title><link>https://feed.example.com/{n}</link>"
            f"<guid>https://feed.example.com/{n}</guid><category>{category}</category>"
            f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
            f"<description>Paragraph about story {n}.</description></item>")


@pytest.mark.parametrize("name", ["rss2.xml", "atom.xml", "rss1.rdf", "feed.json", "cms.csv", "cms.json", "frontpage.txt"])
def test_ingesting_the_same_source_again_adds_nothing(store, config, name):
    source = str(FIXTURES / name)
    first = ingest_source(store, config, source, NOW)
    assert first.new > 0 and first.rejected == 0
    second = ingest_source(store, config, source, NOW + timedelta(days=1))
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.new)
    assert len(store.articles.list()) == first.new


def test_a_changed_article_is_updated_in_place_and_its_lede_recomputed(store, config, tmp_path):
    row = 'Ferry fares rise,https://news.example.com/ferry,Travel,2026-11-20T10:00:00Z,"{summary}",\n'
    path = write(tmp_path, "export.csv", CSV_HEADER + row.format(summary="Fares go up by 10p."))
    ingest_source(store, config, path, NOW)
    [before] = store.articles.list()
    store.articles.save_lede(before.id, "Fares go up by 10p.")

    write(tmp_path, "export.csv", CSV_HEADER + row.format(summary="Fares go up by 20p, not 10p."))
    report = ingest_source(store, config, path, NOW)

    assert (report.new, report.updated, report.unchanged) == (0, 1, 0)
    [after] = store.articles.list()
    assert after.id == before.id
    assert after.summary == "Fares go up by 20p, not 10p."
    assert [a.id for a in store.articles.without_lede([after.id])] == [after.id]


def test_the_same_guid_with_a_new_url_is_the_same_article(store, config, tmp_path):
    item = ("<item><title>Bridge reopens</title><guid>tag:herald.example.com,2026:77</guid>"
            "<link>https://herald.example.com/{slug}</link><pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>")
    path = write(tmp_path, "feed.xml", rss(item.format(slug="bridge")))
    ingest_source(store, config, path, NOW)
    write(tmp_path, "feed.xml", rss(item.format(slug="bridge-reopens")))
    report = ingest_source(store, config, path, NOW)
    assert (report.new, report.updated) == (0, 1)
    assert [a.url for a in store.articles.list()] == ["https://herald.example.com/bridge-reopens"]


def test_tracking_parameters_and_fragments_are_dropped_so_tagged_links_are_one_article(store, config, tmp_path):
    rows = ("Bakery opens,https://news.example.com/bakery?id=4&utm_source=mail&utm_campaign=nov#top,Business,"
            "2026-11-20,Fresh bread.,\n")
    again = "Bakery opens,https://news.example.com/bakery?utm_medium=social&id=4,Business,2026-11-20,Fresh bread.,\n"
    first = ingest_source(store, config, write(tmp_path, "a.csv", CSV_HEADER + rows), NOW)
    second = ingest_source(store, config, write(tmp_path, "b.csv", CSV_HEADER + again), NOW)
    assert first.new == 1 and second.unchanged == 1
    assert [a.url for a in store.articles.list()] == ["https://news.example.com/bakery?id=4"]


def test_canonical_url_keeps_other_parameters_exactly():
    assert canonical_url("HTTPS://News.Example.com/a?q=caf%C3%A9&UTM_Source=x#f") == "https://news.example.com/a?q=caf%C3%A9"
    assert canonical_url("  ") is None


def test_category_aliases_map_to_configured_names_in_any_case(store, config, tmp_path):
    rows = ("One,https://e.com/1,tech,2026-11-20,,\nTwo,https://e.com/2,SCIENCE & TECH,2026-11-20,,\n"
            "Three,https://e.com/3,  Top   stories ,2026-11-20,,\n")
    report = ingest_source(store, config, write(tmp_path, "a.csv", CSV_HEADER + rows), NOW)
    assert report.warnings == []
    assert {a.title: a.category for a in store.articles.list()} == {
        "One": "Technology", "Two": "Technology", "Three": "News"}


def test_unknown_categories_are_kept_as_other_with_a_warning_naming_them(store, config, tmp_path):
    rows = "Derby result,https://e.com/1,Sport,2026-11-20,,\nCup draw,https://e.com/2,Sport,2026-11-21,,\n"
    path = write(tmp_path, "a.csv", CSV_HEADER + rows)
    report = ingest_source(store, config, path, NOW)
    assert {a.category for a in store.articles.list()} == {OTHER}
    assert report.warnings == [f"{path}: unknown category 'Sport' (2 articles) filed under Other"]
    assert report.ok  # a warning is not a rejection


def test_category_option_fills_in_only_where_the_source_has_none(store, config, tmp_path):
    rows = "Tagged,https://e.com/1,Health,2026-11-20,,\nUntagged,https://e.com/2,,2026-11-20,,\n"
    ingest_source(store, config, write(tmp_path, "a.csv", CSV_HEADER + rows), NOW, category="schools")
    assert {a.title: a.category for a in store.articles.list()} == {"Tagged": "Health", "Untagged": "Education"}


def test_an_unknown_category_option_is_refused_before_anything_is_read(store, config):
    with pytest.raises(InputError, match="unknown category 'Sport'"):
        ingest_source(store, config, str(FIXTURES / "cms.csv"), NOW, category="Sport")
    assert store.articles.list() == []


def test_dates_without_an_offset_are_read_in_the_configured_timezone(store, config, tmp_path):
    tokyo = config.with_overrides(timezone="Asia/Tokyo")
    rows = "Late train,https://e.com/1,News,2026-11-20 09:00,,\nEarly train,https://e.com/2,News,2026-11-20T09:00:00+01:00,,\n"
    ingest_source(store, tokyo, write(tmp_path, "a.csv", CSV_HEADER + rows), NOW)
    published = {a.title: a.published for a in store.articles.list()}
    assert published["Late train"] == datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    assert published["Early train"] == datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def test_an_undated_article_keeps_its_first_seen_date_on_later_ingests(store, config, tmp_path):
    path = write(tmp_path, "a.csv", CSV_HEADER + "No date here,https://e.com/1,News,,Text.,\n")
    ingest_source(store, config, path, NOW)
    later = ingest_source(store, config, path, NOW + timedelta(days=3))
    assert later.unchanged == 1
    [article] = store.articles.list()
    assert (article.published, article.dated) == (NOW, False)


def test_a_teaser_dated_two_days_ago_keeps_its_first_date_when_read_again_later(store, config, tmp_path):
    path = write(tmp_path, "front.txt", "Health 2 days ago\nWhat the new flu jab guidance means\n")
    ingest_source(store, config, path, NOW)
    again = ingest_source(store, config, path, NOW + timedelta(days=1))
    assert (again.new, again.unchanged) == (0, 1)
    [teaser] = store.articles.list()
    assert teaser.teaser and teaser.published == NOW - timedelta(days=2)


def test_a_new_feed_backlog_of_500_items_is_stored_with_its_own_old_dates(store, config, tmp_path):
    items = "".join(rss_item(n, NOW - timedelta(days=n, hours=3)) for n in range(500))
    report = ingest_source(store, config, write(tmp_path, "backlog.xml", rss(items)), NOW)

    assert report.new == 500
    stored = store.articles.list()
    assert {a.published for a in stored} == {NOW - timedelta(days=n, hours=3) for n in range(500)}
    assert all(a.dated for a in stored)
    # so the week's window sees only the last week's stories, not the backlog
    assert len(store.articles.list(since=NOW - timedelta(days=config.window_days))) == 7


def test_a_bad_row_is_rejected_with_its_number_and_the_good_rows_are_stored(store, config, tmp_path):
    rows = ("Good one,https://e.com/1,News,2026-11-20,,\n"
            ",https://e.com/2,News,2026-11-20,No title here.,\n"
            "Leap day that is not,https://e.com/3,News,2026-02-30,,\n"
            "Good two,https://e.com/4,News,2026-11-21,,\n")
    path = write(tmp_path, "a.csv", CSV_HEADER + rows)
    report = ingest_source(store, config, path, NOW)
    assert (report.new, report.rejected) == (2, 2)
    assert report.problems == [
        f"{path}: row 3: no title",
        f"{path}: row 4: impossible date '2026-02-30' (day is out of range for month)",
    ]
    assert sorted(a.title for a in store.articles.list()) == ["Good one", "Good two"]


def test_a_source_that_breaks_part_way_through_writes_nothing(store, config, tmp_path):
    rows = 'Good one,https://e.com/1,News,2026-11-20,,\nBroken,"https://e.com/2,News\n'
    report = ingest_source(store, config, write(tmp_path, "a.csv", CSV_HEADER + rows), NOW)
    assert report.failed and "broken CSV" in report.problems[0]
    assert store.articles.list() == []


def test_a_feed_that_cannot_be_parsed_is_rejected_whole(store, config, tmp_path):
    path = write(tmp_path, "feed.xml", '<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n'
                                       '<title>News & views</title>\n</rss>\n')
    report = ingest_source(store, config, path, NOW)
    assert report.failed
    assert report.problems == [f"{path}: not a feed that can be read (line 4: not well-formed (invalid token))"]
    assert report.line() == f"{path}: rejected whole, nothing stored"


def test_a_repeated_item_in_one_source_is_stored_once_with_a_warning(store, config, tmp_path):
    item = rss_item(1, NOW - timedelta(days=1))
    path = write(tmp_path, "feed.xml", rss(item + item))
    report = ingest_source(store, config, path, NOW)
    assert report.new == 1
    assert report.warnings == [f"{path}: item 2: same article as item 1; skipped"]


def test_html_becomes_clean_paragraphs_without_scripts_styles_or_captions():
    markup = ("<style>p{color:red}</style><p>First&nbsp;para&amp;graph,\n   spread   out.</p>"
              "<figure><img src=x.jpg><figcaption>Photo: Agency</figcaption></figure>"
              "<script>track()</script><div>Second <b>one</b> &#8211; &quot;quoted&quot;.</div>")
    assert html_to_text(markup) == 'First para&graph, spread out.\n\nSecond one – "quoted".'


def test_body_html_is_sanitised_before_it_is_stored(store, config, tmp_path):
    body = '<p onclick="steal()">Text <img src=x onerror="steal()"><a href="javascript:steal()">link</a></p><script>steal()</script>'
    item = {"title": "T", "url": "https://e.com/t", "category": "News", "published": "2026-11-20", "body": body}
    path = write(tmp_path, "a.json", json.dumps([item]))
    ingest_source(store, config, path, NOW, fmt="json")
    [article] = store.articles.list()
    assert "steal" not in article.body_html
    assert article.body_html.startswith("<p>Text <img")
    assert article.body == "Text link"


def test_front_page_labels_set_the_category_of_the_articles_that_follow(store, config, tmp_path):
    text = ("Opening story without a label\nIt has a body.\n\nNews\nFirst news story\nBody one.\n\n"
            "Second news story\nBody two.\n-\nTravel\nA travel story\nBody three.\n")
    ingest_source(store, config, write(tmp_path, "front.txt", text), NOW, category="Politics")
    assert {a.title: a.category for a in store.articles.list()} == {
        "Opening story without a label": "Politics", "First news story": "News",
        "Second news story": "News", "A travel story": "Travel"}


def test_a_teaser_line_without_a_title_is_rejected_with_its_line_number(store, config, tmp_path):
    path = write(tmp_path, "front.txt", "Politics\nCouncil meets\nIt met.\n-\nTravel3 days ago\n-\n")
    report = ingest_source(store, config, path, NOW)
    assert report.problems == [f"{path}: line 5: teaser line with no title after it"]
    assert [a.title for a in store.articles.list()] == ["Council meets"]


def test_wrapped_body_lines_join_their_paragraph_instead_of_starting_articles(store, config, tmp_path):
    text = "News\nHarbour wall to be raised\nThe council said on Tuesday that the\nwall would be raised by a metre.\n"
    ingest_source(store, config, write(tmp_path, "front.txt", text), NOW)
    [article] = store.articles.list()
    assert article.body == "The council said on Tuesday that the wall would be raised by a metre."


def test_the_sample_fills_the_six_days_before_now_in_every_category(store, config):
    report = ingest_sample(store, config, NOW)
    assert (report.new, report.rejected, report.warnings) == (30, 0, [])
    stored = store.articles.list()
    assert {a.category for a in stored} == set(config.category_names)
    assert all(NOW - timedelta(days=6) < a.published < NOW for a in stored)
    assert max(a.published for a in stored) == NOW - timedelta(hours=1)
    assert all(a.guid and a.url.startswith("https://news.example.com/") for a in stored)
    assert ingest_sample(store, config, NOW).unchanged == 30


def test_the_sample_keeps_the_feed_order_of_its_stories_when_shifting(store, config):
    ingest_sample(store, config, NOW)
    titles = [a.title for a in store.articles.list()]
    assert titles[0] == "Sleeper train to the Highlands returns after refit"
    assert titles[-1] == "Adult education college launches free digital skills course"


def test_an_updated_timestamp_line_is_not_mistaken_for_a_teaser(store, config, tmp_path):
    text = "News\nLibrary hours extended\nUpdated 2 hours ago\nThe library will stay open until 9pm.\n"
    report = ingest_source(store, config, write(tmp_path, "front.txt", text), NOW)
    assert (report.new, report.warnings) == (1, [])
    [article] = store.articles.list()
    assert (article.title, article.teaser, article.body) == (
        "Library hours extended", False, "The library will stay open until 9pm.")


def test_a_plain_text_body_is_not_paired_with_html_from_the_summary(store, config, tmp_path):
    item = {"title": "T", "url": "https://e.com/t", "category": "News",
            "summary": "<p>Short <b>summary</b>.</p>", "body": "Plain body text."}
    ingest_source(store, config, write(tmp_path, "a.json", json.dumps([item])), NOW)
    [article] = store.articles.list()
    assert (article.summary, article.body, article.body_html) == ("Short summary.", "Plain body text.", "")
