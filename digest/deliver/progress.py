"""How a send shows its progress: a bar with rate and ETA on a terminal, a few log lines
(start, every few thousand messages, summary) when cron runs it."""

from __future__ import annotations

import time
from typing import Callable, TextIO

from digest.deliver.engine import SendReport


class TerminalProgress:
    """One line redrawn in place, at most ten times a second."""

    def __init__(self, stream: TextIO, width: int = 30):
        self.stream = stream
        self.width = width
        self.total = 0
        self.edition = ""
        self._started = time.monotonic()
        self._drawn = 0.0

    def start(self, edition: str, total: int) -> None:
        self.edition, self.total = edition, total
        self._started = time.monotonic()
        self._draw(SendReport(edition), force=True)

    def advance(self, report: SendReport) -> None:
        self._draw(report)

    def finish(self, report: SendReport) -> None:
        self._draw(report, force=True)
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, report: SendReport, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        done = report.done
        total = max(self.total, done, 1)
        filled = int(self.width * min(done, total) / total)
        elapsed = max(now - self._started, 1e-6)
        rate = done / elapsed
        eta = "--:--" if rate <= 0 else _clock((total - done) / rate)
        self.stream.write(f"\r{self.edition} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
                          f"  {rate:,.0f}/s  ETA {eta}  failed {report.failed} ")
        self.stream.flush()


class LogProgress:
    """Lines for a log: the start, then one every `every` messages."""

    def __init__(self, log: Callable[[str], None], every: int = 5000, describe: str = ""):
        self.log = log
        self.every = every
        self.describe = describe
        self._next = every
        self._started = time.monotonic()

    def start(self, edition: str, total: int) -> None:
        self._started = time.monotonic()
        via = f" via {self.describe}" if self.describe else ""
        self.log(f"Sending edition {edition} to {total} subscriber(s) without it yet{via}")

    def advance(self, report: SendReport) -> None:
        if report.done >= self._next:
            self._next += self.every
            rate = report.done / max(time.monotonic() - self._started, 1e-6)
            self.log(f"{report.edition}: {report.done} done (sent {report.sent}, skipped {report.skipped}, "
                     f"failed {report.failed}) at {rate:,.0f}/s")

    def finish(self, report: SendReport) -> None:
        pass  # the caller prints the summary


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
