"""Sign-up with double opt-in, the confirmation link (incl. expiry), and the lost-link form:
same answers for known and unknown addresses, mail through the app's transport, limits."""

from __future__ import annotations

import itsdangerous.timed
import pytest

from conftest import NOW
from digest import subscribers as service
from web_support import (  # noqa: F401
    add_subscriber, app, client, clock, links, press, sent_messages, submit, text_of, transport, url_in,
    visible_text,
)

EVERYTHING = ["News", "Politics", "Business", "Technology", "Health", "Travel", "Education"]


def sign_up(client, email, name="", categories=("News", "Health")):
    return submit(client, "/subscribe", {"email": email, "name": name, "category": list(categories)})


def old_confirm_token(links, subscriber, monkeypatch, days_ago):
    """A confirmation token signed `days_ago` days in the past (itsdangerous reads time.time)."""
    signed_at = NOW.timestamp() - days_ago * 86400
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.time, "time", lambda: signed_at)
        return links.token("confirm", subscriber)


# ---- sign-up ------------------------------------------------------------------------

def test_signing_up_creates_a_pending_subscriber_and_mails_a_confirmation_link(app, client, store, transport, links):
    response = sign_up(client, "New.Reader@Example.com", "Nia", ["News", "Health"])
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    nia = store.subscribers.by_email("new.reader@example.com")
    assert (nia.status, nia.name, nia.categories) == ("pending", "Nia", ("News", "Health"))
    (message,) = sent_messages(app, transport)
    assert message["To"].addresses[0].addr_spec == "new.reader@example.com"
    assert "confirm" in message["Subject"].lower()
    assert links.confirm_url(nia) in text_of(message)
    assert [(e["kind"], e["origin"]) for e in store.events.for_subscriber(nia.id)] == [
        ("signed_up", "web:subscribe"), ("link_mailed", "web:subscribe")]


def test_the_answer_is_the_same_whether_or_not_the_address_subscribes(app, client, store, config, transport):
    add_subscriber(store, config, "known@example.com")
    service.unsubscribe(store, add_subscriber(store, config, "gone@example.com").id, NOW, "cli")
    answers = {email: sign_up(client, email) for email in ("fresh@example.com", "known@example.com", "gone@example.com")}
    assert {response.status_code for response in answers.values()} == {200}
    pages = {visible_text(r.get_data(as_text=True).replace(email, "ADDRESS")) for email, r in answers.items()}
    assert len(pages) == 1
    # Every address gets exactly one email, so not even the timing of sending tells them apart.
    recipients = sorted(m["To"].addresses[0].addr_spec for m in sent_messages(app, transport))
    assert recipients == ["fresh@example.com", "gone@example.com", "known@example.com"]


def test_signing_up_a_subscribed_address_changes_nothing_and_mails_its_preferences_link(
        app, client, store, config, transport, links):
    known = add_subscriber(store, config, "known@example.com", "Business")
    sign_up(client, "known@example.com", "Mallory", ["Travel"])
    assert store.subscribers.get(known.id) == known  # no new name, no new categories
    (message,) = sent_messages(app, transport)
    assert "subscribed already" in text_of(message)
    assert links.preferences_url(known) in text_of(message)


@pytest.mark.parametrize("email,name,categories,problem", [
    ("not-an-address", "", ["News"], "Please enter your email address"),
    ("ok@example.com", "", [], "Please choose at least one category."),
    ("ok@example.com", "", ["News", "Gossip"], "Please choose from the categories listed."),
    ("ok@example.com", "Eve\nBcc: victim@example.com", ["News"], "Please give your name on one line"),
])
def test_a_form_with_a_problem_is_shown_again_and_nothing_is_stored(
        app, client, store, transport, email, name, categories, problem):
    response = sign_up(client, email, name, categories)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert problem in html and 'role="alert"' in html
    assert f'value="{email}"' in html  # what they typed stays
    assert store.subscribers.by_email("ok@example.com") is None
    assert sent_messages(app, transport) == []


def test_ticking_every_category_signs_up_for_all(client, store):
    sign_up(client, "all@example.com", categories=EVERYTHING)
    assert store.subscribers.by_email("all@example.com").categories == ()


def test_a_sign_up_removes_pending_sign_ups_older_than_confirm_days(client, store, config, clock):
    stale, _ = service.sign_up(store, config, "stale@example.com", "", (), NOW)
    clock.advance(days=config.confirm_days, seconds=1)
    sign_up(client, "later@example.com")
    assert store.subscribers.by_email(stale.email) is None
    assert store.subscribers.by_email("later@example.com").status == "pending"


# ---- confirmation -------------------------------------------------------------------

def test_the_confirmation_link_shows_a_button_and_pressing_it_activates(app, client, store, transport):
    sign_up(client, "nia@example.com", "Nia", ["Travel"])
    (message,) = sent_messages(app, transport)
    path = url_in(text_of(message), "confirm/")
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "n***a@example.com" in html
    assert store.subscribers.by_email("nia@example.com").status == "pending"  # a link scanner changes nothing
    done = press(client, html, "Yes, subscribe me")
    assert "You are subscribed" in done.get_data(as_text=True)
    nia = store.subscribers.by_email("nia@example.com")
    assert (nia.status, nia.categories) == ("active", ("Travel",))
    assert store.events.for_subscriber(nia.id)[-1]["origin"] == "web:confirm"
    assert "confirmed already" in client.get(path).get_data(as_text=True)


def test_an_expired_confirmation_link_offers_to_sign_up_again(client, store, config, links, monkeypatch):
    pending, _ = service.sign_up(store, config, "late@example.com", "", (), NOW)
    token = old_confirm_token(links, pending, monkeypatch, days_ago=config.confirm_days + 1)
    response = client.get(f"/confirm/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This link has expired" in html and 'href="/subscribe">Sign up again</a>' in html
    assert store.subscribers.get(pending.id).status == "pending"
    fresh = old_confirm_token(links, pending, monkeypatch, days_ago=config.confirm_days - 1)
    assert client.get(f"/confirm/{fresh}").status_code == 200


def test_a_confirmation_link_for_a_cleaned_up_sign_up_offers_to_sign_up_again(client, store, config, links):
    pending, _ = service.sign_up(store, config, "gone@example.com", "", (), NOW)
    token = links.token("confirm", pending)
    service.cleanup_pending(store, config, NOW.replace(year=NOW.year + 1))
    assert "This link has expired" in client.get(f"/confirm/{token}").get_data(as_text=True)


def test_a_tampered_confirmation_link_is_refused(client, store, config, links):
    pending, _ = service.sign_up(store, config, "pat@example.com", "", (), NOW)
    token = links.token("confirm", pending)
    for bad in (token[:-3], links.token("preferences", pending), token.replace(".", "x.", 1)):
        assert client.get(f"/confirm/{bad}").status_code == 400
    assert store.subscribers.get(pending.id).status == "pending"


def test_an_old_confirmation_link_does_not_restart_a_stopped_subscription(client, store, config, links):
    pending, _ = service.sign_up(store, config, "pat@example.com", "", ("News",), NOW)
    token = links.token("confirm", pending)
    service.confirm(store, pending.id, NOW, "web:confirm")
    service.unsubscribe(store, pending.id, NOW, "web:unsubscribe")
    html = client.get(f"/confirm/{token}").get_data(as_text=True)
    assert "This link has been used" in html and "Yes, subscribe me" not in html
    assert store.subscribers.get(pending.id).status == "unsubscribed"


def test_an_unsubscribed_address_signing_up_again_is_restarted_only_by_its_confirmation(
        app, client, store, config, transport):
    old = add_subscriber(store, config, "back@example.com", "Business")
    service.unsubscribe(store, old.id, NOW, "cli")
    sign_up(client, "back@example.com", "Back", ["Health"])
    assert store.subscribers.get(old.id).status == "unsubscribed"
    (message,) = sent_messages(app, transport)
    path = url_in(text_of(message), "confirm/")
    press(client, client.get(path).get_data(as_text=True), "Yes, subscribe me")
    back = store.subscribers.get(old.id)
    assert (back.status, back.categories) == ("active", ("Health",))


# ---- lost link ----------------------------------------------------------------------

def ask_for_link(client, email):
    return submit(client, "/lost", {"email": email})


def test_the_lost_link_form_mails_the_preferences_link_to_a_subscriber(app, client, store, config, transport, links):
    alice = add_subscriber(store, config)
    response = ask_for_link(client, " Alice@Example.com ")
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    (message,) = sent_messages(app, transport)
    assert message["To"].addresses[0].addr_spec == "alice@example.com"
    assert links.preferences_url(alice) in text_of(message)
    last = store.events.for_subscriber(alice.id)[-1]
    assert (last["kind"], last["origin"]) == ("link_mailed", "web:lost")


def test_the_lost_link_answer_is_the_same_for_an_unknown_address(app, client, store, config, transport):
    add_subscriber(store, config, "known@example.com")
    known = ask_for_link(client, "known@example.com").get_data(as_text=True)
    unknown = ask_for_link(client, "stranger@example.com").get_data(as_text=True)
    assert visible_text(known) == visible_text(unknown)
    assert [m["To"].addresses[0].addr_spec for m in sent_messages(app, transport)] == ["known@example.com"]


def test_one_address_gets_at_most_three_lost_link_emails_an_hour(app, client, store, config, transport, clock):
    add_subscriber(store, config)
    answers = [ask_for_link(client, "alice@example.com") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert len({visible_text(a.get_data(as_text=True)) for a in answers}) == 1  # the limit is not revealed
    assert len(sent_messages(app, transport)) == 3
    clock.advance(minutes=61)
    ask_for_link(client, "alice@example.com")
    assert len(sent_messages(app, transport)) == 4


def test_pending_and_bounced_addresses_are_not_mailed_a_preferences_link(app, client, store, config, transport):
    service.sign_up(store, config, "pending@example.com", "", (), NOW)
    bounced = add_subscriber(store, config, "bounced@example.com")
    service.mark_bounced(store, bounced.id, "550 no such user", NOW)
    ask_for_link(client, "pending@example.com")
    ask_for_link(client, "bounced@example.com")
    assert sent_messages(app, transport) == []


def test_a_lost_link_request_that_is_not_an_address_is_shown_again(client):
    response = ask_for_link(client, "alice-at-example")
    assert response.status_code == 422
    assert "Please enter your email address" in response.get_data(as_text=True)
