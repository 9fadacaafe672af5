"""Every change to a subscriber goes through here: it is checked, recorded as an event
(what changed, and from where) and committed at once.

The CLI, the CSV import and the web preference centre all call these functions, so a
change means the same thing whichever door it came through.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from digest.addresses import normalise_email
from digest.config import Config
from digest.errors import InputError, NotFound
from digest.models import Subscriber
from digest.store.subscribers import STATUSES
from digest.timeutil import iso

MAX_NAME_CHARS = 200


# ---- checking what people give us ---------------------------------------------------

def parse_categories(config: Config, text: str) -> tuple[str, ...]:
    """';'-separated names or aliases, any case, to canonical names in configured order.

    "" means all categories and gives (). Raises InputError naming the unknown labels.
    """
    labels = [label.strip() for label in (text or "").split(";")]
    return canonical_categories(config, [label for label in labels if label])


def canonical_categories(config: Config, labels: Iterable[str]) -> tuple[str, ...]:
    """Labels (names or aliases, any case) to canonical names in configured order."""
    chosen: set[str] = set()
    unknown: list[str] = []
    for label in labels:
        name = config.canonical_category(label)
        if name is None:
            unknown.append(label)
        else:
            chosen.add(name)
    if unknown:
        noun = "category" if len(unknown) == 1 else "categories"
        raise InputError(
            f"unknown {noun} {', '.join(repr(u) for u in unknown)} (known: {', '.join(config.category_names)})"
        )
    return tuple(name for name in config.category_names if name in chosen)


def clean_name(name: str | None) -> str:
    """A display name, trimmed; refuses line breaks and control characters.

    Names end up in To: headers and web pages, so a newline here is never innocent.
    """
    name = (name or "").strip()
    # Cf (format characters) stays allowed: zero-width joiners belong in some scripts' names.
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        raise InputError(f"name {name!r} contains a line break or control character")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"name is longer than {MAX_NAME_CHARS} characters")
    return name


def check_status(status: str) -> str:
    """The status, if it is one we know; else InputError listing the known ones."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    return status


def describe_categories(categories: Iterable[str]) -> str:
    """How event details and listings show a choice: 'News;Travel', or '(all)'."""
    return ";".join(categories) or "(all)"


def _categories_arg(config: Config, categories: str | Iterable[str] | None) -> tuple[str, ...]:
    if categories is None:
        return ()
    if isinstance(categories, str):
        return parse_categories(config, categories)
    return canonical_categories(config, categories)


def _names_only(categories: Iterable[str]) -> tuple[str, ...]:
    """Categories given without a config (the web sends canonical names): checked for shape, deduplicated."""
    if isinstance(categories, str):
        # "News;Travel" would otherwise be taken letter by letter.
        raise TypeError("categories must be a tuple of names; use parse_categories for ';'-separated text")
    result: list[str] = []
    for name in categories:
        if not isinstance(name, str) or not name.strip() or ";" in name:
            raise InputError(f"{name!r} is not a category name")
        if name.strip() not in result:
            result.append(name.strip())
    return tuple(result)


# ---- looking up ---------------------------------------------------------------------

def get(store, subscriber_id: int) -> Subscriber:
    subscriber = store.subscribers.get(subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


def get_by_email(store, email: str) -> Subscriber:
    address = normalise_email(email)
    subscriber = store.subscribers.by_email(address)
    if subscriber is None:
        raise NotFound(f"{address} is not a subscriber")
    return subscriber


def iter_subscribers(store, status: str | None = None) -> Iterator[Subscriber]:
    """Stream subscribers in id order, optionally of one status (checked)."""
    if status is not None:
        check_status(status)
    return store.subscribers.iter(status)


def as_dict(subscriber: Subscriber) -> dict:
    """The JSON shape of `digest subscribers list --json` (categories [] means all)."""
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "categories": list(subscriber.categories),
        "status": subscriber.status,
        "created_at": iso(subscriber.created_at),
        "updated_at": iso(subscriber.updated_at),
    }


# ---- changes ------------------------------------------------------------------------

def _change(store, subscriber: Subscriber, kind: str, detail: str, now: datetime, origin: str, **changes) -> Subscriber:
    """Apply `changes` to the row and record the event, in the caller's transaction."""
    if changes:
        store.subscribers.update(subscriber.id, now, **changes)
    store.events.record(subscriber.id, kind, now, detail, origin)
    return store.subscribers.get(subscriber.id)


def add(store, config: Config, email: str, name: str, categories, now: datetime, origin: str = "cli") -> Subscriber:
    """Subscribe a new address straight away (active). `categories`: "a;b" text or names/aliases."""
    address = normalise_email(email)
    chosen = _categories_arg(config, categories)
    name = clean_name(name)
    with store.transaction():
        existing = store.subscribers.by_email(address)
        if existing is not None:
            raise InputError(f"{address} is already a subscriber (status {existing.status})")
        subscriber = store.subscribers.add(Subscriber(address, name, chosen, "active"), now)
        store.events.record(subscriber.id, "subscribed", now, f"categories: {describe_categories(chosen)}", origin)
    return subscriber


def remove(store, email: str, now: datetime, forget: bool = False, origin: str = "cli") -> Subscriber:
    """Unsubscribe the address; with forget=True delete the row and, by cascade, its history."""
    with store.transaction():
        subscriber = get_by_email(store, email)
        if forget:
            # Nothing is recorded: a data-protection request asks us to keep nothing.
            store.subscribers.delete(subscriber.id)
            return subscriber
        return _unsubscribe(store, subscriber, now, origin)


def unsubscribe(store, subscriber_id: int, now: datetime, origin: str) -> Subscriber:
    """Stop sending. Only the status changes: the categories stay for a later resubscribe."""
    with store.transaction():
        return _unsubscribe(store, get(store, subscriber_id), now, origin)


def _unsubscribe(store, subscriber: Subscriber, now: datetime, origin: str, detail: str = "") -> Subscriber:
    if subscriber.status == "unsubscribed":
        return subscriber  # a repeated one-click POST changes nothing
    detail = detail or f"status: {subscriber.status} -> unsubscribed"
    return _change(store, subscriber, "unsubscribed", detail, now, origin, status="unsubscribed")


def resubscribe(store, subscriber_id: int, now: datetime, origin: str) -> Subscriber:
    """Send again, with the categories chosen before unsubscribing."""
    with store.transaction():
        subscriber = get(store, subscriber_id)
        if subscriber.status == "active":
            return subscriber
        if subscriber.status == "pending":
            # Only the confirmation link may activate an address nobody has vouched for yet.
            raise InputError(f"{subscriber.email} has not confirmed the address yet")
        detail = (f"status: {subscriber.status} -> active; "
                  f"categories: {describe_categories(subscriber.categories)}")
        return _change(store, subscriber, "resubscribed", detail, now, origin, status="active")


def set_categories(store, subscriber_id: int, categories: tuple[str, ...], now: datetime, origin: str) -> Subscriber:
    """Choose categories (canonical names; () means all). The status is left alone."""
    chosen = _names_only(categories)
    with store.transaction():
        subscriber = get(store, subscriber_id)
        if set(chosen) == set(subscriber.categories):
            return subscriber
        detail = f"categories: {describe_categories(subscriber.categories)} -> {describe_categories(chosen)}"
        return _change(store, subscriber, "categories", detail, now, origin, categories=chosen)


def remove_category(store, subscriber_id: int, category: str, now: datetime, origin: str,
                    config: Config | None = None) -> Subscriber:
    """Stop one category. Stopping the last one unsubscribes (keeping the categories).

    A subscriber who gets all categories keeps all the others, which needs `config` to
    know them; without it that case raises ValueError (a programming slip, not user input).
    """
    with store.transaction():
        subscriber = get(store, subscriber_id)
        current = subscriber.categories
        if not current:
            if config is None:
                raise ValueError("remove_category needs config= when the subscriber gets all categories")
            current = config.category_names
        if category not in current:
            return subscriber
        remaining = tuple(c for c in current if c != category)
        if not remaining:
            return _unsubscribe(store, subscriber, now, origin,
                                detail=f"stopped {category}, their last category; status: "
                                       f"{subscriber.status} -> unsubscribed")
        detail = (f"categories: {describe_categories(subscriber.categories)} -> "
                  f"{describe_categories(remaining)} (stopped {category})")
        return _change(store, subscriber, "categories", detail, now, origin, categories=remaining)


def sign_up(store, config: Config, email: str, name: str, categories, now: datetime,
            origin: str = "web:signup") -> tuple[Subscriber, bool]:
    """A sign-up from the web form. Returns (subscriber, whether to send a confirmation).

    The caller answers the visitor the same way in every case, so the page never tells
    whether an address is already subscribed.
    """
    address = normalise_email(email)
    chosen = _categories_arg(config, categories)
    name = clean_name(name)
    detail = f"categories: {describe_categories(chosen)}"
    with store.transaction():
        subscriber = store.subscribers.by_email(address)
        if subscriber is None:
            subscriber = store.subscribers.add(Subscriber(address, name, chosen, "pending"), now)
            store.events.record(subscriber.id, "signed_up", now, detail, origin)
            return subscriber, True
        if subscriber.status == "active":
            return subscriber, False
        if subscriber.status == "pending":
            # updated_at moves too: the new confirmation link starts a new waiting period.
            return _change(store, subscriber, "signed_up", f"again; {detail}", now, origin,
                           name=name, categories=chosen), True
        # unsubscribed or bounced: nothing changes until the mailbox owner confirms.
        store.subscribers.set_request(subscriber.id, name, chosen, now)
        store.events.record(subscriber.id, "signed_up", now, f"waiting for confirmation; {detail}", origin)
        return store.subscribers.get(subscriber.id), True


def confirm(store, subscriber_id: int, now: datetime, origin: str) -> Subscriber:
    """The confirmation link was followed: activate, with any categories asked for at sign-up."""
    with store.transaction():
        subscriber = get(store, subscriber_id)
        if subscriber.status == "active":
            return subscriber  # a second click
        changes: dict = {"status": "active"}
        request = store.subscribers.request(subscriber.id)
        if request is not None:
            changes["name"], changes["categories"] = request
            store.subscribers.clear_request(subscriber.id)
        categories = changes.get("categories", subscriber.categories)
        detail = f"status: {subscriber.status} -> active; categories: {describe_categories(categories)}"
        return _change(store, subscriber, "confirmed", detail, now, origin, **changes)


def cleanup_pending(store, config: Config, now: datetime) -> int:
    """Delete sign-ups never confirmed within config.confirm_days; returns how many."""
    with store.transaction():
        return store.subscribers.delete_pending_before(now - timedelta(days=config.confirm_days))


def mark_bounced(store, subscriber_id: int, reply: str, now: datetime, origin: str = "delivery") -> Subscriber:
    """A permanent delivery failure: stop sending, and keep the server's reply."""
    with store.transaction():
        subscriber = get(store, subscriber_id)
        changes = {} if subscriber.status == "bounced" else {"status": "bounced"}
        return _change(store, subscriber, "bounced", reply, now, origin, **changes)


def rotate(store, email: str, now: datetime, origin: str = "cli") -> Subscriber:
    """Bump token_version so every link signed so far stops working (e.g. a forwarded email)."""
    with store.transaction():
        subscriber = get_by_email(store, email)
        store.subscribers.bump_version(subscriber.id, now)
        detail = f"token_version: {subscriber.token_version} -> {subscriber.token_version + 1}"
        return _change(store, subscriber, "rotated", detail, now, origin)


def change_categories(store, config: Config, email: str, text: str, now: datetime, origin: str = "cli") -> Subscriber:
    """`digest subscribers set`: look the address up and set its categories from "a;b" text."""
    chosen = parse_categories(config, text)
    return set_categories(store, get_by_email(store, email).id, chosen, now, origin)
