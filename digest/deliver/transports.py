"""Where messages go: an SMTP server, a directory of .eml files, or a list in memory.

Every transport has `send(sender, recipients, data)` (raising TemporaryFailure or
PermanentFailure) and `close()`. The send loop asks `lane()` for each of its connections:
a non-blocking SMTP connection for SMTP, a wrapper around `send` for the others.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from pathlib import Path

from digest.config import Config, SmtpSettings
from digest.deliver.failures import (  # noqa: F401  (re-exported: the contract's names)
    ConnectFailure, DeliveryFailure, PermanentFailure, TemporaryFailure, resend_on_fresh_connection,
)
from digest.errors import ConfigError


class Transport:
    #: whether parallel connections help (the send loop uses one lane otherwise)
    parallel = False

    def open(self) -> "Transport":
        """A connection of its own (for one thread); `send` on it, then `close` it."""
        return self

    def lane(self):
        """What the send loop drives: one connection, one message at a time (see lanes.py).
        By default the message is handed to `send` on a connection of the lane's own."""
        from digest.deliver.lanes import InstantLane

        return InstantLane(self.open())

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return type(self).__name__


class SmtpTransport(Transport):
    """An SMTP server. `send` keeps one connection open between calls (one thread only);
    `lane` gives the send loop a non-blocking connection."""

    parallel = True

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._connection = None

    def open(self) -> "SmtpSession":
        return SmtpSession(self.settings)

    def lane(self):
        """A non-blocking connection for the send loop's single thread."""
        from digest.deliver.lanes import SmtpLane

        return SmtpLane(self.settings)

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        if self._connection is None:
            self._connection = self.open()
        return self._connection.send(sender, recipients, data)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def describe(self) -> str:
        s = self.settings
        return f"SMTP {s.host}:{s.port} (tls={s.tls}{', as ' + s.username if s.username else ''})"


class SmtpSession(Transport):
    """A blocking SMTP connection (test copies, notices): opened on first use, re-opened
    after the server drops it."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp = None

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        from digest.deliver.smtp_client import SmtpConnection

        if not recipients:
            raise ValueError("a message needs at least one recipient")
        fresh = self._smtp is None
        if fresh:
            self._smtp = SmtpConnection(self.settings).connect()
        try:
            return self._smtp.send(sender, recipients, data)
        except TemporaryFailure as failure:
            if not failure.connection_lost:
                raise
            self._smtp = None
            if not resend_on_fresh_connection(failure, fresh):
                raise
            self._smtp = SmtpConnection(self.settings).connect()
            return self._smtp.send(sender, recipients, data)
        except PermanentFailure as failure:
            if failure.connection_lost:
                self._smtp = None
            raise

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.quit()
            self._smtp = None


class FileTransport(Transport):
    """Writes each message as an .eml file (written whole, then renamed into place)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create outbox {self.directory}: {exc.strerror}") from None
        with self._lock:
            number = next(self._counter)
        who = re.sub(r"[^A-Za-z0-9@._-]", "_", recipients[0] if recipients else "nobody")[:80]
        name = f"{os.getpid()}-{number:06d}-{os.urandom(3).hex()}-{who}.eml"
        final = self.directory / name
        partial = self.directory / f".{name}.part"
        try:
            partial.write_bytes(data)
            os.replace(partial, final)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write {final}: {exc.strerror}", stage="file") from None
        return f"250 written to {final}"

    def describe(self) -> str:
        return f"files in {self.directory}"


class MemoryTransport(Transport):
    """Keeps (sender, recipients, data) in `.messages`; for tests and previews."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self._lock = threading.Lock()

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        with self._lock:
            self.messages.append((sender, list(recipients), data))
        return "250 kept in memory"

    def describe(self) -> str:
        return "memory"


def outbox_path(config: Config, directory: str) -> Path:
    """A relative DIR is read from the config file's folder, else the database's folder."""
    path = Path(directory).expanduser()
    if path.is_absolute():
        return path
    base = config.config_path.parent if config.config_path is not None else Path(config.db_path).parent
    return base / path


def make_transport(config: Config, spec: str | None = None) -> Transport:
    """"smtp" (config.smtp), "file:DIR" or "memory"; None means config.transport."""
    spec = (spec or config.transport or "").strip()
    if spec == "smtp":
        return SmtpTransport(config.smtp)
    if spec.startswith("file:") and spec[5:].strip():
        return FileTransport(outbox_path(config, spec[5:].strip()))
    if spec == "memory":
        return MemoryTransport()
    raise ConfigError(f"unknown transport {spec!r}: use smtp, file:DIR or memory")
