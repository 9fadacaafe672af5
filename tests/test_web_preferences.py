"""The pages behind the personal links: preferences, unsubscribe (incl. RFC 8058 one-click),
stopping one category, resubscribing; with bad, foreign and out-of-date tokens."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from digest import subscribers as service
from conftest import NOW
from web_support import add_subscriber, app, client, clock, csrf_token, form_action, links, press, submit, transport  # noqa: F401


def events(store, subscriber):
    return store.events.for_subscriber(subscriber.id)


def page(client, path):
    response = client.get(path)
    return response, response.get_data(as_text=True)


# ---- preferences -------------------------------------------------------------------

def test_preferences_page_masks_the_address_and_ticks_the_chosen_categories(client, store, config, links):
    alice = add_subscriber(store, config, "alice@example.com", "News;Travel")
    response, html = page(client, f"/p/{links.token('preferences', alice)}")
    assert response.status_code == 200
    assert "a***e@example.com" in html and "alice@example.com" not in html
    assert 'value="News" id="category-1" aria-describedby="category-1-about" checked>' in html
    assert 'value="Politics" id="category-2" aria-describedby="category-2-about">' in html
    assert 'value="Travel" id="category-6" aria-describedby="category-6-about" checked>' in html
    for category in config.categories:  # each with its short description
        assert category.description in html


def test_a_subscriber_with_no_stored_categories_sees_every_category_ticked(client, store, config, links):
    bob = add_subscriber(store, config, "bob@example.com", "")
    _, html = page(client, f"/p/{links.token('preferences', bob)}")
    assert html.count(" checked>") == len(config.categories)


def test_saving_categories_changes_them_records_the_event_and_confirms(client, store, config, links):
    alice = add_subscriber(store, config)
    path = f"/p/{links.token('preferences', alice)}"
    response = submit(client, path, {"category": ["Business", "Health"]})
    assert response.status_code == 303
    assert store.subscribers.get(alice.id).categories == ("Business", "Health")
    last = events(store, alice)[-1]
    assert (last["kind"], last["origin"]) == ("categories", "web:preferences")
    assert "News;Travel -> Business;Health" in last["detail"]
    _, html = page(client, response.headers["Location"])
    assert "Saved. From the next edition you will get: Business, Health." in html


def test_ticking_every_category_stores_all_so_later_categories_arrive_too(client, store, config, links):
    alice = add_subscriber(store, config)
    response = submit(client, f"/p/{links.token('preferences', alice)}", {"category": list(config.category_names)})
    assert store.subscribers.get(alice.id).categories == ()
    _, html = page(client, response.headers["Location"])
    assert "Saved. From the next edition you will get: every section." in html


def test_unticking_every_category_asks_whether_they_meant_to_unsubscribe(client, store, config, links):
    alice = add_subscriber(store, config)
    path = f"/p/{links.token('preferences', alice)}"
    response = submit(client, path, {})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Did you mean to unsubscribe" in html
    assert form_action(html, "Unsubscribe") == f"/u/{links.token('unsubscribe', alice)}"
    assert f'href="{path}">Go back</a>' in html
    assert store.subscribers.get(alice.id).categories == ("News", "Travel")  # nothing changed yet
    # The offered button works.
    press(client, html, "Unsubscribe")
    assert store.subscribers.get(alice.id).status == "unsubscribed"


def test_a_category_we_do_not_send_is_refused(client, store, config, links):
    alice = add_subscriber(store, config)
    response = submit(client, f"/p/{links.token('preferences', alice)}", {"category": ["News", "Gossip"]})
    assert response.status_code == 400
    assert store.subscribers.get(alice.id).categories == ("News", "Travel")


def test_a_pending_subscriber_is_asked_to_confirm_first(client, store, config, links):
    pending, _ = service.sign_up(store, config, "pat@example.com", "", (), NOW)
    response, html = page(client, f"/p/{links.token('preferences', pending)}")
    assert response.status_code == 409 and "confirm your address first" in html


# ---- bad tokens ---------------------------------------------------------------------

def bad_tokens(links, subscriber, purpose):
    good = links.token(purpose, subscriber)
    payload, _, signature = good.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    foreign = URLSafeSerializer("someone-elses-key", salt=f"digest.{purpose}").dumps(
        [subscriber.id, subscriber.token_version, *(["News"] if purpose == "category" else [])])
    other_purpose = links.token("preferences" if purpose != "preferences" else "unsubscribe", subscriber)
    return {"tampered": f"{payload}.{flipped}", "truncated": good[:-6], "foreign": foreign,
            "other purpose": other_purpose, "garbage": "not-a-token"}


@pytest.mark.parametrize("kind", ["tampered", "truncated", "foreign", "other purpose", "garbage"])
@pytest.mark.parametrize("prefix,purpose", [("p", "preferences"), ("u", "unsubscribe"), ("c", "category")])
def test_a_bad_token_gets_a_friendly_400_and_changes_nothing(client, store, config, links, kind, prefix, purpose):
    alice = add_subscriber(store, config)
    before = (store.subscribers.get(alice.id), events(store, alice))
    token = bad_tokens(links, alice, purpose)[kind]
    get = client.get(f"/{prefix}/{token}")
    assert get.status_code == 400
    assert "This link does not work" in get.get_data(as_text=True)
    # A post with a valid CSRF token (from another page) and the one-click body changes nothing either.
    csrf = csrf_token(client, "/lost")
    for data in ({"category": ["News"], "csrf_token": csrf}, {"List-Unsubscribe": "One-Click"}):
        assert client.post(f"/{prefix}/{token}", data=data).status_code == 400
    assert (store.subscribers.get(alice.id), events(store, alice)) == before


def test_rotating_the_version_retires_old_links_and_new_ones_work(client, store, config, links):
    alice = add_subscriber(store, config)
    old = {"p": links.token("preferences", alice), "u": links.token("unsubscribe", alice),
           "c": links.token("category", alice, "News")}
    service.rotate(store, alice.email, NOW)
    for prefix, token in old.items():
        assert client.get(f"/{prefix}/{token}").status_code == 400
        assert client.post(f"/{prefix}/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert store.subscribers.get(alice.id).status == "active"
    fresh = store.subscribers.get(alice.id)
    assert client.get(f"/p/{links.token('preferences', fresh)}").status_code == 200


# ---- unsubscribe --------------------------------------------------------------------

def test_following_the_unsubscribe_link_only_shows_a_button(client, store, config, links):
    alice = add_subscriber(store, config)
    response, html = page(client, f"/u/{links.token('unsubscribe', alice)}")
    assert response.status_code == 200
    assert form_action(html, "Unsubscribe") == f"/u/{links.token('unsubscribe', alice)}"
    assert store.subscribers.get(alice.id).status == "active"
    assert [e["kind"] for e in events(store, alice)] == ["subscribed"]


def test_pressing_unsubscribe_stops_the_mail_and_offers_to_resubscribe(client, store, config, links):
    alice = add_subscriber(store, config)
    response = submit(client, f"/u/{links.token('unsubscribe', alice)}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "You are unsubscribed" in html
    assert store.subscribers.get(alice.id).status == "unsubscribed"
    last = events(store, alice)[-1]
    assert (last["kind"], last["origin"]) == ("unsubscribed", "web:unsubscribe")
    assert form_action(html, "Resubscribe") == f"/p/{links.token('preferences', alice)}/resubscribe"


def test_one_click_post_unsubscribes_without_cookie_or_csrf_token(app, store, config, links):
    alice = add_subscriber(store, config)
    fresh_client = app.test_client(use_cookies=False)  # a mail provider's server, not a browser
    response = fresh_client.post(f"/u/{links.token('unsubscribe', alice)}", data="List-Unsubscribe=One-Click",
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert store.subscribers.get(alice.id).status == "unsubscribed"
    last = events(store, alice)[-1]
    assert (last["kind"], last["origin"]) == ("unsubscribed", "web:one-click")
    # A repeat (mail clients retry) is still a 200 and records nothing new.
    again = fresh_client.post(f"/u/{links.token('unsubscribe', alice)}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and len(events(store, alice)) == 2


def test_a_post_to_unsubscribe_without_the_one_click_body_needs_a_csrf_token(app, store, config, links):
    alice = add_subscriber(store, config)
    response = app.test_client().post(f"/u/{links.token('unsubscribe', alice)}", data={"List-Unsubscribe": "Yes"})
    assert response.status_code == 400
    assert store.subscribers.get(alice.id).status == "active"


def test_resubscribing_brings_back_the_previous_categories(client, store, config, links):
    alice = add_subscriber(store, config, categories="Business;Health")
    submit(client, f"/u/{links.token('unsubscribe', alice)}")
    preferences = f"/p/{links.token('preferences', alice)}"
    _, html = page(client, preferences)
    assert "You unsubscribed" in html and "Business, Health" in html
    response = submit(client, preferences, action=f"{preferences}/resubscribe")
    assert response.status_code == 303
    again = store.subscribers.get(alice.id)
    assert (again.status, again.categories) == ("active", ("Business", "Health"))
    assert events(store, alice)[-1]["origin"] == "web:resubscribe"
    _, html = page(client, response.headers["Location"])
    assert "Welcome back" in html


# ---- one category -------------------------------------------------------------------

def test_the_category_link_shows_one_button_that_stops_only_that_category(client, store, config, links):
    alice = add_subscriber(store, config, categories="News;Travel;Health")
    path = f"/c/{links.token('category', alice, 'Travel')}"
    response, html = page(client, path)
    assert "Stop sending me Travel" in html and "You will keep getting News, Health." in html
    assert store.subscribers.get(alice.id).categories == ("News", "Health", "Travel")  # GET changes nothing
    response = submit(client, path)
    assert "You will not get Travel any more. You still get: News, Health." in response.get_data(as_text=True)
    assert store.subscribers.get(alice.id).categories == ("News", "Health")
    last = events(store, alice)[-1]
    assert (last["kind"], last["origin"]) == ("categories", "web:category")


def test_an_all_categories_subscriber_keeps_every_other_configured_category(client, store, config, links):
    bob = add_subscriber(store, config, "bob@example.com", "")
    submit(client, f"/c/{links.token('category', bob, 'Politics')}")
    assert store.subscribers.get(bob.id).categories == tuple(c for c in config.category_names if c != "Politics")


def test_stopping_the_last_category_says_it_unsubscribes_and_does_so(client, store, config, links):
    carol = add_subscriber(store, config, "carol@example.com", "Business")
    path = f"/c/{links.token('category', carol, 'Business')}"
    _, html = page(client, path)
    assert "Business is the only section you get, so stopping it unsubscribes" in html
    html = submit(client, path).get_data(as_text=True)
    assert "You are unsubscribed" in html and "Resubscribe" in html
    assert store.subscribers.get(carol.id).status == "unsubscribed"


def test_a_category_already_stopped_or_no_longer_sent_changes_nothing(client, store, config, links):
    alice = add_subscriber(store, config, categories="News;Travel")
    _, html = page(client, f"/c/{links.token('category', alice, 'Business')}")
    assert "You will not get Business any more" in html
    response, html = page(client, f"/c/{links.token('category', alice, 'Gardening')}")
    assert response.status_code == 200 and "We no longer send a section called Gardening." in html
    assert [e["kind"] for e in events(store, alice)] == ["subscribed"]
