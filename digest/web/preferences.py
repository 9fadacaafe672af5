"""Pages behind the personal links in every email: preferences, unsubscribe (with RFC 8058
one-click), stopping one category, and resubscribing.

Every page that changes something shows a button first: mail scanners follow links, and
following a link must never change a subscription. The one exception is RFC 8058's
one-click POST, which only mail clients send.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from digest import subscribers as service
from digest.links import BadLink
from digest.models import Subscriber
from digest.web import get_store, message_page, now, state
from digest.web.security import is_one_click_unsubscribe

blueprint = Blueprint("preferences", __name__)


def subscriber_for(purpose: str, token: str):
    """The subscriber a token of `purpose` names and the token's data; BadLink when the token
    is forged, cut short, or older than the subscriber's token_version."""
    data = state().links.load(purpose, token)
    subscriber = get_store().subscribers.get(data.subscriber_id)
    if subscriber is None or subscriber.token_version != data.version:
        raise BadLink("this link is out of date")
    return subscriber, data


def mask_email(address: str) -> str:
    """a***e@example.com: enough to recognise your own address, not to harvest it."""
    local, _, domain = address.rpartition("@")
    shown = local[0] + "***" + (local[-1] if len(local) > 2 else "")
    return f"{shown}@{domain}"


def chosen_categories(subscriber: Subscriber) -> tuple[str, ...]:
    """The configured categories this subscriber gets (an empty stored list means all)."""
    configured = state().config.category_names
    if not subscriber.categories:
        return configured
    return tuple(name for name in configured if name in subscriber.categories)


def describe_sections(subscriber: Subscriber) -> str:
    """'News, Travel', or 'every section' for a subscriber who gets all (now and later)."""
    return ", ".join(chosen_categories(subscriber)) if subscriber.categories else "every section"


def urls_for(subscriber: Subscriber) -> dict[str, str]:
    links = state().links
    preferences_token = links.token("preferences", subscriber)
    return {
        "preferences": url_for("preferences.preferences", token=preferences_token),
        "unsubscribe": url_for("preferences.unsubscribe", token=links.token("unsubscribe", subscriber)),
        "resubscribe": url_for("preferences.resubscribe", token=preferences_token),
    }


def page(template: str, subscriber: Subscriber, status: int = 200, **values):
    return render_template(template, subscriber=subscriber, address=mask_email(subscriber.email),
                           urls=urls_for(subscriber), chosen=chosen_categories(subscriber),
                           sections=describe_sections(subscriber), **values), status


@blueprint.route("/p/<token>", methods=["GET", "POST"])
def preferences(token):
    subscriber, _ = subscriber_for("preferences", token)
    if subscriber.status == "pending":
        return message_page("Please confirm your address first",
                            "Use the link in the confirmation email we sent you; then you can choose "
                            "what you receive here.", 409)
    if request.method == "GET":
        return page("preferences.html", subscriber, notice=request.args.get("done", ""),
                    categories=state().config.categories)
    names = state().config.category_names
    ticked = request.form.getlist("category")
    if any(name not in names for name in ticked):
        abort(400, "That category is not one we send.")
    if not ticked:
        return page("unsubscribe_instead.html", subscriber)
    # Ticking everything means "all", so categories added later reach them too.
    chosen = () if set(ticked) == set(names) else tuple(n for n in names if n in ticked)
    service.set_categories(get_store(), subscriber.id, chosen, now(), origin="web:preferences")
    return redirect(url_for("preferences.preferences", token=token, done="saved"), code=303)


@blueprint.route("/p/<token>/resubscribe", methods=["POST"])
def resubscribe(token):
    subscriber, _ = subscriber_for("preferences", token)
    if subscriber.status in ("unsubscribed", "bounced"):
        service.resubscribe(get_store(), subscriber.id, now(), origin="web:resubscribe")
    return redirect(url_for("preferences.preferences", token=token, done="resubscribed"), code=303)


@blueprint.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    subscriber, _ = subscriber_for("unsubscribe", token)
    if request.method == "GET":
        template = "unsubscribed.html" if subscriber.status == "unsubscribed" else "unsubscribe.html"
        return page(template, subscriber)
    one_click = is_one_click_unsubscribe()  # the same test that waived the CSRF check
    subscriber = service.unsubscribe(get_store(), subscriber.id, now(),
                                     origin="web:one-click" if one_click else "web:unsubscribe")
    if one_click:  # a mail client is asking; it wants a 200, not a page
        return "You are unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return page("unsubscribed.html", subscriber)


@blueprint.route("/c/<token>", methods=["GET", "POST"])
def stop_category(token):
    subscriber, data = subscriber_for("category", token)
    category = data.category
    urls = urls_for(subscriber)
    if category not in state().config.category_names:
        return message_page("That section has gone",
                            f"We no longer send a section called {category}.", 200,
                            (urls["preferences"], "See my sections"))
    if subscriber.status != "active":  # unsubscribed, bounced or pending: that page explains
        return redirect(urls["preferences"], code=303)
    chosen = chosen_categories(subscriber)
    if category not in chosen:
        return page("category_done.html", subscriber, category=category)
    if request.method == "GET":
        return page("category.html", subscriber, category=category, last=chosen == (category,),
                    action=url_for("preferences.stop_category", token=token))
    subscriber = service.remove_category(get_store(), subscriber.id, category, now(),
                                         origin="web:category", config=state().config)
    return page("category_done.html", subscriber, category=category)
