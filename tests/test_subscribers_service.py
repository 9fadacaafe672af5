"""The subscriber service the CLI and the web preference centre call, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW

from digest.errors import InputError, NotFound
from digest.links import Links
from digest.subscribers import (
    add,
    cleanup_pending,
    confirm,
    iter_subscribers,
    mark_bounced,
    parse_categories,
    remove,
    remove_category,
    resubscribe,
    rotate,
    set_categories,
    sign_up,
    unsubscribe,
)

LATER = NOW + timedelta(hours=1)


def events(store, subscriber):
    return [(e["kind"], e["detail"], e["origin"]) for e in store.events.for_subscriber(subscriber.id)]


@pytest.fixture
def ada(store, config):
    return add(store, config, "Ada@Example.com", "Ada", "News;Travel", NOW)


# ---- categories and names -----------------------------------------------------------

def test_parse_categories_maps_aliases_in_any_case_to_configured_order(config):
    assert parse_categories(config, " TRIPS ; tech;News;technology") == ("News", "Technology", "Travel")
    assert parse_categories(config, "") == ()


def test_parse_categories_names_every_unknown_label(config):
    with pytest.raises(InputError, match=r"unknown categories 'Sport', 'Gardening' \(known: News, Politics"):
        parse_categories(config, "News;Sport;Gardening")


def test_add_normalises_the_address_and_records_an_event(store, ada):
    assert ada.email == "ada@example.com"
    assert store.subscribers.by_email("ada@example.com").categories == ("News", "Travel")
    assert events(store, ada) == [("subscribed", "categories: News;Travel", "cli")]


def test_add_refuses_an_existing_address_and_a_bad_one(store, config, ada):
    with pytest.raises(InputError, match="ada@example.com is already a subscriber"):
        add(store, config, "ADA@example.com", "", "", NOW)
    with pytest.raises(InputError, match="is not a valid email address"):
        add(store, config, "ada at example.com", "", "", NOW)
    assert store.subscribers.count() == 1


def test_a_name_with_a_line_break_is_refused(store, config):
    with pytest.raises(InputError, match="contains a line break"):
        add(store, config, "eve@example.com", "Eve\r\nBcc: victim@example.org", "", NOW)
    assert store.subscribers.count() == 0


# ---- changes the web makes ----------------------------------------------------------

def test_set_categories_records_what_changed_and_where(store, ada):
    changed = set_categories(store, ada.id, ("News",), LATER, origin="web:preferences")
    assert changed.categories == ("News",)
    assert store.subscribers.get(ada.id).categories == ("News",)
    assert events(store, ada)[-1] == ("categories", "categories: News;Travel -> News", "web:preferences")


def test_setting_the_same_categories_records_nothing(store, ada):
    set_categories(store, ada.id, ("Travel", "News"), LATER, origin="web:preferences")
    assert len(events(store, ada)) == 1


def test_empty_categories_mean_all(store, ada):
    set_categories(store, ada.id, (), LATER, origin="web:preferences")
    assert store.subscribers.get(ada.id).categories == ()
    assert store.execute("SELECT categories FROM subscribers WHERE id = ?", (ada.id,)).fetchone()[0] == ""
    assert events(store, ada)[-1][1] == "categories: News;Travel -> (all)"


def test_unsubscribe_keeps_categories_and_resubscribe_brings_them_back(store, ada):
    gone = unsubscribe(store, ada.id, LATER, origin="web:unsubscribe")
    assert (gone.status, gone.categories) == ("unsubscribed", ("News", "Travel"))
    back = resubscribe(store, ada.id, LATER, origin="web:preferences")
    assert (back.status, back.categories) == ("active", ("News", "Travel"))
    assert events(store, ada)[1:] == [
        ("unsubscribed", "status: active -> unsubscribed", "web:unsubscribe"),
        ("resubscribed", "status: unsubscribed -> active; categories: News;Travel", "web:preferences"),
    ]


def test_a_repeated_unsubscribe_changes_nothing(store, ada):
    unsubscribe(store, ada.id, LATER, origin="web:unsubscribe")
    unsubscribe(store, ada.id, LATER, origin="web:one-click")
    assert [kind for kind, _, _ in events(store, ada)] == ["subscribed", "unsubscribed"]


def test_resubscribe_refuses_an_unconfirmed_sign_up(store, config):
    pending, _ = sign_up(store, config, "pat@example.com", "Pat", ("News",), NOW)
    with pytest.raises(InputError, match="has not confirmed"):
        resubscribe(store, pending.id, LATER, origin="web:preferences")
    assert store.subscribers.get(pending.id).status == "pending"


def test_remove_category_drops_one_of_several(store, ada):
    left = remove_category(store, ada.id, "Travel", LATER, origin="web:category")
    assert (left.categories, left.status) == (("News",), "active")
    assert events(store, ada)[-1] == ("categories", "categories: News;Travel -> News (stopped Travel)", "web:category")


def test_remove_category_from_all_keeps_every_other_configured_category(store, config):
    everyone = add(store, config, "all@example.com", "", "", NOW)
    left = remove_category(store, everyone.id, "Politics", LATER, origin="web:category", config=config)
    assert left.categories == tuple(c for c in config.category_names if c != "Politics")


def test_remove_category_from_all_without_config_is_a_programming_error(store, config):
    everyone = add(store, config, "all@example.com", "", "", NOW)
    with pytest.raises(ValueError, match="needs config="):
        remove_category(store, everyone.id, "Politics", LATER, origin="web:category")
    assert store.subscribers.get(everyone.id).categories == ()


def test_removing_the_last_category_unsubscribes_but_remembers_it(store, config):
    one = add(store, config, "one@example.com", "", "Health", NOW)
    left = remove_category(store, one.id, "Health", LATER, origin="web:category")
    assert (left.status, left.categories) == ("unsubscribed", ("Health",))
    assert events(store, one)[-1][0] == "unsubscribed"
    assert "stopped Health" in events(store, one)[-1][1]


def test_changes_to_an_unknown_subscriber_are_not_found(store):
    with pytest.raises(NotFound):
        set_categories(store, 999, ("News",), NOW, origin="web:preferences")
    with pytest.raises(NotFound):
        unsubscribe(store, 999, NOW, origin="web:unsubscribe")


# ---- sign-up and confirmation -------------------------------------------------------

def test_sign_up_creates_a_pending_subscriber_to_confirm(store, config):
    sub, send = sign_up(store, config, "New@Example.org", "Nia", ("tech", "Trips"), NOW)
    assert send is True
    assert (sub.email, sub.status, sub.categories) == ("new@example.org", "pending", ("Technology", "Travel"))
    assert events(store, sub) == [("signed_up", "categories: Technology;Travel", "web:signup")]


def test_signing_up_again_while_pending_refreshes_the_choice(store, config):
    first, _ = sign_up(store, config, "nia@example.org", "Nia", ("News",), NOW)
    again, send = sign_up(store, config, "nia@example.org", "Nia B", ("Health",), LATER)
    assert send is True and again.id == first.id
    assert (again.name, again.categories, again.status) == ("Nia B", ("Health",), "pending")
    assert again.updated_at == LATER


def test_signing_up_an_active_address_changes_nothing_and_sends_nothing(store, config, ada):
    sub, send = sign_up(store, config, "ada@example.com", "Someone Else", ("Health",), LATER)
    assert send is False
    stored = store.subscribers.get(ada.id)
    assert (stored.name, stored.categories, stored.status) == ("Ada", ("News", "Travel"), "active")
    assert len(events(store, ada)) == 1


def test_an_unsubscribed_address_signing_up_stays_unsubscribed_until_confirmed(store, config, ada):
    unsubscribe(store, ada.id, NOW, origin="web:unsubscribe")
    sub, send = sign_up(store, config, "ada@example.com", "Ada L", ("Education",), LATER)
    assert send is True
    stored = store.subscribers.get(ada.id)
    assert (stored.status, stored.categories, stored.name) == ("unsubscribed", ("News", "Travel"), "Ada")
    confirmed = confirm(store, ada.id, LATER, origin="web:confirm")
    assert (confirmed.status, confirmed.categories, confirmed.name) == ("active", ("Education",), "Ada L")
    assert events(store, ada)[-1] == ("confirmed", "status: unsubscribed -> active; categories: Education",
                                      "web:confirm")


def test_confirm_activates_a_pending_subscriber_once(store, config):
    sub, _ = sign_up(store, config, "nia@example.org", "Nia", ("News",), NOW)
    confirmed = confirm(store, sub.id, LATER, origin="web:confirm")
    assert (confirmed.status, confirmed.categories) == ("active", ("News",))
    confirm(store, sub.id, LATER, origin="web:confirm")  # a second click
    assert [kind for kind, _, _ in events(store, sub)] == ["signed_up", "confirmed"]


def test_cleanup_pending_deletes_only_old_unconfirmed_sign_ups(store, config, ada):
    old, _ = sign_up(store, config, "old@example.org", "", (), NOW - timedelta(days=config.confirm_days, hours=1))
    fresh, _ = sign_up(store, config, "fresh@example.org", "", (), NOW - timedelta(days=config.confirm_days - 1))
    assert cleanup_pending(store, config, NOW) == 1
    assert store.subscribers.get(old.id) is None
    assert store.subscribers.get(fresh.id).status == "pending"
    assert store.subscribers.get(ada.id).status == "active"
    assert store.execute("SELECT count(*) FROM events WHERE subscriber_id = ?", (old.id,)).fetchone()[0] == 0


def test_a_repeated_sign_up_restarts_the_waiting_period(store, config):
    sub, _ = sign_up(store, config, "slow@example.org", "", (), NOW - timedelta(days=config.confirm_days + 2))
    sign_up(store, config, "slow@example.org", "", (), NOW - timedelta(days=1))
    assert cleanup_pending(store, config, NOW) == 0
    assert store.subscribers.get(sub.id) is not None


# ---- bounces, removal, rotation -----------------------------------------------------

def test_mark_bounced_stops_sending_and_keeps_the_reply(store, ada):
    reply = "550 5.1.1 <ada@example.com>: mailbox unavailable"
    bounced = mark_bounced(store, ada.id, reply, LATER)
    assert bounced.status == "bounced"
    assert events(store, ada)[-1] == ("bounced", reply, "delivery")
    assert [s.email for s in iter_subscribers(store, "active")] == []


def test_remove_unsubscribes_and_forget_deletes_row_and_history(store, config, ada):
    remove(store, "ADA@example.com", LATER)
    assert store.subscribers.get(ada.id).status == "unsubscribed"
    remove(store, "ada@example.com", LATER, forget=True)
    assert store.subscribers.get(ada.id) is None
    assert store.execute("SELECT count(*) FROM events WHERE subscriber_id = ?", (ada.id,)).fetchone()[0] == 0


def test_a_forgotten_subscribers_id_is_never_given_to_a_new_one(store, config, ada):
    remove(store, "ada@example.com", LATER, forget=True)
    newcomer = add(store, config, "bo@example.com", "Bo", "", LATER)
    assert newcomer.id != ada.id


def test_forget_also_deletes_deliveries(store, config, ada):
    store.execute("INSERT INTO editions (key, window_start, window_end, built_at) VALUES ('2026-W48', 'a', 'b', 'c')")
    store.execute("INSERT INTO deliveries (edition_key, subscriber_id, status, updated_at) "
                  "VALUES ('2026-W48', ?, 'sent', 'c')", (ada.id,))
    remove(store, "ada@example.com", LATER, forget=True)
    assert store.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0


def test_rotate_makes_links_signed_before_stop_matching(store, config, ada):
    links = Links.from_config(config)
    old_token = links.token("preferences", store.subscribers.get(ada.id))
    rotated = rotate(store, "ada@example.com", LATER)
    assert rotated.token_version == ada.token_version + 1
    assert links.load("preferences", old_token).version != rotated.token_version
    new_token = links.token("preferences", rotated)
    assert links.load("preferences", new_token).version == rotated.token_version
    assert events(store, ada)[-1] == ("rotated", "token_version: 1 -> 2", "cli")


def test_unknown_status_is_a_clear_error(store):
    with pytest.raises(InputError, match=r"unknown status 'gone' \(known: active, unsubscribed, bounced, pending\)"):
        list(iter_subscribers(store, "gone"))


def test_a_bounced_address_signing_up_is_activated_only_by_confirmation(store, config, ada):
    mark_bounced(store, ada.id, "550 no such user", NOW)
    _, send = sign_up(store, config, "ada@example.com", "Ada", ("Health",), LATER)
    assert send is True
    assert store.subscribers.get(ada.id).status == "bounced"
    confirmed = confirm(store, ada.id, LATER, origin="web:confirm")
    assert (confirmed.status, confirmed.categories) == ("active", ("Health",))


def test_set_categories_refuses_text_instead_of_a_tuple(store, ada):
    with pytest.raises(TypeError, match="use parse_categories"):
        set_categories(store, ada.id, "News;Travel", LATER, origin="web:preferences")
