"""Editions against a real SQLite store: window, caps, order, no repeats, drops, freezing, ledes."""

from datetime import timedelta
from itertools import count

import pytest
from conftest import NOW

from digest import editions
from digest.config import Category, Config
from digest.editions import EditionFrozen, NothingToBuild
from digest.errors import InputError, NotFound
from digest.models import Article

_keys = count(1)
BODY = ("The council voted on Tuesday to close three of its branch libraries by the spring. "
        "Campaigners said they would go to court.")


def add_article(store, title, published, category="News", summary="", body=BODY, teaser=False):
    """Store an article as ingest would (lede not computed yet); returns it with its id."""
    article = Article(title=title, url=f"https://news.example.com/{next(_keys)}", category=category,
                      published=published, source="test", summary=summary, body=body, teaser=teaser)
    with store.transaction():
        store.articles.upsert(article, key=f"test:{article.url}", content_hash=title, now=published)
    return article


def ids(edition):
    return [a.id for section in edition.sections for a in section.articles]


def titles_by_category(edition):
    return {section.category: [a.title for a in section.articles] for section in edition.sections}


def stored_lede(store, article_id):
    return store.execute("SELECT lede FROM articles WHERE id = ?", (article_id,)).fetchone()[0]


# --- period and window --------------------------------------------------------------------------

def test_an_edition_is_keyed_by_the_iso_week_of_now(store, config):
    add_article(store, "Wednesday story", NOW - timedelta(hours=1))
    edition = editions.build(store, config, NOW)
    assert edition.key == "2026-W48"
    assert edition.status == "draft"
    assert store.editions.get("2026-W48") is not None


def test_the_week_is_read_in_the_configured_timezone(store, config):
    sunday_night_utc = NOW.replace(day=29, hour=23, minute=30)  # Monday 00:30 in Berlin
    add_article(store, "Late story", sunday_night_utc - timedelta(hours=1))
    assert editions.build(store, config, sunday_night_utc).key == "2026-W48"
    berlin = config.with_overrides(timezone="Europe/Berlin", db_path=config.db_path.with_name("berlin.db"))
    from digest.store import Store

    other = Store(berlin.db_path)
    try:
        add_article(other, "Late story", sunday_night_utc - timedelta(hours=1))
        assert editions.build(other, berlin, sunday_night_utc).key == "2026-W49"
    finally:
        other.close()


def test_the_first_window_is_window_days_back_with_both_ends_included(store, config):
    start = NOW - timedelta(days=config.window_days)
    add_article(store, "Just too old", start - timedelta(seconds=1))
    add_article(store, "Exactly at the start", start)
    add_article(store, "Exactly now", NOW)
    add_article(store, "Just too new", NOW + timedelta(seconds=1))
    edition = editions.build(store, config, NOW)
    assert (edition.window_start, edition.window_end) == (start, NOW)
    assert titles_by_category(edition) == {"News": ["Exactly now", "Exactly at the start"]}


def test_each_category_holds_its_newest_articles_up_to_the_cap(store, config):
    for hour in range(1, 8):
        add_article(store, f"News {hour}h ago", NOW - timedelta(hours=hour))
    edition = editions.build(store, config.with_overrides(per_category=3), NOW)
    assert titles_by_category(edition) == {"News": ["News 1h ago", "News 2h ago", "News 3h ago"]}


def test_categories_follow_the_configured_order_with_other_last_and_empty_ones_left_out(store, config):
    config = config.with_overrides(categories=(Category("Travel"), Category("Other"), Category("News"),
                                               Category("Health")))
    add_article(store, "Misc", NOW - timedelta(hours=1), category="Other")
    add_article(store, "Headline", NOW - timedelta(hours=2), category="News")
    add_article(store, "Beaches", NOW - timedelta(hours=3), category="Travel")
    edition = editions.build(store, config, NOW)
    assert edition.categories == ("Travel", "News", "Other")
    assert editions.get(store, edition.key, config).categories == ("Travel", "News", "Other")


def test_nothing_in_the_window_creates_no_edition_and_names_the_window(store, config):
    add_article(store, "Last month", NOW - timedelta(days=30))
    with pytest.raises(NothingToBuild) as caught:
        editions.build(store, config, NOW)
    assert "2026-11-18 12:00 UTC to 2026-11-25 12:00 UTC" in str(caught.value)
    assert "no edition was created" in str(caught.value)
    assert store.editions.list() == []


def test_a_backlog_from_months_ago_does_not_enter_the_edition(store, config):
    for day in range(500):
        add_article(store, f"Archive {day}", NOW - timedelta(days=90 + day / 10))
    add_article(store, "This week", NOW - timedelta(days=1))
    edition = editions.build(store, config.with_overrides(per_category=1000), NOW)
    assert titles_by_category(edition) == {"News": ["This week"]}


# --- consecutive editions ---------------------------------------------------------------------

def test_the_next_edition_starts_where_the_last_ended_and_never_repeats_an_article(store, config):
    week47_now = NOW - timedelta(days=7)
    carried = [add_article(store, f"Week 47 #{n}", week47_now - timedelta(hours=n)) for n in range(3)]
    over_cap = add_article(store, "Week 47 over the cap", week47_now - timedelta(hours=10))
    week47 = editions.build(store, config.with_overrides(per_category=3), week47_now)
    assert week47.key == "2026-W47"
    assert ids(week47) == [a.id for a in carried]

    # A feed added later brings old items dated inside week 47's window.
    late_backlog = add_article(store, "Late arrival dated in week 47", week47_now - timedelta(hours=1))
    fresh = add_article(store, "Week 48 story", NOW - timedelta(days=1))
    week48 = editions.build(store, config.with_overrides(per_category=3), NOW)

    assert week48.key == "2026-W48"
    assert week48.window_start == week47.window_end
    assert ids(week48) == [fresh.id]
    assert not {over_cap.id, late_backlog.id} & set(ids(week48))
    assert not set(ids(week47)) & set(ids(week48))


def test_an_article_at_the_boundary_of_two_windows_goes_in_the_first_only(store, config):
    week47_now = NOW - timedelta(days=7)
    boundary = add_article(store, "On the boundary", week47_now)
    add_article(store, "Week 48 story", NOW - timedelta(days=1))
    assert ids(editions.build(store, config, week47_now)) == [boundary.id]
    assert boundary.id not in ids(editions.build(store, config, NOW))


def test_an_earlier_period_cannot_be_built_after_a_later_one(store, config):
    add_article(store, "Story", NOW - timedelta(days=9))
    add_article(store, "Story 2", NOW - timedelta(hours=1))
    editions.build(store, config, NOW)
    with pytest.raises(InputError, match="cannot build 2026-W47: edition 2026-W48"):
        editions.build(store, config, NOW - timedelta(days=7))
    assert [e.key for e in store.editions.list()] == ["2026-W48"]


# --- refreshing a draft --------------------------------------------------------------------------

def test_refreshing_a_draft_moves_the_window_end_and_recomputes_the_articles(store, config):
    monday = NOW - timedelta(days=2)
    first = add_article(store, "Monday story", monday - timedelta(hours=1))
    draft = editions.build(store, config, monday)
    second = add_article(store, "Tuesday story", monday + timedelta(days=1))

    built = editions.build_edition(store, config, NOW)
    assert built.refreshed
    assert built.edition.key == draft.key == "2026-W48"
    assert built.edition.window_start == draft.window_start
    assert built.edition.window_end == NOW
    assert ids(built.edition) == [second.id, first.id]
    assert ids(editions.get(store, "2026-W48")) == [second.id, first.id]
    assert store.editions.get("2026-W48").window_end == NOW


def test_an_approved_edition_is_not_rebuilt_and_the_message_says_it_is_approved(store, config):
    first = add_article(store, "Story", NOW - timedelta(days=1))
    editions.build(store, config, NOW - timedelta(hours=2))
    editions.approve(store, None, NOW - timedelta(hours=1))
    add_article(store, "Newer story", NOW - timedelta(minutes=30))
    with pytest.raises(EditionFrozen, match="2026-W48 is approved") as caught:
        editions.build(store, config, NOW)
    assert caught.value.edition.status == "approved"
    kept = editions.get(store, "2026-W48")
    assert ids(kept) == [first.id]
    assert kept.window_end == NOW - timedelta(hours=2)


@pytest.mark.parametrize("status, wording", [("sending", "is being sent"), ("sent", "was sent on 2026-11-25 11:00")])
def test_a_sending_or_sent_edition_is_never_altered(store, config, status, wording):
    first = add_article(store, "Story", NOW - timedelta(days=1))
    editions.build(store, config, NOW - timedelta(hours=2))
    store.editions.set_status("2026-W48", status, NOW - timedelta(hours=1))
    add_article(store, "Newer story", NOW - timedelta(minutes=30))
    with pytest.raises(EditionFrozen, match=wording):
        editions.build(store, config, NOW)
    with pytest.raises(EditionFrozen):
        editions.drop(store, config, first.id, NOW)
    with pytest.raises(EditionFrozen):
        editions.set_lede(store, config, first.id, "A new lede")
    kept = editions.get(store, "2026-W48")
    assert ids(kept) == [first.id] and kept.status == status
    assert not kept.sections[0].articles[0].lede_overridden


# --- drop and undrop ------------------------------------------------------------------------------

def test_a_dropped_article_leaves_the_draft_and_the_next_in_line_takes_its_place(store, config):
    config = config.with_overrides(per_category=2)
    newest = add_article(store, "Newest", NOW - timedelta(hours=1))
    middle = add_article(store, "Middle", NOW - timedelta(hours=2))
    oldest = add_article(store, "Oldest", NOW - timedelta(hours=3))
    editions.build(store, config, NOW - timedelta(minutes=30))
    dropped = editions.drop(store, config, newest.id, NOW)
    assert dropped.article.title == "Newest"
    assert ids(dropped.edition) == [middle.id, oldest.id]
    assert ids(editions.get(store, "2026-W48")) == [middle.id, oldest.id]


def test_a_dropped_article_stays_out_when_the_draft_is_refreshed(store, config):
    kept = add_article(store, "Kept", NOW - timedelta(hours=2))
    unwanted = add_article(store, "Unwanted", NOW - timedelta(hours=1))
    editions.build(store, config, NOW - timedelta(minutes=30))
    editions.drop(store, config, unwanted.id, NOW - timedelta(minutes=20))
    assert ids(editions.build(store, config, NOW)) == [kept.id]


def test_an_undropped_article_comes_back_and_survives_a_refresh(store, config):
    kept = add_article(store, "Kept", NOW - timedelta(hours=2))
    wanted = add_article(store, "Wanted after all", NOW - timedelta(hours=1))
    editions.build(store, config, NOW - timedelta(minutes=30))
    editions.drop(store, config, wanted.id, NOW - timedelta(minutes=20))
    result = editions.undrop(store, config, wanted.id)
    assert result.shown and result.edition.key == "2026-W48"
    assert ids(editions.get(store, "2026-W48")) == [wanted.id, kept.id]
    assert ids(editions.build(store, config, NOW)) == [wanted.id, kept.id]


def test_dropping_every_article_then_refreshing_is_nothing_to_build_and_keeps_the_draft(store, config):
    only = add_article(store, "Only story", NOW - timedelta(hours=1))
    editions.build(store, config, NOW - timedelta(minutes=30))
    editions.drop(store, config, only.id, NOW - timedelta(minutes=20))
    with pytest.raises(NothingToBuild, match="the draft was left as it was"):
        editions.build(store, config, NOW)
    assert store.editions.get("2026-W48").window_end == NOW - timedelta(minutes=30)


def test_dropping_refuses_unknown_articles_and_articles_outside_the_edition(store, config):
    inside = add_article(store, "Inside", NOW - timedelta(hours=1))
    outside = add_article(store, "Outside", NOW - timedelta(days=40))
    editions.build(store, config, NOW)
    with pytest.raises(NotFound, match="no article with id 999"):
        editions.drop(store, config, 999, NOW)
    with pytest.raises(InputError, match="is in no edition"):
        editions.drop(store, config, outside.id, NOW)
    with pytest.raises(NotFound, match="no edition 2026-W01"):
        editions.drop(store, config, inside.id, NOW, key="2026-W01")
    editions.drop(store, config, inside.id, NOW)
    with pytest.raises(InputError, match="already dropped"):
        editions.drop(store, config, inside.id, NOW, key="2026-W48")
    with pytest.raises(InputError, match="has not been dropped"):
        editions.undrop(store, config, outside.id)


def test_dropping_from_an_approved_edition_is_refused_and_changes_nothing(store, config):
    story = add_article(store, "Story", NOW - timedelta(hours=1))
    editions.build(store, config, NOW)
    editions.approve(store, "2026-W48", NOW)
    with pytest.raises(EditionFrozen, match="is approved"):
        editions.drop(store, config, story.id, NOW)
    assert ids(editions.get(store, "2026-W48")) == [story.id]
    assert store.editions.dropped("2026-W48") == []


# --- get and approve ---------------------------------------------------------------------------------

def test_get_without_a_key_gives_the_newest_edition_and_a_clear_error_when_there_is_none(store, config):
    with pytest.raises(NotFound, match="no edition has been built yet"):
        editions.get(store, None)
    add_article(store, "Old", NOW - timedelta(days=8))
    add_article(store, "New", NOW - timedelta(days=1))
    editions.build(store, config, NOW - timedelta(days=7))
    editions.build(store, config, NOW)
    assert editions.get(store, None).key == "2026-W48"
    with pytest.raises(NotFound, match="no edition 2025-W01"):
        editions.get(store, "2025-W01")


def test_approving_records_when_and_an_empty_draft_cannot_be_approved(store, config):
    only = add_article(store, "Only story", NOW - timedelta(hours=1))
    editions.build(store, config, NOW)
    editions.drop(store, config, only.id, NOW)
    with pytest.raises(InputError, match="no articles left"):
        editions.approve(store, "2026-W48", NOW)
    editions.undrop(store, config, only.id)
    approved = editions.approve(store, "2026-W48", NOW)
    assert approved.status == "approved" and approved.approved_at == NOW
    assert editions.approve(store, "2026-W48", NOW + timedelta(hours=1)).approved_at == NOW


def test_the_edition_date_is_the_window_end_in_the_configured_timezone(store, config):
    late = NOW.replace(hour=23, minute=30)
    add_article(store, "Story", late - timedelta(hours=1))
    edition = editions.build(store, config, late)
    assert str(editions.edition_date(edition, Config(timezone="UTC").tz)) == "2026-11-25"
    assert str(editions.edition_date(edition, Config(timezone="Asia/Tokyo").tz)) == "2026-11-26"


# --- ledes -------------------------------------------------------------------------------------------

def test_a_build_computes_and_stores_each_lede_once(store, config):
    story = add_article(store, "Story", NOW - timedelta(hours=1))
    teaser = add_article(store, "Just a headline", NOW - timedelta(hours=2), body="", teaser=True)
    edition = editions.build(store, config, NOW)
    ledes = {a.id: a.lede for a in edition.sections[0].articles}
    assert ledes == {story.id: "The council voted on Tuesday to close three of its branch libraries by the spring.",
                     teaser.id: ""}
    assert stored_lede(store, story.id) == ledes[story.id]
    assert stored_lede(store, teaser.id) == ""  # computed: no lede, and it is not computed again


def test_fill_ledes_computes_only_the_missing_ones(store, config):
    done = add_article(store, "Done", NOW - timedelta(hours=1))
    missing = add_article(store, "Missing", NOW - timedelta(hours=2), summary="A summary written by a human.")
    store.articles.save_lede(done.id, "Stored earlier.")
    articles = [store.articles.get(done.id), store.articles.get(missing.id)]
    editions.fill_ledes(store, config, articles)
    assert [a.lede for a in articles] == ["Stored earlier.", "A summary written by a human."]
    assert stored_lede(store, done.id) == "Stored earlier."
    assert stored_lede(store, missing.id) == "A summary written by a human."


def test_fill_ledes_uses_the_configured_length(store, config):
    story = add_article(store, "Story", NOW - timedelta(hours=1))
    articles = [store.articles.get(story.id)]
    editions.fill_ledes(store, config.with_overrides(lede_max_chars=40), articles)
    assert articles[0].lede == "The council voted on Tuesday to close…"


def test_an_editors_lede_wins_even_after_the_article_changes_and_reset_restores_the_computed_one(store, config):
    story = add_article(store, "Story", NOW - timedelta(hours=1))
    editions.build(store, config, NOW)
    assert editions.set_lede(store, config, story.id, "  The editor's   own lede. ").lede == "The editor's own lede."
    changed = Article(title="Story", url=story.url, category="News", published=story.published, source="test",
                      body="A rewritten first sentence that is long enough to stand on its own here.")
    with store.transaction():
        store.articles.upsert(changed, key=f"test:{story.url}", content_hash="changed", now=NOW)
    shown = editions.get(store, "2026-W48", config).sections[0].articles[0]
    assert (shown.lede, shown.lede_overridden) == ("The editor's own lede.", True)

    reset = editions.set_lede(store, config, story.id, None)
    assert (reset.lede, reset.lede_overridden) == (
        "A rewritten first sentence that is long enough to stand on its own here.", False)
    assert editions.get(store, "2026-W48", config).sections[0].articles[0].lede == reset.lede


def test_an_empty_lede_override_is_refused(store, config):
    story = add_article(store, "Story", NOW - timedelta(hours=1))
    with pytest.raises(InputError, match="--reset"):
        editions.set_lede(store, config, story.id, "   ")
    with pytest.raises(NotFound):
        editions.set_lede(store, config, 999, "Text")
