"""Public pages: sign-up with double opt-in, the confirmation link, and "email me my link".

Both forms answer the same way whether or not the address is known, and both send mail
from the background Mailer, so neither the words nor the timing tell who subscribes.
Each address gets at most MAILS_PER_HOUR of these emails, counted in the events table.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request, url_for

from digest import subscribers as service
from digest.addresses import normalise_email
from digest.errors import InputError
from digest.links import BadLink, ExpiredLink
from digest.models import Subscriber
from digest.subscribers.service import MAX_NAME_CHARS
from digest.web import get_store, message_page, now, state
from digest.web.preferences import mask_email

blueprint = Blueprint("signup", __name__)

MAILS_PER_HOUR = 3
MAILED = "link_mailed"  # the event kind that counts towards the limit


def mail_allowed(subscriber: Subscriber, what: str, origin: str) -> bool:
    """Record one more email to this address, unless it has had MAILS_PER_HOUR in the last hour."""
    store, moment = get_store(), now()
    with store.transaction():  # count and record together, so parallel posts cannot both slip under
        if store.events.count_since(subscriber.id, MAILED, moment - timedelta(hours=1)) >= MAILS_PER_HOUR:
            return False
        store.events.record(subscriber.id, MAILED, moment, what, origin)
    return True


def mail(subscriber: Subscriber, subject: str, template: str, **values) -> None:
    text = render_template(template, subscriber=subscriber, **values)
    state().mailer.send(subscriber.email, subscriber.name, subject, text)


def mail_preferences_link(subscriber: Subscriber, template: str, origin: str) -> None:
    if mail_allowed(subscriber, "preferences link", origin):
        mail(subscriber, f"Your {state().config.site_name} preferences", template,
             preferences_url=state().links.preferences_url(subscriber))


@blueprint.route("/subscribe", methods=["GET", "POST"])
def subscribe():
    config = state().config
    if request.method == "GET":
        form = {"email": "", "name": "", "categories": list(config.category_names)}
        return render_template("subscribe.html", form=form, errors=[], categories=config.categories)
    form, errors = read_sign_up_form(config.category_names)
    if errors:
        return render_template("subscribe.html", form=form, errors=errors, categories=config.categories), 422
    # Ticking everything means "all", so categories added later reach them too.
    chosen = () if set(form["categories"]) == set(config.category_names) else tuple(form["categories"])
    store = get_store()
    service.cleanup_pending(store, config, now())
    subscriber, confirm = service.sign_up(store, config, form["email"], form["name"], chosen, now(),
                                          origin="web:subscribe")
    send_sign_up_mail(subscriber, confirm)
    return render_template("subscribe_sent.html", address=form["email"])


def read_sign_up_form(category_names: tuple[str, ...]) -> tuple[dict, list[tuple[str, str]]]:
    """The form as typed, and (field, message) for each problem, in the order shown."""
    form = {"email": request.form.get("email", "").strip(), "name": request.form.get("name", "").strip(),
            "categories": request.form.getlist("category")}
    errors = []
    try:
        normalise_email(form["email"])
    except InputError:
        errors.append(("email", "Please enter your email address, like name@example.com."))
    try:
        service.clean_name(form["name"])
    except InputError:
        errors.append(("name", f"Please give your name on one line, in at most {MAX_NAME_CHARS} characters."))
    if not form["categories"]:
        errors.append(("categories", "Please choose at least one category."))
    elif any(name not in category_names for name in form["categories"]):
        errors.append(("categories", "Please choose from the categories listed."))
    return form, errors


def send_sign_up_mail(subscriber: Subscriber, confirm: bool) -> None:
    site = state().config.site_name
    if confirm:
        if mail_allowed(subscriber, "confirmation link", "web:subscribe"):
            mail(subscriber, f"Please confirm your subscription to {site}", "mail_confirm.txt",
                 confirm_url=state().links.confirm_url(subscriber))
    elif subscriber.status == "active":
        # They are subscribed already: tell them so (and how to change what they get),
        # which also means every sign-up sends exactly one email.
        mail_preferences_link(subscriber, "mail_already_subscribed.txt", "web:subscribe")


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    data = state().links.load("confirm", token)  # BadLink, or ExpiredLink after confirm_days
    store = get_store()
    subscriber = store.subscribers.get(data.subscriber_id)
    if subscriber is None:  # an unconfirmed sign-up that cleanup_pending has removed
        raise ExpiredLink("this sign-up was never confirmed and has been removed")
    if subscriber.token_version != data.version:
        raise BadLink("this link is out of date")
    preferences_url = url_for("preferences.preferences", token=state().links.token("preferences", subscriber))
    waiting = subscriber.status == "pending" or store.subscribers.request(subscriber.id) is not None
    if not waiting:
        if subscriber.status == "active":
            return render_template("confirmed.html", preferences_url=preferences_url, again=True)
        # Confirmed once, stopped since: an old confirmation link must not restart the mail.
        return message_page("This link has been used",
                            "This address confirmed its subscription earlier and has stopped it since. "
                            "You can start it again from your preferences page.",
                            200, (preferences_url, "Open my preferences"))
    if request.method == "GET":
        return render_template("confirm.html", address=mask_email(subscriber.email),
                               action=url_for("signup.confirm", token=token))
    service.confirm(store, subscriber.id, now(), origin="web:confirm")
    return render_template("confirmed.html", preferences_url=preferences_url, again=False)


@blueprint.route("/lost", methods=["GET", "POST"])
def lost():
    if request.method == "GET":
        return render_template("lost.html", email="", error="")
    email = request.form.get("email", "").strip()
    try:
        address = normalise_email(email)
    except InputError:
        return render_template("lost.html", email=email,
                               error="Please enter your email address, like name@example.com."), 422
    subscriber = get_store().subscribers.by_email(address)
    if subscriber is not None and subscriber.status in ("active", "unsubscribed"):
        mail_preferences_link(subscriber, "mail_preferences_link.txt", "web:lost")
    return render_template("lost_sent.html")
