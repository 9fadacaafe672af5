"""The web pages' outgoing mail (sign-up confirmations, lost links), sent off the request.

Mail goes out on one background thread, so a page answers just as fast whether or not it
sent anything: the timing of "check your inbox" must not tell who subscribes. One thread
also means the transport (and its SMTP connection) is never shared between threads.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from digest.config import Config

log = logging.getLogger("digest.web")


class Mailer:
    def __init__(self, config: Config, transport=None):
        self.config = config
        self._transport = transport
        self._owns_transport = transport is None  # a transport handed to us is the caller's to close
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-web-mail")
        self._futures: list[Future] = []
        self._lock = threading.Lock()

    def send(self, to_email: str, to_name: str, subject: str, text: str) -> None:
        """Queue a plain-text notice to one address; failures are logged, never shown."""
        future = self._executor.submit(self._deliver, to_email, to_name, subject, text)
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()] + [future]

    def wait(self, timeout: float | None = 30) -> None:
        """Block until every queued notice has been handed to the transport (tests, shutdown)."""
        with self._lock:
            futures = list(self._futures)
        wait(futures, timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._owns_transport and self._transport is not None:
            self._transport.close()

    def _transport_for_thread(self):
        if self._transport is None:
            from digest.deliver.transports import make_transport

            self._transport = make_transport(self.config)
        return self._transport

    def _deliver(self, to_email: str, to_name: str, subject: str, text: str) -> None:
        from digest.deliver.message import notice

        try:
            data = notice(self.config, to_email, to_name, subject, text)
            self._transport_for_thread().send(self.config.from_address, [to_email], data)
        except Exception as exc:  # a background thread must report, never die silently
            # No address in the log line: logs outlive subscriptions.
            log.error("could not send %r: %s: %s", subject, type(exc).__name__, exc)
