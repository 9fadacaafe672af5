"""The send loop end to end: real database, real renderer, a real SMTP server with faults.
Each subscriber gets their categories exactly once; the ledger says what happened."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from deliver_world import NOW, add_subscribers, check_message, make_edition, smtp_config, wanted
from digest.deliver.engine import EX_TEMPFAIL, SendOptions
from digest.deliver.service import send_edition
from digest.deliver.throttle import Clock, RateLimiter, RetryPolicy
from digest.deliver.transports import make_transport
from digest.store import Store
from smtp_server import SmtpServer
from test_deliver_transports import certificate  # noqa: F401  (a fixture)

FAST_RETRIES = RetryPolicy(max_attempts=5, first_delay=0.05, max_delay=0.2)


def options(**changes) -> SendOptions:
    return SendOptions(**{"concurrency": 3, "retry": FAST_RETRIES, "max_wait": 10.0, "throttle_pause": 0.05,
                          **changes})


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


def ledger(store, key):
    return {d.subscriber_id: d for d in (store.deliveries.get(key, sid) for sid in range(1, 1000)) if d}


def by_recipient(server):
    return {m.rcpt_tos[0]: m.message for m in server.messages}


def test_every_active_subscriber_gets_exactly_their_categories_once(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 30)
    with store.transaction():  # a few who must get nothing
        for reader, status in zip(readers[:3], ("unsubscribed", "bounced", "pending")):
            store.subscribers.update(reader.id, NOW, status=status)
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), options=options())

    active = readers[3:]
    expected = [r for r in active if wanted(edition, r)]
    assert server.recipients() == Counter({r.email: 1 for r in expected})
    received = by_recipient(server)
    for reader in expected:
        check_message(received[reader.email], reader, edition, config)
    rows = ledger(store, edition.key)
    for reader in expected:
        assert rows[reader.id].status == "sent" and rows[reader.id].attempts == 1
        assert rows[reader.id].message_id == received[reader.email]["Message-ID"]
        assert rows[reader.id].last_reply.startswith("250")
    nothing_new = [r for r in active if not wanted(edition, r)]
    assert nothing_new and all(rows[r.id].status == "skipped" and rows[r.id].last_reply == "nothing new"
                               for r in nothing_new)
    assert all(r.id not in rows for r in readers[:3])
    assert (report.sent, report.skipped, report.failed, report.exit_code) == (len(expected), len(nothing_new), 0, 0)
    assert report.complete
    sent = store.editions.get(edition.key)
    assert sent.status == "sent" and sent.sent_at is not None
    assert server.sessions <= 3  # connections are reused: one per worker
    assert len({m["Message-ID"] for m in received.values()}) == len(expected)


def test_sending_again_sends_only_what_is_left_with_the_same_message_ids(config, store, server):
    edition = make_edition(store, config)
    add_subscribers(store, 20, sets=[()])
    config = smtp_config(config, server)
    first = send_edition(store, config, transport=make_transport(config), options=options(limit=7))
    assert (first.sent, first.stopped, first.exit_code) == (7, "limit", 0)
    assert store.editions.get(edition.key).status == "sending"
    second = send_edition(store, config, transport=make_transport(config), options=options())
    assert second.sent == 13 and second.complete
    assert set(server.recipients().values()) == {1} and server.count == 20
    assert send_edition(store, config, transport=make_transport(config), options=options()) is None
    assert server.count == 20
    rows = ledger(store, edition.key)
    headers = {m.rcpt_tos[0]: m.message["Message-ID"] for m in server.messages}
    subscribers = {s.id: s for s in store.subscribers.iter()}
    assert all(rows[sid].message_id == headers[subscribers[sid].email] for sid in rows)


def test_faults_are_retried_or_recorded_and_each_subscriber_gets_one_copy(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 24, sets=[(), ("News",), ("Technology", "Health")])
    gone, greylisted = readers[5], readers[11]
    server.add_fault(stage="data", nth=3, reply="421 4.7.0 Too many connections, slow down")
    server.add_fault(stage="data", nth=8, reply="451 4.3.0 Try again later")
    server.add_fault(stage="rcpt", recipient=greylisted.email, reply="451 4.7.1 Greylisted", times=2)
    server.add_fault(stage="rcpt", recipient=gone.email, reply="550 5.1.1 No such mailbox", times=None)
    server.add_fault(stage="data", nth=14, action="drop")
    server.add_fault(stage="rcpt", nth=18, action="slow", delay=3)
    config = smtp_config(config, server, timeout=0.5)
    report = send_edition(store, config, transport=make_transport(config), options=options())

    others = [r for r in readers if r is not gone]
    assert server.recipients() == Counter({r.email: 1 for r in others})
    received = by_recipient(server)
    for reader in others:
        check_message(received[reader.email], reader, edition, config)
    rows = ledger(store, edition.key)
    assert rows[gone.id].status == "failed" and rows[gone.id].last_reply == "550 5.1.1 No such mailbox"
    assert rows[gone.id].attempts == 1
    assert store.subscribers.get(gone.id).status == "bounced"
    assert [e["kind"] for e in store.events.for_subscriber(gone.id)] == ["bounced"]
    assert rows[greylisted.id].status == "sent" and rows[greylisted.id].attempts == 3
    assert sum(1 for r in rows.values() if r.attempts > 1) >= 5  # every fault cost one more attempt
    assert all(rows[r.id].status == "sent" for r in others)
    assert (report.sent, report.failed, report.bounced, report.waiting) == (23, 1, 1, 0)
    assert report.throttled >= 3 and report.exit_code == 0 and report.complete


def test_retries_not_due_within_the_wait_are_left_for_the_next_run_with_exit_75(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 6, sets=[()])
    server.add_fault(stage="rcpt", recipient=readers[2].email, reply="452 4.2.2 Mailbox full", times=1)
    config = smtp_config(config, server)
    slow_retries = options(retry=RetryPolicy(first_delay=60), max_wait=0)
    report = send_edition(store, config, transport=make_transport(config), options=slow_retries)
    assert (report.sent, report.waiting, report.exit_code) == (5, 1, EX_TEMPFAIL)
    row = store.deliveries.get(edition.key, readers[2].id)
    assert row.status == "queued" and row.attempts == 1 and row.last_reply == "452 4.2.2 Mailbox full"
    assert timedelta(seconds=50) < row.next_attempt_at - row.updated_at <= timedelta(seconds=61)
    assert store.editions.get(edition.key).status == "sending"

    again = send_edition(store, config, transport=make_transport(config), options=slow_retries)
    assert (again.sent, again.waiting, again.exit_code) == (0, 1, EX_TEMPFAIL)  # not due yet

    later = Clock(offset_seconds=120)
    last = send_edition(store, config, transport=make_transport(config), options=slow_retries, clock=later)
    assert (last.sent, last.waiting, last.exit_code) == (1, 0, 0) and last.complete
    assert server.recipients() == Counter({r.email: 1 for r in readers})
    assert store.deliveries.get(edition.key, readers[2].id).attempts == 2
    assert store.editions.get(edition.key).status == "sent"


def test_a_message_that_keeps_failing_for_now_is_given_up_after_max_attempts(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 3, sets=[()])
    server.add_fault(stage="rcpt", recipient=readers[1].email, reply="450 4.2.1 Busy", times=None)
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config),
                          options=options(retry=RetryPolicy(max_attempts=3, first_delay=0.01)))
    row = store.deliveries.get(edition.key, readers[1].id)
    assert row.status == "failed" and row.attempts == 3
    assert row.last_reply == "gave up after 3 attempts: 450 4.2.1 Busy"
    assert (report.sent, report.failed, report.exit_code) == (2, 1, 0) and report.complete
    assert store.subscribers.get(readers[1].id).status == "active"  # a 4xx is not a bounce


def test_a_subscriber_who_unsubscribes_during_the_send_receives_nothing(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 30, sets=[()])
    leaver = readers[25]

    def unsubscribe_after_five(received, count):
        if count == 5:  # like the web app: another connection to the same database
            other = Store(config.db_path)
            with other.transaction():
                other.subscribers.update(leaver.id, NOW, status="unsubscribed")
            other.close()

    server.on_message = unsubscribe_after_five
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), options=options(concurrency=1))
    assert leaver.email not in server.recipients()
    assert server.recipients() == Counter({r.email: 1 for r in readers if r is not leaver})
    row = store.deliveries.get(edition.key, leaver.id)
    assert row.status == "skipped" and row.last_reply == "subscriber is unsubscribed"
    assert report.complete


def test_an_unreachable_server_ends_the_run_early_and_leaves_the_work_for_later(config, store):
    edition = make_edition(store, config)
    add_subscribers(store, 40, sets=[()])
    with SmtpServer() as gone:
        config = smtp_config(config, gone)
    report = send_edition(store, config, transport=make_transport(config), options=options())
    assert report.stopped == "the server cannot be reached" and report.exit_code == EX_TEMPFAIL
    assert report.sent == 0 and report.unsent >= 30
    counts = store.deliveries.counts(edition.key)[edition.key]
    assert counts["failed"] == 0 and counts["sent"] == 0
    assert store.editions.get(edition.key).status == "sending"


def test_the_file_transport_writes_each_message_as_an_eml_file(config, store, tmp_path):
    make_edition(store, config)
    add_subscribers(store, 5, sets=[()])
    report = send_edition(store, config, options=options())  # config.transport: file:outbox
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == report.sent == 5


class VirtualClock(Clock):
    """Time that moves only when someone sleeps: the rate limiter's arithmetic, without waiting."""

    def __init__(self):
        super().__init__()
        self.time = 1000.0
        self.slept: list[float] = []

    def monotonic(self):
        return self.time

    def sleep(self, seconds, stop=None):
        if seconds > 0:
            self.slept.append(round(seconds, 6))
            self.time += seconds


def acquire(limiter: RateLimiter) -> None:
    """Wait (on the limiter's clock) until the next message may start, as the send loop does."""
    while (wait := limiter.try_acquire()) > 0:
        limiter.clock.sleep(wait)


def test_the_rate_limit_spaces_messages_and_a_throttling_reply_pauses_and_halves_it():
    clock = VirtualClock()
    limiter = RateLimiter(10, clock, pause=2.0, recover_after=5.0)
    for _ in range(4):
        acquire(limiter)
    assert clock.slept == [0.1, 0.1, 0.1]  # 10 per second: one every 0.1 s
    limiter.throttle()
    limiter.throttle()  # a second worker's reply to the same moment: one slow-down only
    assert limiter.rate == 5 and limiter.throttles == 2
    clock.slept.clear()
    acquire(limiter)
    assert clock.slept == [2.0]  # everyone waits out the pause
    acquire(limiter)
    assert clock.slept[-1] == pytest.approx(0.2)  # then at half the rate
    clock.time += 8  # a quiet spell: the rate climbs back to the limit
    acquire(limiter)
    acquire(limiter)
    assert limiter.rate == 7.5
    clock.time += 6
    acquire(limiter)
    assert limiter.rate == 10


def test_an_unlimited_run_slows_to_half_its_pace_when_throttled_then_recovers():
    clock = VirtualClock()
    limiter = RateLimiter(None, clock, pause=1.0, recover_after=5.0)
    for _ in range(200):  # 200 messages in 2 seconds: 100 per second
        acquire(limiter)
        clock.time += 0.01
    limiter.throttle()
    assert limiter.rate == pytest.approx(50, rel=0.05)
    for _ in range(4):
        clock.time += 6
        acquire(limiter)
    assert limiter.rate is None


def test_a_subscriber_deleted_while_their_message_is_in_flight_does_not_undo_the_others(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 12, sets=[()])
    forgotten = readers[4]

    def forget_on_arrival(received, count):
        if received.rcpt_tos == [forgotten.email]:  # before the server's 250 reaches the sender
            other = Store(config.db_path)
            with other.transaction():
                other.subscribers.delete(forgotten.id)
            other.close()

    server.on_message = forget_on_arrival
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), options=options(concurrency=2))
    assert report.complete and report.sent == 12
    rows = ledger(store, edition.key)
    assert forgotten.id not in rows
    assert all(rows[r.id].status == "sent" for r in readers if r is not forgotten)


def test_four_connections_share_the_work_with_faults_and_each_reader_gets_one_copy(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 60)
    gone = readers[7]
    server.add_fault(stage="rcpt", recipient=gone.email, reply="550 5.1.1 No such mailbox", times=None)
    server.add_fault(stage="data", nth=10, reply="451 4.3.0 Try again later")
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), options=options(concurrency=4))
    expected = [r for r in readers if wanted(edition, r) and r is not gone]
    assert server.recipients() == Counter({r.email: 1 for r in expected})
    received = by_recipient(server)
    for reader in expected:
        check_message(received[reader.email], reader, edition, config)
    assert (report.sent, report.failed, report.bounced) == (len(expected), 1, 1)
    assert report.skipped == sum(1 for r in readers if not wanted(edition, r))
    assert report.throttled >= 1 and report.complete
    assert store.subscribers.get(gone.id).status == "bounced"
    assert store.editions.get(edition.key).status == "sent"
    assert server.sessions <= 4  # the retry goes over one of the same connections


def test_the_rate_limit_holds_across_all_connections_of_the_send_loop(config, store, server):
    make_edition(store, config)
    add_subscribers(store, 10, sets=[()])
    clock = VirtualClock()  # the loop waits for the rate limit on this clock: no real waiting
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), clock=clock,
                          options=options(concurrency=3, rate=5))
    assert report.sent == 10 and report.complete
    # 5 per second over three connections: each message after the first waits a fifth of a second
    assert sum(clock.slept) == pytest.approx(9 * 0.2, abs=0.01)
    assert server.sessions <= 3


def test_a_server_without_pipelining_gets_one_command_at_a_time_from_the_send_loop(config, store):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 9, sets=[()])
    with SmtpServer(pipelining=False) as plain:
        plain.add_fault(stage="rcpt", recipient=readers[4].email, reply="550 5.1.1 No such mailbox", times=None)
        config = smtp_config(config, plain)
        report = send_edition(store, config, transport=make_transport(config), options=options())
        assert plain.recipients() == Counter({r.email: 1 for r in readers if r is not readers[4]})
        assert plain.commands("RSET") >= 9 - plain.sessions  # one session, many messages
    assert (report.sent, report.failed, report.bounced) == (8, 1, 1)
    assert store.deliveries.get(edition.key, readers[4].id).last_reply == "550 5.1.1 No such mailbox"


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_the_send_loop_sends_over_tls_connections(tls, certificate, monkeypatch, config, store):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # trust the test certificate
    edition = make_edition(store, config)
    readers = add_subscribers(store, 12)
    with SmtpServer(tls=tls, certificate=certificate) as secure:
        secure.add_fault(stage="data", nth=4, reply="451 4.3.0 Try again later")
        config = config.with_overrides(transport="smtp", smtp=replace(smtp_config(config, secure).smtp, tls=tls))
        report = send_edition(store, config, transport=make_transport(config), options=options())
        expected = [r for r in readers if wanted(edition, r)]
        assert secure.recipients() == Counter({r.email: 1 for r in expected})
        received = by_recipient(secure)
        for reader in expected:
            check_message(received[reader.email], reader, edition, config)
    assert report.sent == len(expected) and report.complete


def test_a_reused_connection_the_server_dropped_is_replaced_without_charging_an_attempt(config, store, server):
    edition = make_edition(store, config)
    readers = add_subscribers(store, 8, sets=[()])
    server.add_fault(stage="mail", nth=4, action="drop")  # as a server closing an idle connection would
    config = smtp_config(config, server)
    report = send_edition(store, config, transport=make_transport(config), options=options(concurrency=2))
    assert server.recipients() == Counter({r.email: 1 for r in readers})
    rows = ledger(store, edition.key)
    assert all(rows[r.id].status == "sent" and rows[r.id].attempts == 1 for r in readers)
    assert report.sent == 8 and report.retried == 0 and server.sessions == 3
