"""Lanes: the send loop's connections, each carrying one message at a time.

`SmtpLane` runs an SmtpConnection's message dialogue (smtp_client.py) over a non-blocking
socket: `start` queues the pipelined envelope, and the loop calls `on_ready` when select()
says the socket can move bytes, and `expire` when the server has been silent too long.
Connecting (EHLO, STARTTLS, AUTH) stays blocking: it happens once per connection.

`InstantLane` wraps any other transport (files, memory): `start` sends at once.

A lane is a small state machine: idle (no message) → busy (writing what the dialogue
yielded, or waiting for a reply) → idle again with an Outcome. Its socket is None while it
has no connection; the next `start` connects.
"""

from __future__ import annotations

import selectors
import ssl
import time
from dataclasses import dataclass

from digest.deliver.failures import DeliveryFailure, TemporaryFailure, describe_os_error, resend_on_fresh_connection
from digest.deliver.smtp_client import SmtpConnection, parse_reply
from digest.deliver.transports import Transport
from digest.errors import DigestError

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


@dataclass(slots=True)
class Outcome:
    failure: BaseException | None  # None: the server accepted the message
    reply: str


class InstantLane:
    """A transport without sockets to wait on: the message is handed over in `start`."""

    sock = None
    interest = 0
    busy = False
    deadline = float("inf")

    def __init__(self, transport: Transport):
        self.transport = transport

    def start(self, sender: str, recipients: list[str], data: bytes) -> Outcome:
        try:
            return Outcome(None, self.transport.send(sender, recipients, data))
        except (DeliveryFailure, DigestError) as failure:
            return Outcome(failure, getattr(failure, "reply", str(failure)))

    def abandon(self) -> None:
        pass

    def close(self) -> None:
        self.transport.close()


class SmtpLane:
    """One SMTP connection driven without blocking (see the module docstring)."""

    def __init__(self, settings):
        self.settings = settings
        self.connection = None  # SmtpConnection, once connected
        self.sock = None
        self.interest = 0  # what the loop should wait for: READ, READ | WRITE, or 0 (idle)
        self.deadline = float("inf")
        self._dialogue = None
        self._envelope = None  # (sender, recipients, data) of the message in progress
        self._fresh = False  # the connection was opened for this message
        self._plain = True  # no TLS: writes may use sendmsg
        self._out: list[memoryview] = []
        self._inbox = b""
        self._lines: list[bytes] = []  # lines of a multi-line reply so far

    @property
    def busy(self) -> bool:
        return self._dialogue is not None

    # -- a message --------------------------------------------------------------------

    def start(self, sender: str, recipients: list[str], data: bytes) -> Outcome | None:
        """Begin a message: None while it is under way, else its Outcome already (a failure
        to connect, or a refusal before anything was written)."""
        self._envelope = (sender, recipients, data)
        self._fresh = self.connection is None
        if self._fresh:
            failure = self._connect()
            if failure is not None:
                return self._finish(failure)
        return self._begin()

    def on_ready(self, events: int) -> Outcome | None:
        """The socket can move bytes: move them, and feed complete replies to the dialogue."""
        try:
            if events & WRITE and self._out:
                self._write()
            if events & READ:
                return self._read()
        except OSError as exc:
            return self._lost(f"connection lost while sending: {describe_os_error(exc)}", "send")
        return None

    def expire(self) -> Outcome:
        """The server said nothing for `timeout` seconds."""
        return self._lost("connection lost waiting for the server: timed out", "reply", timed_out=True)

    def abandon(self) -> None:
        """Forget the message in progress and the connection (after an unexpected error)."""
        self._drop()
        self._finish(Outcome(None, ""))

    def close(self) -> None:
        """QUIT politely when idle; just drop the connection otherwise."""
        connection, self.connection, self.sock = self.connection, None, None
        self.interest = 0
        if connection is not None and connection.sock is not None:
            if self.busy:
                connection.abort()
            else:
                connection.sock.settimeout(self.settings.timeout)
                connection.quit()

    # -- the state machine ------------------------------------------------------------

    def _connect(self) -> Outcome | None:
        try:
            connection = SmtpConnection(self.settings).connect()
        except (DeliveryFailure, DigestError) as failure:
            return Outcome(failure, getattr(failure, "reply", str(failure)))
        connection.sock.setblocking(False)
        self.connection, self.sock = connection, connection.sock
        self._plain = not isinstance(connection.sock, ssl.SSLSocket)
        self._inbox, self._lines, self._out = b"", [], []
        return None

    def _begin(self) -> Outcome | None:
        self._dialogue = self.connection.dialogue(*self._envelope)
        self.deadline = time.monotonic() + self.settings.timeout
        return self._advance(None)

    def _advance(self, answer) -> Outcome | None:
        """Run the dialogue until it waits for a reply (queueing what it writes), or ends."""
        try:
            step = self._dialogue.send(answer)
            while step is not None:
                self._out.append(memoryview(step))
                step = self._dialogue.send(None)
        except StopIteration as finished:
            return self._finish(Outcome(None, finished.value))
        except DeliveryFailure as failure:
            return self._finish(Outcome(failure, failure.reply))
        self.interest = READ | WRITE if self._out else READ
        if self._out:
            try:  # most writes fit the socket buffer at once: no need to wait for select
                self._write()
            except OSError as exc:
                return self._lost(f"connection lost while sending: {describe_os_error(exc)}", "send")
        return None

    def _write(self) -> None:
        out = self._out
        while out:
            try:
                # Body and terminator in one system call, neither copied (TLS has no sendmsg).
                sent = self.sock.sendmsg(out) if self._plain else self.sock.send(out[0])
            except _WOULD_BLOCK:
                return
            self.deadline = time.monotonic() + self.settings.timeout
            while out and sent >= len(out[0]):
                sent -= len(out.pop(0))
            if sent:
                out[0] = out[0][sent:]
            if out:
                return  # the socket buffer is full: wait until select() says it has room
        self.interest = READ

    def _read(self) -> Outcome | None:
        chunks, closed = [self._inbox], False
        while True:  # until the socket (and, with TLS, its decrypted buffer) is empty
            try:
                chunk = self.sock.recv(65536)
            except _WOULD_BLOCK:
                break
            if not chunk:
                closed = True  # but first the replies that came before (a 421 says why)
                break
            chunks.append(chunk)
        inbox = b"".join(chunks)
        self.deadline = time.monotonic() + self.settings.timeout
        outcome = None
        while outcome is None and self._dialogue is not None and (end := inbox.find(b"\n")) >= 0:
            line, inbox = inbox[:end + 1], inbox[end + 1:]
            self._lines.append(line.rstrip(b"\r\n"))
            if line[3:4] == b"-":
                continue  # more lines of the same reply follow
            lines, self._lines = self._lines, []
            try:
                reply = parse_reply(lines)
            except ValueError as exc:
                return self._lost(f"connection lost waiting for the server: {exc}", "reply")
            outcome = self._advance(reply)
        self._inbox = inbox
        if closed:
            if self._dialogue is not None:
                return self._lost("connection lost waiting for the server: the server closed the connection",
                                  "reply")
            self._drop()  # the next message needs a new connection
        return outcome

    def _lost(self, reason: str, stage: str, timed_out: bool = False) -> Outcome | None:
        """The connection broke: tell the dialogue (it labels the failure), drop the connection,
        and, for a reused connection lost before any body went out (a server closes idle
        connections), start the message again once on a fresh one, as SmtpSession does."""
        failure = TemporaryFailure(reason, stage=stage, connection_lost=True)
        failure.timed_out = timed_out
        try:
            self._dialogue.throw(failure)
        except DeliveryFailure as raised:
            failure = raised
        self._drop()
        if not resend_on_fresh_connection(failure, self._fresh):
            return self._finish(Outcome(failure, failure.reply))
        return self.start(*self._envelope)

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.abort()
        self.connection = self.sock = None
        self._out, self._inbox, self._lines = [], b"", []

    def _finish(self, outcome: Outcome) -> Outcome:
        self._dialogue = self._envelope = None
        self.interest = 0
        self.deadline = float("inf")
        failure = outcome.failure
        if isinstance(failure, DeliveryFailure) and failure.connection_lost:
            self._drop()  # the dialogue closed it (421, a stray 354): reconnect next time
        return outcome

