"""`digest run`: everything cron needs, safe to call every few minutes.

Under the send lock: forget sign-ups never confirmed, ingest the configured feeds, build the edition when the schedule says
it is due, send what is ready (approved, or built when approval is off) and resume editions
left part-sent by earlier runs. Running it twice in a row sends nothing twice: the ledger
says who already has each edition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from digest.config import Config
from digest.deliver.engine import EX_TEMPFAIL, Progress, SendOptions, SendReport
from digest.deliver.lock import SendLock, send_lock
from digest.deliver.schedule import due
from digest.deliver.service import approval_message, sendable, send_locked
from digest.deliver.throttle import Clock
from digest.deliver.transports import Transport
from digest.errors import DigestError
from digest.timeutil import iso


@dataclass
class RunReport:
    lines: list[str] = field(default_factory=list)
    sends: list[SendReport] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EX_TEMPFAIL if any(r.exit_code == EX_TEMPFAIL for r in self.sends) else 0


def run(store, config: Config, now: datetime, *, transport: Transport | None = None,
        options: SendOptions | None = None, clock: Clock | None = None,
        progress: Callable[[], Progress] | None = None, log: Callable[[str], None] = lambda line: None,
        renderer=None) -> RunReport:
    """Ingest, build when due, send; every step logged through `log`. `now` drives ingest and
    the schedule (`--now`); the lock and retry times follow the real clock."""
    clock = clock or Clock()
    report = RunReport()

    def say(line: str) -> None:
        report.lines.append(line)
        log(line)

    with send_lock(store, clock.now(), say) as lock:
        _forget_unconfirmed(store, config, now, say)
        _ingest(store, config, now, lock, clock, say)
        _build_if_due(store, config, now, say)
        for edition in _to_send(store, config, say):
            lock.beat(clock.now())
            sent = send_locked(store, config, edition, lock, transport=transport, options=options, clock=clock,
                               progress=progress() if progress else None, renderer=renderer)
            report.sends.append(sent)
            say(sent.line())
    return report


def _forget_unconfirmed(store, config: Config, now: datetime, say) -> None:
    """Sign-ups never confirmed within confirm_days are deleted: we keep no address we may not mail."""
    from digest.subscribers import cleanup_pending

    removed = cleanup_pending(store, config, now)
    if removed:
        say(f"Removed {removed} sign-up(s) never confirmed within {config.confirm_days} days")


def _ingest(store, config: Config, now: datetime, lock: SendLock, clock: Clock, say) -> None:
    from digest.ingest import ingest_source

    for source in config.feeds:
        try:
            say(ingest_source(store, config, source, now).line())
        except DigestError as exc:  # one broken feed must not stop the others, nor the send
            say(f"{source}: not ingested: {exc}")
        lock.beat(clock.now())


def _build_if_due(store, config: Config, now: datetime, say) -> None:
    from digest.editions import build

    is_due, occurrence = due(store, config, now)
    if not is_due:
        return
    try:
        edition = build(store, config, now)
    except DigestError as exc:  # nothing to build, or the period's edition is frozen
        say(f"Build due (schedule: {iso(occurrence)}) but not done: {exc}")
        return
    articles = sum(len(s.articles) for s in edition.sections)
    waiting = " (awaiting approval)" if config.require_approval else ""
    say(f"Built edition {edition.key} with {articles} article(s){waiting}")


def _to_send(store, config: Config, say) -> list:
    """Editions part-sent by earlier runs (oldest first), then the newest ready one."""
    from digest import editions

    listed = store.editions.list()  # newest first
    chosen = [e for e in reversed(listed) if e.status == "sending"]
    ready = [e for e in listed if sendable(e, config)]
    if ready and ready[0].key not in {e.key for e in chosen}:
        chosen.append(ready[0])
    drafts = [e for e in listed if e.status == "draft"]
    if drafts and config.require_approval and (not ready or drafts[0].window_end > ready[0].window_end):
        say(approval_message(drafts[0]))
    return [editions.get(store, e.key, config) for e in chosen]
