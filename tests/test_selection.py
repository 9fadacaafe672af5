"""Selection as pure functions: period keys, windows, caps and category order."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import NOW

from digest.models import Article
from digest.selection import category_order, period_key, select_sections, window_start

UTC = timezone.utc
CONFIGURED = ("News", "Politics", "Business", "Technology", "Health", "Travel", "Education")
START = NOW - timedelta(days=7)


def article(id, category="News", published=NOW - timedelta(hours=1)):
    return Article(title=f"Article {id}", url=None, category=category, published=published, source="test", id=id)


def chosen(sections):
    return {section.category: [a.id for a in section.articles] for section in sections}


@pytest.mark.parametrize("moment, tz, key", [
    (NOW, UTC, "2026-W48"),
    (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), UTC, "2026-W48"),  # Monday starts the week
    (datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC), UTC, "2026-W47"),  # Sunday ends the one before
    (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin"), "2026-W48"),
    (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), ZoneInfo("America/New_York"), "2026-W47"),
    (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), UTC, "2026-W53"),  # ISO weeks cross new year
    (datetime(2027, 1, 4, 12, 0, tzinfo=UTC), UTC, "2027-W01"),
])
def test_the_period_key_is_the_iso_week_in_the_configured_timezone(moment, tz, key):
    assert period_key(moment, tz) == key


def test_a_first_window_reaches_window_days_back_and_later_ones_start_at_the_previous_end():
    assert window_start(NOW, None, 7) == NOW - timedelta(days=7)
    assert window_start(NOW, None, 3) == NOW - timedelta(days=3)
    previous_end = NOW - timedelta(days=9)  # an edition skipped a few days: nothing is lost
    assert window_start(NOW, previous_end, 7) == previous_end


def test_both_ends_of_the_window_are_included():
    candidates = [
        article(1, published=START - timedelta(seconds=1)),
        article(2, published=START),
        article(3, published=NOW),
        article(4, published=NOW + timedelta(seconds=1)),
    ]
    assert chosen(select_sections(candidates, START, NOW, CONFIGURED, 5)) == {"News": [3, 2]}


def test_each_category_keeps_its_newest_up_to_the_cap_newest_first():
    candidates = [article(n, published=NOW - timedelta(hours=n)) for n in (4, 1, 6, 2, 5, 3)]
    assert chosen(select_sections(candidates, START, NOW, CONFIGURED, 4)) == {"News": [1, 2, 3, 4]}


def test_articles_published_at_the_same_moment_keep_a_stable_order():
    same = NOW - timedelta(hours=1)
    candidates = [article(7, published=same), article(9, published=same), article(8, published=same)]
    assert chosen(select_sections(candidates, START, NOW, CONFIGURED, 2)) == {"News": [9, 8]}


def test_the_cap_applies_per_category():
    candidates = [article(n, "News") for n in range(1, 4)] + [article(n, "Health") for n in range(4, 7)]
    assert chosen(select_sections(candidates, START, NOW, CONFIGURED, 2)) == {"News": [3, 2], "Health": [6, 5]}


def test_sections_follow_the_configured_order_and_empty_categories_are_left_out():
    candidates = [article(1, "Travel"), article(2, "Other"), article(3, "News"), article(4, "Business")]
    sections = select_sections(candidates, START, NOW, CONFIGURED, 5)
    assert [s.category for s in sections] == ["News", "Business", "Travel", "Other"]


def test_other_comes_last_even_when_configured_earlier():
    assert category_order(("Other", "News", "Health"), {"Health", "Other", "News"}) == ["News", "Health", "Other"]


def test_categories_missing_from_the_configuration_come_after_the_configured_ones_before_other():
    present = {"Weather", "News", "Other", "Arts"}
    assert category_order(CONFIGURED, present) == ["News", "Arts", "Weather", "Other"]


def test_no_candidates_give_no_sections():
    assert select_sections([], START, NOW, CONFIGURED, 5) == []
    assert select_sections([article(1, published=START - timedelta(days=1))], START, NOW, CONFIGURED, 5) == []
