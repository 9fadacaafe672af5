"""What the `send`, `approve` and `status` commands call: choose the edition, take the lock,
run the send loop, move the edition's status along (approved → sending → sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import make_msgid

from digest.config import Config
from digest.deliver.compose import Composer
from digest.deliver.engine import NoProgress, Progress, SendOptions, SendReport, SendRun
from digest.deliver.headers import ascii_address
from digest.deliver.lock import SendLock, send_lock
from digest.deliver.message import sender_domain
from digest.deliver.throttle import Clock
from digest.deliver.transports import Transport, make_transport
from digest.errors import DigestError, InputError, NotFound
from digest.models import Edition, Subscriber


class ApprovalNeeded(DigestError):
    """The edition is a draft and the configuration asks for approval before sending."""


def approval_message(edition: Edition) -> str:
    return (f"edition {edition.key} is a draft that needs approval before it is sent: run "
            f"`digest approve {edition.key}` (or `digest send --test EMAIL` to see it in your inbox first)")


def sendable(edition: Edition, config: Config) -> bool:
    return edition.status in ("approved", "sending") or (edition.status == "draft" and not config.require_approval)


def choose_edition(store, config: Config, key: str | None, for_real: bool = True) -> Edition | None:
    """The edition to send, with its sections: the one named, else the newest that is approved
    (or, without required approval, built) and not fully sent. None when everything is sent.

    With for_real=False (dry runs, test copies) approval is not needed."""
    from digest import editions

    if key:
        edition = editions.get(store, key, config)
        if for_real and edition.status == "draft" and config.require_approval:
            raise ApprovalNeeded(approval_message(edition))
        return edition
    listed = store.editions.list()  # newest first
    if not listed:
        raise NotFound("no edition has been built yet (run: digest build)")
    if for_real:
        ready = [e for e in listed if sendable(e, config)]
        if not ready:
            waiting = [e for e in listed if e.status == "draft"]
            if waiting:
                raise ApprovalNeeded(approval_message(waiting[0]))
            return None
        chosen = ready[0]
    else:
        chosen = next((e for e in listed if e.status != "sent"), listed[0])
    return editions.get(store, chosen.key, config)


def send_edition(store, config: Config, key: str | None = None, *, transport: Transport | None = None,
                 options: SendOptions | None = None, clock: Clock | None = None,
                 progress: Progress | None = None, warn=lambda line: None, renderer=None) -> SendReport | None:
    """Send the chosen edition to everyone who has not had it yet. None: nothing left to send."""
    clock = clock or Clock()
    with send_lock(store, clock.now(), warn) as lock:
        edition = choose_edition(store, config, key)
        if edition is None:
            return None
        return send_locked(store, config, edition, lock, transport=transport, options=options, clock=clock,
                           progress=progress, renderer=renderer)


def send_locked(store, config: Config, edition: Edition, lock: SendLock, *, transport: Transport | None = None,
                options: SendOptions | None = None, clock: Clock | None = None,
                progress: Progress | None = None, renderer=None) -> SendReport:
    """The send itself, for a caller that holds the lock (send, run)."""
    clock = clock or Clock()
    if edition.status == "sent":
        return SendReport(edition.key, complete=True)
    composer = Composer(config, edition, clock.now(), renderer)
    own_transport = transport is None
    transport = transport or make_transport(config)
    if edition.status != "sending":
        with store.transaction():
            store.editions.set_status(edition.key, "sending", clock.now())
    options = options or SendOptions.from_config(config)
    progress = progress or NoProgress()
    try:
        report = SendRun(store, config, edition, transport, composer, options, clock, lock, progress).run()
    finally:
        if own_transport:
            transport.close()
    report.variants, report.render_seconds = composer.renders, composer.render_seconds
    if report.complete:
        with store.transaction():
            store.editions.set_status(edition.key, "sent", clock.now())
    return report


# -- dry runs and test copies --------------------------------------------------------------

@dataclass
class DryRunReport:
    edition: str
    variants: list[tuple[tuple[str, ...], str, int]] = field(default_factory=list)  # categories, subject, count
    nothing_new: int = 0
    already: int = 0  # subscribers the ledger says are done or waiting for a retry

    def lines(self) -> list[str]:
        total = sum(count for _, _, count in self.variants)
        lines = [f"Edition {self.edition}: {total} message(s) would be sent in {len(self.variants)} variant(s)"]
        for categories, subject, count in self.variants:
            lines.append(f"  {count:>7}  {', '.join(categories)}  ({subject})")
        lines.append(f"  skipped (nothing new): {self.nothing_new}; already in the ledger: {self.already}")
        return lines


def dry_run(store, config: Config, key: str | None = None, now: datetime | None = None,
            renderer=None, batch: int = 500) -> DryRunReport:
    """Build every message that a send would send now, send nothing and write nothing."""
    from digest.deliver.engine import chunks

    edition = choose_edition(store, config, key, for_real=False)
    composer = Composer(config, edition, now or Clock().now(), renderer)
    report = DryRunReport(edition.key)
    for chunk in chunks(store.subscribers.iter(status="active", batch=batch), batch):
        states = store.deliveries.states(edition.key, chunk[0].id, chunk[-1].id)
        for subscriber in chunk:
            if subscriber.id in states:
                report.already += 1
            elif composer.compose(subscriber) is None:
                report.nothing_new += 1
    report.variants = [(categories, composer.subjects[categories], count)
                       for categories, count in composer.counts.most_common()]
    return report


def find_subscriber(store, who: str) -> Subscriber:
    """A subscriber by id or email address."""
    from digest.addresses import normalise_email

    subscriber = store.subscribers.get(int(who)) if who.strip().isdigit() else \
        store.subscribers.by_email(normalise_email(who))
    if subscriber is None:
        raise NotFound(f"no subscriber {who}")
    return subscriber


def send_test(store, config: Config, to_email: str, key: str | None = None, as_subscriber: str | None = None,
              transport: Transport | None = None, now: datetime | None = None, renderer=None) -> str:
    """Send one copy, subject prefixed [TEST], to `to_email`: as `as_subscriber` would get it,
    else with every category. Touches no ledger; returns a line saying what was sent."""
    from digest.addresses import normalise_email

    to_email = normalise_email(to_email)
    edition = choose_edition(store, config, key, for_real=False)
    if as_subscriber:
        subscriber = find_subscriber(store, as_subscriber)
        who = f"as {subscriber.email} gets it"
    else:
        subscriber = Subscriber(email=to_email, name="", categories=(), id=0)
        who = "with every category"
    composer = Composer(config, edition, now or Clock().now(), renderer, subject_prefix="[TEST]")
    message = composer.compose(subscriber, to_email=to_email, message_id=make_msgid("test", sender_domain(config)))
    if message is None:
        raise InputError(f"edition {edition.key} has nothing for {subscriber.email}: no article in their categories")
    own_transport = transport is None
    transport = transport or make_transport(config)
    try:
        transport.send(ascii_address(config.from_address), [message.recipient], message.data)
    finally:
        if own_transport:
            transport.close()
    return f"Sent a test copy of {edition.key} to {to_email} ({who}; {', '.join(message.variant)})"


# -- status ------------------------------------------------------------------------------

def status(store) -> list[dict]:
    """Each edition, newest first, with its ledger counts."""
    from digest.timeutil import iso

    counts = store.deliveries.counts()
    rows = []
    for edition in store.editions.list():
        ledger = counts.get(edition.key, {"queued": 0, "sent": 0, "failed": 0, "skipped": 0})
        rows.append({
            "edition": edition.key, "status": edition.status,
            "built_at": iso(edition.built_at), "approved_at": iso(edition.approved_at),
            "sent_at": iso(edition.sent_at), **ledger,
        })
    return rows

