"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 (a free port), recording every message
it accepts, with faults injected by rule.

    with SmtpServer() as server:
        server.add_fault(stage="rcpt", recipient="gone@example.com", reply="550 5.1.1 No such user")
        server.add_fault(stage="data", nth=3, reply="451 4.3.0 Try again later")
        server.add_fault(stage="data", nth=5, action="drop")       # hang up instead of replying
        server.add_fault(stage="rcpt", nth=7, action="slow", delay=3)  # answer after 3 s
    SmtpServer(pipelining=False)            # a server that does not offer PIPELINING
    SmtpServer(logins={"digest": "s3cret"})  # AUTH PLAIN/LOGIN required
    SmtpServer(tls="ssl", certificate=(cert, key))  # implicit TLS ("starttls": STARTTLS offered)
        ... send to server.host, server.port ...
        assert server.wait_for(10, timeout=30)    # bounded wait on a condition, no polling
        [m.message for m in server.messages]      # parsed with the email package

A message is recorded only when the server answers its DATA with 250 and the client is still
connected: a client that gave up on a slow reply has not had the message accepted.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MAX_DELAY = 10.0  # a "slow" fault never waits longer than this


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class Fault:
    stage: str = "data"  # the command that misbehaves: "mail", "rcpt" or "data"
    reply: str = "451 4.3.0 Please try again later"
    action: str = "reply"  # "reply" with `reply`; "drop" the connection unanswered; "slow" then normal
    nth: int | None = None  # only the nth command of that stage the server sees (1 = first)
    recipient: str | None = None  # only when this address is the (first) recipient
    times: int | None = 1  # how many times it fires; None: every time
    delay: float = 0.0  # seconds, for "slow" (bounded by MAX_DELAY)
    fired: int = 0

    def applies(self, count: int, recipient: str | None) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.nth is not None and count != self.nth:
            return False
        if self.recipient is not None and (recipient or "").lower() != self.recipient.lower():
            return False
        return True


@dataclass
class _Stats:
    connections: int = 0
    commands: Counter = field(default_factory=Counter)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_EHLO(self, smtp, session, envelope, hostname, responses):
        self.server._count("EHLO")
        session.host_name = hostname
        if self.server.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, smtp, session, envelope, hostname):
        self.server._count("HELO")
        session.host_name = hostname
        return f"250 {smtp.hostname}"

    async def handle_RSET(self, smtp, session, envelope):
        self.server._count("RSET")
        return "250 OK"

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        fault = self.server._fault("mail", None)
        if fault is not None and (answer := await self._misbehave(fault, smtp)):
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        fault = self.server._fault("rcpt", address)
        if fault is not None and (answer := await self._misbehave(fault, smtp)):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else None
        fault = self.server._fault("data", recipient)
        if fault is not None and (answer := await self._misbehave(fault, smtp)):
            return answer
        if self.server.latency:
            await asyncio.sleep(min(self.server.latency, MAX_DELAY))
        if smtp.transport is None or smtp.transport.is_closing():
            return "421 4.4.2 Client went away"
        self.server._record(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 2.0.0 OK queued"

    @staticmethod
    async def _misbehave(fault: Fault, smtp) -> str | None:
        """The reply to send instead of the normal one (None: carry on normally)."""
        if fault.action == "drop":
            smtp.transport.close()
            return "421 4.4.2 dropped"  # never reaches the client: the connection is closed
        if fault.action == "slow":
            await asyncio.sleep(min(fault.delay, MAX_DELAY))
            if smtp.transport is None or smtp.transport.is_closing():
                return "421 4.4.2 Client went away"
            return None
        return fault.reply


class _Authenticator:
    def __init__(self, logins: dict[str, str]):
        self.logins = logins

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=self.logins.get(login) == password, handled=False)


class SmtpServer:
    def __init__(self, pipelining: bool = True, latency: float = 0.0, logins: dict[str, str] | None = None,
                 tls: str | None = None, certificate: tuple[str, str] | None = None):
        """tls: None, "starttls" or "ssl" (implicit TLS), with certificate = (cert file, key file)."""
        self.pipelining = pipelining
        self.latency = latency  # seconds every accepted message takes (a real server's work)
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.faults: list[Fault] = []
        # Called (in the server's thread) with each accepted message and the count so far:
        # lets a test act at a known point of a send, e.g. unsubscribe someone.
        self.on_message = None
        self._messages: list[Received] = []
        self._stats = _Stats()
        self._counts: Counter = Counter()
        self._lock = threading.Condition()
        auth = {}
        if logins is not None:  # AUTH PLAIN/LOGIN without TLS: loopback only
            auth = {"authenticator": _Authenticator(logins), "auth_require_tls": False, "auth_required": True}
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            auth["ssl_context" if tls == "ssl" else "tls_context"] = context
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port,
            decode_data=False, enable_SMTPUTF8=True, ident="digest-test-smtp", **auth,
        )

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    # -- faults -------------------------------------------------------------------------

    def add_fault(self, **rule) -> Fault:
        fault = Fault(**rule)
        if fault.stage not in ("mail", "rcpt", "data") or fault.action not in ("reply", "drop", "slow"):
            raise ValueError(f"bad fault rule {rule}")
        with self._lock:
            self.faults.append(fault)
        return fault

    def _fault(self, stage: str, recipient: str | None) -> Fault | None:
        with self._lock:
            self._counts[stage] += 1
            self._stats.commands[stage.upper()] += 1
            for fault in self.faults:
                if fault.stage == stage and fault.applies(self._counts[stage], recipient):
                    fault.fired += 1
                    return fault
        return None

    # -- what arrived -------------------------------------------------------------------

    def _record(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)
            count = len(self._messages)
            self._lock.notify_all()
        if self.on_message is not None:
            self.on_message(received, count)

    def _count(self, command: str) -> None:
        with self._lock:
            self._stats.commands[command] += 1
            if command in ("EHLO", "HELO"):
                self._stats.connections += 1

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._messages)

    @property
    def sessions(self) -> int:
        """How many SMTP sessions (EHLO/HELO) clients opened."""
        with self._lock:
            return self._stats.connections

    def commands(self, name: str) -> int:
        with self._lock:
            return self._stats.commands[name]

    def recipients(self) -> Counter:
        """How many messages each recipient address received."""
        return Counter(r for m in self.messages for r in m.rcpt_tos)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least `count` messages have arrived (False if `timeout` passed first)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._messages) >= count, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
